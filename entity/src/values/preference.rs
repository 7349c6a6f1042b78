//! `PreferenceVector`: the seed's 16-dimension `dimensions` JSON arrays (Phase 3).

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::FromJson;
use super::error::ValueError;

const WHAT: &str = "preference vector";

/// Exactly 16 finite numbers, stored as a JSON array; the array is private so the invariant holds.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "Vec<f64>")]
pub struct PreferenceVector([f64; PreferenceVector::DIMENSIONS]);

impl PreferenceVector {
    /// The number of dimensions, 16.
    pub const DIMENSIONS: usize = 16;

    /// Builds a vector, rejecting NaN and infinite values.
    pub fn new(values: [f64; Self::DIMENSIONS]) -> Result<Self, ValueError> {
        match values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            Some((index, &value)) => Err(ValueError::NonFiniteDimension { index, value }),
            None => Ok(Self(values)),
        }
    }

    /// The 16 values.
    pub const fn as_array(&self) -> &[f64; Self::DIMENSIONS] {
        &self.0
    }

    /// The 16 values as a slice.
    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }

    /// The value of dimension `index`, or `None` when `index >= 16`.
    pub fn get(&self, index: usize) -> Option<f64> {
        self.0.get(index).copied()
    }

    /// The JSON array of 16 numbers.
    pub fn to_json(&self) -> Value {
        Value::Array(self.0.iter().map(|&v| Value::from(v)).collect())
    }
}

super::stored_as_json!(PreferenceVector, "dimensions", text_only);

/// A vector read from a JSON array of 16 numbers (a `dimensions` column value).
impl FromJson for PreferenceVector {
    const WHAT: &'static str = WHAT;
    type Raw = Vec<f64>;

    fn check(raw: Vec<f64>) -> Result<Self, ValueError> {
        raw.try_into()
    }
}

impl TryFrom<&[f64]> for PreferenceVector {
    type Error = ValueError;

    fn try_from(values: &[f64]) -> Result<Self, ValueError> {
        let array =
            <[f64; Self::DIMENSIONS]>::try_from(values).map_err(|_| ValueError::Dimensions { len: values.len() })?;
        Self::new(array)
    }
}

impl TryFrom<Vec<f64>> for PreferenceVector {
    type Error = ValueError;

    fn try_from(values: Vec<f64>) -> Result<Self, ValueError> {
        Self::try_from(values.as_slice())
    }
}

impl TryFrom<[f64; PreferenceVector::DIMENSIONS]> for PreferenceVector {
    type Error = ValueError;

    fn try_from(values: [f64; Self::DIMENSIONS]) -> Result<Self, ValueError> {
        Self::new(values)
    }
}

impl From<PreferenceVector> for [f64; PreferenceVector::DIMENSIONS] {
    fn from(v: PreferenceVector) -> Self {
        v.0
    }
}

impl Serialize for PreferenceVector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.as_slice().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::super::temporal::tests::decimal;
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_a_json_array() {
        let values: Vec<f64> = (0..16).map(|i| f64::from(i) / 20.0).collect();
        let v = PreferenceVector::try_from(values.clone()).unwrap();
        assert_eq!(v.as_slice(), values.as_slice());
        assert_eq!(v.get(15), Some(0.75));
        assert_eq!(v.get(16), None);
        assert_eq!(v.to_json(), json!(values));
        assert_eq!(serde_json::to_value(v).unwrap(), json!(values));
        assert_eq!(PreferenceVector::from_json(&json!(values)).unwrap(), v);
        assert_eq!(PreferenceVector::from_json_str(&v.to_json_string()).unwrap(), v);
        // Integers are numbers too.
        let ones = PreferenceVector::from_json(&json!(vec![1; 16])).unwrap();
        assert_eq!(ones.as_array(), &[1.0; 16]);
    }

    #[test]
    fn rejects_other_lengths_naming_the_length() {
        for len in [0, 1, 15, 17, 32] {
            let values = vec![0.5; len];
            let want = ValueError::Dimensions { len };
            assert_eq!(PreferenceVector::try_from(values.clone()), Err(want.clone()));
            assert_eq!(PreferenceVector::try_from(values.as_slice()), Err(want.clone()));
            assert_eq!(PreferenceVector::from_json(&json!(values)), Err(want));
            let err = serde_json::from_value::<PreferenceVector>(json!(values)).unwrap_err();
            assert!(err.to_string().contains(&format!("a preference vector has 16 dimensions, got {len}")), "{err}");
        }
    }

    #[test]
    fn rejects_non_finite_and_non_numbers() {
        let mut values = [0.5; 16];
        values[3] = f64::INFINITY;
        assert_eq!(
            PreferenceVector::new(values),
            Err(ValueError::NonFiniteDimension { index: 3, value: f64::INFINITY })
        );
        values[3] = f64::NAN;
        assert!(matches!(PreferenceVector::try_from(values), Err(ValueError::NonFiniteDimension { index: 3, .. })));
        let mut j = json!(vec![0.5; 16]);
        j[2] = json!("high");
        assert!(matches!(PreferenceVector::from_json(&j), Err(ValueError::Json { what: WHAT, .. })));
        assert!(PreferenceVector::from_json(&json!({"a": 1})).is_err());
    }

    proptest! {
        #[test]
        fn serde_round_trip(values in prop::array::uniform16(decimal())) {
            let v = PreferenceVector::new(values).unwrap();
            prop_assert_eq!(PreferenceVector::from_json(&v.to_json()).unwrap(), v);
            let text = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(serde_json::from_str::<PreferenceVector>(&text).unwrap(), v);
            prop_assert_eq!(PreferenceVector::from_json_str(&v.to_json_string()).unwrap(), v);
        }

        #[test]
        fn full_precision_floats(
            values in prop::array::uniform16(-1e6f64..1e6)
        ) {
            let v = PreferenceVector::new(values).unwrap();
            // Exact through a `serde_json::Value` (a JSON column read by the driver)...
            prop_assert_eq!(PreferenceVector::from_json(&v.to_json()).unwrap(), v);
            // ...and exact through text too: the workspace turns on serde_json's `float_roundtrip`.
            let back = PreferenceVector::from_json_str(&v.to_json_string()).unwrap();
            for (a, b) in v.as_slice().iter().zip(back.as_slice()) {
                prop_assert_eq!(a.to_bits(), b.to_bits(), "{} vs {}", a, b);
            }
        }

        #[test]
        fn any_other_length_is_rejected(values in prop::collection::vec(any::<f64>(), 0..40)) {
            prop_assume!(values.len() != 16);
            prop_assert_eq!(
                PreferenceVector::try_from(values.clone()),
                Err(ValueError::Dimensions { len: values.len() })
            );
        }
    }
}
