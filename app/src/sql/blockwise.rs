//! A set-based `UPDATE` run over a PostgreSQL table's heap blocks, batch by batch (AICO's
//! segments and working memory): each batch is one statement, so one transaction, over a range
//! of blocks (a TID range scan), two at once on their own connections; and a sweep of the whole
//! table at the end for rows that moved behind the walk meanwhile (a live writer's update) or were
//! written since it began. The statement itself must touch only rows that still need it: a
//! run killed at any moment is finished by the next one, which skips what is done.

use aico_connect::dialect::Dialect;
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::error::AppError;
use crate::sql::Db;
use crate::sql::dialect::StoreDialect;

/// Batches written at once: PostgreSQL runs each connection's statement in a process of its own.
pub(crate) const AT_ONCE: usize = 2;

/// Blocks per batch, for a table of `end` blocks holding `rows` rows to write: about
/// `batch_size` rows a batch, but never fewer batches than [`AT_ONCE`], so that a small table (a
/// user's thousands of rows) keeps both cores busy too.
pub(crate) fn blocks_per_batch(end: i64, rows: u64, batch_size: u64) -> i64 {
    let rows = i64::try_from(Ord::max(rows, 1)).unwrap_or(i64::MAX);
    let size = i64::try_from(batch_size).unwrap_or(i64::MAX);
    let at_once = i64::try_from(AT_ONCE).unwrap_or(1);
    Ord::max(Ord::min(size.saturating_mul(end) / rows, (end + at_once - 1) / at_once), 1)
}

/// An `UPDATE` whose `WHERE` ends in `AND {blocks}`, the placeholder for the batch's block range.
pub(crate) struct BlockUpdate {
    /// The statement, with [`BLOCKS`] where the block range goes.
    pub sql: String,
    /// Its bound values.
    pub values: Vec<Value>,
}

/// Where [`BlockUpdate::sql`] takes the batch's block range (`true` for the sweep).
pub(crate) const BLOCKS: &str = "{blocks}";

/// What a walk did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Walked {
    /// Rows updated.
    pub rows: u64,
    /// Batches that updated at least one row.
    pub batches: u64,
}

impl BlockUpdate {
    fn statement(&self, blocks: &str) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, self.sql.replace(BLOCKS, blocks), self.values.clone())
    }

    /// Run it over `table`'s blocks as they are now, batches of about `batch_size` of the table's
    /// `rows` rows, then once over the whole table; `progress` hears the rows updated so far.
    pub(crate) async fn walk(
        &self,
        db: &Db,
        table: &str,
        rows: u64,
        batch_size: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<Walked, AppError> {
        let end = db.dialect.table_blocks(&db.conn, table).await.map_err(|e| db.error(e))?;
        let per_batch = blocks_per_batch(end, rows, batch_size);
        let ranges =
            (0..end).step_by(usize::try_from(per_batch).unwrap_or(usize::MAX)).map(|from| (from, from + per_batch));
        let mut walked = Walked::default();
        let mut batches = futures_util::stream::iter(ranges)
            .map(|(from, to)| {
                let stmt = self.statement(&Dialect::postgres_in_blocks(from, to));
                async move { db.conn.execute_raw(stmt).await.map(|r| r.rows_affected()) }
            })
            .buffered(AT_ONCE);
        while let Some(done) = batches.next().await {
            let n = done.map_err(|e| db.error(e))?;
            walked.add(n);
            progress(walked.rows);
        }
        let swept = db.conn.execute_raw(self.statement("true")).await.map_err(|e| db.error(e))?.rows_affected();
        if swept > 0 {
            tracing::debug!(table, rows = swept, "sweep filled rows the walk did not reach");
        }
        walked.add(swept);
        progress(walked.rows);
        Ok(walked)
    }
}

impl Walked {
    fn add(&mut self, rows: u64) {
        if rows > 0 {
            self.rows += rows;
            self.batches += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::blocks_per_batch;

    #[test]
    fn a_small_table_is_split_so_that_two_batches_run_at_once() {
        // 5,000 rows in 190 blocks, batches of 5,000: two batches of 95 blocks, not one.
        assert_eq!(blocks_per_batch(190, 5_000, 5_000), 95);
        // 300,000 rows in 11,400 blocks: about 5,000 a batch, as before.
        assert_eq!(blocks_per_batch(11_400, 300_000, 5_000), 190);
        assert_eq!(blocks_per_batch(1, 3, 5_000), 1);
        assert_eq!(blocks_per_batch(0, 0, 5_000), 1);
    }
}
