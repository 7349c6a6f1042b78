//! `Reward` and `ClassifiedCategories`: the seed's `feedback_events.reward` / `classified_categories` (Phase 3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::FromJson;
use super::error::ValueError;

/// A user's verdict on a response, stored as the integer -1, 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum Reward {
    /// Thumbs down (-1).
    Negative = -1,
    /// No verdict (0).
    Neutral = 0,
    /// Thumbs up (1).
    Positive = 1,
}

impl Reward {
    /// The stored integer: -1, 0 or 1.
    pub const fn as_i64(self) -> i64 {
        self as i64
    }

    /// The JSON integer.
    pub fn to_json(self) -> Value {
        Value::from(self.as_i64())
    }
}

/// A reward reads from a JSON integer.
impl FromJson for Reward {
    const WHAT: &'static str = "reward";
    type Raw = i64;

    fn check(raw: i64) -> Result<Self, ValueError> {
        raw.try_into()
    }
}

impl TryFrom<i64> for Reward {
    type Error = ValueError;

    fn try_from(value: i64) -> Result<Self, ValueError> {
        match value {
            -1 => Ok(Self::Negative),
            0 => Ok(Self::Neutral),
            1 => Ok(Self::Positive),
            value => Err(ValueError::Reward { value }),
        }
    }
}

impl From<Reward> for i64 {
    fn from(reward: Reward) -> Self {
        reward.as_i64()
    }
}

const WHAT: &str = "classified categories";

/// Scores of the categories a free-text feedback was classified into, e.g. `{"too_verbose": 0.85}`.
///
/// Keys are kept sorted (a `BTreeMap`), so the written key order may differ from the read one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, f64>")]
pub struct ClassifiedCategories(pub BTreeMap<String, f64>);

impl ClassifiedCategories {
    /// Wraps the scores, rejecting NaN and infinite ones.
    pub fn new(scores: BTreeMap<String, f64>) -> Result<Self, ValueError> {
        let categories = Self(scores);
        categories.validate()?;
        Ok(categories)
    }

    /// Checks that every score is finite (the inner map is public, so it can be changed).
    pub fn validate(&self) -> Result<(), ValueError> {
        match self.0.iter().find(|(_, v)| !v.is_finite()) {
            Some((category, &value)) => Err(ValueError::CategoryScore { category: category.clone(), value }),
            None => Ok(()),
        }
    }

    /// The JSON object, keys in sorted order.
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, &v)| (k.clone(), Value::from(v))).collect::<Map<_, _>>())
    }
}

super::stored_as_json!(ClassifiedCategories, "classified_categories", text_only);

/// The scores read from a JSON object of numbers (a `classified_categories` column value).
impl FromJson for ClassifiedCategories {
    const WHAT: &'static str = WHAT;
    type Raw = BTreeMap<String, f64>;

    fn check(raw: BTreeMap<String, f64>) -> Result<Self, ValueError> {
        raw.try_into()
    }
}

impl TryFrom<BTreeMap<String, f64>> for ClassifiedCategories {
    type Error = ValueError;

    fn try_from(scores: BTreeMap<String, f64>) -> Result<Self, ValueError> {
        Self::new(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::super::temporal::tests::{decimal, unit_decimal};
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn reward_is_an_integer() {
        for (n, r) in [(-1, Reward::Negative), (0, Reward::Neutral), (1, Reward::Positive)] {
            assert_eq!(Reward::try_from(n), Ok(r));
            assert_eq!(i64::from(r), n);
            assert_eq!(r.to_json(), json!(n));
            assert_eq!(serde_json::to_string(&r).unwrap(), n.to_string());
            assert_eq!(serde_json::from_value::<Reward>(json!(n)).unwrap(), r);
            assert_eq!(Reward::from_json(&json!(n)), Ok(r));
        }
        for bad in [2, -2, i64::MAX, i64::MIN] {
            assert_eq!(Reward::try_from(bad), Err(ValueError::Reward { value: bad }));
            assert_eq!(Reward::from_json(&json!(bad)), Err(ValueError::Reward { value: bad }));
            let err = serde_json::from_value::<Reward>(json!(bad)).unwrap_err();
            assert!(err.to_string().contains(&bad.to_string()), "{err}");
        }
        assert!(matches!(Reward::from_json(&json!("1")), Err(ValueError::Json { what: "reward", .. })));
        assert!(Reward::from_json(&json!(1.0)).is_err());
    }

    #[test]
    fn categories_read_the_seed_shape() {
        let input = json!({"too_verbose": 0.85, "off_topic": 0.1, "tone": 1});
        let cats = ClassifiedCategories::from_json(&input).unwrap();
        assert_eq!(cats.0["too_verbose"], 0.85);
        assert_eq!(cats.0["tone"], 1.0);
        assert_eq!(cats.to_json(), json!({"off_topic": 0.1, "tone": 1.0, "too_verbose": 0.85}));
        assert_eq!(serde_json::to_value(&cats).unwrap(), cats.to_json());
        assert_eq!(ClassifiedCategories::from_json_str("{}").unwrap(), ClassifiedCategories::default());
    }

    #[test]
    fn categories_reject_bad_scores_naming_the_key() {
        let scores = BTreeMap::from([("ok".to_owned(), 0.5), ("too_long".to_owned(), f64::NAN)]);
        assert!(matches!(
            ClassifiedCategories::new(scores),
            Err(ValueError::CategoryScore { ref category, value }) if category == "too_long" && value.is_nan()
        ));
        let err = ClassifiedCategories::from_json(&json!({"tone": "rude"})).unwrap_err();
        assert!(matches!(err, ValueError::Json { what: WHAT, .. }));
        assert!(ClassifiedCategories::from_json(&json!([0.5])).is_err());
        assert!(ClassifiedCategories::from_json(&json!({"tone": null})).is_err());
    }

    proptest! {
        #[test]
        fn reward_round_trip(n in -1i64..=1) {
            let r = Reward::try_from(n).unwrap();
            let text = serde_json::to_string(&r).unwrap();
            prop_assert_eq!(serde_json::from_str::<Reward>(&text).unwrap(), r);
            prop_assert_eq!(Reward::from_json(&r.to_json()), Ok(r));
        }

        #[test]
        fn reward_rejects_everything_else(n in any::<i64>()) {
            prop_assume!(!(-1..=1).contains(&n));
            prop_assert_eq!(Reward::try_from(n), Err(ValueError::Reward { value: n }));
        }

        #[test]
        fn categories_round_trip(
            scores in prop::collection::btree_map("[a-z_]{1,16}", prop_oneof![unit_decimal(), decimal()], 0..8)
        ) {
            let cats = ClassifiedCategories::new(scores).unwrap();
            prop_assert_eq!(&ClassifiedCategories::from_json(&cats.to_json()).unwrap(), &cats);
            let text = serde_json::to_string(&cats).unwrap();
            prop_assert_eq!(&serde_json::from_str::<ClassifiedCategories>(&text).unwrap(), &cats);
            prop_assert_eq!(ClassifiedCategories::from_json_str(&cats.to_json_string()).unwrap(), cats);
        }
    }
}
