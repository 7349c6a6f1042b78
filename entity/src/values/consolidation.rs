//! `ConsolidationState`: the seed's `consolidation_state.state_json` (Phase 2).

use super::with_extra;
use std::fmt;
use std::str::FromStr;

use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::FromJson;
use super::error::ValueError;
use super::timestamp::Timestamp;

const WHAT: &str = "consolidation state";

/// Where the consolidation job is; any status string not known here is kept verbatim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConsolidationStatus {
    /// Nothing scheduled or running (`"idle"`).
    #[default]
    Idle,
    /// A run is scheduled (`"scheduled"`).
    Scheduled,
    /// A run is in progress (`"running"`).
    Running,
    /// A run was paused (`"paused"`).
    Paused,
    /// The last run finished (`"completed"`).
    Completed,
    /// The last run failed (`"failed"`).
    Failed,
    /// Any other status, exactly as written (case kept); never one of the names above.
    Other(String),
}

impl ConsolidationStatus {
    /// The status as stored: the lower-case name, or the `Other` text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Idle => "idle",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Other(s) => s,
        }
    }
}

impl From<&str> for ConsolidationStatus {
    fn from(s: &str) -> Self {
        match s {
            "idle" => Self::Idle,
            "scheduled" => Self::Scheduled,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl From<String> for ConsolidationStatus {
    fn from(s: String) -> Self {
        match Self::from(s.as_str()) {
            Self::Other(_) => Self::Other(s),
            known => known,
        }
    }
}

impl FromStr for ConsolidationStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s))
    }
}

impl fmt::Display for ConsolidationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&ConsolidationStatus> for Value {
    fn from(status: &ConsolidationStatus) -> Self {
        Value::String(status.as_str().to_owned())
    }
}

impl Serialize for ConsolidationStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ConsolidationStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

/// Counters and times of the current (or last) consolidation run; missing counters read as 0.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConsolidationProgress {
    /// Users to consolidate in this run.
    pub total_users: u64,
    /// Users done.
    pub completed_users: u64,
    /// Users whose consolidation failed.
    pub failed_users: u64,
    /// Experiences to process in this run.
    pub total_experiences: u64,
    /// Experiences processed so far.
    pub processed_experiences: u64,
    /// When the run started (written as `null` when unknown).
    pub started_at: Option<Timestamp>,
    /// When the run is expected to end (written as `null` when unknown).
    pub estimated_completion: Option<Timestamp>,
    /// Every other key, kept verbatim (never one of the known keys above).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConsolidationProgress {
    /// The names of the known keys, in the order they are written.
    pub const KEYS: [&'static str; 7] = [
        "total_users",
        "completed_users",
        "failed_users",
        "total_experiences",
        "processed_experiences",
        "started_at",
        "estimated_completion",
    ];

    /// The JSON object: known keys in the seed's order, then `extra`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("total_users".into(), self.total_users.into());
        map.insert("completed_users".into(), self.completed_users.into());
        map.insert("failed_users".into(), self.failed_users.into());
        map.insert("total_experiences".into(), self.total_experiences.into());
        map.insert("processed_experiences".into(), self.processed_experiences.into());
        map.insert("started_at".into(), self.started_at.into());
        map.insert("estimated_completion".into(), self.estimated_completion.into());
        with_extra(map, &self.extra)
    }
}

impl Serialize for ConsolidationProgress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// The consolidation job's state; only `status` is required, the rest default to empty / `null`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ConsolidationState {
    /// Where the job is.
    pub status: ConsolidationStatus,
    /// Progress of the current or last run (all zero when absent).
    #[serde(default)]
    pub progress: ConsolidationProgress,
    /// When the last run ended (written as `null` when never).
    #[serde(default)]
    pub last_run: Option<Timestamp>,
    /// When the next run is due (written as `null` when none).
    #[serde(default)]
    pub next_scheduled: Option<Timestamp>,
    /// Errors of the last run, as AICO wrote them.
    #[serde(default)]
    pub errors: Vec<Value>,
    /// Free-form metadata of the job.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Every other key, kept verbatim (never one of the known keys above).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The state as serde reads it, timestamps leniently (a `state_json` column value).
impl FromJson for ConsolidationState {
    const WHAT: &'static str = WHAT;
    type Raw = Self;

    fn check(raw: Self) -> Result<Self, ValueError> {
        Ok(raw)
    }
}

impl ConsolidationState {
    /// The names of the known keys, in the order they are written.
    pub const KEYS: [&'static str; 6] = ["status", "progress", "last_run", "next_scheduled", "errors", "metadata"];

    /// The JSON object: known keys in the seed's order (timestamps with `Z`), then `extra`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("status".into(), (&self.status).into());
        map.insert("progress".into(), self.progress.to_json());
        map.insert("last_run".into(), self.last_run.into());
        map.insert("next_scheduled".into(), self.next_scheduled.into());
        map.insert("errors".into(), Value::Array(self.errors.clone()));
        map.insert("metadata".into(), Value::Object(self.metadata.clone()));
        with_extra(map, &self.extra)
    }
}

super::stored_as_json!(ConsolidationState, "state_json");

#[cfg(test)]
mod tests {
    use super::super::temporal::tests::{extra_keys, json_value, timestamp};
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const SEED: &str = r#"{
  "status": "completed",
  "progress": {
    "total_users": 100,
    "completed_users": 100,
    "failed_users": 0,
    "total_experiences": 5000,
    "processed_experiences": 5000,
    "started_at": "2025-11-07T02:00:00Z",
    "estimated_completion": null
  },
  "last_run": "2025-11-07T02:45:00Z",
  "next_scheduled": "2025-11-08T02:00:00Z",
  "errors": [],
  "metadata": {}
}"#;

    #[test]
    fn seed_example_round_trips() {
        let input: Value = serde_json::from_str(SEED).unwrap();
        let state = ConsolidationState::from_json_str(SEED).unwrap();
        assert_eq!(state.status, ConsolidationStatus::Completed);
        assert_eq!(state.progress.total_experiences, 5000);
        assert_eq!(state.progress.estimated_completion, None);
        assert_eq!(state.last_run.unwrap().to_string(), "2025-11-07T02:45:00Z");
        assert!(state.extra.is_empty() && state.progress.extra.is_empty());
        assert_eq!(state.to_json(), input);
        assert_eq!(serde_json::to_value(&state).unwrap(), input);
        assert_eq!(ConsolidationState::from_json(&input).unwrap(), state);
        assert_eq!(serde_json::from_str::<Value>(&state.to_json_string()).unwrap(), input);
    }

    #[test]
    fn status_names_and_unknown_statuses() {
        for (text, status) in [
            ("idle", ConsolidationStatus::Idle),
            ("scheduled", ConsolidationStatus::Scheduled),
            ("running", ConsolidationStatus::Running),
            ("paused", ConsolidationStatus::Paused),
            ("completed", ConsolidationStatus::Completed),
            ("failed", ConsolidationStatus::Failed),
            ("Completed", ConsolidationStatus::Other("Completed".into())),
            ("cancelled", ConsolidationStatus::Other("cancelled".into())),
            ("", ConsolidationStatus::Other(String::new())),
        ] {
            assert_eq!(ConsolidationStatus::from(text), status);
            assert_eq!(ConsolidationStatus::from(text.to_owned()), status);
            assert_eq!(text.parse::<ConsolidationStatus>(), Ok(status.clone()));
            assert_eq!(status.as_str(), text);
            assert_eq!(status.to_string(), text);
            assert_eq!(serde_json::to_value(&status).unwrap(), json!(text));
            assert_eq!(serde_json::from_value::<ConsolidationStatus>(json!(text)).unwrap(), status);
        }
        assert!(serde_json::from_value::<ConsolidationStatus>(json!(3)).is_err());
    }

    #[test]
    fn missing_optional_fields_default() {
        let state = ConsolidationState::from_json(&json!({"status": "idle"})).unwrap();
        assert_eq!(state, ConsolidationState::default());
        assert_eq!(
            state.to_json(),
            json!({
                "status": "idle",
                "progress": {
                    "total_users": 0, "completed_users": 0, "failed_users": 0,
                    "total_experiences": 0, "processed_experiences": 0,
                    "started_at": null, "estimated_completion": null
                },
                "last_run": null, "next_scheduled": null, "errors": [], "metadata": {}
            })
        );
        let state = ConsolidationState::from_json(&json!({
            "status": "running",
            "progress": {"total_users": 3, "started_at": "2025-11-07 02:00:00"}
        }))
        .unwrap();
        assert_eq!(state.progress.total_users, 3);
        assert_eq!(state.progress.completed_users, 0);
        assert_eq!(state.to_json()["progress"]["started_at"], json!("2025-11-07T02:00:00Z"));
    }

    #[test]
    fn unknown_keys_are_kept_at_both_levels() {
        let mut input: Value = serde_json::from_str(SEED).unwrap();
        input["worker"] = json!("host-1");
        input["progress"]["current_user"] = json!("u-42");
        input["errors"] = json!([{"user": "u-1", "error": "timeout"}]);
        input["metadata"] = json!({"trigger": "cron"});
        let state = ConsolidationState::from_json(&input).unwrap();
        assert_eq!(state.extra["worker"], json!("host-1"));
        assert_eq!(state.progress.extra["current_user"], json!("u-42"));
        assert_eq!(state.to_json(), input);
    }

    #[test]
    fn rejects_malformed_state() {
        let err = ConsolidationState::from_json(&json!({})).unwrap_err();
        assert!(err.to_string().contains("status"), "{err}");
        let err = ConsolidationState::from_json(&json!({"status": "idle", "last_run": "later"})).unwrap_err();
        assert!(err.to_string().contains("\"later\""), "{err}");
        assert!(ConsolidationState::from_json(&json!({"status": "idle", "errors": {}})).is_err());
        assert!(ConsolidationState::from_json_str("[]").is_err());
    }

    fn status() -> impl Strategy<Value = ConsolidationStatus> {
        prop_oneof![
            Just(ConsolidationStatus::Idle),
            Just(ConsolidationStatus::Scheduled),
            Just(ConsolidationStatus::Running),
            Just(ConsolidationStatus::Paused),
            Just(ConsolidationStatus::Completed),
            Just(ConsolidationStatus::Failed),
            "[A-Za-z_ ]{0,12}".prop_map(ConsolidationStatus::from),
        ]
    }

    fn progress() -> impl Strategy<Value = ConsolidationProgress> {
        (
            prop::array::uniform5(any::<u64>()),
            proptest::option::of(timestamp()),
            proptest::option::of(timestamp()),
            extra_keys(&ConsolidationProgress::KEYS),
        )
            .prop_map(|(n, started_at, estimated_completion, extra)| ConsolidationProgress {
                total_users: n[0],
                completed_users: n[1],
                failed_users: n[2],
                total_experiences: n[3],
                processed_experiences: n[4],
                started_at,
                estimated_completion,
                extra,
            })
    }

    fn state() -> impl Strategy<Value = ConsolidationState> {
        (
            status(),
            progress(),
            proptest::option::of(timestamp()),
            proptest::option::of(timestamp()),
            prop::collection::vec(json_value(), 0..3),
            extra_keys(&[]),
            extra_keys(&ConsolidationState::KEYS),
        )
            .prop_map(|(status, progress, last_run, next_scheduled, errors, metadata, extra)| {
                ConsolidationState { status, progress, last_run, next_scheduled, errors, metadata, extra }
            })
    }

    proptest! {
        #[test]
        fn serde_round_trip(state in state()) {
            prop_assert_eq!(&ConsolidationState::from_json(&state.to_json()).unwrap(), &state);
            let text = serde_json::to_string(&state).unwrap();
            prop_assert_eq!(&serde_json::from_str::<ConsolidationState>(&text).unwrap(), &state);
            prop_assert_eq!(ConsolidationState::from_json_str(&state.to_json_string()).unwrap(), state);
        }
    }
}
