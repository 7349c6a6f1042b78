//! AICO's segments on its PostgreSQL database (`conversation_segments`, the successor of its
//! Chroma collection): each segment whose `metadata` lacks one of the seed's flat temporal keys
//! gains the missing ones, flat, as AICO's `semantic.py` writes them; the values are the Chroma
//! backfill's ([`crate::chroma::backfill::flat_fields`]), dated by the row's `timestamp`, instants
//! with `Z` (AICO's decay strips a `Z` and skips a segment whose value ends in `+00:00`).
//!
//! `jsonb`'s `||` with the new keys on the left keeps every key the segment has, and its value,
//! as it was; the statement touches only rows that lack a key, and writes no other column.
//!
//! **AICO's HNSW index.** Two segments fill a page, so an update is never HOT: every new row
//! version enters `idx_conversation_segments_embedding` again, which costs far more than building
//! the index once. When many segments need filling, the index is set aside: its definition is
//! recorded in `aico_ams.parked_indexes` (committed first), it is dropped concurrently, the rows
//! are filled, it is built again concurrently from the record, checked (valid, the same
//! definition), and only then the record is deleted. A run that finds a record (one killed
//! half-way) resumes: it drops a half-built leftover, fills what is left and builds the index.
//! Meanwhile AICO's nearest-neighbour query still answers, by an exact scan.

use std::time::Instant;

use aico_connect::dialect::{Dialect, IndexState};
use aico_connect::target::OWN_PG_SCHEMA;
use sea_orm::ConnectionTrait;
use serde::Serialize;

use super::blockwise::{BLOCKS, BlockUpdate};
use crate::chroma::{FIELDS, flat_fields_template};
use crate::error::AppError;
use crate::report::{BadItem, BadItems, LISTED_BAD_ITEMS, percent};
use crate::sql::Db;

/// AICO's segments table.
pub const TABLE: &str = "conversation_segments";
/// AICO's nearest-neighbour index on it.
pub const AICO_INDEX: &str = "idx_conversation_segments_embedding";
/// Our record of an index set aside, in our own schema.
pub const PARKED: &str = "parked_indexes";
/// Below this many segments to fill, the index stays: the rows are updated with it in place.
pub const PARK_MIN_ROWS: u64 = 2_000;
/// ... and unless at least one segment in this many needs filling: measured, a row updated with the
/// index in place costs about as much as rebuilding the index costs per row of the table times
/// this (8 ms against 2 ms; see docs/stores.md, "AICO's HNSW index").
pub const PARK_ONE_IN: u64 = 4;

/// What to do with AICO's index while segments are filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexChoice {
    /// Set it aside when many segments need filling ([`PARK_MIN_ROWS`], [`PARK_ONE_IN`]).
    Auto,
    /// Keep it in place (an earlier run's record is still finished: the index is built again).
    Keep,
    /// Set it aside whenever a segment needs filling.
    Rebuild,
}

/// What AICO's index went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexPlan {
    /// Left in place: the rows were updated with it.
    #[default]
    Kept,
    /// Set aside and built again, exactly as it was.
    Rebuilt,
    /// The table has no such index.
    Absent,
}

/// What a segments backfill did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SegmentsBackfill {
    /// The table.
    pub table: &'static str,
    /// Segments in it.
    pub total: u64,
    /// Segments lacking one of the keys when the run started.
    pub without_temporal: u64,
    /// Segments this run filled (for a dry run: would fill).
    pub filled: u64,
    /// Batches written.
    pub batches: u64,
    /// What AICO's index went through.
    pub index: IndexPlan,
    /// Seconds spent building the index again (0 when kept).
    pub index_seconds: f64,
    /// True when an earlier run had set the index aside and this one finished its work.
    pub resumed: bool,
    /// Segments left as they were: `metadata` not a JSON object, or an unreadable `timestamp`.
    #[serde(flatten)]
    pub bad: BadItems<BadItem>,
}

/// Segments' coverage, for `verify` and `health`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SegmentsCoverage {
    /// Segments.
    pub total: u64,
    /// Of those, with every flat temporal key.
    pub with_temporal: u64,
    /// `with_temporal` of `total`, in percent.
    pub coverage_percent: f64,
    /// The width of `embedding` (`vector(N)`; None when unconstrained).
    pub embedding_width: Option<i64>,
    /// Segments whose `created_at` or `last_accessed` has no offset (AICO's naive `isoformat()`).
    pub without_offset: u64,
    /// Whether AICO's index is there and valid.
    pub index_valid: bool,
}

/// SQL true for a segment lacking one of the keys (and whose metadata is an object, or NULL).
fn missing() -> String {
    let keys: Vec<String> = FIELDS.iter().map(|k| format!("'{k}'")).collect();
    format!(
        "(metadata IS NULL OR (jsonb_typeof(metadata) = 'object' AND NOT jsonb_exists_all(metadata, ARRAY[{}])))",
        keys.join(", ")
    )
}

/// SQL true for a timestamp text value without an offset (`Z`, `±HH:MM`, `±HHMM` or `±HH`).
pub(crate) fn without_offset(text: &str) -> String {
    format!("({text} !~ '(Z|z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$')")
}

/// The table's column types, once: the canonical timestamp SQL for `timestamp`.
async fn canonical_time(db: &Db) -> Result<String, AppError> {
    let declared = db.dialect.column_type(&db.conn, TABLE, "timestamp").await.map_err(|e| db.error(e))?;
    let declared = declared.ok_or_else(|| AppError::MissingTable { target: db.target.to_string(), table: TABLE })?;
    Ok(Dialect::postgres_canonical_timestamp("\"timestamp\"", &declared))
}

/// One row of numbers.
async fn counts(db: &Db, sql: &str, columns: &[&str]) -> Result<Vec<i64>, AppError> {
    let rows = db.rows(sql).await?;
    let row = rows.first();
    columns
        .iter()
        .map(|c| match row {
            Some(r) => r.try_get::<Option<i64>>("", c).map(|v| v.unwrap_or(0)).map_err(|e| db.error(e)),
            None => Ok(0),
        })
        .collect()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The segments left as they were, and why (all counted, the first listed).
async fn bad_rows(db: &Db, time: &str) -> Result<BadItems<BadItem>, AppError> {
    let cond = format!(
        "(metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object') OR ({} AND ({time}) IS NULL)",
        missing()
    );
    let n = counts(db, &format!("SELECT COUNT(*) AS n FROM {TABLE} WHERE {cond}"), &["n"]).await?[0];
    let mut bad = BadItems::default();
    if n == 0 {
        return Ok(bad);
    }
    let rows = db
        .rows(&format!(
            "SELECT id, CASE WHEN metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object' \
             THEN 'metadata is a JSON ' || jsonb_typeof(metadata) || ', not an object' \
             ELSE 'timestamp ' || CAST(\"timestamp\" AS TEXT) || ' cannot be written as RFC 3339 UTC' END AS reason \
             FROM {TABLE} WHERE {cond} ORDER BY id LIMIT {LISTED_BAD_ITEMS}"
        ))
        .await?;
    for r in rows {
        let id: String = r.try_get("", "id").map_err(|e| db.error(e))?;
        let reason: String = r.try_get("", "reason").map_err(|e| db.error(e))?;
        bad.add(|| BadItem { id, reason });
    }
    bad.count = count(n);
    Ok(bad)
}

/// Fill the segments of AICO's PostgreSQL database (see the module's doc), in batches of about
/// `batch_size`; `progress` hears the segments filled so far.
pub async fn backfill(
    db: &Db,
    batch_size: u64,
    dry_run: bool,
    choice: IndexChoice,
    progress: impl FnMut(u64),
) -> Result<SegmentsBackfill, AppError> {
    let time = canonical_time(db).await?;
    let [total, without] = counts(
        db,
        &format!("SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE {}) AS without FROM {TABLE}", missing()),
        &["total", "without"],
    )
    .await?[..] else {
        unreachable!("two columns asked for")
    };
    let mut report = SegmentsBackfill {
        table: TABLE,
        total: count(total),
        without_temporal: count(without),
        bad: bad_rows(db, &time).await?,
        ..Default::default()
    };
    let fillable = report.without_temporal.saturating_sub(report.bad.count);
    let index = Dialect::postgres_index(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))?;
    report.index = if index.is_some() { IndexPlan::Kept } else { IndexPlan::Absent };
    if dry_run {
        report.filled = fillable;
        return Ok(report);
    }
    let recorded = parked(db).await?;
    let worth_parking = match choice {
        IndexChoice::Auto => fillable >= PARK_MIN_ROWS && fillable.saturating_mul(PARK_ONE_IN) >= report.total,
        IndexChoice::Keep => false,
        IndexChoice::Rebuild => fillable > 0,
    };
    let (template, sentinel) = flat_fields_template();
    let update = BlockUpdate {
        sql: format!(
            "UPDATE {TABLE} SET metadata = CAST(replace($1, $2, {time}) AS jsonb) || COALESCE(metadata, '{{}}'::jsonb) \
             WHERE {} AND ({time}) IS NOT NULL AND {BLOCKS}",
            missing()
        ),
        values: vec![template.into(), sentinel.into()],
    };
    let parked_def = match (recorded, index) {
        // A run killed after the index was rebuilt (or before it was dropped), with nothing much
        // left to fill: the index stays; the record goes once it is checked.
        (Some(def), Some(now)) if now.valid && now.definition == def && !worth_parking => {
            report.resumed = true;
            Some(def)
        }
        (Some(def), now) => {
            report.resumed = true;
            set_aside(db, now.as_ref(), &def).await?;
            report.index = IndexPlan::Rebuilt;
            Some(def)
        }
        (None, Some(now)) if worth_parking => {
            record(db, &now).await?;
            set_aside(db, Some(&now), &now.definition).await?;
            report.index = IndexPlan::Rebuilt;
            Some(now.definition)
        }
        (None, _) => None,
    };
    let walked = update.walk(db, TABLE, report.total, batch_size, progress).await?;
    report.filled = walked.rows;
    report.batches = walked.batches;
    if let Some(def) = parked_def {
        let began = Instant::now();
        restore(db, &def).await?;
        report.index_seconds = began.elapsed().as_secs_f64();
    }
    Ok(report)
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
    Dialect::postgres_drop_index_concurrently(&db.conn, &now.schema, AICO_INDEX).await.map_err(|e| db.error(e))?;
    tracing::info!(index = AICO_INDEX, valid = now.valid, "set AICO's index aside");
    Ok(())
}

/// Build AICO's index again from the recorded `def` (unless it is there, valid and the same),
/// check it, and delete the record.
async fn restore(db: &Db, def: &str) -> Result<(), AppError> {
    let now = Dialect::postgres_index(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))?;
    match now {
        Some(now) if now.valid && now.definition == def => {}
        now => {
            if let Some(now) = now {
                set_aside(db, Some(&now), def).await?;
            }
            let concurrent = Dialect::postgres_concurrent_definition(def).ok_or_else(|| {
                index_error(db, format!("has a recorded definition that is no CREATE INDEX: `{def}`"))
            })?;
            let kib = build_memory_kib(db).await?;
            tracing::info!(index = AICO_INDEX, maintenance_work_mem_kib = kib, "building AICO's index again");
            Dialect::postgres_create_index_concurrently(&db.conn, &concurrent, kib).await.map_err(|e| db.error(e))?;
        }
    }
    match Dialect::postgres_index(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))? {
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

/// The segments' coverage, the embedding's width and AICO's index (for `verify` and `health`).
pub async fn coverage(db: &Db) -> Result<SegmentsCoverage, AppError> {
    canonical_time(db).await?;
    let naive = format!(
        "jsonb_typeof(metadata) = 'object' AND ({} OR {})",
        without_offset("(metadata ->> 'created_at')"),
        without_offset("(metadata ->> 'last_accessed')")
    );
    let [total, without, naive, width] = counts(
        db,
        &format!(
            "SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE {}) AS without, \
             COUNT(*) FILTER (WHERE {naive}) AS naive, \
             (SELECT CAST(NULLIF(atttypmod, -1) AS bigint) FROM pg_attribute \
             WHERE attrelid = to_regclass('{TABLE}') AND attname = 'embedding') AS width FROM {TABLE}",
            missing()
        ),
        &["total", "without", "naive", "width"],
    )
    .await?[..] else {
        unreachable!("four columns asked for")
    };
    let index = Dialect::postgres_index(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))?;
    let with_temporal = count(total - without);
    Ok(SegmentsCoverage {
        total: count(total),
        with_temporal,
        coverage_percent: percent(with_temporal, count(total)),
        embedding_width: (width > 0).then_some(width),
        without_offset: count(naive),
        index_valid: index.is_some_and(|i| i.valid),
    })
}

#[cfg(test)]
mod tests {
    use aico_connect::dialect::Dialect;

    #[test]
    fn the_recorded_definition_becomes_concurrent() {
        let def = "CREATE INDEX idx_conversation_segments_embedding ON aico_core.conversation_segments \
                   USING hnsw (embedding aico_core.vector_cosine_ops)";
        let concurrent = Dialect::postgres_concurrent_definition(def).expect("a CREATE INDEX");
        assert!(concurrent.starts_with("CREATE INDEX CONCURRENTLY idx_conversation_segments_embedding ON"));
        assert_eq!(Dialect::postgres_concurrent_definition("DROP TABLE x"), None);
    }
}
