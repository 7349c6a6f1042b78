//! AICO's segments on its PostgreSQL database (`conversation_segments`, the successor of its
//! Chroma collection): each segment whose `metadata` lacks one of the seed's flat temporal keys
//! gains the missing ones, flat, as AICO's `semantic.py` writes them; the values are the Chroma
//! backfill's ([`crate::chroma::flat_fields`]), dated by the row's `timestamp`, instants
//! with `Z` (AICO's decay strips a `Z` and skips a segment whose value ends in `+00:00`).
//!
//! `jsonb`'s `||` with the new keys on the left keeps every key the segment has, and its value,
//! as it was; the statement touches only rows that lack a key, and writes no other column.
//!
//!
//! | file | holds |
//! |---|---|
//! | `backfill.rs` | [`backfill`](backfill()): the flat temporal keys each segment lacks |
//! | `index.rs` | AICO's HNSW index set aside while segments are filled, and put back as it was |
//! | `coverage.rs` | [`coverage`]: what `verify` ([`check`]) and `health` report of the segments |

mod backfill;
mod coverage;
mod index;

use aico_connect::dialect::Dialect;

pub use crate::sql::indexes::Aside;
pub use backfill::{IndexChoice, IndexPlan, SegmentsBackfill, backfill};
pub use coverage::{CHECK, SegmentsCoverage, check, coverage};
pub use index::{put_back, set_aside_for};

use crate::chroma::FIELDS;
use crate::error::AppError;
use crate::sql::Db;
use crate::sql::dialect::StoreDialect;

/// AICO's segments table.
pub const TABLE: &str = "conversation_segments";
/// AICO's nearest-neighbour index on it.
pub const AICO_INDEX: &str = "idx_conversation_segments_embedding";
/// Below this many segments to fill, the index stays: the rows are updated with it in place.
pub const PARK_MIN_ROWS: u64 = 2_000;
/// ... and unless at least one segment in this many needs filling: measured, a row updated with the
/// index in place costs about as much as rebuilding the index costs per row of the table times
/// this (8 ms against 2 ms; see docs/stores.md, "AICO's HNSW index").
pub const PARK_ONE_IN: u64 = 4;

/// SQL true for a segment lacking one of the keys (and whose metadata is an object, or NULL).
fn missing() -> String {
    let keys: Vec<String> = FIELDS.iter().map(|k| format!("'{k}'")).collect();
    format!(
        "(metadata IS NULL OR (jsonb_typeof(metadata) = 'object' AND NOT jsonb_exists_all(metadata, ARRAY[{}])))",
        keys.join(", ")
    )
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

/// A count as read, never negative.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
