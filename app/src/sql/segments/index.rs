//! AICO's HNSW index set aside while the segments are filled, and put back exactly as it was.
//!
//! Two segments fill a page, so an update is never HOT: every new row
//! version enters `idx_conversation_segments_embedding` again, which costs far more than building
//! the index once. When many segments need filling, the index is set aside: its definition is
//! recorded in `aico_ams.parked_indexes` (committed first), it is dropped concurrently, the rows
//! are filled, it is built again concurrently from the record, checked (valid, the same
//! definition), and only then the record is deleted. A run that finds a record (one killed
//! half-way) resumes: it drops a half-built leftover, fills what is left and builds the index.
//! Meanwhile AICO's nearest-neighbour query still answers, by an exact scan.
//!
//! The definition is read as `pg_get_indexdef` prints it with only `pg_catalog` on the search
//! path, so every name in it (the table, the operator class) is schema-qualified and it means the
//! same thing in any session. Names are the catalog's; nothing from a flag or the environment is
//! pasted: the index is named by its schema and name read from the catalog, each quoted.

use aico_connect::dialect::Dialect;
use aico_connect::target::{OWN_PG_SCHEMA, quote_ident};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};

use super::{AICO_INDEX, IndexPlan, PARKED, TABLE, count, counts};
use crate::error::AppError;
use crate::sql::Db;

/// What became of AICO's index before a bulk write of segments ([`set_aside_for`]).
#[derive(Clone, Debug)]
pub struct Aside {
    /// The recorded definition to build it back from ([`put_back`]); None: it stayed as it is.
    pub def: Option<String>,
    /// What it goes through.
    pub plan: IndexPlan,
    /// An earlier run had set it aside (a run killed half-way): this one finishes that.
    pub resumed: bool,
}

/// Before a bulk write of segments: set AICO's index aside when `worth` it (recorded first, then
/// dropped concurrently), or go on with what an earlier run left (its record: the index is dropped
/// if it is back but the write is large, kept if it is back, valid and the same).
pub async fn set_aside_for(db: &Db, worth: bool) -> Result<Aside, AppError> {
    let index = index_state(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))?;
    let plan = if index.is_some() { IndexPlan::Kept } else { IndexPlan::Absent };
    let mut aside = Aside { def: None, plan, resumed: false };
    match (parked(db).await?, index) {
        // Killed after the index was rebuilt (or before it was dropped), with little left to
        // write: the index stays; the record goes once it is checked.
        (Some(def), Some(now)) if now.valid && now.definition == def && !worth => {
            aside.resumed = true;
            aside.def = Some(def);
        }
        (Some(def), now) => {
            set_aside(db, now.as_ref(), &def).await?;
            aside = Aside { def: Some(def), plan: IndexPlan::Rebuilt, resumed: true };
        }
        (None, Some(now)) if worth => {
            record(db, &now).await?;
            set_aside(db, Some(&now), &now.definition).await?;
            aside = Aside { def: Some(now.definition), plan: IndexPlan::Rebuilt, resumed: false };
        }
        (None, _) => {}
    }
    Ok(aside)
}

/// After the write: AICO's index built back from its record, if it was set aside ([`restore`]);
/// the seconds that took.
pub async fn put_back(db: &Db, aside: &Aside) -> Result<f64, AppError> {
    let Some(def) = &aside.def else { return Ok(0.0) };
    let began = std::time::Instant::now();
    restore(db, def).await?;
    Ok(began.elapsed().as_secs_f64())
}

/// The definition recorded for AICO's index by an earlier run, if any.
async fn parked(db: &Db) -> Result<Option<String>, AppError> {
    let table = format!("{OWN_PG_SCHEMA}.{PARKED}");
    let exists = db.rows(&format!("SELECT to_regclass('{table}') IS NOT NULL AS e")).await?;
    let exists = exists.first().map(|r| r.try_get::<bool>("", "e")).transpose().map_err(|e| db.error(e))?;
    if exists != Some(true) {
        return Ok(None);
    }
    let rows = db
        .conn
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!("SELECT definition FROM {table} WHERE index_name = $1"),
            [AICO_INDEX.into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    rows.first().map(|r| r.try_get::<String>("", "definition")).transpose().map_err(|e| db.error(e))
}

/// Record `index`'s definition in our table (made when missing), committed before anything
/// touches the index.
async fn record(db: &Db, index: &IndexState) -> Result<(), AppError> {
    let table = format!("{OWN_PG_SCHEMA}.{PARKED}");
    db.rows(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (index_schema TEXT NOT NULL, index_name TEXT NOT NULL, \
         table_name TEXT NOT NULL, definition TEXT NOT NULL, \
         parked_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (index_schema, index_name))"
    ))
    .await?;
    db.conn
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!("INSERT INTO {table} (index_schema, index_name, table_name, definition) VALUES ($1, $2, $3, $4)"),
            [index.schema.clone().into(), AICO_INDEX.into(), TABLE.into(), index.definition.clone().into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    tracing::info!(index = AICO_INDEX, definition = %index.definition, "recorded AICO's index before setting it aside");
    Ok(())
}

/// Drop AICO's index as it is `now` (valid, or half-built by a killed rebuild), concurrently;
/// a valid index whose definition is not the recorded `def` is refused (someone changed it).
async fn set_aside(db: &Db, now: Option<&IndexState>, def: &str) -> Result<(), AppError> {
    let Some(now) = now else { return Ok(()) };
    if now.valid && now.definition != def {
        return Err(index_error(db, format!("is now `{}`, not the recorded `{def}`: left as it is", now.definition)));
    }
    drop_index_concurrently(&db.conn, &now.schema, AICO_INDEX).await.map_err(|e| db.error(e))?;
    tracing::info!(index = AICO_INDEX, valid = now.valid, "set AICO's index aside");
    Ok(())
}

/// Build AICO's index again from the recorded `def` (unless it is there, valid and the same),
/// check it, and delete the record.
async fn restore(db: &Db, def: &str) -> Result<(), AppError> {
    let now = index_state(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))?;
    match now {
        Some(now) if now.valid && now.definition == def => {}
        now => {
            if let Some(now) = now {
                set_aside(db, Some(&now), def).await?;
            }
            let concurrent = concurrent_definition(def).ok_or_else(|| {
                index_error(db, format!("has a recorded definition that is no CREATE INDEX: `{def}`"))
            })?;
            let kib = build_memory_kib(db).await?;
            tracing::info!(index = AICO_INDEX, maintenance_work_mem_kib = kib, "building AICO's index again");
            create_index_concurrently(&db.conn, &concurrent, kib).await.map_err(|e| db.error(e))?;
        }
    }
    match index_state(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))? {
        Some(now) if now.valid && now.definition == def => {}
        Some(now) if !now.valid => return Err(index_error(db, "was built again but is not valid".into())),
        Some(now) => return Err(index_error(db, format!("was built again as `{}`, not `{def}`", now.definition))),
        None => return Err(index_error(db, "is missing after the rebuild".into())),
    }
    db.conn
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!("DELETE FROM {OWN_PG_SCHEMA}.{PARKED} WHERE index_name = $1"),
            [AICO_INDEX.into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    Ok(())
}

/// `maintenance_work_mem` for the build: enough for the HNSW graph of every segment (a graph that
/// fits is built several times faster), from 64 MiB to 1 GiB.
async fn build_memory_kib(db: &Db) -> Result<u64, AppError> {
    let [rows, width] = counts(
        db,
        &format!(
            "SELECT (SELECT COUNT(*) FROM {TABLE}) AS rows, (SELECT CAST(atttypmod AS bigint) FROM pg_attribute \
             WHERE attrelid = to_regclass('{TABLE}') AND attname = 'embedding') AS width"
        ),
        &["rows", "width"],
    )
    .await?[..] else {
        unreachable!("two columns asked for")
    };
    let per_row = count(width.max(768)) * 4 + 512;
    Ok((count(rows) * per_row * 5 / 4 / 1024).clamp(64 * 1024, 1024 * 1024))
}

fn index_error(db: &Db, detail: String) -> AppError {
    AppError::AicoIndex {
        target: db.target.to_string(),
        index: AICO_INDEX,
        detail,
        record: format!("{OWN_PG_SCHEMA}.{PARKED}"),
    }
}

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

/// The index `name` of `table` (found through the search path, as a statement finds it), or
/// `None` when the table has no index of that name. PostgreSQL only.
pub(super) async fn index_state(
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
async fn drop_index_concurrently(conn: &DatabaseConnection, schema: &str, name: &str) -> Result<(), DbErr> {
    let sql = format!("DROP INDEX CONCURRENTLY IF EXISTS {}.{}", quote_ident(schema), quote_ident(name));
    conn.execute_raw(Dialect::Postgres.stmt(sql)).await.map(|_| ())
}

/// `definition` (as [`IndexState::definition`] has it) as a `CREATE INDEX CONCURRENTLY`, or
/// `None` when it is not a plain `CREATE [UNIQUE] INDEX`.
pub(super) fn concurrent_definition(definition: &str) -> Option<String> {
    ["CREATE INDEX ", "CREATE UNIQUE INDEX "]
        .iter()
        .find_map(|prefix| definition.strip_prefix(prefix).map(|rest| format!("{prefix}CONCURRENTLY {rest}")))
}

/// Build an index by `definition` (see [`concurrent_definition`]) concurrently:
/// readers and writers go on meanwhile. On one connection of its own, whose
/// `maintenance_work_mem` is raised to `memory_kib` for the build (an HNSW graph that fits in
/// it is built several times faster) and whose parallel workers are not held back by the table's
/// size; both reset afterwards. PostgreSQL only.
async fn create_index_concurrently(
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
    // Parallel workers (as many as the server's `max_parallel_maintenance_workers` allows) for any
    // table: PostgreSQL plans none below `min_parallel_table_scan_size` (8 MB), which a user's few
    // thousand segments are under, and pgvector builds an HNSW graph about twice as fast with one
    // (measured on 5,000 segments of 768-d, 2 cores: 2.2 s alone, 1.2 s with a worker).
    one.execute("SET min_parallel_table_scan_size = 0").await.map_err(err)?;
    // Our own statement: the catalog's definition of the index (see the module's doc).
    let built = one.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(concurrent_definition.to_owned()))).await.map_err(err);
    let reset = one.execute("RESET maintenance_work_mem; RESET min_parallel_table_scan_size").await.map_err(err);
    built?;
    reset.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::concurrent_definition;

    #[test]
    fn the_recorded_definition_becomes_concurrent() {
        let def = "CREATE INDEX idx_conversation_segments_embedding ON aico_core.conversation_segments \
                   USING hnsw (embedding aico_core.vector_cosine_ops)";
        let concurrent = concurrent_definition(def).expect("a CREATE INDEX");
        assert!(concurrent.starts_with("CREATE INDEX CONCURRENTLY idx_conversation_segments_embedding ON"));
        assert_eq!(concurrent_definition("DROP TABLE x"), None);
    }
}
