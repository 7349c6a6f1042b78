//! `Timestamp`: read leniently, always written as RFC 3339 UTC with a `Z` suffix, as text that
//! AICO's reader (Python's `datetime.fromisoformat`) takes back as the same instant.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, SecondsFormat, SubsecRound, Timelike, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::error::ValueError;

/// Parses a timestamp in any form AICO or SQLite writes, returning the UTC instant, in whole
/// microseconds, that AICO can read (see [`Timestamp`]).
///
/// Accepts RFC 3339 with `Z` or any offset (converted to UTC), naive ISO `YYYY-MM-DDTHH:MM:SS[.f]`
/// and SQLite's `YYYY-MM-DD HH:MM:SS[.f]` (both taken as UTC), and the space-separated form with
/// `Z` or an offset. Surrounding whitespace is ignored; anything else is [`ValueError::Timestamp`].
/// A fraction finer than a microsecond is truncated, as Python truncates it; a leap second
/// (`:60`) is [`ValueError::LeapSecond`]; an instant outside years 1 to 9999 in UTC is
/// [`ValueError::TimestampRange`].
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, ValueError> {
    let t = s.trim();
    // chrono's RFC 3339 parser takes `T`, `t` or a space between date and time, `Z`/`z` or
    // `±HH:MM`, and any number of fraction digits. A naive form is the same text without a zone.
    // Text that ends in a digit with no sign after the date has no zone: only the naive reading
    // can succeed, so the RFC 3339 one is not tried first.
    let zoneless =
        t.ends_with(|c: char| c.is_ascii_digit()) && !t.get(10..).is_some_and(|time| time.contains(['+', '-']));
    let parsed = match zoneless {
        true => Err(()),
        false => DateTime::parse_from_rfc3339(t).map_err(|_| ()),
    };
    let dt = parsed
        .or_else(|_| DateTime::parse_from_rfc3339(&format!("{t}Z")))
        .map_err(|_| ValueError::Timestamp { value: s.to_owned() })?;
    readable(dt.with_timezone(&Utc), || s.to_owned())
}

/// `dt` truncated to whole microseconds, or why AICO could not read it: it is a leap second, or
/// outside [`Timestamp::MIN`]..=[`Timestamp::MAX`]. `value` names the input in the error.
fn readable(dt: DateTime<Utc>, value: impl FnOnce() -> String) -> Result<DateTime<Utc>, ValueError> {
    // chrono keeps a leap second as second 59 with a nanosecond count of one second or more.
    if dt.nanosecond() >= 1_000_000_000 {
        return Err(ValueError::LeapSecond { value: value() });
    }
    let dt = dt.trunc_subsecs(6);
    if (1..=9999).contains(&dt.year()) {
        Ok(dt)
    } else {
        Err(ValueError::TimestampRange { value: value(), utc: dt.to_rfc3339_opts(SecondsFormat::AutoSi, true) })
    }
}

/// A UTC instant that prints as RFC 3339 with `Z` (`2025-11-07T18:00:00Z`), never `+00:00`.
///
/// AICO's decay code strips a trailing `Z` and subtracts from a naive UTC clock, so the suffix
/// matters. Every `Timestamp` is one that Python's `datetime.fromisoformat` reads back (with or
/// without the `Z`) as the same instant: whole microseconds (Python's precision), no leap second,
/// between [`Self::MIN`] and [`Self::MAX`]. Every constructor checks this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The earliest instant AICO can read: `0001-01-01T00:00:00Z` (Python's `datetime.min`).
    pub const MIN: &'static str = "0001-01-01T00:00:00Z";
    /// The latest instant AICO can read: `9999-12-31T23:59:59.999999Z` (Python's `datetime.max`).
    pub const MAX: &'static str = "9999-12-31T23:59:59.999999Z";
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Self = Self(DateTime::UNIX_EPOCH);

    /// The current instant, to the microsecond.
    pub fn now() -> Self {
        Self(Utc::now().trunc_subsecs(6))
    }

    /// Reads a timestamp leniently (see [`parse_timestamp`]).
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        parse_timestamp(s).map(Self)
    }

    /// The wrapped UTC date-time.
    pub const fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// The canonical text: RFC 3339, UTC, `Z`, fraction only when non-zero (3 or 6 digits).
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

/// A UTC date-time as a `Timestamp`, truncated to whole microseconds; a leap second or an instant
/// outside [`Timestamp::MIN`]..=[`Timestamp::MAX`] is an error.
impl TryFrom<DateTime<Utc>> for Timestamp {
    type Error = ValueError;

    fn try_from(dt: DateTime<Utc>) -> Result<Self, ValueError> {
        readable(dt, || dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)).map(Self)
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
        // Finer than a microsecond is truncated, as Python's `fromisoformat` truncates it.
        let ns = Timestamp::parse("2025-11-07 18:00:00.000000001").unwrap();
        assert_eq!(ns.to_string(), "2025-11-07T18:00:00Z");
        let ns = Timestamp::parse("2025-11-07 18:00:00.1234567891234").unwrap();
        assert_eq!(ns.to_string(), "2025-11-07T18:00:00.123456Z");
        let ns = Timestamp::parse("2025-11-07 18:00:00.120999999").unwrap();
        assert_eq!(ns.to_string(), "2025-11-07T18:00:00.120999Z");
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
        let a = Timestamp::try_from(utc(2025, 11, 7, 18, 0, 0, 0)).unwrap();
        let b = Timestamp::try_from(utc(2025, 11, 7, 18, 0, 1, 999)).unwrap();
        assert!(a < b);
        assert_eq!(DateTime::<Utc>::from(a), a.as_datetime());
        assert_eq!(b.as_datetime(), utc(2025, 11, 7, 18, 0, 1, 0), "nanoseconds are truncated");
        assert_eq!(Timestamp::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::try_from(utc(0, 12, 31, 23, 59, 59, 999_999_999)).unwrap_err(),
            ValueError::TimestampRange {
                value: "0000-12-31T23:59:59.999999999Z".into(),
                utc: "0000-12-31T23:59:59.999999Z".into(),
            }
        );
        assert!(Timestamp::try_from(utc(10_000, 1, 1, 0, 0, 0, 0)).is_err());
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap();
        assert!(matches!(Timestamp::try_from(leap.and_utc()), Err(ValueError::LeapSecond { .. })));
    }

    #[test]
    fn range_is_what_python_reads_after_conversion_to_utc() {
        let ok = [
            ("0001-01-01T00:00:00Z", Timestamp::MIN),
            ("0001-01-01 00:00:00", Timestamp::MIN),
            ("0001-01-01T14:00:00+14:00", Timestamp::MIN),
            ("0000-12-31T10:00:00-14:00", Timestamp::MIN),
            ("9999-12-31T23:59:59.999999Z", Timestamp::MAX),
            ("9999-12-31T23:59:59.9999999999Z", Timestamp::MAX),
            ("9999-12-31T09:59:59.999999-14:00", Timestamp::MAX),
            ("9999-12-31T23:59:59.999999+00:00", Timestamp::MAX),
        ];
        for (text, want) in ok {
            assert_eq!(Timestamp::parse(text).map(|t| t.to_string()), Ok(want.to_owned()), "{text:?}");
        }
        let out = [
            ("0000-12-31T23:59:59.999999Z", "0000-12-31T23:59:59.999999Z"),
            ("0000-01-01 00:00:00", "0000-01-01T00:00:00Z"),
            ("0001-01-01T00:00:00+00:01", "0000-12-31T23:59:00Z"),
            ("0001-01-01T13:59:59.999999+14:00", "0000-12-31T23:59:59.999999Z"),
            ("9999-12-31T23:59:59-00:01", "+10000-01-01T00:00:59Z"),
            ("9999-12-31T10:00:00-14:00", "+10000-01-01T00:00:00Z"),
        ];
        for (text, utc) in out {
            let err = Timestamp::parse(text).unwrap_err();
            assert_eq!(err, ValueError::TimestampRange { value: text.into(), utc: utc.into() }, "{text:?}");
            assert!(err.to_string().contains("outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z"), "{err}");
        }
    }

    #[test]
    fn a_leap_second_is_never_read() {
        for text in [
            "2016-12-31T23:59:60Z",
            "2016-12-31 23:59:60.5",
            "2025-11-07T00:59:60.123456789Z",
            "2017-01-01T05:29:60+05:30",
        ] {
            let err = Timestamp::parse(text).unwrap_err();
            assert_eq!(err, ValueError::LeapSecond { value: text.into() });
            assert!(err.to_string().contains("second 60"), "{err}");
        }
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
            let ts = Timestamp::try_from(dt).unwrap();
            prop_assert_eq!(ts.as_datetime(), dt.trunc_subsecs(6));
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
            let want = if frac { dt.trunc_subsecs(6) } else { DateTime::from_timestamp(dt.timestamp(), 0).unwrap() };
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
                let expected = if i == 7 { dt.trunc_subsecs(6) } else { want };
                prop_assert_eq!(parse_timestamp(text), Ok(expected), "{:?}", text);
            }
        }

        /// Across the whole range and every offset RFC 3339 allows: read exactly when the UTC
        /// instant is in years 1 to 9999, and then written as 4-digit-year text with `Z`.
        #[test]
        fn in_range_after_conversion_or_a_range_error(
            secs in utc(1, 1, 1, 0, 0, 0, 0).timestamp() - 86_400..=utc(9999, 12, 31, 23, 59, 59, 0).timestamp() + 86_400,
            micros in 0u32..1_000_000,
            off in offset(),
        ) {
            let dt = DateTime::from_timestamp(secs, micros * 1000).unwrap();
            let text = off.from_utc_datetime(&dt.naive_utc()).format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string();
            let in_range = (1..=9999).contains(&dt.year());
            match Timestamp::parse(&text) {
                Ok(ts) => {
                    prop_assert!(in_range, "{} read as {}", text, ts);
                    prop_assert_eq!(ts.as_datetime(), dt);
                    let out = ts.to_string();
                    prop_assert!(out.len() >= 20 && out.ends_with('Z') && out.as_bytes()[4] == b'-', "{}", out);
                }
                // Local years outside 0..=9999 do not print as 4 digits: not RFC 3339 at all.
                Err(ValueError::Timestamp { .. }) => prop_assert!(!text.starts_with(|c: char| c.is_ascii_digit()) || text.as_bytes()[4] != b'-'),
                Err(e) => prop_assert!(!in_range && matches!(e, ValueError::TimestampRange { .. }), "{}: {}", text, e),
            }
        }
    }
}
