//! AICO's indexes set aside for a bulk write, and put back exactly as they were. PostgreSQL only.
//!
//! A row written with an index in place enters it at once; for many rows that costs more than
//! building the index once afterwards (AICO's HNSW index on `conversation_segments` several
//! times more, the eleven plain indexes on `ams_user_memories` about twice). When a write is large,
//! the indexes are set aside: their definitions are recorded in `aico_ams.parked_indexes`
//! (committed first), they are dropped concurrently, the rows are written, they are built again from
//! the record, checked (valid, the same definition), and only then the record is deleted. A run
//! that finds a record (one killed half-way) resumes: it drops a half-built leftover, writes what is
//! left and builds them.
//!
//! Only indexes no constraint needs are set aside: never a primary key, a unique index (the
//! writes' `ON CONFLICT` and AICO's own rules stand on them) or an exclusion constraint's.
//!
//! A definition is read as `pg_get_indexdef` prints it with only `pg_catalog` on the search path,
//! so every name in it (the table, the operator class) is schema-qualified and it means the same
//! thing in any session. Names are the catalog's; nothing from a flag or the environment is
//! pasted: an index is named by its schema and name read from the catalog, each quoted.

use aico_connect::dialect::Dialect;
use aico_connect::target::{OWN_PG_SCHEMA, quote_ident};
use futures_util::{StreamExt, TryStreamExt};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use serde::Serialize;

use crate::error::AppError;
use crate::sql::Db;

/// Our record of the indexes set aside, in our own schema.
pub const PARKED: &str = "parked_indexes";

/// What became of the indexes of a bulk write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexPlan {
    /// Left in place: the rows were written with them.
    #[default]
    Kept,
    /// Set aside and built again, exactly as they were.
    Rebuilt,
    /// The table has no such index.
    Absent,
}

/// Which indexes of a table a bulk write may set aside.
#[derive(Clone, Copy, Debug)]
pub struct Parking<'a> {
    /// The table, as a statement names it (through the search path, or schema-qualified).
    pub table: &'a str,
    /// One index of it, by name; None: every index of it that no constraint needs.
    pub only: Option<&'a str>,
}

/// How the indexes are built again ([`put_back`]).
#[derive(Clone, Copy, Debug)]
pub enum Build {
    /// One at a time, `CREATE INDEX CONCURRENTLY`: AICO reads and writes the table meanwhile.
    /// `maintenance_work_mem` is raised to this many KiB for each build (an HNSW graph that fits in
    /// it is built several times faster).
    Concurrently {
        /// `maintenance_work_mem` for the build, in KiB (never below the server's own setting).
        memory_kib: u64,
    },
    /// `CREATE INDEX`, two at once, each on a connection of its own (both cores work): AICO
    /// reads the table meanwhile, and its writes to the table wait for the builds (seconds).
    TwoAtOnce,
}

/// An index recorded before it is set aside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Its schema (its table's).
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Its definition, as [`IndexState::definition`] has it.
    pub definition: String,
}

/// What became of the indexes before a bulk write ([`set_aside_for`]).
#[derive(Clone, Debug)]
pub struct Aside {
    /// The recorded definitions to build them back from ([`put_back`]); empty: they stayed.
    pub recorded: Vec<Recorded>,
    /// What they go through.
    pub plan: IndexPlan,
    /// An earlier run had set them aside (a run killed half-way): this one finishes that.
    pub resumed: bool,
}

/// Before a bulk write into `parking.table`: set its indexes aside when `worth` it (recorded first,
/// then dropped concurrently), or go on with what an earlier run left (its record: the indexes are
/// dropped if they are back but the write is large, kept if they are back, valid and the same).
pub async fn set_aside_for(db: &Db, parking: Parking<'_>, worth: bool) -> Result<Aside, AppError> {
    let now = index_states(&db.conn, parking).await.map_err(|e| db.error(e))?;
    let plan = if now.is_empty() { IndexPlan::Absent } else { IndexPlan::Kept };
    let recorded = parked(db, parking).await?;
    if recorded.is_empty() {
        if !worth || now.is_empty() {
            return Ok(Aside { recorded, plan, resumed: false });
        }
        let recorded: Vec<Recorded> = now
            .iter()
            .map(|i| Recorded { schema: i.schema.clone(), name: i.name.clone(), definition: i.definition.clone() })
            .collect();
        record(db, parking.table, &recorded).await?;
        for r in &recorded {
            set_aside(db, now.iter().find(|i| i.is(r)), r).await?;
        }
        return Ok(Aside { recorded, plan: IndexPlan::Rebuilt, resumed: false });
    }
    // Killed after the indexes were built again (or before they were dropped), with little left
    // to write: they stay; the record goes once they are checked.
    let all_back = recorded.iter().all(|r| now.iter().any(|i| i.is(r) && i.valid && i.definition == r.definition));
    if all_back && !worth {
        return Ok(Aside { recorded, plan, resumed: true });
    }
    for r in &recorded {
        set_aside(db, now.iter().find(|i| i.is(r)), r).await?;
    }
    Ok(Aside { recorded, plan: IndexPlan::Rebuilt, resumed: true })
}

/// After the write: the indexes built back from their record, if they were set aside ([`restore`]);
/// the seconds that took.
pub async fn put_back(db: &Db, parking: Parking<'_>, aside: &Aside, build: Build) -> Result<f64, AppError> {
    if aside.recorded.is_empty() {
        return Ok(0.0);
    }
    let began = std::time::Instant::now();
    restore(db, parking.table, &aside.recorded, build).await?;
    Ok(began.elapsed().as_secs_f64())
}

/// The indexes recorded for `parking` by an earlier run, if any.
async fn parked(db: &Db, parking: Parking<'_>) -> Result<Vec<Recorded>, AppError> {
    if !record_exists(db, PARKED).await? {
        return Ok(Vec::new());
    }
    let table = format!("{OWN_PG_SCHEMA}.{PARKED}");
    let rows = db
        .conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT index_schema, index_name, definition FROM {table} \
                 WHERE table_name = $1 AND ($2::text IS NULL OR index_name = $2) ORDER BY index_schema, index_name"
            ),
            [parking.table.into(), parking.only.map(str::to_owned).into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    rows.iter()
        .map(|r| {
            Ok(Recorded {
                schema: r.try_get("", "index_schema")?,
                name: r.try_get("", "index_name")?,
                definition: r.try_get("", "definition")?,
            })
        })
        .collect::<Result<_, DbErr>>()
        .map_err(|e| db.error(e))
}

/// Whether our record table `name` (in our own schema) exists: before a run has set anything aside
/// there is none.
pub(crate) async fn record_exists(db: &Db, name: &str) -> Result<bool, AppError> {
    let row = db
        .conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass($1) IS NOT NULL AS e",
            [format!("{OWN_PG_SCHEMA}.{name}").into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    row.map(|r| r.try_get::<bool>("", "e")).transpose().map_err(|e| db.error(e)).map(|e| e == Some(true))
}

/// Record the indexes of `table` (our table made when missing), in one transaction committed before
/// anything touches them.
async fn record(db: &Db, table: &str, recorded: &[Recorded]) -> Result<(), AppError> {
    let parked = format!("{OWN_PG_SCHEMA}.{PARKED}");
    db.rows(&format!(
        "CREATE TABLE IF NOT EXISTS {parked} (index_schema TEXT NOT NULL, index_name TEXT NOT NULL, \
         table_name TEXT NOT NULL, definition TEXT NOT NULL, \
         parked_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (index_schema, index_name))"
    ))
    .await?;
    let txn = db.conn.begin().await.map_err(|e| db.error(e))?;
    for r in recorded {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("INSERT INTO {parked} (index_schema, index_name, table_name, definition) VALUES ($1, $2, $3, $4)"),
            [r.schema.clone().into(), r.name.clone().into(), table.into(), r.definition.clone().into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    }
    txn.commit().await.map_err(|e| db.error(e))?;
    for r in recorded {
        tracing::info!(index = %r.name, definition = %r.definition, "recorded AICO's index before setting it aside");
    }
    Ok(())
}

/// Drop the recorded index `r` as it is `now` (valid, or half-built by a killed rebuild),
/// concurrently; a valid index whose definition is not the recorded one is refused (someone
/// changed it).
async fn set_aside(db: &Db, now: Option<&IndexState>, r: &Recorded) -> Result<(), AppError> {
    let Some(now) = now else { return Ok(()) };
    if now.valid && now.definition != r.definition {
        return Err(index_error(
            db,
            &r.name,
            format!("is now `{}`, not the recorded `{}`: left as it is", now.definition, r.definition),
        ));
    }
    drop_index_concurrently(&db.conn, &now.schema, &now.name).await.map_err(|e| db.error(e))?;
    tracing::info!(index = %r.name, valid = now.valid, "set AICO's index aside");
    Ok(())
}

/// Build the recorded indexes again (each unless it is there, valid and the same), check them,
/// and delete their record.
async fn restore(db: &Db, table: &str, recorded: &[Recorded], build: Build) -> Result<(), AppError> {
    let mut to_build = Vec::new();
    for r in recorded {
        match index_state(&db.conn, table, &r.name).await.map_err(|e| db.error(e))? {
            Some(now) if now.valid && now.definition == r.definition => {}
            now => {
                set_aside(db, now.as_ref(), r).await?;
                let plain = plain_definition(&r.definition).ok_or_else(|| {
                    index_error(
                        db,
                        &r.name,
                        format!("has a recorded definition that is no CREATE INDEX: `{}`", r.definition),
                    )
                })?;
                to_build.push((r, plain));
            }
        }
    }
    match build {
        Build::Concurrently { memory_kib } => {
            for (r, plain) in &to_build {
                tracing::info!(index = %r.name, maintenance_work_mem_kib = memory_kib, "building AICO's index again");
                create_index(&db.conn, &concurrently(plain), Some(memory_kib)).await.map_err(|e| db.error(e))?;
            }
        }
        Build::TwoAtOnce => {
            // The costliest first, so that the last two do not leave one core idle: an index on
            // an expression calls it for every row (AICO's two on `ams_user_memories.temporal_metadata`
            // call PL/pgSQL functions that parse the JSON; measured on 300,000 facts, 2.3 s and
            // 0.9 s, the nine on plain columns 1.6 s together).
            to_build.sort_by_key(|(_, plain)| !on_expression(plain));
            futures_util::stream::iter(to_build.iter().map(|(r, plain)| async move {
                tracing::info!(index = %r.name, "building AICO's index again");
                create_index(&db.conn, plain, None).await.map_err(|e| db.error(e))
            }))
            .buffer_unordered(2)
            .try_collect::<Vec<()>>()
            .await?;
        }
    }
    for r in recorded {
        match index_state(&db.conn, table, &r.name).await.map_err(|e| db.error(e))? {
            Some(now) if now.valid && now.definition == r.definition => {}
            Some(now) if !now.valid => {
                return Err(index_error(db, &r.name, "was built again but is not valid".into()));
            }
            Some(now) => {
                return Err(index_error(
                    db,
                    &r.name,
                    format!("was built again as `{}`, not `{}`", now.definition, r.definition),
                ));
            }
            None => return Err(index_error(db, &r.name, "is missing after the rebuild".into())),
        }
    }
    let schemas: Vec<String> = recorded.iter().map(|r| r.schema.clone()).collect();
    let names: Vec<String> = recorded.iter().map(|r| r.name.clone()).collect();
    db.conn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "DELETE FROM {OWN_PG_SCHEMA}.{PARKED} WHERE (index_schema, index_name) IN \
                 (SELECT * FROM unnest($1::text[], $2::text[]))"
            ),
            [schemas.into(), names.into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    Ok(())
}

fn index_error(db: &Db, index: &str, detail: String) -> AppError {
    AppError::AicoIndex {
        target: db.target.to_string(),
        index: format!("index {index}"),
        detail,
        record: format!("{OWN_PG_SCHEMA}.{PARKED}"),
    }
}

/// An index as the catalog has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexState {
    /// The schema it lives in (its table's).
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Its definition, every name schema-qualified (`CREATE INDEX name ON schema.table USING ...`).
    pub definition: String,
    /// `pg_index.indisvalid`: false for an index a `CREATE INDEX CONCURRENTLY` left half-built.
    pub valid: bool,
}

impl IndexState {
    /// Whether this is the recorded index `r` (by schema and name).
    fn is(&self, r: &Recorded) -> bool {
        self.schema == r.schema && self.name == r.name
    }
}

/// The index `name` of `table` (found through the search path, as a statement finds it), or
/// `None` when the table has no index of that name.
pub async fn index_state(conn: &DatabaseConnection, table: &str, name: &str) -> Result<Option<IndexState>, DbErr> {
    let found = index_states(conn, Parking { table, only: Some(name) }).await?;
    Ok(found.into_iter().next())
}

/// The indexes of `parking.table` (found through the search path, as a statement finds it) that
/// `parking` names: the one named, or every one no constraint needs; none when there is no such
/// table.
pub async fn index_states(conn: &DatabaseConnection, parking: Parking<'_>) -> Result<Vec<IndexState>, DbErr> {
    let rows = in_catalog(
        conn,
        parking.table,
        "SELECT n.nspname AS schema, c.relname::text AS name, pg_get_indexdef(i.indexrelid) AS definition, \
         i.indisvalid AS valid \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE i.indrelid = CAST($1 AS oid) AND CASE WHEN $2::text IS NULL \
         THEN NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) \
         ELSE c.relname = $2 END ORDER BY c.relname",
        parking.only.map(str::to_owned).into(),
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(IndexState {
                schema: r.try_get("", "schema")?,
                name: r.try_get("", "name")?,
                definition: r.try_get("", "definition")?,
                valid: r.try_get("", "valid")?,
            })
        })
        .collect()
}

/// The rows of the catalog query `sql` about `table` (found through the search path, as a
/// statement finds it; none when there is no such table), its object id bound as `$1` and `arg` as
/// `$2`, read with only `pg_catalog` on the search path: every name a definition prints is
/// schema-qualified.
pub(crate) async fn in_catalog(
    conn: &DatabaseConnection,
    table: &str,
    sql: &str,
    arg: sea_orm::Value,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
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
        return Ok(Vec::new());
    };
    let Some(oid): Option<i64> = row.try_get("", "t")? else { return Ok(Vec::new()) };
    txn.execute_raw(Dialect::Postgres.stmt("SET LOCAL search_path TO pg_catalog")).await?;
    let rows = txn.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [oid.into(), arg])).await?;
    txn.commit().await?;
    Ok(rows)
}

/// `DROP INDEX CONCURRENTLY IF EXISTS schema.name`: readers and writers of the table go on
/// meanwhile. Never inside a transaction.
async fn drop_index_concurrently(conn: &DatabaseConnection, schema: &str, name: &str) -> Result<(), DbErr> {
    let sql = format!("DROP INDEX CONCURRENTLY IF EXISTS {}.{}", quote_ident(schema), quote_ident(name));
    conn.execute_raw(Dialect::Postgres.stmt(sql)).await.map(|_| ())
}

/// `definition` (as [`IndexState::definition`] has it) if it is a plain `CREATE [UNIQUE] INDEX`.
fn plain_definition(definition: &str) -> Option<String> {
    ["CREATE INDEX ", "CREATE UNIQUE INDEX "]
        .iter()
        .any(|prefix| definition.starts_with(prefix))
        .then(|| definition.to_owned())
}

/// A plain definition ([`plain_definition`]) as a `CREATE INDEX CONCURRENTLY`.
fn concurrently(plain: &str) -> String {
    ["CREATE INDEX ", "CREATE UNIQUE INDEX "]
        .iter()
        .find_map(|prefix| plain.strip_prefix(prefix).map(|rest| format!("{prefix}CONCURRENTLY {rest}")))
        .unwrap_or_else(|| plain.to_owned())
}

/// Whether the index `definition` (`CREATE INDEX ... USING method (...)`) has an expression among
/// its keys: a call or a parenthesized expression inside its key list.
fn on_expression(definition: &str) -> bool {
    let Some((_, keys)) = definition.split_once(" USING ") else { return false };
    let keys = keys.split(" WHERE ").next().unwrap_or(keys);
    keys.matches('(').count() > 1
}

/// Build an index by `definition` on one connection of its own, whose parallel workers are not
/// held back by the table's size and, with `memory_kib`, whose `maintenance_work_mem` is raised
/// to that for the build; both reset afterwards.
async fn create_index(conn: &DatabaseConnection, definition: &str, memory_kib: Option<u64>) -> Result<(), DbErr> {
    use sea_orm::sqlx::{self, Executor};
    let err = |e: sqlx::Error| DbErr::Custom(e.to_string());
    let mut one = conn.get_postgres_connection_pool().acquire().await.map_err(err)?;
    if let Some(kib) = memory_kib {
        // Never lower the server's own setting.
        sqlx::query(
            "SELECT set_config('maintenance_work_mem', \
             GREATEST($1::bigint, pg_size_bytes(current_setting('maintenance_work_mem')) / 1024)::text || 'kB', false)",
        )
        .bind(i64::try_from(kib).unwrap_or(i64::MAX))
        .execute(&mut *one)
        .await
        .map_err(err)?;
    }
    // Parallel workers (as many as the server's `max_parallel_maintenance_workers` allows) for any
    // table: PostgreSQL plans none below `min_parallel_table_scan_size` (8 MB), which a user's few
    // thousand segments are under, and pgvector builds an HNSW graph about twice as fast with one
    // (measured on 5,000 segments of 768-d, 2 cores: 2.2 s alone, 1.2 s with a worker).
    one.execute("SET min_parallel_table_scan_size = 0").await.map_err(err)?;
    // Our own statement: the catalog's definition of the index (see the module's doc).
    let built = one.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(definition.to_owned()))).await.map_err(err);
    let reset = one.execute("RESET maintenance_work_mem; RESET min_parallel_table_scan_size").await.map_err(err);
    built?;
    reset.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::{concurrently, plain_definition};

    #[test]
    fn the_recorded_definition_becomes_concurrent() {
        let def = "CREATE INDEX idx_conversation_segments_embedding ON aico_core.conversation_segments \
                   USING hnsw (embedding aico_core.vector_cosine_ops)";
        let plain = plain_definition(def).expect("a CREATE INDEX");
        assert!(concurrently(&plain).starts_with("CREATE INDEX CONCURRENTLY idx_conversation_segments_embedding ON"));
        assert_eq!(plain_definition("DROP TABLE x"), None);
    }

    #[test]
    fn indexes_on_expressions_are_told_from_plain_ones() {
        use super::on_expression;
        let temporal = "CREATE INDEX idx_user_memories_temporal ON aico_core.ams_user_memories USING btree \
            (aico_core.jsonb_extract_timestamptz_immutable(temporal_metadata, 'last_accessed'::text)) \
            WHERE (temporal_metadata IS NOT NULL)";
        assert!(on_expression(temporal));
        let partial = "CREATE INDEX idx_facts_favorite ON aico_core.ams_user_memories USING btree \
            (user_id, is_favorite) WHERE (is_favorite = true)";
        assert!(!on_expression(partial));
        assert!(!on_expression("CREATE INDEX i ON t USING hnsw (embedding aico_core.vector_cosine_ops)"));
    }
}
