//! The SQL store's backfill: give every fact without temporal metadata the seed's initial metadata,
//! derived from the fact's own `created_at`.
//!
//! Keyset batches in id order, one write transaction each, whose statements touch only rows whose
//! metadata is still NULL: metadata that exists (or that AICO writes meanwhile) is never
//! overwritten, no other column is written, and a run killed at any moment is finished by the next
//! one. SQL builds the metadata where the stored `created_at` is already canonical text (almost
//! always); Rust parses the rest. Memory is one batch.
//!
//! The facts table is the seed's `semantic_facts` (keyed by `id`) or, on AICO's own database,
//! `user_memories` (keyed by `fact_id`, a uuid4).

use entity::values::{TemporalMetadata, Timestamp};
use migration::dialect::Dialect;
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, IntoIden, Order, Query, SelectStatement, TableRef, Value, ValueTuple,
};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

use crate::error::AppError;
use crate::sql::Db;

/// At most this many bad rows are listed by id (all are counted).
const LISTED_BAD_ROWS: usize = 1000;

/// A fact the backfill left as it was, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadRow {
    /// The fact's id.
    pub id: String,
    /// Its `created_at` as stored (None when NULL).
    pub created_at: Option<String>,
    /// Why it could not be filled.
    pub reason: String,
}

/// What a SQL backfill did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SqlBackfill {
    /// Facts without temporal metadata when the run started.
    pub candidates: u64,
    /// Facts this run filled (for a dry run: would fill).
    pub filled: u64,
    /// Batches written.
    pub batches: u64,
    /// Facts left as they were because their `created_at` is missing or unreadable.
    pub bad_count: u64,
    /// The first of those, by id.
    pub bad_rows: Vec<BadRow>,
}

impl SqlBackfill {
    /// True when every fact that needed metadata has it.
    pub fn complete(&self) -> bool {
        self.bad_count == 0
    }
}

/// The metadata a fact created at `created_at` (as stored) starts with, or why there is none.
fn initial_metadata(created_at: Option<&str>) -> Result<String, String> {
    let text = created_at.ok_or_else(|| "created_at is NULL".to_owned())?;
    let created = Timestamp::parse(text).map_err(|e| e.to_string())?;
    Ok(TemporalMetadata::initial_json_string(created))
}

/// The same metadata built by SQL from `timestamp` (SQL giving the canonical RFC 3339 text): the
/// JSON Rust writes for a sentinel instant with the sentinel's text replaced, so both paths write
/// the same bytes and the layout is defined once, by [`TemporalMetadata`].
fn initial_metadata_sql(dialect: Dialect, timestamp: &str) -> String {
    let (template, sentinel) = TemporalMetadata::initial_json_template();
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    dialect.json_from_text(&format!("replace({}, {}, {timestamp})", literal(template), literal(sentinel)))
}

/// `temporal_metadata`, the column the backfill writes.
const METADATA: &str = "temporal_metadata";

/// How one backend's batches are written: the facts table and its key, the SQL that reads
/// `created_at` as text, the SQL that turns it into the canonical timestamp where it can, and the
/// metadata built from that.
struct Plan {
    table: &'static str,
    key: &'static str,
    created_text: String,
    canonical: String,
    fill: String,
}

impl Plan {
    async fn of(db: &Db) -> Result<Self, AppError> {
        let (table, key) = db.layout().await?.facts();
        let missing =
            |column: &str| AppError::NotMigrated { target: db.target.to_string(), what: format!("{table}.{column}") };
        let type_of = |column| db.dialect.column_type(&db.conn, table, column);
        if type_of("temporal_metadata").await.map_err(|e| db.error(e))?.is_none() {
            return Err(missing("temporal_metadata"));
        }
        let declared = type_of("created_at").await.map_err(|e| db.error(e))?.ok_or_else(|| missing("created_at"))?;
        let canonical = db.dialect.canonical_timestamp("created_at", &declared);
        Ok(Self {
            table,
            key,
            created_text: db.dialect.timestamp_text("created_at", &declared),
            fill: initial_metadata_sql(db.dialect, &canonical),
            canonical,
        })
    }

    fn table(&self) -> Alias {
        Alias::new(self.table)
    }

    fn key(&self) -> Expr {
        Expr::col((self.table(), Alias::new(self.key)))
    }

    fn metadata(&self) -> Expr {
        Expr::col((self.table(), Alias::new(METADATA)))
    }

    /// Rows SQL can fill by itself (or, negated, the ones left to Rust).
    fn by_sql(&self, yes: bool) -> Expr {
        Expr::cust(format!("({}) IS {}NULL", self.canonical, if yes { "NOT " } else { "" }))
    }

    /// Facts without metadata (and, when given, with keys in `(after, upto]`).
    fn pending(&self, after: Option<&str>, upto: Option<&str>) -> Condition {
        Condition::all()
            .add(self.metadata().is_null())
            .add_option(after.map(|lo| self.key().gt(lo)))
            .add_option(upto.map(|hi| self.key().lte(hi)))
    }

    /// How many rows match `cond`.
    async fn count<C: ConnectionTrait>(&self, conn: &C, cond: Condition) -> Result<u64, DbErr> {
        let stmt = Query::select().expr_as(Expr::cust("COUNT(*)"), "n").from(self.table()).cond_where(cond).to_owned();
        let n: i64 = match conn.query_one(&stmt).await? {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The key `batch_size` rows past `after` in key order (the last key when fewer are left).
    async fn batch_end<C: ConnectionTrait>(
        &self,
        conn: &C,
        after: Option<&str>,
        batch_size: u64,
    ) -> Result<Option<String>, DbErr> {
        let mut stmt = Query::select();
        stmt.expr_as(self.key(), "k").from(self.table());
        if let Some(lo) = after {
            stmt.and_where(self.key().gt(lo));
        }
        stmt.order_by_expr(self.key(), Order::Asc).offset(batch_size.saturating_sub(1)).limit(1);
        match conn.query_one(&stmt).await? {
            Some(row) => Ok(Some(row.try_get("", "k")?)),
            None => Ok(None),
        }
    }

    /// Fill the rows of `pending` that SQL can fill; how many it filled.
    async fn fill<C: ConnectionTrait>(&self, conn: &C, pending: Condition) -> Result<u64, DbErr> {
        let stmt = Query::update()
            .table(self.table())
            .value(Alias::new(METADATA), Expr::cust(self.fill.clone()))
            .cond_where(pending.add(self.by_sql(true)))
            .to_owned();
        Ok(conn.execute(&stmt).await?.rows_affected())
    }

    /// The rows of `pending` left to Rust: key and `created_at` as text.
    async fn rest<C: ConnectionTrait>(
        &self,
        conn: &C,
        pending: Condition,
    ) -> Result<Vec<(String, Option<String>)>, DbErr> {
        let stmt: SelectStatement = Query::select()
            .expr_as(self.key(), "k")
            .expr_as(Expr::cust(self.created_text.clone()), "created_at")
            .from(self.table())
            .cond_where(pending.add(self.by_sql(false)))
            .order_by_expr(self.key(), Order::Asc)
            .to_owned();
        conn.query_all(&stmt)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("", "k")?, row.try_get("", "created_at")?)))
            .collect()
    }

    /// Write the rows Rust filled: `UPDATE <facts> SET temporal_metadata = v.column2 FROM
    /// (VALUES ...) AS v WHERE <key> = v.column1 AND temporal_metadata IS NULL`. The metadata is
    /// bound as text (and cast where the backend needs it), so its bytes are ours.
    async fn write_batch<C: ConnectionTrait>(
        &self,
        dialect: Dialect,
        conn: &C,
        rows: Vec<ValueTuple>,
    ) -> Result<u64, DbErr> {
        let v = Alias::new("v").into_iden();
        let stmt = Query::update()
            .table(self.table())
            .value(Alias::new(METADATA), Expr::cust(dialect.json_from_text("\"v\".\"column2\"")))
            .from(TableRef::ValuesList(rows, v.clone()))
            .and_where(self.key().equals((v, Alias::new("column1"))))
            .and_where(self.metadata().is_null())
            .to_owned();
        Ok(conn.execute(&stmt).await?.rows_affected())
    }
}

/// Backfill the facts table (`semantic_facts`, or AICO's `user_memories`) on `db` in batches of `batch_size`; `progress` hears the number of
/// facts handled so far (and the total, once) as the run goes.
///
/// A batch is the next `batch_size` rows in id order, its end found on the primary key's index (a
/// bounded `OFFSET` past the previous batch's end: keyset paging, never an offset from the start).
/// In one write transaction per batch, one set-based `UPDATE` fills the facts whose `created_at`
/// SQL can turn into the canonical text by itself ([`Dialect::canonical_timestamp`]); the others
/// are read, parsed in Rust and written by one `UPDATE ... FROM (VALUES ...)`, or listed as bad.
pub async fn backfill(
    db: &Db,
    batch_size: u64,
    dry_run: bool,
    mut progress: impl FnMut(Progress),
) -> Result<SqlBackfill, AppError> {
    let plan = Plan::of(db).await?;
    let mut report = SqlBackfill {
        candidates: plan.count(&db.conn, plan.pending(None, None)).await.map_err(|e| db.error(e))?,
        ..Default::default()
    };
    progress(Progress::Total(report.candidates));

    let mut after: Option<String> = None;
    let mut handled = 0u64;
    loop {
        let upper = plan.batch_end(&db.conn, after.as_deref(), batch_size).await.map_err(|e| db.error(e))?;
        let pending = plan.pending(after.take().as_deref(), upper.as_deref());

        let txn = match dry_run {
            true => None,
            false => Some(db.dialect.begin_write(&db.conn).await.map_err(|e| db.error(e))?),
        };
        let (by_sql, rest) = match &txn {
            None => (
                plan.count(&db.conn, pending.clone().add(plan.by_sql(true))).await.map_err(|e| db.error(e))?,
                plan.rest(&db.conn, pending).await.map_err(|e| db.error(e))?,
            ),
            Some(txn) => (
                plan.fill(txn, pending.clone()).await.map_err(|e| db.error(e))?,
                plan.rest(txn, pending).await.map_err(|e| db.error(e))?,
            ),
        };
        handled += by_sql + rest.len() as u64;

        let mut rows = Vec::with_capacity(rest.len());
        for (id, created_at) in rest {
            match initial_metadata(created_at.as_deref()) {
                Ok(meta) => rows.push(ValueTuple::Two(Value::from(id), Value::from(meta))),
                Err(reason) => {
                    report.bad_count += 1;
                    tracing::info!(id = %id, "left as it was: {reason}");
                    if report.bad_rows.len() < LISTED_BAD_ROWS {
                        report.bad_rows.push(BadRow { id, created_at, reason });
                    }
                }
            }
        }
        let by_rust = match &txn {
            Some(txn) if !rows.is_empty() => plan.write_batch(db.dialect, txn, rows).await.map_err(|e| db.error(e))?,
            _ => rows.len() as u64,
        };
        if let Some(txn) = txn {
            txn.commit().await.map_err(|e| db.error(e))?;
        }
        if by_sql + by_rust > 0 {
            report.filled += by_sql + by_rust;
            report.batches += 1;
        }
        progress(Progress::Done(handled));
        match upper {
            Some(hi) => after = Some(hi),
            None => break,
        }
    }
    Ok(report)
}

/// How far a backfill is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Facts that need metadata, counted when the run starts.
    Total(u64),
    /// Facts handled so far.
    Done(u64),
}

#[cfg(test)]
mod tests {
    use super::initial_metadata;

    #[test]
    fn initial_metadata_follows_the_seed() {
        let meta = initial_metadata(Some("2025-11-07 18:00:00")).expect("sqlite format");
        assert_eq!(
            meta,
            r#"{"created_at":"2025-11-07T18:00:00Z","last_updated":"2025-11-07T18:00:00Z","last_accessed":"2025-11-07T18:00:00Z","access_count":0,"confidence":1.0,"version":1,"superseded_by":null}"#
        );
        assert!(initial_metadata(None).expect_err("null").contains("NULL"));
        assert!(initial_metadata(Some("yesterday")).expect_err("bad").contains("yesterday"));
    }
}
