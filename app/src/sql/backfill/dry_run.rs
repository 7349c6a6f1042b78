//! The dry run: any walk's batches, counted and judged as a run would fill them, with nothing
//! written.

use sea_orm::sea_query::{Condition, Expr};

use super::SqlBackfill;
use super::facts::Facts;
use crate::error::AppError;
use crate::sql::Db;

/// What a run along a walk would fill, batch by batch.
pub(super) struct DryRun<'a> {
    facts: &'a Facts,
    /// The walk's order, in which the rows left to Rust are read (and so listed).
    order: Expr,
}

impl<'a> DryRun<'a> {
    /// A dry run over `facts` along a walk in `order`.
    pub(super) fn new(facts: &'a Facts, order: Expr) -> Self {
        Self { facts, order }
    }

    /// Count the rows of `pending` SQL would fill, and judge in Rust those it would not; how many
    /// facts it handled.
    pub(super) async fn batch(&self, db: &Db, pending: Condition, report: &mut SqlBackfill) -> Result<u64, AppError> {
        let facts = self.facts;
        let by_sql = facts.count(&db.conn, pending.clone().add(facts.sql_can_fill())).await.map_err(|e| db.error(e))?;
        let rest = facts
            .read(&db.conn, pending.add(facts.left_to_rust()), self.order.clone())
            .await
            .map_err(|e| db.error(e))?;
        let handled = by_sql + rest.len() as u64;
        let by_rust = report.judge_all(rest).len() as u64;
        report.add_batch(by_sql + by_rust);
        Ok(handled)
    }
}
