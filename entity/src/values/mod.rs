//! Typed values stored as JSON or constrained columns: timestamps, temporal metadata, consolidation state, skills, preferences and feedback.

mod consolidation;
mod error;
mod feedback;
mod preference;
mod skill;
mod temporal;
mod timestamp;

pub use consolidation::{ConsolidationProgress, ConsolidationState, ConsolidationStatus};
pub use error::ValueError;
pub use feedback::{ClassifiedCategories, Reward};
pub use preference::PreferenceVector;
pub use skill::{SkillType, TriggerContext};
pub use temporal::TemporalMetadata;
pub use timestamp::{Timestamp, parse_timestamp};

/// `known` (a value's known keys, in order) followed by the keys other AICO versions wrote; a known
/// key in `extra` never overrides the field.
fn with_extra(
    mut known: serde_json::Map<String, serde_json::Value>,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    for (key, value) in extra {
        known.entry(key.clone()).or_insert_with(|| value.clone());
    }
    serde_json::Value::Object(known)
}
