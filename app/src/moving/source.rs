//! The source of a move, AICO's 2025 `aico.db`, opened read-only: its tables, their columns and
//! row counts, and its rows in storage order, batch by batch, as SQLite stored each value.
//!
//! SQLite's SQL of the move lives here (the source is always SQLite); identifiers are quoted,
//! values bound. The rows themselves are read through SQLite's C API on a connection sqlx lends
//! ([`read_rows`]), each value copied once.

use std::ffi::{CStr, c_char, c_int};
use std::ptr::{self, NonNull};
use std::slice;

use aico_connect::key::KeySources;
use aico_connect::target::{Target, quote_ident};
use libsqlite3_sys as ffi;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx;

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
        let sql = match after {
            None => format!("{from} ORDER BY {order} LIMIT ?"),
            Some(_) => format!("{from} AND {order} > ? ORDER BY {order} LIMIT ?"),
        };
        let mut conn = self.pool().acquire().await.map_err(|e| self.err(e))?;
        let mut handle = conn.lock_handle().await.map_err(|e| self.err(e))?;
        read_rows(handle.as_raw_handle(), &sql, after, limit, columns.len()).map_err(|detail| MoveError::Source {
            source_db: self.target.to_string(),
            detail: format!("{table}: {detail}"),
        })
    }
}

/// A statement prepared on a connection, finalized when dropped.
struct Statement(*mut ffi::sqlite3_stmt);

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: a statement `sqlite3_prepare_v2` made, finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.0) };
    }
}

/// The rows of the query `sql` (the first parameter `after` when given, then `limit`): of each,
/// its first value (the order), then the `width` after it, as SQLite stored them, read on this
/// thread through SQLite's C API on the connection `db`, each value copied once. (sqlx's rows copy every value on its worker
/// thread (`sqlite3_value_dup`), hand it over and free it again: a quarter of the move's own
/// instructions on AICO-shaped facts, docs/benchmarks.md.) An error is SQLite's message, or names
/// the column whose text is not UTF-8.
fn read_rows(
    db: NonNull<ffi::sqlite3>,
    sql: &str,
    after: Option<&SqlValue>,
    limit: i64,
    width: usize,
) -> Result<Vec<(SqlValue, Vec<SqlValue>)>, String> {
    let db = db.as_ptr();
    // SAFETY: SQLite's message for the connection's last error: a NUL-terminated string it owns.
    let message = || unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy().into_owned() };
    let len = c_int::try_from(sql.len()).map_err(|_| "the query is too long".to_owned())?;
    let mut raw = ptr::null_mut();
    // SAFETY: `db` is an open connection this thread holds alone (sqlx's lock); `sql` is `len`
    // bytes of UTF-8 that outlive the call.
    let rc = unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr().cast::<c_char>(), len, &mut raw, ptr::null_mut()) };
    if rc != ffi::SQLITE_OK || raw.is_null() {
        return Err(message());
    }
    let stmt = Statement(raw);
    let mut at = 1;
    if let Some(last) = after {
        // SAFETY: parameter 1 of a live statement; text and blobs are copied by SQLite
        // (`SQLITE_TRANSIENT`) before the call returns.
        let rc = unsafe {
            match last {
                SqlValue::Null => ffi::sqlite3_bind_null(stmt.0, 1),
                SqlValue::Integer(i) => ffi::sqlite3_bind_int64(stmt.0, 1, *i),
                SqlValue::Real(r) => ffi::sqlite3_bind_double(stmt.0, 1, *r),
                SqlValue::Text(t) => ffi::sqlite3_bind_text64(
                    stmt.0,
                    1,
                    t.as_ptr().cast::<c_char>(),
                    t.len() as u64,
                    ffi::SQLITE_TRANSIENT(),
                    ffi::SQLITE_UTF8 as u8,
                ),
                SqlValue::Blob(b) => {
                    ffi::sqlite3_bind_blob64(stmt.0, 1, b.as_ptr().cast(), b.len() as u64, ffi::SQLITE_TRANSIENT())
                }
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(message());
        }
        at = 2;
    }
    // SAFETY: parameter `at` of a live statement.
    if unsafe { ffi::sqlite3_bind_int64(stmt.0, at, limit) } != ffi::SQLITE_OK {
        return Err(message());
    }
    let mut rows = Vec::new();
    loop {
        // SAFETY: a live statement, stepped on the thread that holds the connection.
        match unsafe { ffi::sqlite3_step(stmt.0) } {
            ffi::SQLITE_ROW => {
                let order = column(&stmt, 0)?;
                let values = (1..=width).map(|i| column(&stmt, i)).collect::<Result<Vec<_>, _>>()?;
                rows.push((order, values));
            }
            ffi::SQLITE_DONE => return Ok(rows),
            _ => return Err(message()),
        }
    }
}

/// Column `i` of the statement's current row, as SQLite stored it, copied.
fn column(stmt: &Statement, i: usize) -> Result<SqlValue, String> {
    let at = c_int::try_from(i).map_err(|_| format!("column {i}: too many columns"))?;
    // SAFETY: `stmt` is on a row (`SQLITE_ROW`) and `at` is below its column count (the query
    // lists them). The text or blob pointer is read before `sqlite3_column_bytes`, as SQLite's
    // documentation asks, and copied before the next call on the statement.
    unsafe {
        Ok(match ffi::sqlite3_column_type(stmt.0, at) {
            ffi::SQLITE_NULL => SqlValue::Null,
            ffi::SQLITE_INTEGER => SqlValue::Integer(ffi::sqlite3_column_int64(stmt.0, at)),
            ffi::SQLITE_FLOAT => SqlValue::Real(ffi::sqlite3_column_double(stmt.0, at)),
            ffi::SQLITE_BLOB => {
                let data = ffi::sqlite3_column_blob(stmt.0, at).cast::<u8>();
                let n = usize::try_from(ffi::sqlite3_column_bytes(stmt.0, at)).unwrap_or(0);
                SqlValue::Blob(if data.is_null() { Vec::new() } else { slice::from_raw_parts(data, n).to_vec() })
            }
            _ => {
                let data = ffi::sqlite3_column_text(stmt.0, at);
                let n = usize::try_from(ffi::sqlite3_column_bytes(stmt.0, at)).unwrap_or(0);
                let bytes = if data.is_null() { &[][..] } else { slice::from_raw_parts(data, n) };
                let name = || {
                    let name = ffi::sqlite3_column_name(stmt.0, at);
                    if name.is_null() { i.to_string() } else { CStr::from_ptr(name).to_string_lossy().into_owned() }
                };
                SqlValue::Text(
                    String::from_utf8(bytes.to_vec())
                        .map_err(|e| format!("{}: text that is not UTF-8 ({e})", name()))?,
                )
            }
        })
    }
}
