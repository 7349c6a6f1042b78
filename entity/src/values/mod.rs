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
