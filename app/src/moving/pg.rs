//! The target of a move, AICO's PostgreSQL database: its live catalog (which tables `aico_core`
//! has, their columns, types, `NOT NULL` and defaults), the rows it already holds under given
//! keys, and the batch insert that never overwrites (or, into a table that held none of the move's
//! rows, the batch `COPY`).
//!
//! PostgreSQL's SQL of the move lives here (the target is always PostgreSQL). Every table is named
//! with its schema, `aico_core`, whatever the search path; identifiers are quoted, values bound.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use aico_connect::key::KeySources;
use aico_connect::target::{AICO_PG_SCHEMA, Target, quote_ident};
use chrono::{DateTime, NaiveDateTime, Utc};
use entity::values::Timestamp;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{self, Row, ValueRef};
use serde::Serialize;
use serde_json::Value;

use super::binary::Forms;
use super::convert::{Cell, Kind};
use super::error::MoveError;

/// AICO's PostgreSQL database, open (a clone shares the connections).
#[derive(Clone)]
pub struct Dest {
    /// Which database (printable: password hidden).
    pub target: Target,
    conn: DatabaseConnection,
}

/// A column of a target table, as the live catalog has it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetColumn {
    /// Its name.
    pub name: String,
    /// Its type, as PostgreSQL prints it (`format_type`).
    pub shown: String,
    /// What the move writes into it.
    #[serde(skip)]
    pub kind: Kind,
    /// `NOT NULL`.
    pub not_null: bool,
    /// It has a default (or is an identity or generated column).
    pub has_default: bool,
}

/// The compared key of a row: its key column as text, or a composite key's columns as text
/// joined by [`KEY_SEPARATOR`](super::mapping::KEY_SEPARATOR) (`chr(31)`).
fn key_expr(key: &[&str]) -> String {
    match key {
        [one] => format!("{}::text", quote_ident(one)),
        _ => {
            let parts: Vec<String> = key.iter().map(|k| format!("{}::text", quote_ident(k))).collect();
            format!("concat_ws(chr(31), {})", parts.join(", "))
        }
    }
}

/// `aico_core.<table>`, quoted.
fn qualified(table: &str) -> String {
    format!("{}.{}", quote_ident(AICO_PG_SCHEMA), quote_ident(table))
}

impl Dest {
    /// Open the PostgreSQL database `target` names, with AICO's password sources in `keys`; the
    /// tool's own schema is made only when `writes` (a dry run makes nothing).
    pub async fn open(target: Target, keys: &KeySources, writes: bool) -> Result<Self, MoveError> {
        if target.sqlite_path().is_some() {
            return Err(MoveError::NotPostgres { target: target.to_string() });
        }
        let conn = match writes {
            true => target.connect_keyed(None, keys).await?.0,
            false => target.connect_without_own_schema(keys).await?,
        };
        Ok(Self { target, conn })
    }

    /// Close the connection.
    pub async fn close(self) {
        self.conn.close().await.ok();
    }

    pub(super) fn err(&self, e: sqlx::Error) -> MoveError {
        MoveError::Target { target: self.target.to_string(), detail: e.to_string() }
    }

    /// The target as the segments backfill's jobs take it (AICO's HNSW index set aside for a bulk
    /// write, and put back).
    pub(super) fn as_db(&self) -> crate::sql::Db {
        crate::sql::Db {
            target: self.target.clone(),
            conn: self.conn.clone(),
            dialect: aico_connect::dialect::Dialect::Postgres,
            key: None,
        }
    }

    /// A failure of AICO's index set aside or put back ([`Self::as_db`]).
    pub(super) fn index_error(&self, e: crate::error::AppError) -> MoveError {
        MoveError::AicoIndex { detail: e.to_string() }
    }

    /// The rows of `aico_core.<table>`.
    pub async fn count(&self, table: &str) -> Result<u64, MoveError> {
        let sql = format!("SELECT count(*) FROM {}", qualified(table));
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(self.pool()).await.map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The rules on `aico_core.<table>`, by name.
    pub async fn rules(&self, table: &str) -> Result<Vec<String>, MoveError> {
        sqlx::query_scalar("SELECT rulename::text FROM pg_rules WHERE schemaname = $1 AND tablename = $2 ORDER BY 1")
            .bind(AICO_PG_SCHEMA)
            .bind(table)
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.err(e))
    }

    /// Whether a `COPY` into `aico_core.<table>` does what an insert does: the table has no rules
    /// (a `COPY` ignores them) and no row-level security (a `COPY` is refused where it applies).
    pub async fn copy_is_insert(&self, table: &str) -> Result<bool, MoveError> {
        sqlx::query_scalar("SELECT NOT relhasrules AND NOT relrowsecurity FROM pg_class WHERE oid = to_regclass($1)")
            .bind(qualified(table))
            .fetch_optional(self.pool())
            .await
            .map(|plain: Option<bool>| plain.unwrap_or(false))
            .map_err(|e| self.err(e))
    }

    pub(super) fn pool(&self) -> &sqlx::PgPool {
        self.conn.get_postgres_connection_pool()
    }

    /// The columns of `aico_core.<table>` in their order; `None` when there is no such table.
    pub async fn columns(&self, table: &str) -> Result<Option<Vec<TargetColumn>>, MoveError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(qualified(table))
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.err(e))?;
        if !exists {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT a.attname::text, t.typname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
             a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', a.atttypmod \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(qualified(table))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.err(e))?;
        let column = |row: &PgRow| -> Result<TargetColumn, sqlx::Error> {
            let (typname, shown): (String, String) = (row.try_get(1)?, row.try_get(2)?);
            Ok(TargetColumn {
                name: row.try_get(0)?,
                kind: Kind::of(&typname, &shown, row.try_get(5)?),
                shown,
                not_null: row.try_get(3)?,
                has_default: row.try_get(4)?,
            })
        };
        rows.iter().map(column).collect::<Result<Vec<_>, _>>().map(Some).map_err(|e| self.err(e))
    }

    /// Every key of `aico_core.<table>` (its column `key`): the parents a child row may name.
    pub async fn keys(&self, table: &str, key: &str) -> Result<HashSet<String>, MoveError> {
        let sql = format!("SELECT {}::text FROM {}", quote_ident(key), qualified(table));
        let keys: Vec<Option<String>> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await.map_err(|e| self.err(e))?;
        Ok(keys.into_iter().flatten().collect())
    }

    /// The rows of `aico_core.<table>` whose `key` is one of `keys`: the values of `columns`, in
    /// the move's form, by key.
    pub async fn read(
        &self,
        table: &str,
        key: &[&str],
        columns: &[TargetColumn],
        keys: &[String],
    ) -> Result<HashMap<String, Vec<Cell>>, MoveError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let rows = self.stored(table, key, &keyed_list(key, columns), &keys).await?;
        self.by_key(&rows, columns)
    }

    /// The rows of `aico_core.<table>` whose `key` is one of `keys`: the expressions of `list`.
    async fn stored(&self, table: &str, key: &[&str], list: &str, keys: &[&str]) -> Result<Vec<PgRow>, MoveError> {
        let sql = format!("SELECT {list} FROM {} WHERE {} = ANY($1)", qualified(table), key_expr(key));
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(keys).fetch_all(self.pool()).await.map_err(|e| self.err(e))
    }

    /// Rows read as [`keyed_list`] lists them: the move's form of each, by key.
    fn by_key(&self, rows: &[PgRow], columns: &[TargetColumn]) -> Result<HashMap<String, Vec<Cell>>, MoveError> {
        let mut found = HashMap::with_capacity(rows.len());
        for row in rows {
            let k: String = row.try_get(0).map_err(|e| self.err(e))?;
            let cells = columns
                .iter()
                .enumerate()
                .map(|(i, c)| cell(row, i + 1, &c.kind))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?;
            found.insert(k, cells);
        }
        Ok(found)
    }

    /// Insert `rows` (key, values of `columns`) into `aico_core.<table>` in one transaction,
    /// `ON CONFLICT DO NOTHING`: a row already there is never overwritten. Each row inserted comes
    /// back as PostgreSQL stored it (`RETURNING`, in the form [`Dest::read`] reads) and is compared
    /// with the row sent, without a second lookup: by key, its first difference ([`Difference`]),
    /// `None` when it is the same.
    ///
    /// One array per column (`unnest`), each element cast to its column's type in the `SELECT`:
    /// the statement's text and its parameters' types are the same for every batch of a table, so
    /// PostgreSQL parses it once (a `VALUES` list of a cast parameter per value was parsed and
    /// bound anew for every batch, which cost more than the insert itself). An array is of the
    /// column's own type where it can be ([`Array`]: booleans, integers, `float8`, instants), else
    /// of the text its type reads back exactly ([`Cell::as_text`]).
    pub async fn insert(
        &self,
        table: &str,
        key: &[&str],
        columns: &[TargetColumn],
        rows: &[(String, Vec<Cell>)],
    ) -> Result<HashMap<String, Option<Difference>>, MoveError> {
        if rows.is_empty() {
            return Ok(HashMap::new());
        }
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let bound: Vec<Array<'_>> = columns.iter().enumerate().map(|(i, c)| Array::of(c, rows, i)).collect();
        let arrays: Vec<String> =
            bound.iter().enumerate().map(|(i, a)| format!("${}::{}", i + 1, a.sql_type())).collect();
        let aliases: Vec<String> = (1..=columns.len()).map(|i| format!("c{i}")).collect();
        // The types as the catalog prints them (`format_type`): names, never values.
        let casts: Vec<String> =
            columns.iter().zip(&aliases).map(|(c, a)| format!("CAST(u.{a} AS {})", c.shown)).collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM unnest({}) AS u({}) ON CONFLICT DO NOTHING RETURNING {}",
            qualified(table),
            names.join(", "),
            casts.join(", "),
            arrays.join(", "),
            aliases.join(", "),
            keyed_list(key, columns)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for array in bound {
            q = match array {
                Array::Bool(v) => q.bind(v),
                Array::Int(v) => q.bind(v),
                Array::Float(v) => q.bind(v),
                Array::Instant(v) => q.bind(v),
                Array::Text(v) => q.bind(v),
            };
        }
        let mut tx = self.pool().begin().await.map_err(|e| self.err(e))?;
        // As the backfill's batches: a power cut may lose the last batches, whole (never part of
        // one), and the next run writes them again.
        sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await.map_err(|e| self.err(e))?;
        let inserted = q.fetch_all(&mut *tx).await.map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        self.compare(&inserted, rows, columns)
    }

    /// Write `rows` (key, values of `columns`; `forms`, the columns' binary forms) into
    /// `aico_core.<table>`, whose key is the one column `key`, by binary `COPY` in one
    /// transaction: for a table that held none of the move's rows when the move began, where no
    /// row can be there already. Then each is read back by key, in the binary form it was sent
    /// in, and compared with it ([`Forms::first_difference`]: byte for byte, and a value whose
    /// bytes differ as [`Dest::insert`] compares it). None, with nothing written, when the batch
    /// cannot go so: a value without a binary form ([`Forms::encode`]), or one PostgreSQL refuses (a row under a key or another
    /// unique value the target holds, a value out of its type's range, ...); the insert then
    /// writes it as it always did, or says why not.
    ///
    /// Measured by hand on 300,000 facts: PostgreSQL loads them by binary `COPY` in 2.0–2.5 CPU-s,
    /// against about 6.6 for the insert of the same rows and their `RETURNING`.
    pub async fn copy(
        &self,
        table: &str,
        key: &str,
        columns: &[TargetColumn],
        forms: &Forms,
        rows: &[(String, Vec<Cell>)],
    ) -> Result<Option<HashMap<String, Option<Difference>>>, MoveError> {
        if rows.is_empty() {
            return Ok(Some(HashMap::new()));
        }
        let Some(sent) = forms.encode(rows.iter().map(|(_, cells)| cells.as_slice())) else {
            tracing::debug!(table, "a value without a binary form: the batch goes by insert");
            return Ok(None);
        };
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let sql = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", qualified(table), names.join(", "));
        let mut tx = self.pool().begin().await.map_err(|e| self.err(e))?;
        sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await.map_err(|e| self.err(e))?;
        let copied = async {
            let mut copy = tx.copy_in_raw(&sql).await?;
            copy.send(sent.stream.as_slice()).await?;
            copy.finish().await
        }
        .await;
        match copied {
            Ok(_) => tx.commit().await.map_err(|e| self.err(e))?,
            // Data (22) and integrity (23) errors, and a `COPY` not supported there (0A000, such as
            // row-level security that applies): the insert writes what it can and names the rest.
            Err(e)
                if e.as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c == "0A000") =>
            {
                tracing::debug!(table, error = %e, "the batch goes by insert");
                return Ok(None);
            }
            Err(e) => return Err(self.err(e)),
        }
        // Read back as sent: each value in its binary form, compared byte for byte first.
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        let list = format!("{}, {}", key_expr(&[key]), names.join(", "));
        let stored = self.stored(table, &[key], &list, &keys).await?;
        let at: HashMap<&str, usize> = keys.iter().enumerate().map(|(r, k)| (*k, r)).collect();
        let mut compared = HashMap::with_capacity(rows.len());
        let mut values = Vec::with_capacity(columns.len());
        for row in &stored {
            let k: &str = row.try_get(0).map_err(|e| self.err(e))?;
            let Some(&r) = at.get(k) else { continue };
            values.clear();
            for i in 1..=columns.len() {
                let value = row.try_get_raw(i).map_err(|e| self.err(e))?;
                values.push(match value.is_null() {
                    true => None,
                    false => Some(value.as_bytes().map_err(|e| self.err(sqlx::Error::Decode(e)))?),
                });
            }
            let difference = forms.first_difference(&sent, r, values.iter().copied(), &rows[r].1).map_err(|i| {
                let detail = format!(
                    "{}.{} of the row {k} just written came back in a form not its type's",
                    qualified(table),
                    quote_ident(&columns[i].name)
                );
                MoveError::Target { target: self.target.to_string(), detail }
            })?;
            compared.insert(rows[r].0.clone(), difference);
        }
        if compared.len() != rows.len() {
            let detail = format!(
                "{} of the {} rows just written to {} were not there when read back",
                rows.len() - compared.len(),
                rows.len(),
                qualified(table)
            );
            return Err(MoveError::Target { target: self.target.to_string(), detail });
        }
        Ok(Some(compared))
    }

    /// Rows as stored (`stored`, read as [`keyed_list`] lists them) compared with those sent
    /// (`rows`): by key, the first difference, None when the same. A stored row not sent is left out.
    fn compare(
        &self,
        stored: &[PgRow],
        rows: &[(String, Vec<Cell>)],
        columns: &[TargetColumn],
    ) -> Result<HashMap<String, Option<Difference>>, MoveError> {
        let sent: HashMap<&str, &[Cell]> = rows.iter().map(|(k, cells)| (k.as_str(), cells.as_slice())).collect();
        let mut compared = HashMap::with_capacity(stored.len());
        for row in stored {
            let k: &str = row.try_get(0).map_err(|e| self.err(e))?;
            let Some(ours) = sent.get(k) else { continue };
            compared.insert(k.to_owned(), first_difference(row, ours, columns).map_err(|e| self.err(e))?);
        }
        Ok(compared)
    }
}

/// One column of a batch, bound as one array ([`Dest::insert`]): of the column's own type where
/// every cell is of its kind, so that PostgreSQL has no text to parse (its casts from text cost
/// about 0.8 s of CPU on 300,000 facts, and printing each instant as text cost the move as much);
/// else, and for the other types, as the text its type reads back exactly.
enum Array<'a> {
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Instant(Vec<Option<DateTime<Utc>>>),
    Text(Vec<Option<Cow<'a, str>>>),
}

impl<'a> Array<'a> {
    /// Column `i` of `rows`, for `column`.
    fn of(column: &TargetColumn, rows: &'a [(String, Vec<Cell>)], i: usize) -> Self {
        let cells = || rows.iter().map(move |(_, cells)| cells.get(i).unwrap_or(&Cell::Null));
        // Every cell through `value` (None: not of the kind), or None.
        fn typed<'c, T>(
            cells: impl Iterator<Item = &'c Cell>,
            value: impl Fn(&Cell) -> Option<T>,
        ) -> Option<Vec<Option<T>>> {
            cells.map(|c| if *c == Cell::Null { Some(None) } else { value(c).map(Some) }).collect()
        }
        let array = match column.kind {
            Kind::Bool => typed(cells(), |c| if let Cell::Bool(b) = c { Some(*b) } else { None }).map(Self::Bool),
            Kind::Int => typed(cells(), |c| if let Cell::Int(v) = c { Some(*v) } else { None }).map(Self::Int),
            // A `numeric` column goes as text: PostgreSQL's cast from `float8` keeps 15 digits.
            Kind::Float if column.shown == "double precision" => {
                typed(cells(), |c| if let Cell::Float(x) = c { Some(*x) } else { None }).map(Self::Float)
            }
            Kind::TimestampTz => typed(cells(), Cell::utc).map(Self::Instant),
            // `real`, `timestamp` (none in AICO's schema), `numeric`, JSON, vectors: as text.
            _ => None,
        };
        array.unwrap_or_else(|| Self::Text(cells().map(Cell::as_text).collect()))
    }

    /// The array's PostgreSQL type.
    fn sql_type(&self) -> &'static str {
        match self {
            Self::Bool(_) => "bool[]",
            Self::Int(_) => "int8[]",
            Self::Float(_) => "float8[]",
            Self::Instant(_) => "timestamptz[]",
            Self::Text(_) => "text[]",
        }
    }
}

/// A row's compared key, then each of `columns` as [`cell`] reads it.
fn keyed_list(key: &[&str], columns: &[TargetColumn]) -> String {
    let list: Vec<String> = columns.iter().map(read_expr).collect();
    format!("{}, {}", key_expr(key), list.join(", "))
}

/// The expression a column is read back with, for [`cell`].
fn read_expr(c: &TargetColumn) -> String {
    let name = quote_ident(&c.name);
    match c.kind {
        Kind::Text | Kind::Vector(_) | Kind::Unsupported(_) => format!("{name}::text"),
        Kind::Int => format!("{name}::int8"),
        Kind::Float | Kind::Float4 => format!("{name}::float8"),
        Kind::Json => format!("{name}::jsonb"),
        Kind::Bool | Kind::TimestampTz | Kind::Timestamp => name,
    }
}

/// Where a row as stored differs from the row sent: the first column that does, and its value as
/// stored.
pub type Difference = (usize, Cell);

/// The first of `columns` in which `row` (read as [`keyed_list`] lists them) differs from `ours`
/// ([`Cell::same`]); text that is the same is compared where it lies in the row, without a copy.
fn first_difference(row: &PgRow, ours: &[Cell], columns: &[TargetColumn]) -> Result<Option<Difference>, sqlx::Error> {
    for (i, (c, ours)) in columns.iter().zip(ours).enumerate() {
        if let (Kind::Text, Cell::Text(text)) = (&c.kind, ours)
            && row.try_get::<Option<&str>, _>(i + 1)? == Some(text.as_str())
        {
            continue;
        }
        let held = cell(row, i + 1, &c.kind)?;
        if !ours.same(&held) {
            return Ok(Some((i, held)));
        }
    }
    Ok(None)
}

/// Column `i` of `row`, read with [`read_expr`], in the move's form.
fn cell(row: &PgRow, i: usize, kind: &Kind) -> Result<Cell, sqlx::Error> {
    let time = |t: Option<DateTime<Utc>>| -> Result<Cell, sqlx::Error> {
        match t {
            None => Ok(Cell::Null),
            Some(t) => Timestamp::try_from(t).map(Cell::Time).map_err(|e| sqlx::Error::Decode(Box::new(e))),
        }
    };
    Ok(match kind {
        Kind::Text | Kind::Unsupported(_) => row.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::Text),
        Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Cell::Null, Cell::Bool),
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Int),
        Kind::Float | Kind::Float4 => row.try_get::<Option<f64>, _>(i)?.map_or(Cell::Null, Cell::Float),
        Kind::Json => row.try_get::<Option<Value>, _>(i)?.map_or(Cell::Null, Cell::Json),
        Kind::Vector(_) => match row.try_get::<Option<String>, _>(i)? {
            None => Cell::Null,
            Some(text) => Cell::Vector(crate::chroma::parse_vector(&text).map_err(|e| sqlx::Error::Decode(e.into()))?),
        },
        Kind::TimestampTz => time(row.try_get::<Option<DateTime<Utc>>, _>(i)?)?,
        Kind::Timestamp => time(row.try_get::<Option<NaiveDateTime>, _>(i)?.map(|t| t.and_utc()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, typname: &str, shown: &str) -> TargetColumn {
        TargetColumn {
            name: name.into(),
            shown: shown.into(),
            kind: Kind::of(typname, shown, -1),
            not_null: false,
            has_default: false,
        }
    }

    #[test]
    fn a_column_is_bound_as_its_own_type_where_every_cell_is_of_its_kind() {
        let columns = [
            column("b", "bool", "boolean"),
            column("i", "int4", "integer"),
            column("f", "float8", "double precision"),
            column("n", "numeric", "numeric"),
            column("t", "timestamptz", "timestamp with time zone"),
            column("j", "jsonb", "jsonb"),
            column("s", "text", "text"),
            column("odd", "bool", "boolean"),
        ];
        let when = Cell::Time(Timestamp::parse("2025-10-01T09:30:00Z").expect("a time"));
        let row = |odd: Cell| {
            vec![
                Cell::Bool(true),
                Cell::Int(7),
                Cell::Float(0.5),
                Cell::Float(0.1),
                when.clone(),
                Cell::Json(serde_json::json!({"a": 1})),
                Cell::Text("x".into()),
                odd,
            ]
        };
        let rows = vec![("k1".to_owned(), row(Cell::Bool(false))), ("k2".to_owned(), row(Cell::Text("yes".into())))];
        let types: Vec<&str> = columns.iter().enumerate().map(|(i, c)| Array::of(c, &rows, i).sql_type()).collect();
        assert_eq!(
            types,
            ["bool[]", "int8[]", "float8[]", "text[]", "timestamptz[]", "text[]", "text[]", "text[]"],
            "numeric, JSON and text go as text; so does a column with a cell of another kind"
        );
        let Array::Instant(instants) = Array::of(&columns[4], &rows, 4) else { panic!("instants") };
        assert_eq!(instants, vec![when.utc(), when.utc()]);
        let nulls = vec![("k".to_owned(), vec![Cell::Null])];
        assert_eq!(Array::of(&columns[0], &nulls, 0).sql_type(), "bool[]", "NULL fits any kind");
    }
}
