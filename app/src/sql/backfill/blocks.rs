//! The walk by heap blocks (PostgreSQL 14 and later: a TID range scan), and the sweep that ends it.
//!
//! A row that a live writer updates on PostgreSQL gets a new place, possibly in a block the walk
//! has passed; so the walk's batches only run the set-based fill, and the walk ends with a sweep:
//! one read of every row still without metadata, in one snapshot, whose rows Rust judges and
//! fills by key (see [`Blocks::finish`]).

use std::time::Instant;

use aico_connect::dialect::Dialect;
use futures_util::TryStreamExt;
use sea_orm::sea_query::{Condition, Expr, Value};
use sea_orm::{ConnectionTrait, DbErr, StreamTrait};

use super::SqlBackfill;
use super::facts::{Facts, commit_batch};
use super::walk::Walk;
use crate::error::AppError;
use crate::sql::Db;
use crate::sql::blockwise::{AT_ONCE, blocks_per_batch};
use crate::sql::dialect::StoreDialect;

/// Ranges of `per_batch` heap blocks, from block 0 up to the table's end when the walk began.
pub(super) struct Blocks {
    /// About how many facts a batch holds, and how many the sweep judges per transaction.
    batch_size: u64,
    /// Blocks per batch.
    per_batch: i64,
    /// The table's blocks when the walk began.
    end: i64,
}

impl Blocks {
    /// The walk over `table`'s blocks as they are now: blocks enough per batch to hold about
    /// `batch_size` of the `candidates` rows to fill, as they are spread now; but never fewer
    /// batches than run at once, so that a small table (a user's thousands of facts) keeps both
    /// cores busy too ([`blocks_per_batch`]).
    pub(super) async fn new(db: &Db, table: &str, candidates: u64, batch_size: u64) -> Result<Self, AppError> {
        let end = db.dialect.table_blocks(&db.conn, table).await.map_err(|e| db.error(e))?;
        Ok(Self { batch_size, per_batch: blocks_per_batch(end, candidates, batch_size), end })
    }
}

impl Walk for Blocks {
    fn batch_size(&self) -> u64 {
        self.batch_size
    }

    /// `per_batch` blocks past `after`, up to the table's end when the walk began: past it are
    /// only rows written since (by AICO, or by this run: a rewritten row moves), which the sweep
    /// reads.
    async fn batch_end<C: ConnectionTrait>(&self, _conn: &C, after: Option<&Value>) -> Result<Option<Value>, DbErr> {
        let upto = block(after).unwrap_or(0).saturating_add(self.per_batch);
        Ok((upto < self.end).then(|| Value::from(upto)))
    }

    /// Blocks in `[after, upto)`, up to the table's end when the walk began.
    fn bound(&self, pending: Condition, after: Option<&Value>, upto: Option<&Value>) -> Condition {
        pending.add(Expr::cust(Dialect::postgres_in_blocks(block(after).unwrap_or(0), block(upto).unwrap_or(self.end))))
    }

    /// The tuple id, by which the rows are read in order.
    fn order(&self) -> Expr {
        Expr::cust("ctid")
    }

    /// Two: PostgreSQL runs each connection's statement in a process of its own, and the batches'
    /// block ranges never share a row, so the second core works on the next batch.
    fn at_once(&self) -> usize {
        AT_ONCE
    }

    /// None in the batch: what the set-based fill leaves is read once, by the sweep.
    async fn left_by_fill<C: ConnectionTrait>(
        &self,
        _txn: &C,
        _facts: &Facts,
        _pending: Condition,
    ) -> Result<Vec<(String, Option<String>)>, DbErr> {
        Ok(Vec::new())
    }

    /// The sweep: every fact still without metadata, read in one statement (one snapshot, so no
    /// row can move out of its sight), judged in Rust, and filled by key in batches of
    /// `batch_size`, each its own transaction, or listed as bad. That is the rows SQL cannot fill,
    /// any that a live writer changed or moved while the walk ran (to a block it had passed, or
    /// one its `ctid` join then missed), and facts written since the walk began. `done` hears how
    /// many facts each batch handled.
    async fn finish(
        &self,
        db: &Db,
        facts: &Facts,
        report: &mut SqlBackfill,
        mut done: impl FnMut(u64),
    ) -> Result<(), AppError> {
        let stmt = facts.select(facts.missing());
        // The stream holds one connection; the writes take others from the pool.
        let began = Instant::now();
        let mut stream = db.conn.stream(&stmt).await.map_err(|e| db.error(e))?;
        let mut rows = Vec::new();
        let (mut judged, mut read) = (0u64, 0u64);
        loop {
            let row = stream.try_next().await.map_err(|e| db.error(e))?;
            if let Some(row) = &row {
                let id: String = row.try_get("", "k").map_err(|e| db.error(e))?;
                let created_at = row.try_get("", "created_at").map_err(|e| db.error(e))?;
                report.judge(id, created_at, &mut rows);
                judged += 1;
                read += 1;
            }
            // A batch is `batch_size` facts judged (those filled are among them).
            if judged >= self.batch_size || row.is_none() {
                if !rows.is_empty() {
                    let txn = db.dialect.begin_batch(&db.conn).await.map_err(|e| db.error(e))?;
                    let began = Instant::now();
                    let filled = facts.write(&txn, std::mem::take(&mut rows)).await.map_err(|e| db.error(e))?;
                    commit_batch(db, txn, began, filled).await?;
                    report.add_batch(filled);
                }
                done(std::mem::take(&mut judged));
            }
            if row.is_none() {
                tracing::debug!(rows = read, sweep_ms = began.elapsed().as_secs_f64() * 1e3, "sweep done");
                return Ok(());
            }
        }
    }
}

/// A position of a walk by blocks: a block number.
fn block(position: Option<&Value>) -> Option<i64> {
    match position {
        Some(Value::BigInt(Some(b))) => Some(*b),
        _ => None,
    }
}
