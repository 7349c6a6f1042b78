//! The working memory's health: coverage, bad values and expired entries, read in one pass.

use entity::values::{FromJson, TemporalMetadata};
use serde::Serialize;
use serde_json::Value;

use super::client::time_of;
use super::{WorkingMemory, WorkingMemoryError};
use crate::report::{BadItem, BadItems, percent};

/// What the working memory holds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LmdbHealth {
    /// Entries in `session_memory`.
    pub total: u64,
    /// Entries with temporal metadata.
    pub with_temporal: u64,
    /// `with_temporal` as a percentage of `total` (two decimals).
    pub coverage_percent: f64,
    /// Entries whose value is not a JSON object, or whose metadata lacks a required key (by key).
    #[serde(flatten)]
    pub bad: BadItems<BadItem>,
    /// Entries whose `_expires_at` has passed.
    pub expired: u64,
}
/// Coverage, bad values and expired entries, read in one pass.
pub fn health(memory: &WorkingMemory, now: chrono::DateTime<chrono::Utc>) -> Result<LmdbHealth, WorkingMemoryError> {
    let mut h = LmdbHealth::default();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = memory.page(after.as_deref(), 1000)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (key, value) in page {
            h.total += 1;
            let bad = |h: &mut LmdbHealth, reason: String| {
                h.bad.add(|| BadItem { id: String::from_utf8_lossy(&key).into_owned(), reason });
            };
            let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(&value) else {
                bad(&mut h, "value is not a JSON object".into());
                continue;
            };
            if let Some(meta) = message.get("temporal_metadata") {
                h.with_temporal += 1;
                if let Err(e) = TemporalMetadata::from_json(meta) {
                    bad(&mut h, format!("temporal_metadata: {e}"));
                }
            }
            if message.get("_expires_at").and_then(time_of).is_some_and(|t| t.as_datetime() < now) {
                h.expired += 1;
            }
        }
    }
    h.coverage_percent = percent(h.with_temporal, h.total);
    Ok(h)
}
