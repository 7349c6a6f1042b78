//! The working memory's coverage, for `verify` and `health`.

use aico_connect::dialect::Dialect;
use serde::Serialize;

use super::{TABLE, times};
use crate::error::AppError;
use crate::report::{Check, percent};
use crate::sql::Db;
use crate::sql::dialect::StoreDialect;

/// Working memory's coverage, for `verify` and `health`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkingCoverage {
    /// Messages.
    pub total: u64,
    /// Of those, whose payload has `temporal_metadata`.
    pub with_temporal: u64,
    /// `with_temporal` of `total`, in percent.
    pub coverage_percent: f64,
    /// Messages whose `temporal_metadata.created_at` or `.last_accessed` has no offset.
    pub without_offset: u64,
}

/// Working memory's coverage (for `verify` and `health`).
pub async fn coverage(db: &Db) -> Result<WorkingCoverage, AppError> {
    times(db).await?;
    let naive = format!(
        "jsonb_typeof(payload_json -> 'temporal_metadata') = 'object' AND {}",
        Dialect::postgres_instants_without_offset("(payload_json -> 'temporal_metadata')")
    );
    let rows = db
        .rows(&format!(
            "SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE jsonb_typeof(payload_json) = 'object' \
             AND jsonb_exists(payload_json, 'temporal_metadata')) AS with_temporal, \
             COUNT(*) FILTER (WHERE {naive}) AS naive FROM {TABLE}"
        ))
        .await?;
    let get = |c: &str| -> Result<u64, AppError> {
        let n = rows.first().map(|r| r.try_get::<i64>("", c)).transpose().map_err(|e| db.error(e))?;
        Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    };
    let (total, with_temporal) = (get("total")?, get("with_temporal")?);
    Ok(WorkingCoverage {
        total,
        with_temporal,
        coverage_percent: percent(with_temporal, total),
        without_offset: get("naive")?,
    })
}

/// The name of the working memory's check in `aico-ams verify`.
pub const CHECK: &str = "working memory: temporal_metadata (working_memory_messages)";

/// `aico-ams verify`'s check of the working memory: every message has `temporal_metadata`.
pub fn check(c: &WorkingCoverage) -> Check {
    let details = vec![
        format!("{} of {} messages have it ({:.2}%)", c.with_temporal, c.total, c.coverage_percent),
        format!("{} messages have a created_at or last_accessed without an offset", c.without_offset),
    ];
    Check::pass_if(CHECK, c.with_temporal == c.total, details)
}
