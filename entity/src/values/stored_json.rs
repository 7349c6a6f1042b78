//! `StoredJson`: what a JSON column holds, read without failing the query: the JSON value, or the
//! text that is not JSON, kept for the caller to inspect.
//!
//! On SQLite a JSON column is text, and a table the migrations adopt as found may hold text that
//! is not JSON in it; a model whose column were `serde_json::Value` would fail the whole
//! `find().all()` on one such row. Every JSON column of the generated models is this type instead
//! (`entity/build/`); the typed accessors (`fact.temporal()`, ...) read it per row.

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable, Value};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::ValueError;

/// A JSON column's value: [`Parsed`](Self::Parsed) when it is JSON, else
/// [`Unreadable`](Self::Unreadable) with the text as stored. A NULL is the model's `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredJson {
    /// The JSON value the column holds.
    Parsed(serde_json::Value),
    /// Text that is not JSON, exactly as stored.
    Unreadable(String),
}

impl StoredJson {
    /// Parses `text` as JSON; text that is not JSON is kept as it is.
    pub fn from_text(text: &str) -> Self {
        serde_json::from_str(text).map_or_else(|_| Self::Unreadable(text.to_owned()), Self::Parsed)
    }

    /// The JSON value, `None` when the stored text is not JSON.
    pub fn json(&self) -> Option<&serde_json::Value> {
        match self {
            Self::Parsed(value) => Some(value),
            Self::Unreadable(_) => None,
        }
    }

    /// The stored text that is not JSON, `None` for a JSON value.
    pub fn unreadable(&self) -> Option<&str> {
        match self {
            Self::Parsed(_) => None,
            Self::Unreadable(text) => Some(text),
        }
    }

    /// The JSON value, or why the stored text is not JSON ([`ValueError::Json`] about `what`).
    pub fn value(&self, what: &'static str) -> Result<&serde_json::Value, ValueError> {
        match self {
            Self::Parsed(value) => Ok(value),
            Self::Unreadable(text) => Err(serde_json::from_str::<serde_json::Value>(text).map_or_else(
                ValueError::json(what),
                // Only a hand-built `Unreadable` holds JSON; it is still not a parsed value.
                |_| ValueError::Json { what, message: format!("{text:?} was kept as unreadable text") },
            )),
        }
    }
}

impl From<serde_json::Value> for StoredJson {
    fn from(value: serde_json::Value) -> Self {
        Self::Parsed(value)
    }
}

/// Serialized as the JSON value itself, or the unreadable text as a JSON string.
impl Serialize for StoredJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Parsed(value) => value.serialize(serializer),
            Self::Unreadable(text) => serializer.serialize_str(text),
        }
    }
}

/// Any JSON value is [`StoredJson::Parsed`].
impl<'de> Deserialize<'de> for StoredJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Self::Parsed)
    }
}

/// Written as the backend's JSON, or as the text it was read as.
impl From<StoredJson> for Value {
    fn from(value: StoredJson) -> Self {
        match value {
            StoredJson::Parsed(json) => Value::Json(Some(Box::new(json))),
            StoredJson::Unreadable(text) => Value::String(Some(text)),
        }
    }
}

impl Nullable for StoredJson {
    fn null() -> Value {
        Value::Json(None)
    }
}

impl ValueType for StoredJson {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::Json(Some(json)) => Ok(Self::Parsed(*json)),
            Value::String(Some(text)) => Ok(Self::from_text(&text)),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "StoredJson".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::Json
    }

    fn column_type() -> ColumnType {
        ColumnType::Json
    }
}

/// Decodes whatever the column holds, never failing on its content: text (SQLite, a PostgreSQL
/// `text` column) is parsed or kept; PostgreSQL `json`/`jsonb` is its value; a number SQLite kept
/// as one is that JSON number. NULL is [`TryGetError::Null`] (the model's `None`).
impl TryGetable for StoredJson {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        // Each attempt fails fast (a type mismatch) unless the value has that type.
        let first = match String::try_get_by(res, idx) {
            Ok(text) => return Ok(Self::from_text(&text)),
            Err(TryGetError::Null(column)) => return Err(TryGetError::Null(column)),
            Err(e) => e,
        };
        if let Ok(json) = serde_json::Value::try_get_by(res, idx) {
            return Ok(Self::Parsed(json));
        }
        if let Ok(n) = i64::try_get_by(res, idx) {
            return Ok(Self::Parsed(n.into()));
        }
        if let Ok(x) = f64::try_get_by(res, idx) {
            return Ok(Self::Parsed(x.into()));
        }
        Err(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parsed_or_kept() {
        assert_eq!(StoredJson::from_text(r#"{"a": 1}"#), StoredJson::Parsed(json!({"a": 1})));
        let bad = StoredJson::from_text("{not json");
        assert_eq!(bad.unreadable(), Some("{not json"));
        assert_eq!(bad.json(), None);
        let err = bad.value("temporal metadata").unwrap_err();
        assert!(matches!(err, ValueError::Json { what: "temporal metadata", .. }), "{err}");
    }

    #[test]
    fn values_round_trip() {
        for stored in [StoredJson::Parsed(json!([1, 2])), StoredJson::from_text("nope")] {
            let back = <StoredJson as ValueType>::try_from(Value::from(stored.clone())).unwrap();
            assert_eq!(back, stored);
        }
        let json = serde_json::to_string(&StoredJson::Parsed(json!({"k": "v"}))).unwrap();
        assert_eq!(json, r#"{"k":"v"}"#);
        assert_eq!(serde_json::from_str::<StoredJson>(&json).unwrap(), StoredJson::Parsed(json!({"k": "v"})));
    }
}
