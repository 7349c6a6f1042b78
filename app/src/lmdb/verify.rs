//! The one check `aico-ams verify` makes of the working memory.

use super::{WorkingMemory, WorkingMemoryError, health};
use crate::report::{Check, Status};

/// The name of this store's check in `aico-ams verify`.
pub const CHECK: &str = "working memory (LMDB)";

/// `aico-ams verify`'s check of the working memory: every value a JSON message, every metadata
/// valid.
pub fn verify(memory: &WorkingMemory, now: chrono::DateTime<chrono::Utc>) -> Result<Check, WorkingMemoryError> {
    let h = health(memory, now)?;
    Ok(if h.bad.is_empty() {
        Check::new(
            CHECK,
            Status::Pass,
            vec![format!(
                "{} of {} entries with temporal metadata ({:.2}%), {} expired",
                h.with_temporal, h.total, h.coverage_percent, h.expired
            )],
        )
    } else {
        Check::new(
            CHECK,
            Status::Fail,
            h.bad.items.iter().take(10).map(|e| format!("{}: {}", e.id, e.reason)).collect(),
        )
    })
}
