//! Fragments of SQL: JSON access, expression indexes, timestamps as canonical text.

use super::Dialect;

impl Dialect {
    /// `path` (a key, or dotted keys `a.b`) of the JSON object in `column`, as text (strings
    /// unquoted). The seed's `json_extract(col, '$.key')` on SQLite; `(col ->> 'key')` on
    /// PostgreSQL (`#>>` for a dotted path).
    pub fn json_text(self, column: &str, path: &str) -> String {
        match self {
            Self::Sqlite => format!("json_extract({column}, '$.{path}')"),
            Self::Postgres => format!("({})", pg_path(column, path, true)),
        }
    }

    /// `path` of the JSON object in `column` as a number, NULL when it is not a number. On
    /// PostgreSQL the cast is guarded so that an index over it never rejects a row.
    pub fn json_number(self, column: &str, path: &str) -> String {
        match self {
            Self::Sqlite => format!("json_extract({column}, '$.{path}')"),
            Self::Postgres => format!(
                "(CASE WHEN json_typeof({}) = 'number' THEN ({})::double precision END)",
                pg_path(column, path, false),
                pg_path(column, path, true),
            ),
        }
    }

    /// A boolean SQL expression: `column` is not NULL and is not a JSON object holding a non-null
    /// value at each of `keys`.
    pub fn json_object_lacking(self, column: &str, keys: &[&str]) -> String {
        let missing: Vec<String> = keys.iter().map(|k| format!("{} IS NULL", self.json_text(column, k))).collect();
        let missing = missing.join(" OR ");
        match self {
            Self::Sqlite => format!(
                "{column} IS NOT NULL AND CASE WHEN json_valid({column}) AND json_type({column}) = 'object' \
                 THEN ({missing}) ELSE 1 END"
            ),
            Self::Postgres => format!(
                "{column} IS NOT NULL AND CASE WHEN json_typeof({column}) = 'object' THEN ({missing}) ELSE true END"
            ),
        }
    }

    /// `CREATE INDEX IF NOT EXISTS` over expressions. On SQLite this is exactly the seed's
    /// statement; PostgreSQL needs each expression in parentheses.
    pub fn expression_index(self, name: &str, table: &str, exprs: &[String]) -> String {
        let list = match self {
            Self::Sqlite => exprs.join(",\n    "),
            Self::Postgres => exprs.iter().map(|e| format!("({e})")).collect::<Vec<_>>().join(", "),
        };
        format!("CREATE INDEX IF NOT EXISTS {name} ON {table} (\n    {list}\n)")
    }

    /// A boolean SQL expression: `column` holds a JSON array of exactly `len` elements. Neither
    /// backend allows a subquery in CHECK, so the element types are not checked here.
    pub fn json_array_of_len(self, column: &str, len: usize) -> String {
        match self {
            Self::Sqlite => format!(
                "CASE WHEN json_valid({column}) THEN json_type({column}) = 'array' \
                 AND json_array_length({column}) = {len} ELSE 0 END"
            ),
            Self::Postgres => format!(
                "CASE WHEN json_typeof({column}) = 'array' \
                 THEN json_array_length({column}) = {len} ELSE false END"
            ),
        }
    }

    /// A boolean SQL expression: `column` holds a JSON object (or is NULL).
    pub fn json_object_or_null(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("{column} IS NULL OR (json_valid({column}) AND json_type({column}) = 'object')"),
            Self::Postgres => format!("{column} IS NULL OR json_typeof({column}) = 'object'"),
        }
    }

    /// The number of characters in a text column.
    pub fn char_length(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("length({column})"),
            Self::Postgres => format!("char_length({column})"),
        }
    }

    /// `column`, a timestamp whose declared type is `declared` (see [`Self::column_type`]), as text
    /// that a lenient parser reads: SQLite's stored text as is; on PostgreSQL, typed timestamps as
    /// RFC 3339 UTC (a naive `timestamp` is taken as UTC, as AICO writes it).
    /// A date before year 1 keeps its era (`... BC`), which no reader takes for a year AD.
    pub fn timestamp_text(self, column: &str, declared: &str) -> String {
        const ISO: &str = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";
        match self.typed_utc(column, declared) {
            Some(u) => {
                format!("CASE WHEN {u} < '0001-01-01' THEN to_char({u}, '{ISO} BC') ELSE to_char({u}, '{ISO}') END")
            }
            None => format!("CAST({column} AS TEXT)"),
        }
    }

    /// A typed PostgreSQL timestamp `column` as a naive UTC `timestamp` (a `timestamptz` converted,
    /// a naive one taken as UTC, as AICO writes it); None for text and on SQLite.
    fn typed_utc(self, column: &str, declared: &str) -> Option<String> {
        match (self, declared) {
            (Self::Postgres, "timestamp with time zone") => Some(format!("({column} AT TIME ZONE 'UTC')")),
            (Self::Postgres, "timestamp without time zone") => Some(column.to_owned()),
            _ => None,
        }
    }

    /// SQL giving `column` (a timestamp whose declared type is `declared`) as the canonical text
    /// `entity::values::Timestamp` writes — RFC 3339, UTC, `Z`, the fraction truncated to
    /// microseconds (as Python reads it) and written as 3 or 6 digits only when it is not zero —
    /// wherever that follows from the value alone, else NULL (the caller then reads the value and
    /// parses it in Rust, which also lists what AICO could not read). Text is taken when it is a
    /// valid date-time of the form `YYYY-MM-DD[ T]HH:MM:SS[.f{1,9}][Z|±HH:MM]` (the forms AICO,
    /// Python and SQLite write) from year 1, never at second 60, with an offset of at most 14
    /// hours (which every backend and Rust read alike) only from year 2 to 9998 (so that the
    /// instant in UTC cannot leave the range AICO reads); the backend's own date arithmetic
    /// (`strftime`, `timestamptz`) applies the offset. Typed PostgreSQL timestamps from year 1 to
    /// 9999 always are. Nothing here can raise an error: every cast is behind a shape test in a
    /// `CASE`, which both backends evaluate in order.
    pub fn canonical_timestamp(self, column: &str, declared: &str) -> String {
        if let Some(u) = self.typed_utc(column, declared) {
            return format!(
                "CASE WHEN {u} >= '0001-01-01' AND {u} < '10000-01-01' THEN \
                 to_char({u}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || \
                 CASE WHEN to_char({u}, 'US') = '000000' THEN '' \
                 WHEN to_char({u}, 'US') LIKE '%000' THEN '.' || to_char({u}, 'MS') \
                 ELSE '.' || to_char({u}, 'US') END || 'Z' END"
            );
        }
        let c = self.timestamp_text(column, declared);
        // z: the length of the zone (0, 1 for `Z`, 6 for an offset); n: the length without it. The
        // fraction (if any) is `substr(c, 21, n - 20)`, the offset `substr(c, n + 1, 6)`.
        let z = format!(
            "(CASE WHEN substr({c}, length({c}), 1) = 'Z' THEN 1 \
             WHEN substr({c}, length({c}) - 5, 1) IN ('+', '-') THEN 6 ELSE 0 END)"
        );
        let n = format!("(length({c}) - {z})");
        let offset = format!("substr({c}, {n} + 1, 6)");
        let shape = match self {
            Self::Sqlite => format!(
                "substr({c}, 1, 19) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]' \
                 AND ({n} = 19 OR ({n} BETWEEN 21 AND 29 AND substr({c}, 20, 1) = '.' \
                 AND substr({c}, 21, {n} - 20) NOT GLOB '*[^0-9]*')) \
                 AND ({z} < 6 OR {offset} GLOB '[+-][0-9][0-9]:[0-9][0-9]')"
            ),
            // SIMILAR TO is anchored at both ends; `.` is a literal in it.
            Self::Postgres => format!(
                "{c} SIMILAR TO '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[ T][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(.[0-9]{{1,9}}){{0,1}}(Z|[+-][0-9]{{2}}:[0-9]{{2}}){{0,1}}'"
            ),
        };
        let int = |text: &str, from: &str, len: u8| format!("CAST(substr({text}, {from}, {len}) AS INTEGER)");
        let (y, m, d) = (int(&c, "1", 4), int(&c, "6", 2), int(&c, "9", 2));
        let leap = format!("(({y}) % 4 = 0 AND (({y}) % 100 <> 0 OR ({y}) % 400 = 0))");
        let days = format!(
            "CASE WHEN {m} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END WHEN {m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
        );
        let (oh, om) = (int(&c, &format!("{n} + 2"), 2), int(&c, &format!("{n} + 5"), 2));
        // The date and time in UTC, to the second: as written, or with the offset applied.
        let local = format!("substr({c}, 1, 10) || ' ' || substr({c}, 12, 8) || {offset}");
        let utc = match self {
            Self::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%S', {local})"),
            Self::Postgres => {
                format!("to_char(CAST({local} AS timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')")
            }
        };
        // The fraction's first six digits, padded: Python keeps microseconds and drops the rest.
        let f6 = format!("substr(substr({c}, 21, {n} - 20) || '000000', 1, 6)");
        format!(
            "CASE WHEN {shape} THEN CASE WHEN {y} >= 1 AND {m} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND {days} \
             AND {h} < 24 AND {mi} < 60 AND {s} < 60 \
             AND CASE WHEN {z} = 6 THEN {y} BETWEEN 2 AND 9998 AND {oh} <= 14 AND {om} < 60 ELSE TRUE END \
             THEN CASE WHEN {z} = 6 THEN {utc} ELSE substr({c}, 1, 10) || 'T' || substr({c}, 12, 8) END || \
             CASE WHEN {n} = 19 THEN '' WHEN {f6} = '000000' THEN '' \
             WHEN substr({f6}, 4, 3) = '000' THEN '.' || substr({f6}, 1, 3) \
             ELSE '.' || {f6} END || 'Z' END END",
            h = int(&c, "12", 2),
            mi = int(&c, "15", 2),
            s = int(&c, "18", 2),
        )
    }

    /// A JSON value from the text `expr` (a bound string parameter): PostgreSQL casts it to `json`,
    /// which keeps the text verbatim (a bound `jsonb` would reorder its keys); SQLite stores text.
    pub fn json_from_text(self, expr: &str) -> String {
        match self {
            Self::Sqlite => expr.to_owned(),
            Self::Postgres => format!("CAST({expr} AS json)"),
        }
    }

    /// The SQL that makes an existing text column `column` of `table` a JSON column, keeping
    /// every byte, or `None` where the backend needs no change (SQLite stores JSON as text).
    /// PostgreSQL's `json` type keeps its input text verbatim, so the cast changes no value.
    pub fn adopt_text_as_json(self, table: &str, column: &str, data_type: &str) -> Option<String> {
        match self {
            Self::Sqlite => None,
            Self::Postgres if data_type == "json" => None,
            Self::Postgres => Some(format!("ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING {column}::json")),
        }
    }
}

/// A PostgreSQL JSON path expression: `col ->> 'k'` (or `->`) for one key, `col #>> '{a,b}'` for a
/// dotted path. One key keeps the `->>` form the indexes are built on.
fn pg_path(column: &str, path: &str, as_text: bool) -> String {
    match (path.contains('.'), as_text) {
        (false, true) => format!("{column} ->> '{path}'"),
        (false, false) => format!("{column} -> '{path}'"),
        (true, true) => format!("{column} #>> '{{{}}}'", path.replace('.', ",")),
        (true, false) => format!("{column} #> '{{{}}}'", path.replace('.', ",")),
    }
}
