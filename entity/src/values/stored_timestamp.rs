//! `StoredTimestamp`: what a timestamp column holds, read without failing the query: the instant
//! when the value is one [`Timestamp`] reads, else the raw text, kept for the caller to inspect.
//!
//! SQLite keeps a timestamp column as free text (AICO's naive `isoformat()`, SQLite's
//! `CURRENT_TIMESTAMP`, `...Z`, offsets, and whatever a hand-run script wrote), so a model whose
//! column were a chrono type would fail the whole `find().all()` on one unreadable row. Every
//! timestamp column of the generated models is this type instead (`entity/build/`).

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable, Value};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::ValueError;
use super::timestamp::Timestamp;

/// A timestamp column's value: [`Parsed`](Self::Parsed) when it is an instant AICO can read
/// (every form [`Timestamp::parse`] accepts, or a native timestamp on PostgreSQL), else
/// [`Unreadable`](Self::Unreadable) with the text as stored. A NULL is the model's `None`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StoredTimestamp {
    /// The instant the column holds.
    Parsed(Timestamp),
    /// Text no [`Timestamp`] reads (such as `2025-13-45T99:00:00`), exactly as stored; a number in
    /// a SQLite timestamp column, or a PostgreSQL instant outside years 1 to 9999, as its text.
    Unreadable(String),
}

impl StoredTimestamp {
    /// Reads `text` leniently ([`Timestamp::parse`]); text it cannot read is kept as it is.
    pub fn from_text(text: &str) -> Self {
        Timestamp::parse(text).map_or_else(|_| Self::Unreadable(text.to_owned()), Self::Parsed)
    }

    /// The instant, `None` when the stored value could not be read.
    pub fn instant(&self) -> Option<Timestamp> {
        match self {
            Self::Parsed(ts) => Some(*ts),
            Self::Unreadable(_) => None,
        }
    }

    /// The stored text that could not be read, `None` for an instant.
    pub fn unreadable(&self) -> Option<&str> {
        match self {
            Self::Parsed(_) => None,
            Self::Unreadable(text) => Some(text),
        }
    }

    /// The instant, or why the stored value is not one (the error names the text).
    pub fn to_timestamp(&self) -> Result<Timestamp, ValueError> {
        match self {
            Self::Parsed(ts) => Ok(*ts),
            Self::Unreadable(text) => Timestamp::parse(text),
        }
    }
}

impl From<Timestamp> for StoredTimestamp {
    fn from(ts: Timestamp) -> Self {
        Self::Parsed(ts)
    }
}

/// An instant as a [`StoredTimestamp`]: [`Parsed`](StoredTimestamp::Parsed) when a [`Timestamp`]
/// holds it, else [`Unreadable`](StoredTimestamp::Unreadable) with its RFC 3339 text.
impl From<DateTime<Utc>> for StoredTimestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Timestamp::try_from(dt)
            .map_or_else(|_| Self::Unreadable(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)), Self::Parsed)
    }
}

impl From<DateTime<FixedOffset>> for StoredTimestamp {
    fn from(dt: DateTime<FixedOffset>) -> Self {
        dt.with_timezone(&Utc).into()
    }
}

/// The instant as RFC 3339 UTC with `Z`, or the unreadable text as stored.
impl fmt::Display for StoredTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parsed(ts) => fmt::Display::fmt(ts, f),
            Self::Unreadable(text) => f.write_str(text),
        }
    }
}

impl Serialize for StoredTimestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StoredTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::from_text(&text))
    }
}

/// Written as the backend's timestamp (an instant), or as the text it was read as.
impl From<StoredTimestamp> for Value {
    fn from(value: StoredTimestamp) -> Self {
        match value {
            StoredTimestamp::Parsed(ts) => Value::ChronoDateTimeUtc(Some(ts.as_datetime())),
            StoredTimestamp::Unreadable(text) => Value::String(Some(text)),
        }
    }
}

impl Nullable for StoredTimestamp {
    fn null() -> Value {
        Value::ChronoDateTimeUtc(None)
    }
}

impl ValueType for StoredTimestamp {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::ChronoDateTimeUtc(Some(dt)) => Ok(dt.into()),
            Value::ChronoDateTimeWithTimeZone(Some(dt)) => Ok(dt.into()),
            Value::ChronoDateTime(Some(naive)) => Ok(naive.and_utc().into()),
            Value::String(Some(text)) => Ok(Self::from_text(&text)),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "StoredTimestamp".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::ChronoDateTimeUtc
    }

    fn column_type() -> ColumnType {
        ColumnType::TimestampWithTimeZone
    }
}

/// Decodes whatever the column holds, never failing on its content: text (SQLite's free text, a
/// PostgreSQL `text` column) is parsed or kept; a PostgreSQL `timestamptz` is its instant, and a
/// `timestamp` (without time zone) is taken as UTC; a number is kept as its text. NULL is
/// [`TryGetError::Null`] (the model's `None`).
impl TryGetable for StoredTimestamp {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        // Each attempt fails fast (a type mismatch) unless the value has that type.
        let first = match String::try_get_by(res, idx) {
            Ok(text) => return Ok(Self::from_text(&text)),
            Err(TryGetError::Null(column)) => return Err(TryGetError::Null(column)),
            Err(e) => e,
        };
        // A number first: SQLite's driver would read one as a Unix time, which neither AICO nor
        // `Timestamp` does (and SQLite's own date functions take a bare number as a Julian day).
        if let Ok(n) = i64::try_get_by(res, idx) {
            return Ok(Self::Unreadable(n.to_string()));
        }
        if let Ok(x) = f64::try_get_by(res, idx) {
            return Ok(Self::Unreadable(x.to_string()));
        }
        if let Ok(dt) = DateTime::<Utc>::try_get_by(res, idx) {
            return Ok(dt.into());
        }
        if let Ok(naive) = NaiveDateTime::try_get_by(res, idx) {
            return Ok(naive.and_utc().into());
        }
        Err(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_or_kept() {
        let parsed = StoredTimestamp::from_text("2025-11-07 18:00:00");
        assert_eq!(parsed.instant().map(|t| t.to_string()).as_deref(), Some("2025-11-07T18:00:00Z"));
        assert_eq!(parsed.unreadable(), None);
        assert_eq!(parsed.to_string(), "2025-11-07T18:00:00Z");
        let bad = StoredTimestamp::from_text("2025-13-45T99:00:00");
        assert_eq!(bad, StoredTimestamp::Unreadable("2025-13-45T99:00:00".into()));
        assert_eq!(bad.instant(), None);
        assert_eq!(bad.to_string(), "2025-13-45T99:00:00");
        assert_eq!(bad.to_timestamp(), Err(ValueError::Timestamp { value: "2025-13-45T99:00:00".into() }));
        // The reason is the parser's own: a leap second says so.
        let leap = StoredTimestamp::from_text("2016-12-31T23:59:60Z");
        assert!(matches!(leap.to_timestamp(), Err(ValueError::LeapSecond { .. })));
    }

    #[test]
    fn values_and_serde_round_trip() {
        for stored in [StoredTimestamp::from_text("2025-11-07T20:00:00+02:00"), StoredTimestamp::from_text("soon")] {
            let back = <StoredTimestamp as ValueType>::try_from(Value::from(stored.clone())).unwrap();
            assert_eq!(back, stored);
            let json = serde_json::to_string(&stored).unwrap();
            assert_eq!(serde_json::from_str::<StoredTimestamp>(&json).unwrap(), stored);
        }
        let far = DateTime::<Utc>::MIN_UTC;
        assert!(matches!(StoredTimestamp::from(far), StoredTimestamp::Unreadable(_)));
    }
}
