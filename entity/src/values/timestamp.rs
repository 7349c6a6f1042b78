//! `Timestamp`: read leniently, always written as RFC 3339 UTC with a `Z` suffix.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::error::ValueError;

/// Parses a timestamp in any form AICO or SQLite writes, returning the UTC instant.
///
/// Accepts RFC 3339 with `Z` or any offset (converted to UTC), naive ISO `YYYY-MM-DDTHH:MM:SS[.f]`
/// and SQLite's `YYYY-MM-DD HH:MM:SS[.f]` (both taken as UTC), and the space-separated form with
/// `Z` or an offset. Surrounding whitespace is ignored; anything else is [`ValueError::Timestamp`].
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, ValueError> {
    let t = s.trim();
    // chrono's RFC 3339 parser takes `T`, `t` or a space between date and time, `Z`/`z` or
    // `±HH:MM`, and any number of fraction digits. A naive form is the same text without a zone.
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_rfc3339(&format!("{t}Z")))
        .map(|dt| dt.with_timezone(&Utc))
        .map_err(|_| ValueError::Timestamp { value: s.to_owned() })
}

/// A UTC instant that prints as RFC 3339 with `Z` (`2025-11-07T18:00:00Z`), never `+00:00`.
///
/// AICO's decay code strips a trailing `Z` and subtracts from a naive UTC clock, so the suffix matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Wraps a UTC date-time.
    pub const fn new(dt: DateTime<Utc>) -> Self {
        Self(dt)
    }

    /// The current instant.
    pub fn now() -> Self {
        Self(Utc::now())
    }

    /// Reads a timestamp leniently (see [`parse_timestamp`]).
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        parse_timestamp(s).map(Self)
    }

    /// The wrapped UTC date-time.
    pub const fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// The canonical text: RFC 3339, UTC, `Z`, fraction only when non-zero (3, 6 or 9 digits).
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Self(dt)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(ts: Timestamp) -> Self {
        ts.0
    }
}

impl From<Timestamp> for Value {
    fn from(ts: Timestamp) -> Self {
        Value::String(ts.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl FromStr for Timestamp {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;

        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp string (RFC 3339 or YYYY-MM-DD HH:MM:SS)")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(TimestampVisitor)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{FixedOffset, NaiveDate, TimeZone};
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_nano_opt(h, mi, s, nanos).unwrap().and_utc()
    }

    #[test]
    fn accepts_every_documented_form() {
        let whole = utc(2025, 11, 7, 18, 0, 0, 0);
        let frac = utc(2025, 11, 7, 18, 0, 0, 123_456_000);
        let cases = [
            ("2025-11-07T18:00:00Z", whole),
            ("2025-11-07T18:00:00.123456Z", frac),
            ("2025-11-07T18:00:00+00:00", whole),
            ("2025-11-07T20:00:00+02:00", whole),
            ("2025-11-07T12:30:00-05:30", whole),
            ("2025-11-07T20:00:00.123456+02:00", frac),
            ("2025-11-07T18:00:00", whole),
            ("2025-11-07T18:00:00.123456", frac),
            ("2025-11-07 18:00:00", whole),
            ("2025-11-07 18:00:00.123456", frac),
            ("2025-11-07 18:00:00+00:00", whole),
            ("2025-11-07 18:00:00Z", whole),
            ("2025-11-07 19:00:00.123456+01:00", frac),
            ("  2025-11-07 18:00:00\n", whole),
            ("\t2025-11-07T18:00:00Z ", whole),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), Ok(want), "{text:?}");
            assert_eq!(text.parse::<Timestamp>(), Ok(Timestamp(want)), "{text:?}");
        }
    }

    #[test]
    fn rejects_other_text_and_names_it() {
        for text in [
            "",
            "   ",
            "yesterday",
            "2025-11-07",
            "18:00:00",
            "1762538400",
            "2025-13-07T18:00:00Z",
            "2025-11-31 18:00:00",
            "2025-11-07T24:00:00Z",
            "2025-11-07T18:00Z",
            "2025-11-07T18:00:00+0200",
            "2025-11-07T18:00:00+02",
            "2025-11-07T18:00:00 UTC",
            "2025-11-07T18:00:00ZZ",
            "2025-11-07  18:00:00",
            "07/11/2025 18:00:00",
            "2025-11-07T18:00:00Z trailing",
        ] {
            let err = parse_timestamp(text).unwrap_err();
            assert_eq!(err, ValueError::Timestamp { value: text.to_owned() });
            assert_eq!(
                err.to_string(),
                format!("unparseable timestamp {text:?}; expected RFC 3339 or YYYY-MM-DD HH:MM:SS")
            );
        }
    }

    #[test]
    fn writes_z_never_an_offset() {
        let ts = Timestamp::parse("2025-11-07T20:00:00+02:00").unwrap();
        assert_eq!(ts.to_string(), "2025-11-07T18:00:00Z");
        assert_eq!(serde_json::to_string(&ts).unwrap(), "\"2025-11-07T18:00:00Z\"");
        assert_eq!(Value::from(ts), Value::from("2025-11-07T18:00:00Z"));
        let ms = Timestamp::parse("2025-11-07 18:00:00.5").unwrap();
        assert_eq!(ms.to_string(), "2025-11-07T18:00:00.500Z");
        let us = Timestamp::parse("2025-11-07 18:00:00.123456").unwrap();
        assert_eq!(us.to_string(), "2025-11-07T18:00:00.123456Z");
        let ns = Timestamp::parse("2025-11-07 18:00:00.000000001").unwrap();
        assert_eq!(ns.to_string(), "2025-11-07T18:00:00.000000001Z");
        let now = Timestamp::now().to_string();
        assert!(now.ends_with('Z') && !now.contains("+00:00"), "{now}");
    }

    #[test]
    fn serde_is_lenient_on_read() {
        let ts: Timestamp = serde_json::from_str("\"2025-11-07 18:00:00\"").unwrap();
        assert_eq!(ts.0, utc(2025, 11, 7, 18, 0, 0, 0));
        let ts: Timestamp = serde_json::from_value(Value::from("2025-11-07T18:00:00+00:00")).unwrap();
        assert_eq!(ts.to_string(), "2025-11-07T18:00:00Z");
        let err = serde_json::from_str::<Timestamp>("\"noon\"").unwrap_err();
        assert!(err.to_string().contains("unparseable timestamp \"noon\""), "{err}");
        assert!(serde_json::from_str::<Timestamp>("1762538400").is_err());
    }

    #[test]
    fn conversions_and_order() {
        let a = Timestamp::from(utc(2025, 11, 7, 18, 0, 0, 0));
        let b = Timestamp::new(utc(2025, 11, 7, 18, 0, 1, 0));
        assert!(a < b);
        assert_eq!(DateTime::<Utc>::from(a), a.as_datetime());
    }

    /// 1970-01-01T00:00:00Z up to 2200-12-31T23:59:59Z, in seconds.
    fn max_secs() -> i64 {
        utc(2200, 12, 31, 23, 59, 59, 0).timestamp()
    }

    /// Any instant from 1970 to 2200, half of them on a whole second.
    pub(crate) fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (0..=max_secs(), prop_oneof![Just(0u32), 0u32..1_000_000_000])
            .prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).unwrap())
    }

    /// An offset in whole minutes within RFC 3339's ±23:59.
    fn offset() -> impl Strategy<Value = FixedOffset> {
        (-(23 * 60 + 59)..=(23 * 60 + 59)).prop_map(|m: i32| FixedOffset::east_opt(m * 60).unwrap())
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(dt in instant()) {
            let ts = Timestamp(dt);
            let text = ts.to_string();
            prop_assert!(text.ends_with('Z'));
            prop_assert!(!text.contains("+00:00"));
            prop_assert_eq!(text.parse::<Timestamp>(), Ok(ts));
            let json = serde_json::to_string(&ts).unwrap();
            prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
        }

        #[test]
        fn parser_accepts_every_rendering(dt in instant(), off in offset(), frac in any::<bool>()) {
            let f = if frac { "%.9f" } else { "" };
            let local = off.from_utc_datetime(&dt.naive_utc());
            // With no fraction printed, only the whole seconds survive.
            let want = if frac { dt } else { DateTime::from_timestamp(dt.timestamp(), 0).unwrap() };
            let renderings = [
                dt.format(&format!("%Y-%m-%dT%H:%M:%S{f}Z")).to_string(),
                dt.format(&format!("%Y-%m-%d %H:%M:%S{f}Z")).to_string(),
                dt.format(&format!("%Y-%m-%dT%H:%M:%S{f}+00:00")).to_string(),
                dt.format(&format!("%Y-%m-%dT%H:%M:%S{f}")).to_string(),
                dt.format(&format!("%Y-%m-%d %H:%M:%S{f}")).to_string(),
                local.format(&format!("%Y-%m-%dT%H:%M:%S{f}%:z")).to_string(),
                local.format(&format!("%Y-%m-%d %H:%M:%S{f}%:z")).to_string(),
                format!(" {} ", local.to_rfc3339()),
            ];
            for (i, text) in renderings.iter().enumerate() {
                let expected = if i == 7 { dt } else { want };
                prop_assert_eq!(parse_timestamp(text), Ok(expected), "{:?}", text);
            }
        }
    }
}
