//! The SQL store's backfill: give every fact without temporal metadata the seed's initial metadata,
//! derived from the fact's own `created_at`.
//!
//! Batches in the order the rows are stored (SQLite's `rowid`, PostgreSQL's heap blocks; the key
//! for a SQLite table without a rowid, and on PostgreSQL before 14), one write transaction each,
//! whose statements touch only rows whose metadata is still NULL: metadata that exists (or that
//! AICO writes meanwhile) is never overwritten, no other column is written, and a run killed at
//! any moment is finished by the next one. One set-based `UPDATE` per batch builds the metadata
//! wherever `created_at` can be read (on SQLite with the Rust of
//! [`crate::sql::initial_metadata`], run inside SQLite; on PostgreSQL in SQL); Rust judges the
//! rest and lists the bad rows. Memory is one batch.
//!
//! The walks: `walk.rs` (what a walk is, and the walks along a column: SQLite's `rowid` ranges, or
//! the key for a SQLite table without a rowid and on PostgreSQL before 14), `blocks.rs`
//! (PostgreSQL's heap blocks, with the sweep that ends that walk); `dry_run.rs` runs any of them
//! without writing; `checkpoint.rs` moves SQLite's checkpoints beside the batches. What every walk
//! reads and writes of the facts table is in `facts.rs`. The dialect says how the backend fills
//! the metadata in SQL ([`crate::sql::dialect::StoreDialect::metadata_fill`]) and the order it
//! stores rows in; [`backfill`] builds the walk for that order, with its batch size.
//!
//! The facts table is the seed's `semantic_facts` (keyed by `id`) or, on AICO's own database,
//! `user_memories` (keyed by `fact_id`, a uuid4).

mod blocks;
mod checkpoint;
mod dry_run;
mod facts;
mod walk;

use aico_connect::dialect::StorageOrder;
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use migration::catalog::Layout;
use sea_orm::sea_query::{Value, ValueTuple};
use serde::Serialize;

use self::blocks::Blocks;
use self::checkpoint::Checkpoints;
use self::dry_run::DryRun;
use self::facts::Facts;
pub(crate) use self::facts::initial_metadata_sql;
use self::walk::{Batches, KeyOrder, Rowids, Walk};
use crate::error::AppError;
use crate::report::BadItems;
use crate::sql::dialect::StoreDialect;
use crate::sql::initial_metadata::initial_metadata;
use crate::sql::{Db, reads};

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
    pub without_temporal: u64,
    /// Facts this run filled (for a dry run: would fill).
    pub filled: u64,
    /// Batches written.
    pub batches: u64,
    /// Facts left as they were because their `created_at` is missing or unreadable.
    #[serde(flatten)]
    pub bad: BadItems<BadRow>,
}

impl SqlBackfill {
    /// True when every fact that needed metadata has it.
    pub fn complete(&self) -> bool {
        self.bad.is_empty()
    }

    /// Add what one batch did (its own report) to the run's.
    fn absorb(&mut self, batch: SqlBackfill) {
        self.filled += batch.filled;
        self.batches += batch.batches;
        self.bad.extend(batch.bad);
    }

    /// Count a batch that filled `rows` facts (one that filled none is not counted).
    fn add_batch(&mut self, rows: u64) {
        if rows > 0 {
            self.filled += rows;
            self.batches += 1;
        }
    }

    /// Judge each of `rest` (key, `created_at`) in Rust: the metadata of those it can fill, as
    /// rows (key, metadata) to write; the others are counted and listed as bad.
    fn judge_all(&mut self, rest: Vec<(String, Option<String>)>) -> Vec<ValueTuple> {
        let mut rows = Vec::with_capacity(rest.len());
        for (id, created_at) in rest {
            self.judge(id, created_at, &mut rows);
        }
        rows
    }

    /// Judge the fact `id` in Rust: its metadata goes to `rows` (key, metadata), or it is
    /// counted and listed as bad.
    fn judge(&mut self, id: String, created_at: Option<String>, rows: &mut Vec<ValueTuple>) {
        match initial_metadata(created_at.as_deref()) {
            Ok(meta) => rows.push(ValueTuple::Two(Value::from(id), Value::from(meta))),
            Err(reason) => {
                tracing::info!(id = %id, "left as it was: {reason}");
                self.bad.add(|| BadRow { id, created_at, reason });
            }
        }
    }
}

/// How far a backfill is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Facts that need metadata, counted when the run starts.
    Total(u64),
    /// Facts handled so far.
    Done(u64),
}

/// Backfill the facts table of `layout` (`semantic_facts`, or AICO's `user_memories`) on `db` in batches of
/// `batch_size`; `progress` hears the number of facts handled so far (and the total, once) as the
/// run goes.
///
/// A batch is the next `batch_size` rows in the walk's order (SQLite's `rowid`, else the key): its
/// end is the position `batch_size` rows past the previous batch's end (a bounded `OFFSET` on the
/// table's b-tree or the key's index, never from the start); on PostgreSQL, as many heap blocks as
/// hold about `batch_size` of the rows to fill, and then the sweep (see `blocks.rs`). In one write
/// transaction per batch, one set-based `UPDATE` fills the facts whose metadata SQL can build; the
/// others are read, judged in Rust and written by one `UPDATE ... FROM (VALUES ...)`, or listed as
/// bad.
pub async fn backfill(
    db: &Db,
    layout: Layout,
    batch_size: u64,
    dry_run: bool,
    mut progress: impl FnMut(Progress),
) -> Result<SqlBackfill, AppError> {
    let (table, key) = layout.facts();
    let missing =
        |column: &str| AppError::NotMigrated { target: db.target.to_string(), what: format!("{table}.{column}") };
    reads::require_metadata_column(db, table).await?;
    let (created, declared) = fact_time(db, table, layout.fact_dated_by(), missing).await?;
    // How the backend builds the metadata in SQL (NULL where it cannot: those rows are Rust's).
    let fill = db.dialect.metadata_fill(&created, &declared);
    let facts = Facts::new(db.dialect, table, key, db.dialect.timestamp_text(&created, &declared), fill);
    let mut run = Run {
        db,
        facts: &facts,
        dry_run,
        report: SqlBackfill {
            without_temporal: facts.count(&db.conn, facts.missing()).await.map_err(|e| db.error(e))?,
            ..Default::default()
        },
        handled: 0,
        progress: &mut progress,
    };
    // The walk: the order the backend stores rows in, where it can range over it, else the key.
    match db.dialect.storage_order(&db.conn, table).await.map_err(|e| db.error(e))? {
        Some(StorageOrder::Column(column)) => run.walk(Rowids::new(table, column, batch_size)).await?,
        Some(StorageOrder::Blocks) => {
            let walk = Blocks::new(db, table, run.report.without_temporal, batch_size).await?;
            run.walk(walk).await?
        }
        None => run.walk(KeyOrder::new(table, key, batch_size)).await?,
    }
    Ok(run.report)
}

/// The SQL that dates a fact, from the facts table's columns `dated_by` (the first that is not
/// NULL: [`migration::catalog::Layout::fact_dated_by`]) of `table`, and its declared type: the column itself
/// for one; `COALESCE` of several of one type; else `COALESCE` of each as the text a lenient
/// parser reads, typed as text. `missing` is the error for a column the table lacks.
async fn fact_time(
    db: &Db,
    table: &str,
    dated_by: &[&'static str],
    missing: impl Fn(&str) -> AppError,
) -> Result<(String, String), AppError> {
    let mut typed = Vec::new();
    for column in dated_by {
        let declared = db.dialect.column_type(&db.conn, table, column).await.map_err(|e| db.error(e))?;
        typed.push((*column, declared.ok_or_else(|| missing(column))?));
    }
    Ok(match typed.as_slice() {
        [(column, declared)] => ((*column).to_owned(), declared.clone()),
        [(_, first), rest @ ..] if rest.iter().all(|(_, d)| d == first) => {
            let columns: Vec<&str> = typed.iter().map(|(c, _)| *c).collect();
            (format!("COALESCE({})", columns.join(", ")), first.clone())
        }
        _ => {
            let texts: Vec<String> = typed.iter().map(|(c, d)| db.dialect.timestamp_text(c, d)).collect();
            (format!("COALESCE({})", texts.join(", ")), "text".to_owned())
        }
    })
}

/// One backfill run, as it goes.
struct Run<'a, P: FnMut(Progress)> {
    db: &'a Db,
    facts: &'a Facts,
    /// Whether to count what a run would fill, and write nothing.
    dry_run: bool,
    report: SqlBackfill,
    /// Facts handled so far.
    handled: u64,
    progress: &'a mut P,
}

impl<P: FnMut(Progress)> Run<'_, P> {
    /// Go through the facts table along `walk`, batch by batch, and end the walk.
    async fn walk<W: Walk>(&mut self, walk: W) -> Result<(), AppError> {
        let db = self.db;
        (self.progress)(Progress::Total(self.report.without_temporal));
        let dry_run = self.dry_run.then(|| DryRun::new(self.facts, walk.order()));
        // A run of one batch leaves its checkpoint to SQLite (a second connection would cost more).
        let mut checkpoints = match dry_run.is_none() && self.report.without_temporal > walk.batch_size() {
            true => Checkpoints::start(db, checkpoint::RESTART_FRAMES).await?,
            false => None,
        };
        let walked = self.batches(&walk, dry_run.as_ref(), checkpoints.as_mut()).await;
        if let Some(checkpoints) = checkpoints {
            checkpoints.finish(db).await?;
        }
        walked?;
        if dry_run.is_none() {
            let (handled, progress) = (&mut self.handled, &mut self.progress);
            walk.finish(db, self.facts, &mut self.report, |rows| {
                *handled += rows;
                progress(Progress::Done(*handled));
            })
            .await?;
        }
        Ok(())
    }

    /// Every batch along `walk` (counted, not written, for a dry run), as many at once as the walk
    /// allows ([`Walk::at_once`]; one for a dry run), each on its own connection; after each
    /// commit, `checkpoints` start copying it into the database file.
    async fn batches<W: Walk>(
        &mut self,
        walk: &W,
        dry_run: Option<&DryRun<'_>>,
        mut checkpoints: Option<&mut Checkpoints>,
    ) -> Result<(), AppError> {
        let (db, facts) = (self.db, self.facts);
        let at_once = if dry_run.is_some() { 1 } else { walk.at_once() };
        let mut batches = Batches::new(walk);
        let mut in_flight = FuturesOrdered::new();
        let mut walked = false;
        loop {
            while !walked && in_flight.len() < at_once {
                match batches.next(&db.conn, facts.missing()).await.map_err(|e| db.error(e))? {
                    Some(pending) => in_flight.push_back(async move {
                        let mut batch = SqlBackfill::default();
                        let handled = match dry_run {
                            Some(dry_run) => dry_run.batch(db, pending, &mut batch).await?,
                            None => walk.write(db, facts, pending, &mut batch).await?,
                        };
                        Ok::<_, AppError>((handled, batch))
                    }),
                    None => walked = true,
                }
            }
            let Some(done) = in_flight.next().await else { return Ok(()) };
            let (handled, batch) = done?;
            self.handled += handled;
            self.report.absorb(batch);
            if let Some(checkpoints) = checkpoints.as_deref_mut() {
                checkpoints.committed().await;
            }
            (self.progress)(Progress::Done(self.handled));
        }
    }
}
