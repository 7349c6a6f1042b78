//! Typed values stored as JSON or constrained columns: timestamps, temporal metadata, consolidation state, skills, preferences and feedback.

mod consolidation;
mod error;
mod feedback;
mod preference;
mod skill;
mod stored_json;
mod stored_timestamp;
mod temporal;
mod timestamp;

pub use consolidation::{ConsolidationProgress, ConsolidationState, ConsolidationStatus};
pub use error::ValueError;
pub use feedback::{ClassifiedCategories, Reward};
pub use preference::PreferenceVector;
pub use skill::{SkillType, TriggerContext};
pub use stored_json::StoredJson;
pub use stored_timestamp::StoredTimestamp;
pub use temporal::TemporalMetadata;
pub use timestamp::{Timestamp, parse_timestamp};

/// Reading a value type from its stored JSON, written once: serde reads the [`Raw`](FromJson::Raw) shape,
/// then [`check`](FromJson::check) turns it into the value. Bring it into scope with
/// `use entity::values::FromJson`.
pub trait FromJson: Sized {
    /// What the value is called in its errors (`ValueError::Json { what, .. }`).
    const WHAT: &'static str;

    /// The shape serde reads before the checks (`Self` where serde alone suffices).
    type Raw: serde::de::DeserializeOwned;

    /// Turns the shape serde read into the value, or says why it is not one.
    fn check(raw: Self::Raw) -> Result<Self, ValueError>;

    /// Reads the value from a JSON value.
    fn from_json(value: &serde_json::Value) -> Result<Self, ValueError> {
        Self::check(serde::Deserialize::deserialize(value).map_err(ValueError::json(Self::WHAT))?)
    }

    /// Reads the value from JSON text (its column's value).
    fn from_json_str(text: &str) -> Result<Self, ValueError> {
        Self::check(serde_json::from_str(text).map_err(ValueError::json(Self::WHAT))?)
    }
}

/// For a value type with `to_json(&self) -> Value`: `to_json_string`, the compact text its column
/// stores, and `Serialize` as that same JSON (so the known keys keep their order).
/// (`text_only` where the type serializes itself.)
macro_rules! stored_as_json {
    ($type:ty, $column:literal, text_only) => {
        impl $type {
            #[doc = concat!("The JSON as compact text, for the `", $column, "` column.")]
            pub fn to_json_string(&self) -> String {
                self.to_json().to_string()
            }
        }
    };
    ($type:ty, $column:literal) => {
        super::stored_as_json!($type, $column, text_only);

        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&self.to_json(), serializer)
            }
        }
    };
}
use stored_as_json;

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
