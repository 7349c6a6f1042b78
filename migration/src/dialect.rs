//! The migration crate's own per-backend SQL (as `aico-connect`'s [`Dialect`] holds what every
//! crate shares): how each backend reads back what a migration made, as the fingerprints' canonical
//! lines; its bind marks; where a rehearsal makes its objects. Callers ([`crate::fingerprint`]) never
//! `match` on the backend.
//!
//! Every name pasted here is a table or index of the catalog (`crate::catalog`) or the fingerprint
//! table's; values are bound.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use crate::canonical::{canonical_sql, table_items};
use aico_connect::dialect::Dialect;

/// `n` bind marks, comma-separated: `?, ?` (SQLite) or `$1, $2` (PostgreSQL).
pub(crate) fn marks(dialect: Dialect, n: usize) -> String {
    let mark = |i: usize| match dialect {
        Dialect::Sqlite => "?".to_owned(),
        Dialect::Postgres => format!("${i}"),
    };
    (1..=n).map(mark).collect::<Vec<_>>().join(", ")
}

/// The statement that makes a rehearsal's objects go where they vanish with its transaction
/// (PostgreSQL: the session's temporary schema); none where the scratch database is itself
/// temporary (SQLite in memory).
pub(crate) fn rehearsal_scope(dialect: Dialect) -> Option<Statement> {
    match dialect {
        Dialect::Sqlite => None,
        Dialect::Postgres => Some(dialect.stmt("SET LOCAL search_path TO pg_temp")),
    }
}

/// `sql` in `dialect` with `values` bound (never pasted).
pub(crate) fn bound(dialect: Dialect, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(dialect.backend(), sql, values)
}

/// `table T column|item C ...` lines of `table`, leaving out the columns in `skip`.
pub(crate) async fn table_lines<C: ConnectionTrait>(
    dialect: Dialect,
    conn: &C,
    table: &str,
    skip: &[&str],
) -> Result<Vec<String>, DbErr> {
    let keep = |name: &str| !skip.contains(&name);
    let mut lines = Vec::new();
    match dialect {
        Dialect::Sqlite => {
            let sql = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?";
            let Some(row) = conn.query_one_raw(bound(dialect, sql, vec![table.into()])).await? else {
                return Ok(vec![format!("table {table} missing")]);
            };
            let create: String = row.try_get("", "sql")?;
            for item in table_items(&canonical_sql(&create)).unwrap_or_default() {
                if keep(item.split(' ').next().unwrap_or_default()) {
                    lines.push(format!("table {table} item {item}"));
                }
            }
            let sql = "SELECT name, lower(type) AS ty, \"notnull\" AS nn, dflt_value AS dflt, pk \
                       FROM pragma_table_info(?) ORDER BY cid";
            for row in conn.query_all_raw(bound(dialect, sql, vec![table.into()])).await? {
                let name: String = row.try_get("", "name")?;
                let ty: String = row.try_get("", "ty")?;
                let nn: i64 = row.try_get("", "nn")?;
                let dflt: Option<String> = row.try_get("", "dflt")?;
                let pk: i64 = row.try_get("", "pk")?;
                if keep(&name) {
                    let dflt = dflt.map(|d| canonical_sql(&d)).unwrap_or_default();
                    lines.push(format!("table {table} column {name} {ty} notnull={nn} default={dflt} pk={pk}"));
                }
            }
        }
        Dialect::Postgres => {
            // The first table of that name on the search path, as a statement would find it.
            let rel = "to_regclass(quote_ident($1::text))";
            let sql = format!(
                "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS ty, a.attnotnull AS nn, \
                 pg_get_expr(d.adbin, d.adrelid) AS dflt FROM pg_attribute a \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = {rel} AND a.attnum > 0 AND NOT a.attisdropped"
            );
            let rows = conn.query_all_raw(bound(dialect, &sql, vec![table.into()])).await?;
            if rows.is_empty() {
                return Ok(vec![format!("table {table} missing")]);
            }
            for row in rows {
                let name: String = row.try_get("", "name")?;
                let ty: String = row.try_get("", "ty")?;
                let nn: bool = row.try_get("", "nn")?;
                let dflt: Option<String> = row.try_get("", "dflt")?;
                if keep(&name) {
                    let dflt = dflt.unwrap_or_default();
                    lines.push(format!("table {table} column {name} {ty} notnull={nn} default={dflt}"));
                }
            }
            let sql =
                format!("SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = {rel}");
            for row in conn.query_all_raw(bound(dialect, &sql, vec![table.into()])).await? {
                let def: String = row.try_get("", "def")?;
                lines.push(format!("table {table} constraint {def}"));
            }
        }
    }
    Ok(lines)
}

/// The `index I ...` line of index `index` (`index I missing` when there is none).
pub(crate) async fn index_line<C: ConnectionTrait>(
    dialect: Dialect,
    conn: &C,
    index: &str,
) -> Result<Option<String>, DbErr> {
    let sql = match dialect {
        Dialect::Sqlite => "SELECT sql AS def FROM sqlite_master WHERE type = 'index' AND name = ?",
        Dialect::Postgres => {
            // The table's schema left out: its name, or `pg_temp` for the rehearsal's temporary one.
            "SELECT replace(replace(pg_get_indexdef(i.oid), ' ON ' || quote_ident(n.nspname) || '.', ' ON '), \
             ' ON pg_temp.', ' ON ') AS def \
             FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace \
             WHERE i.oid = to_regclass(quote_ident($1::text)) AND i.relkind = 'i'"
        }
    };
    let def = match conn.query_one_raw(bound(dialect, sql, vec![index.into()])).await? {
        Some(row) => row.try_get::<Option<String>>("", "def")?.map(|d| canonical_sql(&d)),
        None => None,
    };
    Ok(Some(format!("index {index} {}", def.as_deref().unwrap_or("missing"))))
}
