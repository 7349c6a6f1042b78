//! The segments' backfill: the flat temporal keys each segment lacks, AICO's index set aside
//! when many need filling ([`super::index`]).

use serde::Serialize;

use super::index::{put_back, set_aside_for};
use super::{AICO_INDEX, PARK_MIN_ROWS, PARK_ONE_IN, TABLE, canonical_time, count, counts, missing};
use crate::chroma::flat_fields_template;
use crate::error::AppError;
use crate::report::{BadItem, BadItems, LISTED_BAD_ITEMS};
use crate::sql::Db;
use crate::sql::blockwise::{BLOCKS, BlockUpdate};
pub use crate::sql::indexes::IndexPlan;
use crate::sql::indexes::index_state;

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
    let index = index_state(&db.conn, TABLE, AICO_INDEX).await.map_err(|e| db.error(e))?;
    report.index = if index.is_some() { IndexPlan::Kept } else { IndexPlan::Absent };
    if dry_run {
        report.filled = fillable;
        return Ok(report);
    }
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
    let aside = set_aside_for(db, worth_parking).await?;
    (report.index, report.resumed) = (aside.plan, aside.resumed);
    let walked = update.walk(db, TABLE, report.total, batch_size, progress).await?;
    report.filled = walked.rows;
    report.batches = walked.batches;
    report.index_seconds = put_back(db, &aside).await?;
    Ok(report)
}
