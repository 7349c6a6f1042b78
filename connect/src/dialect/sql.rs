//! Fragments of SQL: JSON access, expression indexes, timestamps as canonical text.
//!
//! Every name and key these builders paste is a constant of the migrations or of
//! `migration::catalog` (tables, columns, JSON keys, index names), and every number is ours; a
//! value from a flag, the environment or a row never reaches them (those are bound). A column's
//! declared type is only compared, never pasted.

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

    /// PostgreSQL's SQL giving `column` (a timestamp whose declared type is `declared`) as the
    /// canonical text
    /// `entity::values::Timestamp` writes — RFC 3339, UTC, `Z`, the fraction truncated to
    /// microseconds (as Python reads it) and written as 3 or 6 digits only when it is not zero —
    /// wherever that follows from the value alone, else NULL (the caller then reads the value and
    /// parses it in Rust, which also lists what AICO could not read). Text is taken when it is a
    /// valid date-time of the form `YYYY-MM-DD[ T]HH:MM:SS[.f{1,9}][Z|±HH:MM]` (the forms AICO,
    /// Python and SQLite write) from year 1, never at second 60, with an offset of at most 14
    /// hours (which PostgreSQL and Rust read alike) only from year 2 to 9998 (so that the
    /// instant in UTC cannot leave the range AICO reads); the backend's own date arithmetic
    /// (`timestamptz`) applies the offset. Typed PostgreSQL timestamps from year 1 to
    /// 9999 always are. Nothing here can raise an error: every cast is behind a shape test in a
    /// `CASE`, which both backends evaluate in order.
    ///
    /// It is evaluated once per row of a backfill, so it is built to be cheap: the fields of
    /// `YYYY-MM-DD?HH:MM:SS` are checked by looking up fixed-width pieces in lists of every valid
    /// piece (which PostgreSQL hashes; a regular expression costs several times more), the common
    /// forms (no fraction, `Z` or no zone) are answered from those checks alone, and the rest of
    /// the text (a fraction, an offset) is split once in a subquery run only for the rows that
    /// have one.
    pub fn postgres_canonical_timestamp(column: &str, declared: &str) -> String {
        let pg = Self::Postgres;
        if let Some(u) = pg.typed_utc(column, declared) {
            return format!(
                "CASE WHEN {u} >= '0001-01-01' AND {u} < '10000-01-01' THEN \
                 to_char({u}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || \
                 CASE WHEN to_char({u}, 'US') = '000000' THEN '' \
                 WHEN to_char({u}, 'US') LIKE '%000' THEN '.' || to_char({u}, 'MS') \
                 ELSE '.' || to_char({u}, 'US') END || 'Z' END"
            );
        }
        let c = pg.timestamp_text(column, declared);
        let two = |n: u32| (0..n).map(|i| format!("{i:02}"));
        let in_list = |items: &mut dyn Iterator<Item = String>| {
            format!("IN ({})", items.map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", "))
        };
        // Every valid piece of `YYYY-MM-DD?HH:MM:SS`: the year's halves (the second with the `-`
        // after it), month-day, and hour, minute and second each with the separator before it.
        let year = in_list(&mut two(100));
        let year_end = in_list(&mut two(100).map(|y| format!("{y}-")));
        const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let month_day =
            in_list(&mut (1..=12u32).flat_map(|m| (1..=DAYS[m as usize - 1]).map(move |d| format!("{m:02}-{d:02}"))));
        let hour = in_list(&mut two(24).flat_map(|h| [format!("T{h}"), format!(" {h}")]));
        let sixty = in_list(&mut two(60).map(|m| format!(":{m}")));
        let y = format!("CAST(substr({c}, 1, 4) AS INTEGER)");
        let leap = format!("({y} % 4 = 0 AND ({y} % 100 <> 0 OR {y} % 400 = 0))");
        // The date and time to the second, with `T`.
        let day = format!("replace(substr({c}, 1, 19), ' ', 'T')");

        // The rest after the seconds, split once: `f`, the fraction ('' or `.` and digits, as
        // far as digits and dots go), `t` the zone after it, and `f6` the fraction's first six
        // digits, padded (Python keeps microseconds and drops the rest).
        // Keeps the planner from pulling the subqueries up, which would copy their expressions
        // into every place that uses them.
        let fence = " OFFSET 0";
        let parts = format!(
            "SELECT t, substr(r, 1, length(r) - length(t)) AS f, \
             substr(substr(r, 1, length(r) - length(t)) || '0000000', 2, 6) AS f6 \
             FROM (SELECT r, ltrim(r, '.0123456789') AS t FROM (SELECT substr({c}, 20) AS r) AS p{fence}) AS q{fence}"
        );
        // The date and time in UTC, to the second, with the offset `t` applied.
        let local = format!("substr({c}, 1, 10) || ' ' || substr({c}, 12, 8) || t");
        let utc = format!("to_char(CAST({local} AS timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')");
        let rest = format!(
            "(SELECT CASE WHEN (f = '' OR length(f) <= 10 AND f LIKE '._%' AND ltrim(substr(f, 2), '0123456789') = '') \
             AND (t IN ('', 'Z') OR length(t) = 6 AND substr(t, 1, 1) IN ('+', '-') \
             AND substr(t, 2, 2) {offset_hour} AND substr(t, 4, 3) {sixty} AND {y} BETWEEN 2 AND 9998) \
             THEN CASE WHEN length(t) = 6 THEN {utc} ELSE {day} END || \
             CASE WHEN f6 = '000000' THEN '' WHEN substr(f6, 4, 3) = '000' THEN '.' || substr(f6, 1, 3) \
             ELSE '.' || f6 END || 'Z' END FROM ({parts}) AS s)",
            offset_hour = in_list(&mut two(15)),
        );
        format!(
            "CASE WHEN substr({c}, 1, 2) {year} AND substr({c}, 3, 3) {year_end} AND substr({c}, 1, 4) <> '0000' \
             AND substr({c}, 11, 3) {hour} AND substr({c}, 14, 3) {sixty} AND substr({c}, 17, 3) {sixty} \
             THEN CASE WHEN substr({c}, 6, 5) {month_day} OR substr({c}, 6, 5) = '02-29' AND {leap} \
             THEN CASE WHEN substr({c}, 20) IN ('', 'Z') THEN {day} || 'Z' ELSE {rest} END END END"
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

    /// SQL true for the rows stored in heap blocks `from` (inclusive) to `to` (exclusive): a TID
    /// range scan, from PostgreSQL 14. PostgreSQL only (SQLite has no heap blocks), so it asks no
    /// dialect.
    pub fn postgres_in_blocks(from: i64, to: i64) -> String {
        format!("ctid >= '({from},0)'::tid AND ctid < '({to},0)'::tid")
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
