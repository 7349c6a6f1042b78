//! What a walk is: where its batches begin and end, and what it does with each batch; and the
//! walks along a column in order ([`Rowids`], [`KeyOrder`]).

use std::marker::PhantomData;
use std::time::Instant;

use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Order, Query, Value};
use sea_orm::{ConnectionTrait, DbErr, TryGetable};

use super::SqlBackfill;
use super::facts::{Facts, commit_batch};
use crate::error::AppError;
use crate::sql::Db;

/// A way through the facts table in batches.
pub(super) trait Walk {
    /// About how many facts a batch holds, as the walk was built with.
    fn batch_size(&self) -> u64;

    /// The end of the batch after `after` in the walk's order (None: the batch after `after` is
    /// the last).
    async fn batch_end<C: ConnectionTrait>(&self, conn: &C, after: Option<&Value>) -> Result<Option<Value>, DbErr>;

    /// `pending` narrowed to the rows between `after` and `upto` (a bound that is None is open).
    fn bound(&self, pending: Condition, after: Option<&Value>, upto: Option<&Value>) -> Condition;

    /// The order the walk reads rows in.
    fn order(&self) -> Expr;

    /// How many of its batches may be written at once, each in its own transaction on its own
    /// connection: one, unless the backend lets writers work side by side.
    fn at_once(&self) -> usize {
        1
    }

    /// The rows of `pending` that the set-based fill left, read in the batch's transaction to be
    /// judged in Rust: the unreadable ones, and on PostgreSQL any row that a live writer changed
    /// while the fill ran, which its recheck by `ctid` then skips. (key, created_at) each.
    async fn left_by_fill<C: ConnectionTrait>(
        &self,
        txn: &C,
        facts: &Facts,
        pending: Condition,
    ) -> Result<Vec<(String, Option<String>)>, DbErr> {
        facts.read(txn, pending, self.order()).await
    }

    /// Write one batch, the rows of `pending`, in one transaction: the set-based fill, then the
    /// rows it left ([`Walk::left_by_fill`]), judged in Rust and written (or listed as bad). How
    /// many facts it handled.
    async fn write(
        &self,
        db: &Db,
        facts: &Facts,
        pending: Condition,
        report: &mut SqlBackfill,
    ) -> Result<u64, AppError> {
        let txn = db.dialect.begin_batch(&db.conn).await.map_err(|e| db.error(e))?;
        let began = Instant::now();
        let by_sql = facts.fill(&txn, pending.clone()).await.map_err(|e| db.error(e))?;
        let rest = self.left_by_fill(&txn, facts, pending).await.map_err(|e| db.error(e))?;
        let handled = by_sql + rest.len() as u64;
        let rows = report.judge_all(rest);
        let by_rust = match rows.is_empty() {
            true => 0,
            false => facts.write(&txn, rows).await.map_err(|e| db.error(e))?,
        };
        commit_batch(db, txn, began, by_sql + by_rust).await?;
        report.add_batch(by_sql + by_rust);
        Ok(handled)
    }

    /// After the last batch of a run that writes; `done` hears how many more facts it handled.
    async fn finish(
        &self,
        _db: &Db,
        _facts: &Facts,
        _report: &mut SqlBackfill,
        _done: impl FnMut(u64),
    ) -> Result<(), AppError> {
        Ok(())
    }
}

/// The batches of a walk, in order: each the condition that selects its facts still without
/// metadata.
pub(super) struct Batches<'w, W> {
    walk: &'w W,
    /// The end of the last batch.
    after: Option<Value>,
    done: bool,
}

impl<'w, W: Walk> Batches<'w, W> {
    /// The batches along `walk`.
    pub(super) fn new(walk: &'w W) -> Self {
        Self { walk, after: None, done: false }
    }

    /// The next batch: `missing`, the facts without metadata, narrowed to it.
    pub(super) async fn next<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        missing: Condition,
    ) -> Result<Option<Condition>, DbErr> {
        if self.done {
            return Ok(None);
        }
        let upper = self.walk.batch_end(conn, self.after.as_ref()).await?;
        let pending = self.walk.bound(missing, self.after.take().as_ref(), upper.as_ref());
        match upper {
            Some(hi) => self.after = Some(hi),
            None => self.done = true,
        }
        Ok(Some(pending))
    }
}

/// A walk along a column of the facts table in order, whose values are `P`: a batch ends
/// `batch_size` rows past the previous batch's end (a bounded `OFFSET` on the column's b-tree,
/// never from the start).
pub(super) struct Along<P> {
    table: &'static str,
    column: &'static str,
    batch_size: u64,
    position: PhantomData<P>,
}

/// The walk by `rowid` ranges (SQLite, a table with a rowid): the order SQLite stores rows in, so a
/// walk reads and writes each page once, where a walk by a random key (AICO's uuid4 `fact_id`)
/// touches pages all over the table in every batch.
pub(super) type Rowids = Along<i64>;

/// The walk in key order (text: `id`, or AICO's `fact_id`): where the backend offers no range scan
/// in storage order (a SQLite table without a rowid; PostgreSQL before 14, which has no TID range
/// scan).
pub(super) type KeyOrder = Along<String>;

impl<P> Along<P> {
    /// The walk along `table`'s column `column`, `batch_size` rows a batch.
    pub(super) fn new(table: &'static str, column: &'static str, batch_size: u64) -> Self {
        Self { table, column, batch_size, position: PhantomData }
    }

    /// The column as SQL.
    fn expr(&self) -> Expr {
        Expr::col((Alias::new(self.table), Alias::new(self.column)))
    }
}

impl<P: TryGetable + Into<Value>> Walk for Along<P> {
    fn batch_size(&self) -> u64 {
        self.batch_size
    }

    /// The position `batch_size` rows past `after`.
    async fn batch_end<C: ConnectionTrait>(&self, conn: &C, after: Option<&Value>) -> Result<Option<Value>, DbErr> {
        let mut stmt = Query::select();
        stmt.expr_as(self.expr(), "k").from(Alias::new(self.table));
        if let Some(lo) = after {
            stmt.and_where(self.expr().gt(lo.clone()));
        }
        stmt.order_by_expr(self.expr(), Order::Asc).offset(self.batch_size.saturating_sub(1)).limit(1);
        let Some(row) = conn.query_one(&stmt).await? else { return Ok(None) };
        Ok(Some(row.try_get::<P>("", "k")?.into()))
    }

    /// Positions in `(after, upto]`.
    fn bound(&self, pending: Condition, after: Option<&Value>, upto: Option<&Value>) -> Condition {
        pending
            .add_option(after.map(|lo| self.expr().gt(lo.clone())))
            .add_option(upto.map(|hi| self.expr().lte(hi.clone())))
    }

    fn order(&self) -> Expr {
        self.expr()
    }
}
