//! Fragments of SQL the migrations and the reports share: JSON access, expression indexes, checks.
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
