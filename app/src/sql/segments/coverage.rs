//! The segments' coverage, the embedding's width and AICO's index, for `verify` and `health`.

use aico_connect::dialect::Dialect;
use serde::Serialize;

use super::{AICO_INDEX, TABLE, canonical_time, count, counts, missing};
use crate::error::AppError;
use crate::report::{Check, percent};
use crate::sql::Db;
use crate::sql::dialect::StoreDialect;
use crate::sql::indexes::index_state;

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

/// The segments' coverage, the embedding's width and AICO's index (for `verify` and `health`).
/// The segments' coverage, the embedding's width and AICO's index (for `verify` and `health`).
pub async fn coverage(db: &Db) -> Result<SegmentsCoverage, AppError> {
    canonical_time(db).await?;
    let naive =
        format!("jsonb_typeof(metadata) = 'object' AND {}", Dialect::postgres_instants_without_offset("metadata"));
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
    let index = index_state(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))?;
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

/// The name of the segments' check in `aico-ams verify`.
pub const CHECK: &str = "segments: flat temporal keys (conversation_segments)";

/// `aico-ams verify`'s check of the segments: every segment has every key, and AICO's index is
/// there and valid.
pub fn check(c: &SegmentsCoverage) -> Check {
    let details = vec![
        format!("{} of {} segments have every key ({:.2}%)", c.with_temporal, c.total, c.coverage_percent),
        format!(
            "embedding: {}",
            c.embedding_width.map_or_else(|| "vector (no width)".to_owned(), |w| format!("vector({w})"))
        ),
        format!("{} segments have a created_at or last_accessed without an offset", c.without_offset),
        format!("AICO's index {}: {}", AICO_INDEX, if c.index_valid { "valid" } else { "MISSING or not valid" }),
    ];
    Check::pass_if(CHECK, c.with_temporal == c.total && c.index_valid, details)
}
