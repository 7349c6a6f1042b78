//! The working memory's backfill: `temporal_metadata` for each message that lacks it, from the
//! row's own columns, batched over the table's blocks.

use entity::values::{TemporalMetadata, Timestamp};
use serde::Serialize;

use super::{MISSING, TABLE, Times, times};
use crate::error::AppError;
use crate::report::{BadItem, BadItems, LISTED_BAD_ITEMS};
use crate::sql::Db;
use crate::sql::blockwise::{BLOCKS, BlockUpdate};

/// The access count of the template (a number no instant's text holds).
const COUNT_SENTINEL: u64 = 4_242_424_242;

/// What a working-memory backfill did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkingBackfill {
    /// The table.
    pub table: &'static str,
    /// Messages in it.
    pub total: u64,
    /// Messages whose payload lacked `temporal_metadata` when the run started.
    pub without_temporal: u64,
    /// Messages this run filled (for a dry run: would fill).
    pub filled: u64,
    /// Batches written.
    pub batches: u64,
    /// Messages left as they were: no payload object, a negative `access_count`, an unreadable time.
    #[serde(flatten)]
    pub bad: BadItems<BadItem>,
}

/// The metadata's JSON text for sentinel values, and the sentinels' texts (created, accessed,
/// count): replace them (in SQL) with a message's own to get its metadata. Built by
/// [`TemporalMetadata`] itself, so the layout is defined once.
pub fn metadata_template() -> (String, String, String, String) {
    let created = Timestamp::UNIX_EPOCH;
    let accessed = Timestamp::parse("1970-01-02T00:00:00Z").unwrap_or(created);
    let meta = TemporalMetadata {
        last_accessed: accessed,
        access_count: COUNT_SENTINEL,
        ..TemporalMetadata::initial(created)
    };
    (meta.to_json_string(), created.to_rfc3339(), accessed.to_rfc3339(), COUNT_SENTINEL.to_string())
}

/// Fill the working memory of AICO's PostgreSQL database (see the module's doc), in batches of
/// about `batch_size`; `progress` hears the messages filled so far.
pub async fn backfill(
    db: &Db,
    batch_size: u64,
    dry_run: bool,
    progress: impl FnMut(u64),
) -> Result<WorkingBackfill, AppError> {
    let Times { stored, accessed, writable } = times(db).await?;
    let fillable = format!("access_count >= 0 AND {writable}");
    let bad_cond =
        format!("payload_json IS NULL OR jsonb_typeof(payload_json) <> 'object' OR ({MISSING} AND NOT ({fillable}))");
    // One scan counts all three; the rows left as they are are listed only when there are any.
    let rows = db
        .rows(&format!(
            "SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE {MISSING}) AS without, \
             COUNT(*) FILTER (WHERE {bad_cond}) AS bad FROM {TABLE}"
        ))
        .await?;
    let get = |c: &str| {
        rows.first().map(|r| r.try_get::<i64>("", c)).transpose().map(|n| u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    };
    let mut report = WorkingBackfill {
        table: TABLE,
        total: get("total").map_err(|e| db.error(e))?,
        without_temporal: get("without").map_err(|e| db.error(e))?,
        ..Default::default()
    };
    let bad_count = get("bad").map_err(|e| db.error(e))?;
    if bad_count > 0 {
        let bad = db
            .rows(&format!(
                "SELECT CAST(id AS TEXT) AS id, CASE WHEN payload_json IS NULL THEN 'payload_json is NULL' \
                 WHEN jsonb_typeof(payload_json) <> 'object' THEN 'payload_json is a JSON ' || jsonb_typeof(payload_json) \
                 || ', not an object' WHEN access_count < 0 THEN 'access_count is negative' \
                 ELSE 'stored_at or last_accessed_at cannot be written as RFC 3339 UTC' END AS reason \
                 FROM {TABLE} WHERE {bad_cond} ORDER BY id LIMIT {LISTED_BAD_ITEMS}"
            ))
            .await?;
        for r in &bad {
            let id: String = r.try_get("", "id").map_err(|e| db.error(e))?;
            let reason: String = r.try_get("", "reason").map_err(|e| db.error(e))?;
            report.bad.add(|| BadItem { id, reason });
        }
    }
    report.bad.count = bad_count;
    if dry_run {
        report.filled = report.without_temporal.saturating_sub(report.bad.count);
        return Ok(report);
    }
    let (template, created, last, count) = metadata_template();
    let update = BlockUpdate {
        sql: format!(
            "UPDATE {TABLE} SET payload_json = payload_json || jsonb_build_object('temporal_metadata', \
             CAST(replace(replace(replace($1, $2, {stored}), $3, {accessed}), $4, CAST(access_count AS TEXT)) AS jsonb)) \
             WHERE {MISSING} AND {fillable} AND {BLOCKS}"
        ),
        values: vec![template.into(), created.into(), last.into(), count.into()],
    };
    let walked = update.walk(db, TABLE, report.total, batch_size, progress).await?;
    report.filled = walked.rows;
    report.batches = walked.batches;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_template_has_the_lmdb_keys_and_distinct_sentinels() {
        let (template, created, accessed, count) = super::metadata_template();
        let v: serde_json::Value = serde_json::from_str(&template).expect("json");
        assert_eq!(v["created_at"], created.as_str());
        assert_eq!(v["last_updated"], created.as_str());
        assert_eq!(v["last_accessed"], accessed.as_str());
        assert_eq!(v["access_count"].to_string(), count);
        assert_eq!(v["confidence"], 1.0);
        assert_eq!(v["superseded_by"], serde_json::Value::Null);
        assert_eq!(template.matches(count.as_str()).count(), 1);
    }
}
