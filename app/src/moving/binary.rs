//! A batch in PostgreSQL's binary `COPY` format, for a table that held none of the move's rows when
//! it began ([`Dest::copy`](super::pg::Dest::copy)): each value in the form its type's receive
//! function reads, so that PostgreSQL parses no text. A column whose type has no form here, or a
//! cell not of its column's kind, leaves the batch to the insert, which writes it as before.
//!
//! The rows are read back in the same binary form ([`Forms::first_difference`]): a value whose
//! bytes are the bytes sent is stored as sent, and only another is decoded and compared as the
//! insert's are. A `jsonb` value is sent in the text PostgreSQL prints for it ([`put_json`]), so
//! that it too comes back byte for byte (a `json` value comes back as sent).

use chrono::DateTime;
use entity::values::Timestamp;
use serde_json::Value;

use super::convert::{Cell, Kind};
use super::pg::{Difference, TargetColumn};

/// The file header: the signature, no flags, no header extension.
const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 (UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// How one column's values are written: the binary form its type receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `text`: the UTF-8 bytes.
    Text,
    /// `boolean`: one byte.
    Bool,
    /// `smallint`, `integer`, `bigint`: big-endian, of the column's width.
    Int2,
    Int4,
    Int8,
    /// `double precision`: the IEEE bits, big-endian.
    Float8,
    /// `real`: the `f32` the cell holds already (rounded when converted).
    Float4,
    /// `json`: the text.
    Json,
    /// `jsonb`: version 1, then the text.
    Jsonb,
    /// `timestamp with time zone`, and `timestamp without time zone` (its UTC wall clock): the
    /// microseconds since 2000-01-01.
    Instant,
    /// pgvector's `vector`: its width and a reserved word as `int16`, then the `float4`s.
    Vector,
}

impl Form {
    /// The form of `column`, by its type as the catalog prints it; None for the others (a
    /// `varchar(n)`, `numeric`, a timestamp with a precision, ...), which go by insert.
    fn of(column: &TargetColumn) -> Option<Self> {
        Some(match (&column.kind, column.shown.as_str()) {
            (Kind::Text, "text") => Self::Text,
            (Kind::Bool, _) => Self::Bool,
            (Kind::Int, "smallint") => Self::Int2,
            (Kind::Int, "integer") => Self::Int4,
            (Kind::Int, "bigint") => Self::Int8,
            (Kind::Float, "double precision") => Self::Float8,
            (Kind::Float4, "real") => Self::Float4,
            (Kind::Json, "json") => Self::Json,
            (Kind::Json, "jsonb") => Self::Jsonb,
            (Kind::TimestampTz, "timestamp with time zone") | (Kind::Timestamp, "timestamp without time zone") => {
                Self::Instant
            }
            (Kind::Vector(_), _) => Self::Vector,
            _ => return None,
        })
    }

    /// Append `cell`'s value (not NULL) with its length, written in place; false, with nothing
    /// appended, when the cell is not of this form's kind or does not fit the type (an integer too
    /// wide for its column, a vector too long).
    fn put(self, cell: &Cell, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        let written = match (self, cell) {
            (Self::Text, Cell::Text(t)) => {
                out.extend_from_slice(t.as_bytes());
                true
            }
            (Self::Bool, Cell::Bool(b)) => {
                out.push(u8::from(*b));
                true
            }
            (Self::Int2, Cell::Int(i)) => i16::try_from(*i).is_ok_and(|v| {
                out.extend_from_slice(&v.to_be_bytes());
                true
            }),
            (Self::Int4, Cell::Int(i)) => i32::try_from(*i).is_ok_and(|v| {
                out.extend_from_slice(&v.to_be_bytes());
                true
            }),
            (Self::Int8, Cell::Int(i)) => {
                out.extend_from_slice(&i.to_be_bytes());
                true
            }
            (Self::Float8, Cell::Float(x)) => {
                out.extend_from_slice(&x.to_be_bytes());
                true
            }
            (Self::Float4, Cell::Float(x)) => {
                #[allow(clippy::cast_possible_truncation)] // the cell holds a value rounded to `f32` already
                out.extend_from_slice(&(*x as f32).to_be_bytes());
                true
            }
            // `json` keeps its text: the insert's, so that both store the same.
            (Self::Json, Cell::Json(v)) => serde_json::to_writer(&mut *out, v).is_ok(),
            (Self::Jsonb, Cell::Json(v)) => {
                out.push(1);
                put_json(v, out);
                true
            }
            (Self::Instant, Cell::Time(_)) => cell.utc().is_some_and(|t| {
                out.extend_from_slice(&(t.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes());
                true
            }),
            (Self::Vector, Cell::Vector(v)) => i16::try_from(v.len()).is_ok_and(|width| {
                out.extend_from_slice(&width.to_be_bytes());
                out.extend_from_slice(&0i16.to_be_bytes());
                for x in v {
                    out.extend_from_slice(&x.to_be_bytes());
                }
                true
            }),
            _ => false,
        };
        match i32::try_from(out.len() - start - 4) {
            Ok(length) if written => {
                out[start..start + 4].copy_from_slice(&length.to_be_bytes());
                true
            }
            _ => {
                out.truncate(start);
                false
            }
        }
    }
}

impl Form {
    /// A value as PostgreSQL sends it in this form (not NULL), in the move's form; None when the
    /// bytes are not of the form (a timestamp PostgreSQL holds as infinity, say).
    fn cell(self, bytes: &[u8]) -> Option<Cell> {
        fn be<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
            bytes.try_into().ok()
        }
        Some(match self {
            Self::Text => Cell::Text(std::str::from_utf8(bytes).ok()?.to_owned()),
            Self::Bool => Cell::Bool(be::<1>(bytes)? != [0]),
            Self::Int2 => Cell::Int(i16::from_be_bytes(be(bytes)?).into()),
            Self::Int4 => Cell::Int(i32::from_be_bytes(be(bytes)?).into()),
            Self::Int8 => Cell::Int(i64::from_be_bytes(be(bytes)?)),
            Self::Float8 => Cell::Float(f64::from_be_bytes(be(bytes)?)),
            Self::Float4 => Cell::Float(f32::from_be_bytes(be(bytes)?).into()),
            Self::Json => Cell::Json(serde_json::from_slice(bytes).ok()?),
            Self::Jsonb => match bytes.split_first()? {
                (1, text) => Cell::Json(serde_json::from_slice(text).ok()?),
                _ => return None,
            },
            Self::Instant => {
                let micros = i64::from_be_bytes(be(bytes)?).checked_add(PG_EPOCH_MICROS)?;
                Cell::Time(Timestamp::try_from(DateTime::from_timestamp_micros(micros)?).ok()?)
            }
            Self::Vector => {
                let (head, floats) = bytes.split_at_checked(4)?;
                let width = usize::try_from(i16::from_be_bytes(be(&head[..2])?)).ok()?;
                if floats.len() != width * 4 {
                    return None;
                }
                Cell::Vector(floats.chunks_exact(4).map(|f| f32::from_be_bytes([f[0], f[1], f[2], f[3]])).collect())
            }
        })
    }
}

/// `v` as PostgreSQL's `jsonb` prints it (`jsonb_out`): an object's keys shortest first, then by
/// their bytes; `": "` and `", "` between; strings escaped as its `escape_json` escapes them;
/// numbers as `serde_json` prints them (`jsonb` keeps an integer's or a decimal's digits; one
/// with an exponent comes back written out, and is then compared as JSON).
fn put_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => put_json_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                put_json(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                put_json_string(key, out);
                out.extend_from_slice(b": ");
                put_json(value, out);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string as PostgreSQL's `escape_json` writes it.
fn put_json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if c < ' ' => out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes()),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

/// A batch as `COPY` reads it ([`Forms::encode`]), and where each row's fields begin in it.
pub struct Encoded {
    /// The stream: header, rows, trailer.
    pub stream: Vec<u8>,
    /// Where each row's first field begins in `stream`.
    rows: Vec<usize>,
}

impl Encoded {
    /// Row `r`'s fields as sent: each value's bytes, or None for NULL.
    fn fields(&self, r: usize) -> impl Iterator<Item = Option<&[u8]>> {
        let mut at = self.rows.get(r).copied().unwrap_or(self.stream.len());
        std::iter::from_fn(move || {
            let length = i32::from_be_bytes(self.stream.get(at..at + 4)?.try_into().ok()?);
            at += 4;
            let Ok(length) = usize::try_from(length) else { return Some(None) };
            let value = self.stream.get(at..at + length)?;
            at += length;
            Some(Some(value))
        })
    }
}

/// The binary forms of a table's columns, in order: a batch of its rows as `COPY` reads them.
#[derive(Debug, Clone)]
pub struct Forms(Vec<Form>);

impl Forms {
    /// The forms of `columns`; None when one has none ([`Form::of`]).
    pub fn of(columns: &[TargetColumn]) -> Option<Self> {
        columns.iter().map(Form::of).collect::<Option<Vec<_>>>().map(Self)
    }

    /// `rows` (their cells in the columns' order) as one `COPY ... (FORMAT binary)` stream; None
    /// when a cell has no place in it ([`Form::put`]).
    pub fn encode<'r>(&self, rows: impl ExactSizeIterator<Item = &'r [Cell]>) -> Option<Encoded> {
        let width = i16::try_from(self.0.len()).ok()?;
        let mut starts = Vec::with_capacity(rows.len());
        let mut out = Vec::with_capacity(HEADER.len() + 2 + rows.len() * 64 * self.0.len().max(1));
        out.extend_from_slice(HEADER);
        for cells in rows {
            if cells.len() != self.0.len() {
                return None;
            }
            out.extend_from_slice(&width.to_be_bytes());
            starts.push(out.len());
            for (form, cell) in self.0.iter().zip(cells) {
                match cell {
                    Cell::Null => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    _ if form.put(cell, &mut out) => {}
                    _ => return None,
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        Some(Encoded { stream: out, rows: starts })
    }

    /// The first column in which row `r` of `sent` differs from the row as PostgreSQL stored it
    /// (`stored`: its values in binary form, None for NULL), and the value stored there; None
    /// when the same. A value whose bytes are those sent is the same; another is decoded and
    /// compared with `ours`, the row's cells, as [`Cell::same`] compares them. Err names the
    /// column whose stored bytes are not of its form.
    pub fn first_difference<'s>(
        &self,
        sent: &Encoded,
        r: usize,
        stored: impl Iterator<Item = Option<&'s [u8]>>,
        ours: &[Cell],
    ) -> Result<Option<Difference>, usize> {
        let mut sent = sent.fields(r);
        for (i, ((form, held), ours)) in self.0.iter().zip(stored).zip(ours).enumerate() {
            if sent.next() == Some(held) {
                continue;
            }
            let held = match held {
                None => Cell::Null,
                Some(bytes) => form.cell(bytes).ok_or(i)?,
            };
            if !ours.same(&held) {
                return Ok(Some((i, held)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use entity::values::Timestamp;

    use super::*;

    fn column(typname: &str, shown: &str) -> TargetColumn {
        TargetColumn {
            name: "c".into(),
            shown: shown.into(),
            kind: Kind::of(typname, shown, -1),
            not_null: false,
            has_default: false,
        }
    }

    /// One row of one column: the field's bytes after the header and the tuple's width.
    fn field(c: &TargetColumn, cell: Cell) -> Option<Vec<u8>> {
        let forms = Forms::of(std::slice::from_ref(c))?;
        let out = forms.encode([vec![cell]].iter().map(Vec::as_slice))?.stream;
        assert_eq!(&out[..19], HEADER);
        assert_eq!(&out[19..21], &1i16.to_be_bytes());
        assert_eq!(&out[out.len() - 2..], &(-1i16).to_be_bytes());
        Some(out[21..out.len() - 2].to_vec())
    }

    #[test]
    fn each_type_in_the_form_its_receive_function_reads() {
        let len = |n: i32| n.to_be_bytes().to_vec();
        let with = |n: i32, bytes: &[u8]| [len(n), bytes.to_vec()].concat();
        assert_eq!(field(&column("text", "text"), Cell::Text("hé".into())), Some(with(3, "hé".as_bytes())));
        assert_eq!(field(&column("bool", "boolean"), Cell::Bool(true)), Some(with(1, &[1])));
        assert_eq!(field(&column("int2", "smallint"), Cell::Int(-2)), Some(with(2, &[0xff, 0xfe])));
        assert_eq!(field(&column("int4", "integer"), Cell::Int(7)), Some(with(4, &[0, 0, 0, 7])));
        assert_eq!(field(&column("int8", "bigint"), Cell::Int(1)), Some(with(8, &[0, 0, 0, 0, 0, 0, 0, 1])));
        assert_eq!(
            field(&column("float8", "double precision"), Cell::Float(0.5)),
            Some(with(8, &0.5f64.to_be_bytes()))
        );
        assert_eq!(field(&column("float4", "real"), Cell::Float(0.25)), Some(with(4, &0.25f32.to_be_bytes())));
        let json = Cell::Json(serde_json::json!({"a": [1, "x"]}));
        assert_eq!(field(&column("jsonb", "jsonb"), json.clone()), Some(with(16, b"\x01{\"a\": [1, \"x\"]}")));
        assert_eq!(field(&column("json", "json"), json), Some(with(13, b"{\"a\":[1,\"x\"]}")));
        // 2000-01-02T00:00:00.000001Z: one day and a microsecond after PostgreSQL's epoch.
        let t = Cell::Time(Timestamp::parse("2000-01-02T00:00:00.000001Z").expect("a time"));
        let micros = (86_400_000_000i64 + 1).to_be_bytes();
        assert_eq!(field(&column("timestamptz", "timestamp with time zone"), t.clone()), Some(with(8, &micros)));
        assert_eq!(field(&column("timestamp", "timestamp without time zone"), t), Some(with(8, &micros)));
        let v = field(&column("vector", "vector(2)"), Cell::Vector(vec![1.0, -0.5]));
        assert_eq!(
            v,
            Some(with(12, &[&2i16.to_be_bytes()[..], &[0, 0], &1f32.to_be_bytes(), &(-0.5f32).to_be_bytes()].concat()))
        );
        assert_eq!(field(&column("text", "text"), Cell::Null), Some(len(-1)), "NULL: length -1");
    }

    #[test]
    fn a_value_or_a_type_without_a_form_here_leaves_the_batch_to_the_insert() {
        assert_eq!(field(&column("int2", "smallint"), Cell::Int(40_000)), None, "too wide for its column");
        assert_eq!(field(&column("bool", "boolean"), Cell::Text("yes".into())), None, "not of its kind");
        assert_eq!(field(&column("numeric", "numeric"), Cell::Float(0.1)), None);
        assert_eq!(field(&column("varchar", "character varying(8)"), Cell::Text("x".into())), None);
        assert_eq!(
            field(&column("timestamptz", "timestamp(3) with time zone"), Cell::Text("x".into())),
            None,
            "a precision: PostgreSQL rounds"
        );
    }

    #[test]
    fn json_is_sent_as_postgresql_prints_jsonb() {
        // Each expected text is what PostgreSQL 18 printed for the value (`'...'::jsonb::text`).
        let text = |v: Value| {
            let mut out = Vec::new();
            put_json(&v, &mut out);
            String::from_utf8(out).expect("UTF-8")
        };
        assert_eq!(
            text(
                serde_json::json!({"bb": 1, "a": {"c": null}, "ab": [true, false, 1.5, -0.0001, 12_345_678_901_234_567_890u64]})
            ),
            r#"{"a": {"c": null}, "ab": [true, false, 1.5, -0.0001, 12345678901234567890], "bb": 1}"#,
            "keys shortest first, then by their bytes"
        );
        assert_eq!(
            text(Value::String("q\"\\\n\u{1}\t\u{8}\u{c}é/\u{7f}".into())),
            "\"q\\\"\\\\\\n\\u0001\\t\\b\\fé/\u{7f}\""
        );
        assert_eq!(text(serde_json::json!([0.1, {}, [], ""])), r#"[0.1, {}, [], ""]"#);
    }

    /// `rows` of `columns` encoded, then each compared with `stored` (its values' bytes).
    fn compared(
        columns: &[TargetColumn],
        ours: &[Cell],
        stored: &[Option<&[u8]>],
    ) -> Result<Option<Difference>, usize> {
        let forms = Forms::of(columns).expect("forms");
        let sent = forms.encode([ours].into_iter()).expect("encoded");
        forms.first_difference(&sent, 0, stored.iter().copied(), ours)
    }

    #[test]
    fn a_row_read_back_is_the_same_by_its_bytes_or_by_its_value_and_else_names_the_column() {
        let columns = [
            column("text", "text"),
            column("jsonb", "jsonb"),
            column("timestamptz", "timestamp with time zone"),
            column("int4", "integer"),
            column("vector", "vector(2)"),
        ];
        let t = Timestamp::parse("1999-12-31T23:59:59.5Z").expect("a time");
        let ours = [
            Cell::Text("a".into()),
            Cell::Json(serde_json::json!({"k": [1, 2]})),
            Cell::Time(t),
            Cell::Null,
            Cell::Vector(vec![0.5, -1.0]),
        ];
        let micros = (t.as_datetime().timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes();
        let vector = [&2i16.to_be_bytes()[..], &[0, 0], &0.5f32.to_be_bytes(), &(-1f32).to_be_bytes()].concat();
        let stored = |json: &'static [u8], int: Option<&'static [u8]>| {
            [Some(&b"a"[..]), Some(json), Some(&micros[..]), int, Some(vector.as_slice())]
                .map(|v| v.map(<[u8]>::to_vec))
        };
        let check = |json: &'static [u8], int: Option<&'static [u8]>| {
            let held = stored(json, int);
            let held: Vec<Option<&[u8]>> = held.iter().map(Option::as_deref).collect();
            compared(&columns, &ours, &held)
        };
        assert_eq!(check(b"\x01{\"k\": [1, 2]}", None), Ok(None), "byte for byte");
        assert_eq!(check(b"\x01{\"k\":[1.0,2]}", None), Ok(None), "other bytes, the same JSON");
        assert_eq!(check(b"\x01{\"k\": [2, 1]}", None), Ok(Some((1, Cell::Json(serde_json::json!({"k": [2, 1]}))))));
        assert_eq!(check(b"\x01{\"k\": [1, 2]}", Some(&[0, 0, 0, 9])), Ok(Some((3, Cell::Int(9)))), "NULL sent");
        assert_eq!(check(b"\x02{}", None), Err(1), "not jsonb's version 1");
        assert_eq!(check(b"\x01{\"k\": [1, 2]}", Some(&[0, 9])), Err(3), "two bytes for an integer");
    }

    #[test]
    fn every_form_reads_back_what_it_wrote() {
        let t = Timestamp::parse("2026-12-07T04:35:00.123456+02:00").expect("a time");
        for (c, cell) in [
            (column("text", "text"), Cell::Text("hé".into())),
            (column("bool", "boolean"), Cell::Bool(true)),
            (column("int2", "smallint"), Cell::Int(-2)),
            (column("int4", "integer"), Cell::Int(i64::from(i32::MIN))),
            (column("int8", "bigint"), Cell::Int(i64::MAX)),
            (column("float8", "double precision"), Cell::Float(-0.1)),
            (column("float4", "real"), Cell::Float(f64::from(0.1f32))),
            (column("json", "json"), Cell::Json(serde_json::json!({"b": "x", "a": [null]}))),
            (column("jsonb", "jsonb"), Cell::Json(serde_json::json!([{"é": 1e300}]))),
            (column("timestamptz", "timestamp with time zone"), Cell::Time(t)),
            (column("timestamp", "timestamp without time zone"), Cell::Time(t)),
            (column("vector", "vector(3)"), Cell::Vector(vec![f32::MIN_POSITIVE, -0.0, 3.5])),
        ] {
            let bytes = field(&c, cell.clone()).expect("a form");
            let form = Form::of(&c).expect("a form");
            let back = form.cell(&bytes[4..]).expect("its own bytes");
            assert!(cell.same(&back), "{}: {cell:?} came back as {back:?}", c.shown);
        }
    }
}
