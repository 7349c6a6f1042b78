//! `SkillType` and `TriggerContext`: the seed's `skills.skill_type` and `skills.trigger_context` (Phase 3).

use super::with_extra;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::FromJson;
use super::error::ValueError;

const WHAT: &str = "trigger context";

/// Whether a skill ships with AICO or was made by the user; stored as `base` / `user_created`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub enum SkillType {
    /// A built-in skill template (`"base"`).
    Base,
    /// A skill the user created (`"user_created"`).
    UserCreated,
}

impl SkillType {
    /// The stored name: `"base"` or `"user_created"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::UserCreated => "user_created",
        }
    }
}

impl FromStr for SkillType {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, ValueError> {
        match s {
            "base" => Ok(Self::Base),
            "user_created" => Ok(Self::UserCreated),
            other => Err(ValueError::SkillType { value: other.to_owned() }),
        }
    }
}

impl TryFrom<String> for SkillType {
    type Error = ValueError;

    fn try_from(s: String) -> Result<Self, ValueError> {
        s.parse()
    }
}

impl fmt::Display for SkillType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SkillType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// When a skill applies: the seed's `{intent: [...], time_of_day: ...}`; other keys are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct TriggerContext {
    /// Intents that trigger the skill (empty when absent).
    #[serde(default)]
    pub intent: Vec<String>,
    /// Time of day the skill is for, if any (written as `null` when none).
    #[serde(default)]
    pub time_of_day: Option<String>,
    /// Every other key, kept verbatim (never `intent` or `time_of_day`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A trigger context as serde reads it (a `trigger_context` column value).
impl FromJson for TriggerContext {
    const WHAT: &'static str = WHAT;
    type Raw = Self;

    fn check(raw: Self) -> Result<Self, ValueError> {
        Ok(raw)
    }
}

impl TriggerContext {
    /// The names of the known keys, in the order they are written.
    pub const KEYS: [&'static str; 2] = ["intent", "time_of_day"];

    /// The JSON object: `intent`, `time_of_day`, then `extra`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("intent".into(), self.intent.clone().into());
        map.insert("time_of_day".into(), self.time_of_day.clone().into());
        with_extra(map, &self.extra)
    }
}

super::stored_as_json!(TriggerContext, "trigger_context");

#[cfg(test)]
mod tests {
    use super::super::temporal::tests::extra_keys;
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn skill_type_names() {
        for (text, ty) in [("base", SkillType::Base), ("user_created", SkillType::UserCreated)] {
            assert_eq!(ty.as_str(), text);
            assert_eq!(ty.to_string(), text);
            assert_eq!(text.parse::<SkillType>(), Ok(ty));
            assert_eq!(serde_json::to_value(ty).unwrap(), json!(text));
            assert_eq!(serde_json::from_value::<SkillType>(json!(text)).unwrap(), ty);
        }
        for bad in ["Base", "user-created", "", "custom"] {
            assert_eq!(bad.parse::<SkillType>(), Err(ValueError::SkillType { value: bad.into() }));
            let err = serde_json::from_value::<SkillType>(json!(bad)).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn trigger_context_reads_the_seed_shape() {
        let input = json!({"intent": ["greeting", "small_talk"], "time_of_day": "morning"});
        let ctx = TriggerContext::from_json(&input).unwrap();
        assert_eq!(ctx.intent, ["greeting", "small_talk"]);
        assert_eq!(ctx.time_of_day.as_deref(), Some("morning"));
        assert_eq!(ctx.to_json(), input);

        let ctx = TriggerContext::from_json_str(r#"{"sentiment": "negative"}"#).unwrap();
        assert!(ctx.intent.is_empty() && ctx.time_of_day.is_none());
        assert_eq!(ctx.to_json(), json!({"intent": [], "time_of_day": null, "sentiment": "negative"}));
        let err = TriggerContext::from_json(&json!({"intent": "greeting"})).unwrap_err();
        assert!(matches!(err, ValueError::Json { what: WHAT, .. }));
    }

    fn context() -> impl Strategy<Value = TriggerContext> {
        (
            prop::collection::vec("[a-z_]{1,10}", 0..4),
            proptest::option::of("[a-z ]{0,10}"),
            extra_keys(&TriggerContext::KEYS),
        )
            .prop_map(|(intent, time_of_day, extra)| TriggerContext { intent, time_of_day, extra })
    }

    proptest! {
        #[test]
        fn serde_round_trip(ctx in context()) {
            prop_assert_eq!(&TriggerContext::from_json(&ctx.to_json()).unwrap(), &ctx);
            let text = serde_json::to_string(&ctx).unwrap();
            prop_assert_eq!(&serde_json::from_str::<TriggerContext>(&text).unwrap(), &ctx);
            prop_assert_eq!(TriggerContext::from_json_str(&ctx.to_json_string()).unwrap(), ctx);
        }

        #[test]
        fn skill_type_round_trip(ty in prop_oneof![Just(SkillType::Base), Just(SkillType::UserCreated)]) {
            prop_assert_eq!(ty.as_str().parse::<SkillType>(), Ok(ty));
            let text = serde_json::to_string(&ty).unwrap();
            prop_assert_eq!(serde_json::from_str::<SkillType>(&text).unwrap(), ty);
        }
    }
}
