//! A batch in PostgreSQL's binary `COPY` format, for a table that held none of the move's rows when
//! it began ([`Dest::copy`](super::pg::Dest::copy)): each value in the form its type's receive
//! function reads, so that PostgreSQL parses no text. A column whose type has no form here, or a
//! cell not of its column's kind, leaves the batch to the insert, which writes it as before.

use super::convert::{Cell, Kind};
use super::pg::TargetColumn;

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
            (Self::Json, Cell::Json(v)) => serde_json::to_writer(&mut *out, v).is_ok(),
            (Self::Jsonb, Cell::Json(v)) => {
                out.push(1);
                serde_json::to_writer(&mut *out, v).is_ok()
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
    pub fn encode<'r>(&self, rows: impl ExactSizeIterator<Item = &'r [Cell]>) -> Option<Vec<u8>> {
        let width = i16::try_from(self.0.len()).ok()?;
        let mut out = Vec::with_capacity(HEADER.len() + 2 + rows.len() * 64 * self.0.len().max(1));
        out.extend_from_slice(HEADER);
        for cells in rows {
            if cells.len() != self.0.len() {
                return None;
            }
            out.extend_from_slice(&width.to_be_bytes());
            for (form, cell) in self.0.iter().zip(cells) {
                match cell {
                    Cell::Null => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    _ if form.put(cell, &mut out) => {}
                    _ => return None,
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        Some(out)
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
        let out = forms.encode([vec![cell]].iter().map(Vec::as_slice))?;
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
        assert_eq!(field(&column("jsonb", "jsonb"), json.clone()), Some(with(14, b"\x01{\"a\":[1,\"x\"]}")));
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
}
