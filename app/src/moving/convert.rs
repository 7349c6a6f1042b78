//! One value from SQLite to PostgreSQL: what the source holds ([`SqlValue`]), what the target
//! column takes ([`Kind`]), and the value that goes, in the one form both sides are compared in
//! ([`Cell`]). A value that cannot go as it is gives the reason, and its row is refused.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use entity::values::Timestamp;
use serde_json::Value;

/// A value as SQLite stored it (its storage class, not the column's declared type).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
    /// BLOB.
    Blob(Vec<u8>),
}

impl SqlValue {
    /// The value as a short text for a reason (long text cut).
    fn shown(&self) -> String {
        match self {
            Self::Null => "NULL".into(),
            Self::Integer(i) => i.to_string(),
            Self::Real(r) => r.to_string(),
            Self::Text(t) if t.chars().count() > 60 => format!("'{}...'", t.chars().take(60).collect::<String>()),
            Self::Text(t) => format!("'{t}'"),
            Self::Blob(b) => format!("a blob of {} bytes", b.len()),
        }
    }
}

/// What a target column takes, read from its type in the live catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `text`, `varchar`, `char`.
    Text,
    /// `boolean`.
    Bool,
    /// `smallint`, `integer`, `bigint`.
    Int,
    /// `double precision`, `numeric`.
    Float,
    /// `real` (4 bytes: the value is rounded to it).
    Float4,
    /// `timestamp with time zone`.
    TimestampTz,
    /// `timestamp without time zone` (written as UTC).
    Timestamp,
    /// `json`, `jsonb`.
    Json,
    /// pgvector's `vector(N)` (the width `N`, when the column has one).
    Vector(Option<usize>),
    /// A type the move does not write yet (its `format_type`).
    Unsupported(String),
}

impl Kind {
    /// The kind of a column of PostgreSQL type `typname` (`format_type` is `shown`) with the type
    /// modifier `typmod` (`pg_attribute.atttypmod`: a `vector`'s width, -1 when it has none).
    pub fn of(typname: &str, shown: &str, typmod: i32) -> Self {
        match typname {
            "text" | "varchar" | "bpchar" | "name" => Self::Text,
            "bool" => Self::Bool,
            "int2" | "int4" | "int8" => Self::Int,
            "float8" | "numeric" => Self::Float,
            "float4" => Self::Float4,
            "timestamptz" => Self::TimestampTz,
            "timestamp" => Self::Timestamp,
            "json" | "jsonb" => Self::Json,
            "vector" => Self::Vector(usize::try_from(typmod).ok().filter(|w| *w > 0)),
            _ => Self::Unsupported(shown.to_owned()),
        }
    }
}

/// A value in the form the move writes it and compares it: what goes to the target, and what is
/// read back from it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float (a `real` column's already rounded to 4 bytes).
    Float(f64),
    /// An instant, to the microsecond.
    Time(Timestamp),
    /// JSON (objects compared without regard to key order).
    Json(Value),
    /// A vector of `f32` (compared bit for bit).
    Vector(Vec<f32>),
}

impl Cell {
    /// The instant, for a timestamp cell.
    pub fn instant(&self) -> Option<Timestamp> {
        match self {
            Self::Time(t) => Some(*t),
            _ => None,
        }
    }

    /// A `timestamp without time zone` value: the instant's UTC wall clock.
    pub fn naive(&self) -> Option<NaiveDateTime> {
        self.instant().map(|t| t.as_datetime().naive_utc())
    }

    /// The value as text that its column's type reads back exactly (NULL: None): instants as
    /// RFC 3339 UTC with `Z` (a `timestamp` column takes the UTC wall clock and drops the zone),
    /// floats in their shortest exact form, JSON as written, vectors as pgvector's text.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(match self {
            Self::Null => return None,
            Self::Text(t) => return Some(Cow::Borrowed(t)),
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Float(x) => x.to_string(),
            Self::Time(t) => t.to_rfc3339(),
            Self::Json(v) => v.to_string(),
            Self::Vector(v) => Self::vector_text(v),
        }))
    }

    /// Whether `other` holds the same value (JSON: objects without regard to key order, numbers by
    /// value; vectors bit for bit).
    pub fn same(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Json(a), Cell::Json(b)) => json_same(a, b),
            (Cell::Vector(a), Cell::Vector(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            _ => self == other,
        }
    }

    /// A vector as pgvector reads it (`[0.1,-2,...]`): each `f32` printed shortest, which
    /// pgvector's parser reads back to the same bits.
    pub fn vector_text(v: &[f32]) -> String {
        let mut text = String::with_capacity(v.len() * 12 + 2);
        text.push('[');
        for (i, x) in v.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&x.to_string());
        }
        text.push(']');
        text
    }

    /// The instant as chrono's UTC value.
    pub fn utc(&self) -> Option<DateTime<Utc>> {
        self.instant().map(|t| t.as_datetime())
    }
}

/// `value` (from column `column` of the source) as the target column of kind `kind` takes it, or
/// why it cannot go: 0/1 to boolean, timestamp text through the backfill's parser
/// ([`Timestamp::parse`]), JSON text to JSON. NULL stays NULL (whether the target takes NULL is
/// judged by the caller).
pub fn convert(column: &str, value: &SqlValue, kind: &Kind) -> Result<Cell, String> {
    let bad = |what: &str| format!("{column}: {} is not {what}", value.shown());
    Ok(match (kind, value) {
        (_, SqlValue::Null) => Cell::Null,
        (_, SqlValue::Blob(_)) => return Err(bad("a value this column takes")),
        (Kind::Text, SqlValue::Text(t)) => Cell::Text(t.clone()),
        (Kind::Text, SqlValue::Integer(i)) => Cell::Text(i.to_string()),
        (Kind::Text, SqlValue::Real(_)) => return Err(bad("text")),
        (Kind::Bool, SqlValue::Integer(0)) => Cell::Bool(false),
        (Kind::Bool, SqlValue::Integer(1)) => Cell::Bool(true),
        (Kind::Bool, SqlValue::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
            "0" | "false" => Cell::Bool(false),
            "1" | "true" => Cell::Bool(true),
            _ => return Err(bad("0 or 1")),
        },
        (Kind::Bool, _) => return Err(bad("0 or 1")),
        (Kind::Int, SqlValue::Integer(i)) => Cell::Int(*i),
        (Kind::Int, SqlValue::Text(t)) => Cell::Int(t.trim().parse().map_err(|_| bad("an integer"))?),
        (Kind::Int, SqlValue::Real(_)) => return Err(bad("an integer")),
        (Kind::Float | Kind::Float4, v) => {
            let x = match v {
                SqlValue::Integer(i) => *i as f64,
                SqlValue::Real(r) => *r,
                SqlValue::Text(t) => t.trim().parse().map_err(|_| bad("a number"))?,
                _ => return Err(bad("a number")),
            };
            if !x.is_finite() {
                return Err(bad("a finite number"));
            }
            match kind {
                Kind::Float4 => Cell::Float(f64::from(x as f32)),
                _ => Cell::Float(x),
            }
        }
        (Kind::TimestampTz | Kind::Timestamp, SqlValue::Text(t)) => {
            Cell::Time(Timestamp::parse(t).map_err(|e| format!("{column}: {e}"))?)
        }
        (Kind::TimestampTz | Kind::Timestamp, _) => return Err(bad("a timestamp")),
        (Kind::Json, SqlValue::Text(t)) => {
            Cell::Json(serde_json::from_str(t).map_err(|e| format!("{column}: {} is not JSON ({e})", value.shown()))?)
        }
        (Kind::Json, _) => return Err(bad("JSON text")),
        (Kind::Vector(_), _) => return Err(format!("{column}: the move writes vectors from Chroma only")),
        (Kind::Unsupported(ty), _) => return Err(format!("{column}: the move does not write type {ty} yet")),
    })
}

fn json_same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64()),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_same(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_compares_by_value() {
        use serde_json::json;
        let same = |a: Value, b: Value| Cell::Json(a).same(&Cell::Json(b));
        assert!(same(json!({"a": 1, "b": [1.0]}), json!({"b": [1.0], "a": 1})));
        assert!(same(json!(100.0), json!(100.0)));
        assert!(!same(json!({"a": 1}), json!({"a": 2})));
    }

    #[test]
    fn values_convert_as_the_mapping_says() {
        let t = |s: &str| SqlValue::Text(s.to_owned());
        assert_eq!(convert("c", &SqlValue::Integer(1), &Kind::Bool), Ok(Cell::Bool(true)));
        assert_eq!(convert("c", &SqlValue::Integer(0), &Kind::Bool), Ok(Cell::Bool(false)));
        assert!(convert("c", &SqlValue::Integer(2), &Kind::Bool).expect_err("2").contains("0 or 1"));
        let when = convert("c", &t("2025-10-01 09:30:00"), &Kind::TimestampTz).expect("time");
        assert_eq!(when.instant().map(|t| t.to_rfc3339()), Some("2025-10-01T09:30:00Z".into()));
        assert!(convert("valid_from", &t("yesterday"), &Kind::TimestampTz).expect_err("bad").contains("valid_from"));
        assert_eq!(convert("c", &t("[1, 2]"), &Kind::Json), Ok(Cell::Json(serde_json::json!([1, 2]))));
        assert!(convert("c", &t("{"), &Kind::Json).is_err());
        assert_eq!(convert("c", &SqlValue::Null, &Kind::Json), Ok(Cell::Null));
        assert_eq!(convert("c", &SqlValue::Real(0.1), &Kind::Float4), Ok(Cell::Float(f64::from(0.1f32))));
        assert!(convert("c", &SqlValue::Blob(vec![1]), &Kind::Text).is_err());
    }
}
