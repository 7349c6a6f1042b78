//! The one check `aico-ams verify` makes of the collection.

use super::{Chroma, ChromaError, health};
use crate::report::{Check, Status};

/// The name of this store's check in `aico-ams verify`.
pub const CHECK: &str = "semantic memory (Chroma)";

/// `aico-ams verify`'s check of the collection: every record has the temporal fields or a time to
/// derive them from.
pub async fn verify(chroma: &Chroma) -> Result<Check, ChromaError> {
    let h = health(chroma).await?;
    Ok(if h.bad.is_empty() {
        Check::new(
            CHECK,
            Status::Pass,
            vec![format!("{} of {} records with temporal fields", h.with_temporal, h.total)],
        )
    } else {
        Check::new(
            CHECK,
            Status::Fail,
            h.bad.items.iter().take(10).map(|b| format!("{}: {}", b.id, b.reason)).collect(),
        )
    })
}
