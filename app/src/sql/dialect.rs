//! The SQL store's own per-backend SQL (as `aico-connect`'s [`Dialect`] holds what every crate
//! shares: catalog reads, JSON access, the transactions that write): timestamps as canonical
//! text, the backfill's fill, a metadata value's required keys, heap-block ranges, timestamps
//! without an offset. Callers ask [`StoreDialect`] (implemented for [`Dialect`]) and never
//! `match` on the backend.
//!
//! Every name and key these builders paste is a constant of the migrations or of
//! `migration::catalog` (tables, columns, JSON keys); every number is ours; a value from a flag,
//! the environment or a row never reaches them (those are bound). A column's declared type is only
//! compared, never pasted.

use aico_connect::dialect::Dialect;

use crate::sql::backfill::initial_metadata_sql;
use crate::sql::initial_metadata::SQLITE_FUNCTION;

/// How a backfill batch's set-based `UPDATE` builds the metadata ([`StoreDialect::metadata_fill`]).
pub enum Fill {
    /// SQL that builds the metadata from the row, NULL where it cannot (SQLite: the Rust of
    /// `initial_metadata`, run inside SQLite), in the `UPDATE`'s `SET` and `WHERE`.
    InPlace {
        /// The metadata, or NULL.
        metadata: String,
    },
    /// The canonical timestamp, a long expression, computed once per row in a subquery that the
    /// planner keeps apart, and the metadata built from it (PostgreSQL); the rows are found
    /// again by `ctid`.
    ByRowId {
        /// The canonical timestamp from `created_at`, NULL where SQL cannot read it.
        timestamp: String,
        /// The metadata from `b.ts`, that timestamp.
        metadata: String,
    },
}

/// The SQL store's SQL, per backend.
pub trait StoreDialect: Copy {
    /// `column`, a timestamp whose declared type is `declared` (see [`Dialect::column_type`]), as text
    /// that a lenient parser reads: SQLite's stored text as is; on PostgreSQL, typed timestamps as
    /// RFC 3339 UTC (a naive `timestamp` is taken as UTC, as AICO writes it).
    /// A date before year 1 keeps its era (`... BC`), which no reader takes for a year AD.
    fn timestamp_text(self, column: &str, declared: &str) -> String;

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
    fn postgres_canonical_timestamp(column: &str, declared: &str) -> String;

    /// SQL true where [`StoreDialect::postgres_canonical_timestamp`] of the same column is not
    /// NULL, for a `WHERE`: for a typed timestamp only its range is tested (the canonical text
    /// costs several `to_char`s a row, which a test of which rows to write need not pay).
    fn postgres_timestamp_writable(column: &str, declared: &str) -> String {
        match typed_utc(Dialect::Postgres, column, declared) {
            Some(u) => format!("({u} >= '0001-01-01' AND {u} < '10000-01-01')"),
            None => format!("(({}) IS NOT NULL)", Self::postgres_canonical_timestamp(column, declared)),
        }
    }

    /// A JSON value from the text `expr` (a bound string parameter): PostgreSQL casts it to `json`,
    /// which keeps the text verbatim (a bound `jsonb` would reorder its keys); SQLite stores text.
    fn json_from_text(self, expr: &str) -> String;

    /// A boolean SQL expression: `column` is not NULL and is not a JSON object holding a non-null
    /// value at each of `keys`.
    fn json_object_lacking(self, column: &str, keys: &[&str]) -> String;

    /// SQL true for the rows stored in heap blocks `from` (inclusive) to `to` (exclusive): a TID
    /// range scan, from PostgreSQL 14. PostgreSQL only (SQLite has no heap blocks), so it asks no
    /// dialect.
    fn postgres_in_blocks(from: i64, to: i64) -> String;

    /// How the backfill's set-based `UPDATE` builds a fact's metadata from `created` (SQL dating
    /// the fact, of the declared type `declared`), NULL where SQL cannot: on SQLite the Rust that
    /// judges every row, run inside SQLite (see [`crate::sql::initial_metadata`]); on PostgreSQL
    /// from `b.ts`, the canonical timestamp computed once per row.
    fn metadata_fill(self, created: &str, declared: &str) -> Fill;

    /// SQL true for the timestamp text `text` without an offset (`Z`, `±HH:MM`, `±HHMM` or `±HH`),
    /// as AICO's naive `isoformat()` writes it. PostgreSQL only (a regular expression).
    fn postgres_without_offset(text: &str) -> String {
        format!("({text} !~ '(Z|z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$')")
    }

    /// SQL true for a JSON value `json` (an object's text, cast) whose `created_at` or
    /// `last_accessed` is a timestamp without an offset. PostgreSQL only.
    fn postgres_instants_without_offset(json: &str) -> String {
        format!(
            "({} OR {})",
            Self::postgres_without_offset(&format!("({json} ->> 'created_at')")),
            Self::postgres_without_offset(&format!("({json} ->> 'last_accessed')"))
        )
    }
}

impl StoreDialect for Dialect {
    fn timestamp_text(self, column: &str, declared: &str) -> String {
        const ISO: &str = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";
        match typed_utc(self, column, declared) {
            Some(u) => {
                format!("CASE WHEN {u} < '0001-01-01' THEN to_char({u}, '{ISO} BC') ELSE to_char({u}, '{ISO}') END")
            }
            None => format!("CAST({column} AS TEXT)"),
        }
    }

    fn postgres_canonical_timestamp(column: &str, declared: &str) -> String {
        let pg = Self::Postgres;
        if let Some(u) = typed_utc(pg, column, declared) {
            // One `to_char` a row: the fraction's length is told by `date_trunc`, which is cheap.
            return format!(
                "CASE WHEN {u} >= '0001-01-01' AND {u} < '10000-01-01' THEN \
                 CASE WHEN date_trunc('second', {u}) = {u} THEN to_char({u}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
                 WHEN date_trunc('milliseconds', {u}) = {u} THEN to_char({u}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') \
                 ELSE to_char({u}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END END"
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

    fn json_from_text(self, expr: &str) -> String {
        match self {
            Self::Sqlite => expr.to_owned(),
            Self::Postgres => format!("CAST({expr} AS json)"),
        }
    }

    fn json_object_lacking(self, column: &str, keys: &[&str]) -> String {
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

    fn postgres_in_blocks(from: i64, to: i64) -> String {
        format!("ctid >= '({from},0)'::tid AND ctid < '({to},0)'::tid")
    }

    fn metadata_fill(self, created: &str, declared: &str) -> Fill {
        match self {
            Self::Sqlite => Fill::InPlace { metadata: format!("{SQLITE_FUNCTION}({created})") },
            Self::Postgres => Fill::ByRowId {
                timestamp: Self::postgres_canonical_timestamp(created, declared),
                metadata: initial_metadata_sql(self, "\"b\".\"ts\""),
            },
        }
    }
}

/// A typed PostgreSQL timestamp `column` as a naive UTC `timestamp` (a `timestamptz` converted,
/// a naive one taken as UTC, as AICO writes it); None for text and on SQLite.
fn typed_utc(dialect: Dialect, column: &str, declared: &str) -> Option<String> {
    match (dialect, declared) {
        (Dialect::Postgres, "timestamp with time zone") => Some(format!("({column} AT TIME ZONE 'UTC')")),
        (Dialect::Postgres, "timestamp without time zone") => Some(column.to_owned()),
        _ => None,
    }
}
