//! The source of a move, AICO's 2025 `aico.db`, opened read-only: its tables, their columns and
//! row counts, and its rows in storage order, batch by batch, as SQLite stored each value.
//!
//! SQLite's SQL of the move lives here (the source is always SQLite); identifiers are quoted,
//! values bound.

use aico_connect::key::KeySources;
use aico_connect::target::{Target, quote_ident};
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::sqlite::SqliteRow;
use sea_orm::sqlx::{self, Row, TypeInfo, ValueRef};

use super::convert::SqlValue;
use super::error::MoveError;

/// AICO's `aico.db`, open read-only.
pub struct Source {
    /// Which file (printable).
    pub target: Target,
    conn: DatabaseConnection,
}

impl Source {
    /// Open the SQLite file `target` names read-only, with the key of an encrypted file from
    /// `keys`.
    pub async fn open(target: Target, keys: &KeySources) -> Result<Self, MoveError> {
        let conn = target.connect_read_only(keys).await?;
        Ok(Self { target, conn })
    }

    /// Close the connection.
    pub async fn close(self) {
        self.conn.close().await.ok();
    }

    fn err(&self, e: sqlx::Error) -> MoveError {
        MoveError::Source { source_db: self.target.to_string(), detail: e.to_string() }
    }

    fn pool(&self) -> &sqlx::SqlitePool {
        self.conn.get_sqlite_connection_pool()
    }

    /// The names of its tables.
    pub async fn tables(&self) -> Result<Vec<String>, MoveError> {
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.err(e))
    }

    /// The columns of `table`, in their order.
    pub async fn columns(&self, table: &str) -> Result<Vec<String>, MoveError> {
        sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            .bind(table)
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.err(e))
    }

    /// How many rows `table` has.
    pub async fn count(&self, table: &str) -> Result<u64, MoveError> {
        let sql = format!("SELECT count(*) FROM {}", quote_ident(table));
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(self.pool()).await.map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// How many rows of `table` have no key or a part of it NULL (SQLite lets a TEXT primary key
    /// be NULL): they are never read by [`Source::batch`], and are refused.
    pub async fn null_keys(&self, table: &str, keys: &[String]) -> Result<u64, MoveError> {
        let any_null: Vec<String> = keys.iter().map(|k| format!("{} IS NULL", quote_ident(k))).collect();
        let sql = format!("SELECT count(*) FROM {} WHERE {}", quote_ident(table), any_null.join(" OR "));
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(self.pool()).await.map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The order `table` is read in by [`Source::batch`]: its storage order, SQLite's `rowid`,
    /// so that each batch reads a run of neighbouring pages (AICO's keys are random uuid4 text,
    /// whose order is not the storage order); a `WITHOUT ROWID` table by its one-column key `keys`.
    pub async fn order(&self, table: &str, keys: &[String]) -> Result<String, MoveError> {
        let without_rowid: Option<bool> = sqlx::query_scalar("SELECT wr <> 0 FROM pragma_table_list(?)")
            .bind(table)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.err(e))?;
        match (without_rowid, keys) {
            (Some(true), [key]) => Ok(quote_ident(key)),
            (Some(true), _) => Err(MoveError::Source {
                source_db: self.target.to_string(),
                detail: format!(
                    "{table} is a WITHOUT ROWID table with a key of {} columns: the move reads such a table by a \
                     one-column key only",
                    keys.len()
                ),
            }),
            _ => Ok("rowid".to_owned()),
        }
    }

    /// Up to `limit` rows of `table` (the values of `columns`, in that order) whose key columns
    /// `keys` are none NULL and whose `order` value ([`Source::order`]) comes after `after` (the
    /// previous batch's last row's), each with its order value.
    pub async fn batch(
        &self,
        table: &str,
        order: &str,
        keys: &[String],
        columns: &[String],
        after: Option<&SqlValue>,
        limit: usize,
    ) -> Result<Vec<(SqlValue, Vec<SqlValue>)>, MoveError> {
        let list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let set: Vec<String> = keys.iter().map(|k| format!("{} IS NOT NULL", quote_ident(k))).collect();
        let from =
            format!("SELECT {order}, {} FROM {} WHERE {}", list.join(", "), quote_ident(table), set.join(" AND "));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match after {
            None => {
                let sql = format!("{from} ORDER BY {order} LIMIT ?");
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(self.pool()).await
            }
            Some(last) => {
                let sql = format!("{from} AND {order} > ? ORDER BY {order} LIMIT ?");
                let q = sqlx::query(sqlx::AssertSqlSafe(sql));
                let q = match last {
                    SqlValue::Integer(i) => q.bind(*i),
                    SqlValue::Real(r) => q.bind(*r),
                    SqlValue::Text(t) => q.bind(t.clone()),
                    SqlValue::Blob(b) => q.bind(b.clone()),
                    SqlValue::Null => q.bind(None::<String>),
                };
                q.bind(limit).fetch_all(self.pool()).await
            }
        }
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|row| {
                let mut v = values(row, columns.len() + 1).map_err(|e| self.err(e))?;
                let order = v.remove(0);
                Ok((order, v))
            })
            .collect()
    }
}

/// The first `n` values of `row`, each as SQLite stored it.
fn values(row: &SqliteRow, n: usize) -> Result<Vec<SqlValue>, sqlx::Error> {
    (0..n)
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(SqlValue::Null);
            }
            // The storage class, borrowed from the row (no copy per value).
            Ok(match raw.type_info().name() {
                "INTEGER" => SqlValue::Integer(row.try_get(i)?),
                "REAL" => SqlValue::Real(row.try_get(i)?),
                "BLOB" => SqlValue::Blob(row.try_get(i)?),
                _ => SqlValue::Text(row.try_get(i)?),
            })
        })
        .collect()
}
