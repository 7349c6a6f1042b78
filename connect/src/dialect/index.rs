//! Setting an index aside while a table is rewritten, and putting it back exactly as it was
//! (PostgreSQL only: AICO's pgvector HNSW index on its PostgreSQL database, which every new row
//! version enters again, at a cost that dwarfs rebuilding it once).
//!
//! The definition is read as `pg_get_indexdef` prints it with only `pg_catalog` on the search
//! path, so every name in it (the table, the operator class) is schema-qualified and it means the
//! same thing in any session. Names are the catalog's; nothing from a flag or the environment is
//! pasted: the index is named by its schema and name read from the catalog, each quoted.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};

use super::Dialect;
use crate::target::quote_ident;

/// An index as the catalog has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexState {
    /// The schema it lives in (its table's).
    pub schema: String,
    /// Its definition, every name schema-qualified (`CREATE INDEX name ON schema.table USING ...`).
    pub definition: String,
    /// `pg_index.indisvalid`: false for an index a `CREATE INDEX CONCURRENTLY` left half-built.
    pub valid: bool,
}

impl Dialect {
    /// The index `name` of `table` (found through the search path, as a statement finds it), or
    /// `None` when the table has no index of that name. PostgreSQL only.
    pub async fn postgres_index(
        conn: &DatabaseConnection,
        table: &str,
        name: &str,
    ) -> Result<Option<IndexState>, DbErr> {
        let txn = conn.begin().await?;
        // Resolve the table first, with the connection's own search path.
        let Some(row) = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT CAST(CAST(to_regclass($1) AS oid) AS bigint) AS t",
                [table.into()],
            ))
            .await?
        else {
            return Ok(None);
        };
        let Some(oid): Option<i64> = row.try_get("", "t")? else { return Ok(None) };
        txn.execute_raw(Dialect::Postgres.stmt("SET LOCAL search_path TO pg_catalog")).await?;
        let state = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT n.nspname AS schema, pg_get_indexdef(i.indexrelid) AS definition, i.indisvalid AS valid \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE i.indrelid = CAST($1 AS oid) AND c.relname = $2",
                [oid.into(), name.into()],
            ))
            .await?
            .map(|r| {
                Ok::<_, DbErr>(IndexState {
                    schema: r.try_get("", "schema")?,
                    definition: r.try_get("", "definition")?,
                    valid: r.try_get("", "valid")?,
                })
            })
            .transpose()?;
        txn.commit().await?;
        Ok(state)
    }

    /// `DROP INDEX CONCURRENTLY IF EXISTS schema.name`: readers and writers of the table go on
    /// meanwhile. PostgreSQL only; never inside a transaction.
    pub async fn postgres_drop_index_concurrently(
        conn: &DatabaseConnection,
        schema: &str,
        name: &str,
    ) -> Result<(), DbErr> {
        let sql = format!("DROP INDEX CONCURRENTLY IF EXISTS {}.{}", quote_ident(schema), quote_ident(name));
        conn.execute_raw(Dialect::Postgres.stmt(sql)).await.map(|_| ())
    }

    /// `definition` (as [`IndexState::definition`] has it) as a `CREATE INDEX CONCURRENTLY`, or
    /// `None` when it is not a plain `CREATE [UNIQUE] INDEX`.
    pub fn postgres_concurrent_definition(definition: &str) -> Option<String> {
        ["CREATE INDEX ", "CREATE UNIQUE INDEX "]
            .iter()
            .find_map(|prefix| definition.strip_prefix(prefix).map(|rest| format!("{prefix}CONCURRENTLY {rest}")))
    }

    /// Build an index by `definition` (see [`Self::postgres_concurrent_definition`]) concurrently:
    /// readers and writers go on meanwhile. On one connection of its own, whose
    /// `maintenance_work_mem` is raised to `memory_kib` for the build (an HNSW graph that fits in
    /// it is built several times faster) and reset afterwards. PostgreSQL only.
    pub async fn postgres_create_index_concurrently(
        conn: &DatabaseConnection,
        concurrent_definition: &str,
        memory_kib: u64,
    ) -> Result<(), DbErr> {
        use sea_orm::sqlx::{self, Executor};
        let err = |e: sqlx::Error| DbErr::Custom(e.to_string());
        let mut one = conn.get_postgres_connection_pool().acquire().await.map_err(err)?;
        // Never lower the server's own setting.
        sqlx::query(
            "SELECT set_config('maintenance_work_mem', \
             GREATEST($1::bigint, pg_size_bytes(current_setting('maintenance_work_mem')) / 1024)::text || 'kB', false)",
        )
        .bind(i64::try_from(memory_kib).unwrap_or(i64::MAX))
        .execute(&mut *one)
        .await
        .map_err(err)?;
        // Our own statement: the catalog's definition of the index (see the module's doc).
        let built =
            one.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(concurrent_definition.to_owned()))).await.map_err(err);
        let reset = one.execute("RESET maintenance_work_mem").await.map_err(err);
        built?;
        reset.map(|_| ())
    }
}
