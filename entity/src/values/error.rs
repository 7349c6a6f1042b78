//! The one error type of the typed values.

/// Why a value could not be read, built or written; each variant carries the offending input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// A timestamp in none of the accepted forms.
    #[error("unparseable timestamp {value:?}; expected RFC 3339 or YYYY-MM-DD HH:MM:SS")]
    Timestamp {
        /// The text as it was found (untrimmed).
        value: String,
    },

    /// A timestamp at second 60 (a leap second), which Python's `datetime` (AICO) cannot hold.
    #[error(
        "timestamp {value:?} is at second 60 (a leap second), which AICO cannot read; \
         correct it to the second it means"
    )]
    LeapSecond {
        /// The text as it was found (untrimmed).
        value: String,
    },

    /// A timestamp whose UTC instant is outside the years 1 to 9999 that Python's `datetime`
    /// (AICO) can hold.
    #[error(
        "timestamp {value:?} is {utc} in UTC, outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z, \
         the instants AICO can read"
    )]
    TimestampRange {
        /// The input as it was found.
        value: String,
        /// Its instant in UTC.
        utc: String,
    },

    /// A confidence outside [0, 1] or not a finite number.
    #[error("confidence must be a finite number in [0, 1], got {value}")]
    Confidence {
        /// The rejected confidence.
        value: f64,
    },

    /// A preference vector of the wrong length.
    #[error("a preference vector has 16 dimensions, got {len}")]
    Dimensions {
        /// The number of values that were given.
        len: usize,
    },

    /// A preference vector element that is NaN or infinite.
    #[error("preference vector dimension {index} must be a finite number, got {value}")]
    NonFiniteDimension {
        /// Position of the element (0-based).
        index: usize,
        /// The rejected value.
        value: f64,
    },

    /// A skill type other than `base` or `user_created`.
    #[error("unknown skill type {value:?}; expected \"base\" or \"user_created\"")]
    SkillType {
        /// The text as it was found.
        value: String,
    },

    /// A reward other than -1, 0 or 1.
    #[error("invalid reward {value}; expected -1, 0 or 1")]
    Reward {
        /// The rejected integer.
        value: i64,
    },

    /// A classified-feedback category whose score is NaN or infinite.
    #[error("feedback category {category:?} must have a finite score, got {value}")]
    CategoryScore {
        /// The category (the JSON key).
        category: String,
        /// The rejected score.
        value: f64,
    },

    /// JSON that does not have the shape of the value (wrong type, missing field, bad syntax).
    #[error("invalid {what} JSON: {message}")]
    Json {
        /// Which value was being read, e.g. "temporal metadata".
        what: &'static str,
        /// serde_json's description, which names the field or position.
        message: String,
    },
}

impl ValueError {
    /// Wraps a serde_json error met while reading `what`.
    pub(crate) fn json(what: &'static str) -> impl Fn(serde_json::Error) -> Self {
        move |err| Self::Json { what, message: err.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_bad_input() {
        let err = ValueError::Timestamp { value: "soon".into() };
        assert_eq!(err.to_string(), "unparseable timestamp \"soon\"; expected RFC 3339 or YYYY-MM-DD HH:MM:SS");
        assert_eq!(ValueError::Dimensions { len: 3 }.to_string(), "a preference vector has 16 dimensions, got 3");
        assert!(ValueError::Confidence { value: 1.5 }.to_string().contains("1.5"));
        assert!(ValueError::Reward { value: 7 }.to_string().contains('7'));
        let err = ValueError::CategoryScore { category: "too_verbose".into(), value: f64::NAN };
        assert!(err.to_string().contains("\"too_verbose\""));
    }
}
