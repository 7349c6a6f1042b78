//! `TemporalMetadata`: the seed's `semantic_facts.temporal_metadata` JSON (Phase 1).

use super::with_extra;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::FromJson;
use super::error::ValueError;
use super::timestamp::Timestamp;

const WHAT: &str = "temporal metadata";

/// When a memory was made, touched and revised, and how far it is trusted.
///
/// Keys written by other AICO versions are kept in `extra` and written back after the known ones.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawTemporalMetadata")]
pub struct TemporalMetadata {
    /// When the memory was first stored.
    pub created_at: Timestamp,
    /// When its content last changed.
    pub last_updated: Timestamp,
    /// When it was last read.
    pub last_accessed: Timestamp,
    /// How many times it has been read.
    pub access_count: u64,
    /// Trust in the memory, a finite number in [0, 1].
    pub confidence: f64,
    /// Revision number, 1 for a new memory.
    pub version: u64,
    /// Id of the memory that replaced this one, if any (written as `null` when none).
    pub superseded_by: Option<String>,
    /// Every other key of the JSON object, kept verbatim (never one of the known keys above).
    pub extra: Map<String, Value>,
}

/// The wire shape, before `confidence` is checked.
#[derive(Deserialize)]
pub struct RawTemporalMetadata {
    created_at: Timestamp,
    last_updated: Timestamp,
    last_accessed: Timestamp,
    access_count: u64,
    confidence: f64,
    version: u64,
    superseded_by: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// The metadata read leniently for timestamps, checking `confidence`.
impl FromJson for TemporalMetadata {
    const WHAT: &'static str = WHAT;
    type Raw = RawTemporalMetadata;

    fn check(raw: RawTemporalMetadata) -> Result<Self, ValueError> {
        raw.try_into()
    }
}

impl TryFrom<RawTemporalMetadata> for TemporalMetadata {
    type Error = ValueError;

    fn try_from(raw: RawTemporalMetadata) -> Result<Self, ValueError> {
        let meta = Self {
            created_at: raw.created_at,
            last_updated: raw.last_updated,
            last_accessed: raw.last_accessed,
            access_count: raw.access_count,
            confidence: raw.confidence,
            version: raw.version,
            superseded_by: raw.superseded_by,
            extra: raw.extra,
        };
        meta.validate()?;
        Ok(meta)
    }
}

impl TemporalMetadata {
    /// The names of the known keys, in the order they are written.
    pub const KEYS: [&'static str; 7] =
        ["created_at", "last_updated", "last_accessed", "access_count", "confidence", "version", "superseded_by"];

    /// The seed's backfill value for a memory created at `created_at`: never accessed,
    /// confidence 1.0, version 1, not superseded.
    pub fn initial(created_at: Timestamp) -> Self {
        Self {
            created_at,
            last_updated: created_at,
            last_accessed: created_at,
            access_count: 0,
            confidence: 1.0,
            version: 1,
            superseded_by: None,
            extra: Map::new(),
        }
    }

    /// `Self::initial(created_at).to_json_string()`, the same bytes, without building the JSON
    /// object each time: the text is made once for a sentinel instant and the instant's text is
    /// replaced (for jobs that write millions of them).
    pub fn initial_json_string(created_at: Timestamp) -> String {
        let mut out = String::new();
        Self::write_initial_json(created_at, &mut out);
        out
    }

    /// [`Self::initial_json_string`] written into `out` (cleared first), so that a caller making
    /// millions of them reuses one buffer.
    pub fn write_initial_json(created_at: Timestamp, out: &mut String) {
        static PIECES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        let pieces = PIECES.get_or_init(|| {
            let (template, sentinel) = Self::initial_json_template();
            template.split(sentinel).collect()
        });
        let at = created_at.to_rfc3339();
        out.clear();
        out.reserve(pieces.iter().map(|p| p.len()).sum::<usize>() + (pieces.len() - 1) * at.len());
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                out.push_str(&at);
            }
            out.push_str(piece);
        }
    }

    /// The text of [`Self::initial`] for a sentinel instant, and the sentinel's own text: replace
    /// the one with a creation time's canonical text (in Rust or in SQL) to get that time's
    /// initial metadata, byte for byte.
    pub fn initial_json_template() -> (&'static str, &'static str) {
        static TEMPLATE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        let (template, sentinel) = TEMPLATE.get_or_init(|| {
            let sentinel = Timestamp::UNIX_EPOCH;
            (Self::initial(sentinel).to_json_string(), sentinel.to_rfc3339())
        });
        (template, sentinel)
    }

    /// Checks the invariant the fields cannot express: `confidence` is finite and in [0, 1].
    pub fn validate(&self) -> Result<(), ValueError> {
        if (0.0..=1.0).contains(&self.confidence) {
            Ok(())
        } else {
            Err(ValueError::Confidence { value: self.confidence })
        }
    }

    /// The JSON object: the known keys in the seed's order (timestamps with `Z`), then `extra`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("created_at".into(), self.created_at.into());
        map.insert("last_updated".into(), self.last_updated.into());
        map.insert("last_accessed".into(), self.last_accessed.into());
        map.insert("access_count".into(), self.access_count.into());
        map.insert("confidence".into(), self.confidence.into());
        map.insert("version".into(), self.version.into());
        map.insert("superseded_by".into(), self.superseded_by.clone().into());
        with_extra(map, &self.extra)
    }
}

super::stored_as_json!(TemporalMetadata, "temporal_metadata");

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const SEED: &str = r#"{
  "created_at": "2025-11-07T18:00:00Z",
  "last_updated": "2025-11-07T18:30:00Z",
  "last_accessed": "2025-11-07T19:00:00Z",
  "access_count": 5,
  "confidence": 0.85,
  "version": 2,
  "superseded_by": null
}"#;

    #[test]
    fn seed_example_round_trips() {
        let input: Value = serde_json::from_str(SEED).unwrap();
        let meta = TemporalMetadata::from_json_str(SEED).unwrap();
        assert_eq!(meta.access_count, 5);
        assert_eq!(meta.confidence, 0.85);
        assert_eq!(meta.version, 2);
        assert_eq!(meta.superseded_by, None);
        assert!(meta.extra.is_empty());
        assert_eq!(meta.to_json(), input);
        assert_eq!(serde_json::to_value(&meta).unwrap(), input);
        assert_eq!(TemporalMetadata::from_json(&input).unwrap(), meta);
        let text = meta.to_json_string();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), input);
        // Key order is the seed's.
        let keys: Vec<_> = meta.to_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, TemporalMetadata::KEYS);
    }

    #[test]
    fn initial_is_the_backfill_value() {
        let created = Timestamp::parse("2025-11-07 18:00:00").unwrap();
        let meta = TemporalMetadata::initial(created);
        assert_eq!(
            meta.to_json(),
            json!({
                "created_at": "2025-11-07T18:00:00Z",
                "last_updated": "2025-11-07T18:00:00Z",
                "last_accessed": "2025-11-07T18:00:00Z",
                "access_count": 0,
                "confidence": 1.0,
                "version": 1,
                "superseded_by": null
            })
        );
    }

    #[test]
    fn lenient_timestamps_are_rewritten_with_z() {
        let meta = TemporalMetadata::from_json(&json!({
            "created_at": "2025-11-07T18:00:00+00:00",
            "last_updated": "2025-11-07 18:30:00",
            "last_accessed": "2025-11-07T21:00:00+02:00",
            "access_count": 5, "confidence": 1, "version": 2
        }))
        .unwrap();
        let out = meta.to_json();
        assert_eq!(out["created_at"], "2025-11-07T18:00:00Z");
        assert_eq!(out["last_updated"], "2025-11-07T18:30:00Z");
        assert_eq!(out["last_accessed"], "2025-11-07T19:00:00Z");
        assert_eq!(out["superseded_by"], Value::Null);
        assert_eq!(meta.confidence, 1.0);
    }

    #[test]
    fn unknown_keys_survive_a_read_modify_write() {
        let mut input: Value = serde_json::from_str(SEED).unwrap();
        input["decay_rate"] = json!(0.1);
        input["source"] = json!({"kind": "chat", "ids": [1, 2]});
        input["superseded_by"] = json!("fact-2");
        let mut meta = TemporalMetadata::from_json(&input).unwrap();
        assert_eq!(meta.extra.len(), 2);
        assert_eq!(meta.superseded_by.as_deref(), Some("fact-2"));
        meta.access_count += 1;
        let out = meta.to_json();
        assert_eq!(out["decay_rate"], json!(0.1));
        assert_eq!(out["source"], input["source"]);
        assert_eq!(out["access_count"], json!(6));
    }

    #[test]
    fn known_key_in_extra_does_not_override_the_field() {
        let mut meta = TemporalMetadata::initial(Timestamp::parse("2025-11-07T18:00:00Z").unwrap());
        meta.extra.insert("confidence".into(), json!(0.1));
        meta.extra.insert("note".into(), json!("kept"));
        let out = meta.to_json();
        assert_eq!(out["confidence"], json!(1.0));
        assert_eq!(out["note"], json!("kept"));
        assert_eq!(out.as_object().unwrap().len(), 8);
    }

    #[test]
    fn rejects_bad_confidence_naming_it() {
        for bad in [1.5, -0.01, 1e300] {
            let mut v: Value = serde_json::from_str(SEED).unwrap();
            v["confidence"] = json!(bad);
            assert_eq!(TemporalMetadata::from_json(&v), Err(ValueError::Confidence { value: bad }));
            let err = serde_json::from_value::<TemporalMetadata>(v).unwrap_err();
            assert!(err.to_string().contains(&bad.to_string()), "{err}");
        }
        let mut meta = TemporalMetadata::initial(Timestamp::now());
        meta.confidence = f64::NAN;
        assert!(matches!(meta.validate(), Err(ValueError::Confidence { value }) if value.is_nan()));
    }

    #[test]
    fn rejects_malformed_json() {
        let mut v: Value = serde_json::from_str(SEED).unwrap();
        v["created_at"] = json!("not a time");
        let err = TemporalMetadata::from_json(&v).unwrap_err();
        assert!(matches!(err, ValueError::Json { what: WHAT, .. }));
        assert!(err.to_string().contains("\"not a time\""), "{err}");

        v.as_object_mut().unwrap().remove("created_at");
        let err = TemporalMetadata::from_json(&v).unwrap_err().to_string();
        assert!(err.contains("created_at"), "{err}");

        assert!(TemporalMetadata::from_json(&json!([1, 2])).is_err());
        assert!(TemporalMetadata::from_json_str("{").is_err());
        let mut v: Value = serde_json::from_str(SEED).unwrap();
        v["access_count"] = json!(-1);
        assert!(TemporalMetadata::from_json(&v).is_err());
    }

    /// A float with at most 6 decimals in ±1e9, as AICO writes them (readable in a failure report).
    /// Any finite float would do: the workspace turns on serde_json's `float_roundtrip`, so every
    /// one comes back from JSON text bit-exact (`preference`'s proptest checks full precision).
    pub(crate) fn decimal() -> impl Strategy<Value = f64> {
        (-1_000_000_000_000_000i64..=1_000_000_000_000_000).prop_map(|n| n as f64 / 1e6)
    }

    /// A float in [0, 1] with at most 6 decimals.
    pub(crate) fn unit_decimal() -> impl Strategy<Value = f64> {
        (0i64..=1_000_000).prop_map(|n| n as f64 / 1e6)
    }

    pub(crate) fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            decimal().prop_map(Value::from),
            "[ -~]{0,12}".prop_map(Value::from),
        ]
    }

    pub(crate) fn json_value() -> impl Strategy<Value = Value> {
        json_leaf().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Extra keys whose names are not among `known`.
    pub(crate) fn extra_keys(known: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map("[a-z_]{1,14}", json_value(), 0..5)
            .prop_map(move |m| m.into_iter().filter(|(k, _)| !known.contains(&k.as_str())).collect())
    }

    pub(crate) fn timestamp() -> impl Strategy<Value = Timestamp> {
        super::super::timestamp::tests::instant().prop_map(|dt| Timestamp::try_from(dt).expect("1970 to 2200"))
    }

    fn metadata() -> impl Strategy<Value = TemporalMetadata> {
        (
            (timestamp(), timestamp(), timestamp()),
            any::<u64>(),
            prop_oneof![Just(0.0), Just(1.0), unit_decimal()],
            any::<u64>(),
            proptest::option::of("[a-z0-9-]{1,20}"),
            extra_keys(&TemporalMetadata::KEYS),
        )
            .prop_map(|((c, u, a), access_count, confidence, version, superseded_by, extra)| {
                TemporalMetadata {
                    created_at: c,
                    last_updated: u,
                    last_accessed: a,
                    access_count,
                    confidence,
                    version,
                    superseded_by,
                    extra,
                }
            })
    }

    proptest! {
        #[test]
        fn initial_json_string_is_the_initial_json(created in timestamp()) {
            prop_assert_eq!(
                TemporalMetadata::initial_json_string(created),
                TemporalMetadata::initial(created).to_json_string()
            );
        }

        #[test]
        fn serde_round_trip_keeps_extra_keys(meta in metadata()) {
            let value = meta.to_json();
            prop_assert_eq!(&TemporalMetadata::from_json(&value).unwrap(), &meta);
            let text = serde_json::to_string(&meta).unwrap();
            let back: TemporalMetadata = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back.extra, &meta.extra);
            prop_assert_eq!(&back, &meta);
            prop_assert_eq!(TemporalMetadata::from_json_str(&meta.to_json_string()).unwrap(), meta);
        }

        #[test]
        fn any_confidence_in_range_is_exact_through_a_json_value(confidence in 0.0f64..=1.0) {
            let meta = TemporalMetadata { confidence, ..TemporalMetadata::initial(Timestamp::now()) };
            prop_assert_eq!(TemporalMetadata::from_json(&meta.to_json()).unwrap(), meta);
        }

        #[test]
        fn raw_json_with_extra_keys_round_trips_as_a_value(meta in metadata()) {
            // Written form -> typed -> written form is the identity on `serde_json::Value`.
            let value = meta.to_json();
            prop_assert_eq!(TemporalMetadata::from_json(&value).unwrap().to_json(), value);
        }
    }
}
