//! The schema read back from the database, one line per object (table, column, index, CHECK), the
//! same on both backends, so that tests compare schemas as sets of lines.

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::column_of;

/// The schema as the database reports it, one line per table, column, index and CHECK
/// constraint: `table T`, `column T.C TYPE [not null] [pk]`, `index I on T`, `check C on T`.
/// Types are the backend's own names.
pub async fn schema(db: &DatabaseConnection) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let tables = column_of(
                db,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .await;
            for t in tables {
                out.insert(format!("table {t}"));
                let cols = db
                    .query_all_raw(Statement::from_string(
                        DbBackend::Sqlite,
                        format!("SELECT name, lower(type) AS type, \"notnull\", pk FROM pragma_table_info('{t}')"),
                    ))
                    .await
                    .expect("table_info");
                for c in cols {
                    let name: String = c.try_get("", "name").expect("name");
                    let ty: String = c.try_get("", "type").expect("type");
                    let notnull: i64 = c.try_get("", "notnull").expect("notnull");
                    let pk: i64 = c.try_get("", "pk").expect("pk");
                    out.insert(column_line(&t, &name, &ty, notnull != 0, pk != 0));
                }
                let sql =
                    column_of(db, &format!("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{t}'"))
                        .await;
                for check in checks_in(&sql.concat()) {
                    out.insert(format!("check {check} on {t}"));
                }
                for i in column_of(
                    db,
                    &format!(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{t}' AND sql IS NOT NULL"
                    ),
                )
                .await
                {
                    out.insert(format!("index {i} on {t}"));
                }
            }
        }
        DbBackend::Postgres => {
            for t in column_of(
                db,
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .await
            {
                out.insert(format!("table {t}"));
            }
            let cols = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT c.table_name::text AS t, c.column_name::text AS c, c.data_type::text AS ty, \
                     c.is_nullable = 'NO' AS notnull, EXISTS (SELECT 1 FROM information_schema.key_column_usage k \
                       JOIN information_schema.table_constraints tc ON tc.constraint_name = k.constraint_name \
                        AND tc.table_schema = k.table_schema AND tc.constraint_type = 'PRIMARY KEY' \
                       WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name \
                        AND k.column_name = c.column_name) AS pk \
                     FROM information_schema.columns c WHERE c.table_schema = current_schema()"
                        .to_owned(),
                ))
                .await
                .expect("columns");
            for c in cols {
                let t: String = c.try_get("", "t").expect("t");
                let name: String = c.try_get("", "c").expect("c");
                let ty: String = c.try_get("", "ty").expect("ty");
                let notnull: bool = c.try_get("", "notnull").expect("notnull");
                let pk: bool = c.try_get("", "pk").expect("pk");
                out.insert(column_line(&t, &name, &ty, notnull, pk));
            }
            let idx = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT indexname::text AS i, tablename::text AS t FROM pg_indexes \
                     WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey'"
                        .to_owned(),
                ))
                .await
                .expect("indexes");
            for r in idx {
                let i: String = r.try_get("", "i").expect("i");
                let t: String = r.try_get("", "t").expect("t");
                out.insert(format!("index {i} on {t}"));
            }
            let checks = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT con.conname::text AS c, rel.relname::text AS t FROM pg_constraint con \
                     JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace n ON n.oid = rel.relnamespace \
                     WHERE con.contype = 'c' AND n.nspname = current_schema()"
                        .to_owned(),
                ))
                .await
                .expect("checks");
            for r in checks {
                let c: String = r.try_get("", "c").expect("c");
                let t: String = r.try_get("", "t").expect("t");
                out.insert(format!("check {c} on {t}"));
            }
        }
        other => panic!("unsupported backend {other:?}"),
    }
    out
}

fn column_line(table: &str, column: &str, ty: &str, notnull: bool, pk: bool) -> String {
    let mut line = format!("column {table}.{column} {ty}");
    if notnull {
        line.push_str(" not null");
    }
    if pk {
        line.push_str(" pk");
    }
    line
}

/// The names of the `CONSTRAINT name CHECK` clauses in a `CREATE TABLE` statement.
fn checks_in(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    words
        .windows(3)
        .filter(|w| w[0].eq_ignore_ascii_case("constraint") && w[2].to_ascii_uppercase().starts_with("CHECK"))
        .map(|w| w[1].trim_matches(|c| c == '"' || c == '`').to_owned())
        .collect()
}
