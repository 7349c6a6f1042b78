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
//! A row that a live writer updates on PostgreSQL gets a new place, possibly in a block the walk
//! has passed; so a walk by blocks ends with a sweep: one read of every row still without
//! metadata, in one snapshot, whose rows Rust judges and fills by key (see [`Plan::sweep`]).
//!
//! The facts table is the seed's `semantic_facts` (keyed by `id`) or, on AICO's own database,
//! `user_memories` (keyed by `fact_id`, a uuid4).

use std::time::Instant;

use aico_connect::dialect::{Dialect, StorageOrder};
use entity::values::TemporalMetadata;
use futures_util::TryStreamExt;
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, IntoIden, Order, Query, SelectStatement, TableRef, Value, ValueTuple,
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, StreamTrait};
use serde::Serialize;

use crate::error::AppError;
use crate::sql::Db;
use crate::sql::initial_metadata::{SQLITE_FUNCTION, initial_metadata};

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

    /// Count a batch that filled `rows` facts (one that filled none is not counted).
    fn add_batch(&mut self, rows: u64) {
        if rows > 0 {
            self.filled += rows;
            self.batches += 1;
        }
    }

    /// Judge the fact `id` in Rust: its metadata goes to `rows` (key, metadata), or it is
    /// counted and listed as bad.
    fn judge(&mut self, id: String, created_at: Option<String>, rows: &mut Vec<ValueTuple>) {
        match initial_metadata(created_at.as_deref()) {
            Ok(meta) => rows.push(ValueTuple::Two(Value::from(id), Value::from(meta))),
            Err(reason) => {
                self.bad_count += 1;
                tracing::info!(id = %id, "left as it was: {reason}");
                if self.bad_rows.len() < LISTED_BAD_ROWS {
                    self.bad_rows.push(BadRow { id, created_at, reason });
                }
            }
        }
    }
}

/// The same metadata built by SQL from `timestamp` (SQL giving the canonical RFC 3339 text): the
/// JSON Rust writes for a sentinel instant with the sentinel's text replaced, so both paths write
/// the same bytes and the layout is defined once, by [`TemporalMetadata`].
fn initial_metadata_sql(dialect: Dialect, timestamp: &str) -> String {
    let (template, sentinel) = TemporalMetadata::initial_json_template();
    // Rust's own JSON for a fixed instant, as SQL string literals ('' doubled).
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    dialect.json_from_text(&format!("replace({}, {}, {timestamp})", literal(template), literal(sentinel)))
}

/// `temporal_metadata`, the column the backfill writes.
const METADATA: &str = "temporal_metadata";

/// How one backend's batches are written: the facts table and its key, the SQL that reads
/// `created_at` as text, and the SQL that builds the metadata where it can (NULL where it cannot:
/// those rows are left to Rust).
struct Plan {
    table: &'static str,
    key: &'static str,
    /// What the walk follows: the order rows are stored in (SQLite's `rowid`, PostgreSQL's heap
    /// blocks) where the backend can range over it, else the key.
    position: Position,
    created_text: String,
    /// NULL exactly where the metadata cannot be built in SQL.
    fillable: String,
    /// The metadata: on SQLite from the row; on PostgreSQL from `b.ts`, `fillable`'s value.
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
        let (fillable, fill) = match db.dialect {
            // The Rust that judges every row, run inside SQLite (see `initial_metadata`).
            Dialect::Sqlite => {
                let call = format!("{SQLITE_FUNCTION}(created_at)");
                (call.clone(), call)
            }
            // Built from `b.ts`, the canonical timestamp computed once per row (see `fill`).
            Dialect::Postgres => (
                db.dialect.canonical_timestamp("created_at", &declared),
                initial_metadata_sql(db.dialect, "\"b\".\"ts\""),
            ),
        };
        let position = match db.dialect.storage_order(&db.conn, table).await.map_err(|e| db.error(e))? {
            Some(StorageOrder::Column(column)) => Position::Storage(column),
            // How many blocks make a batch follows from the rows to fill (see `backfill`).
            Some(StorageOrder::Blocks) => Position::Blocks { per_batch: 1, end: 0 },
            None => Position::Key,
        };
        Ok(Self {
            table,
            key,
            position,
            created_text: db.dialect.timestamp_text("created_at", &declared),
            fillable,
            fill,
        })
    }

    fn table(&self) -> Alias {
        Alias::new(self.table)
    }

    fn key(&self) -> Expr {
        Expr::col((self.table(), Alias::new(self.key)))
    }

    /// The column the walk follows (for a walk by blocks, the tuple id, by which the rows are
    /// read in order).
    fn position(&self) -> Expr {
        match self.position {
            Position::Storage(column) => Expr::col((self.table(), Alias::new(column))),
            Position::Blocks { .. } => Expr::cust("ctid"),
            Position::Key => self.key(),
        }
    }

    fn metadata(&self) -> Expr {
        Expr::col((self.table(), Alias::new(METADATA)))
    }

    /// Rows SQL can fill by itself (or, negated, the ones left to Rust).
    fn by_sql(&self, yes: bool) -> Expr {
        // `fillable` is built by `Dialect` from the catalog's column names (see `Plan::of`).
        Expr::cust(format!("({}) IS {}NULL", self.fillable, if yes { "NOT " } else { "" }))
    }

    /// Facts without metadata (and, when given, at positions in `(after, upto]`).
    /// For a walk by blocks, the positions are block numbers and the range is `[after, upto)`,
    /// up to the table's end when the walk began.
    fn pending(&self, after: Option<&Value>, upto: Option<&Value>) -> Condition {
        let pending = self.metadata_missing();
        if let Position::Blocks { end, .. } = self.position {
            return pending
                .add(Expr::cust(Dialect::postgres_in_blocks(block(after).unwrap_or(0), block(upto).unwrap_or(end))));
        }
        pending
            .add_option(after.map(|lo| self.position().gt(lo.clone())))
            .add_option(upto.map(|hi| self.position().lte(hi.clone())))
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

    /// The position `batch_size` rows past `after` in the walk's order (the last one when fewer
    /// are left).
    async fn batch_end<C: ConnectionTrait>(
        &self,
        conn: &C,
        after: Option<&Value>,
        batch_size: u64,
    ) -> Result<Option<Value>, DbErr> {
        if let Position::Blocks { per_batch, end } = self.position {
            // Up to the table's end when the walk began: past it are only rows written since (by
            // AICO, or by this run: a rewritten row moves), which the sweep reads.
            let upto = block(after).unwrap_or(0).saturating_add(per_batch);
            return Ok((upto < end).then(|| Value::from(upto)));
        }
        let mut stmt = Query::select();
        stmt.expr_as(self.position(), "k").from(self.table());
        if let Some(lo) = after {
            stmt.and_where(self.position().gt(lo.clone()));
        }
        stmt.order_by_expr(self.position(), Order::Asc).offset(batch_size.saturating_sub(1)).limit(1);
        let Some(row) = conn.query_one(&stmt).await? else { return Ok(None) };
        Ok(Some(match self.position {
            Position::Storage(_) | Position::Blocks { .. } => Value::from(row.try_get::<i64>("", "k")?),
            Position::Key => Value::from(row.try_get::<String>("", "k")?),
        }))
    }

    /// Fill the rows of `pending` that SQL can fill; how many it filled.
    ///
    /// On PostgreSQL the canonical timestamp, a long expression, is computed once per row in a
    /// subquery that the planner keeps apart (`OFFSET 0`), and the rows are found again by `ctid`:
    /// `UPDATE <facts> SET temporal_metadata = <from b.ts> FROM (SELECT ctid AS row_id, <canonical>
    /// AS ts FROM <facts> WHERE <pending> OFFSET 0) AS b WHERE <facts>.ctid = b.row_id AND b.ts IS
    /// NOT NULL`.
    async fn fill<C: ConnectionTrait>(&self, dialect: Dialect, conn: &C, pending: Condition) -> Result<u64, DbErr> {
        let mut stmt = Query::update();
        stmt.table(self.table()).value(Alias::new(METADATA), Expr::cust(self.fill.clone()));
        match dialect {
            Dialect::Sqlite => {
                stmt.cond_where(pending.add(self.by_sql(true)));
            }
            Dialect::Postgres => {
                let b = Alias::new("b").into_iden();
                let rows = Query::select()
                    .expr_as(Expr::cust("ctid"), "row_id")
                    .expr_as(Expr::cust(self.fillable.clone()), "ts")
                    .from(self.table())
                    .cond_where(pending)
                    .offset(0)
                    .to_owned();
                stmt.from(TableRef::SubQuery(rows.into(), b.clone()))
                    // `table` is the catalog's facts table (a constant), quoted as sea-query would.
                    .and_where(Expr::cust(format!("\"{}\".ctid = \"b\".\"row_id\"", self.table)))
                    .and_where(Expr::col((b, Alias::new("ts"))).is_not_null());
            }
        }
        Ok(conn.execute(&stmt).await?.rows_affected())
    }

    /// The rows of `pending` left to Rust: key and `created_at` as text. After [`Self::fill`],
    /// every row still pending (the unreadable ones, and on PostgreSQL any row that a live writer
    /// changed while the fill ran, which its recheck by `ctid` then skips); in a dry run, where
    /// nothing was filled, only those SQL cannot fill.
    async fn rest<C: ConnectionTrait>(
        &self,
        conn: &C,
        pending: Condition,
        dry_run: bool,
    ) -> Result<Vec<(String, Option<String>)>, DbErr> {
        let pending = if dry_run { pending.add(self.by_sql(false)) } else { pending };
        let stmt: SelectStatement = Query::select()
            .expr_as(self.key(), "k")
            .expr_as(Expr::cust(self.created_text.clone()), "created_at")
            .from(self.table())
            .cond_where(pending)
            .order_by_expr(self.position(), Order::Asc)
            .to_owned();
        conn.query_all(&stmt)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("", "k")?, row.try_get("", "created_at")?)))
            .collect()
    }

    /// Facts without metadata.
    fn metadata_missing(&self) -> Condition {
        Condition::all().add(self.metadata().is_null())
    }

    /// The end of a walk by blocks: every fact still without metadata, read in one statement
    /// (one snapshot, so no row can move out of its sight), judged in Rust, and filled by key in
    /// batches of `batch_size`, each its own transaction, or listed as bad. That is the rows SQL
    /// cannot fill, any that a live writer changed or moved while the walk ran (to a block it
    /// had passed, or one its `ctid` join then missed), and facts written since the walk began.
    /// `done` hears how many facts each batch handled.
    async fn sweep(
        &self,
        db: &Db,
        batch_size: u64,
        report: &mut SqlBackfill,
        mut done: impl FnMut(u64),
    ) -> Result<(), AppError> {
        let stmt = Query::select()
            .expr_as(self.key(), "k")
            .expr_as(Expr::cust(self.created_text.clone()), "created_at")
            .from(self.table())
            .cond_where(self.metadata_missing())
            .to_owned();
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
            if judged >= batch_size || row.is_none() {
                if !rows.is_empty() {
                    let txn = db.dialect.begin_batch(&db.conn).await.map_err(|e| db.error(e))?;
                    let began = Instant::now();
                    let filled = self.write_batch(db.dialect, &txn, std::mem::take(&mut rows)).await;
                    let filled = filled.map_err(|e| db.error(e))?;
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

/// Backfill the facts table (`semantic_facts`, or AICO's `user_memories`) on `db` in batches of
/// `batch_size`; `progress` hears the number of facts handled so far (and the total, once) as the
/// run goes.
///
/// A batch is the next `batch_size` rows in the walk's order (SQLite's `rowid`, else the key): its
/// end is the position `batch_size` rows past the previous batch's end (a bounded `OFFSET` on the
/// table's b-tree or the key's index, never from the start); on PostgreSQL, as many heap blocks as
/// hold about `batch_size` of the rows to fill, and then the sweep ([`Plan::sweep`]). In one write transaction per batch, one set-based `UPDATE` fills the facts whose metadata
/// SQL can build; the others are read, judged in Rust and written by one `UPDATE ... FROM (VALUES
/// ...)`, or listed as bad.
pub async fn backfill(
    db: &Db,
    batch_size: u64,
    dry_run: bool,
    mut progress: impl FnMut(Progress),
) -> Result<SqlBackfill, AppError> {
    let mut plan = Plan::of(db).await?;
    let mut report = SqlBackfill {
        candidates: plan.count(&db.conn, plan.metadata_missing()).await.map_err(|e| db.error(e))?,
        ..Default::default()
    };
    if let Position::Blocks { per_batch, end } = &mut plan.position {
        // Blocks enough to hold about `batch_size` of the rows to fill, as they are spread now.
        *end = db.dialect.table_blocks(&db.conn, plan.table).await.map_err(|e| db.error(e))?;
        let rows = i64::try_from(Ord::max(report.candidates, 1)).unwrap_or(i64::MAX);
        let size = i64::try_from(batch_size).unwrap_or(i64::MAX);
        *per_batch = Ord::max(size.saturating_mul(*end) / rows, 1);
    }
    progress(Progress::Total(report.candidates));

    let mut after: Option<Value> = None;
    let mut handled = 0u64;
    loop {
        let upper = plan.batch_end(&db.conn, after.as_ref(), batch_size).await.map_err(|e| db.error(e))?;
        let pending = plan.pending(after.take().as_ref(), upper.as_ref());

        let txn = match dry_run {
            true => None,
            false => Some(db.dialect.begin_batch(&db.conn).await.map_err(|e| db.error(e))?),
        };
        let began = Instant::now();
        let (by_sql, rest) = match &txn {
            None => (
                plan.count(&db.conn, pending.clone().add(plan.by_sql(true))).await.map_err(|e| db.error(e))?,
                plan.rest(&db.conn, pending, true).await.map_err(|e| db.error(e))?,
            ),
            Some(txn) => {
                let by_sql = plan.fill(db.dialect, txn, pending.clone()).await.map_err(|e| db.error(e))?;
                let rest = match plan.position {
                    // What is left is read once, by the sweep.
                    Position::Blocks { .. } => Vec::new(),
                    _ => plan.rest(txn, pending, false).await.map_err(|e| db.error(e))?,
                };
                (by_sql, rest)
            }
        };
        handled += by_sql + rest.len() as u64;

        let mut rows = Vec::with_capacity(rest.len());
        for (id, created_at) in rest {
            report.judge(id, created_at, &mut rows);
        }
        let by_rust = match &txn {
            Some(txn) if !rows.is_empty() => plan.write_batch(db.dialect, txn, rows).await.map_err(|e| db.error(e))?,
            _ => rows.len() as u64,
        };
        if let Some(txn) = txn {
            commit_batch(db, txn, began, by_sql + by_rust).await?;
        }
        report.add_batch(by_sql + by_rust);
        progress(Progress::Done(handled));
        match upper {
            Some(hi) => after = Some(hi),
            None => break,
        }
    }
    if let (Position::Blocks { .. }, false) = (plan.position, dry_run) {
        plan.sweep(db, batch_size, &mut report, |rows| {
            handled += rows;
            progress(Progress::Done(handled));
        })
        .await?;
    }
    Ok(report)
}

/// Commit a batch's transaction, begun at `began`, that filled `rows` facts, and log how long it
/// held the write lock (how long AICO's writers had to wait at most for it).
async fn commit_batch(db: &Db, txn: DatabaseTransaction, began: Instant, rows: u64) -> Result<(), AppError> {
    txn.commit().await.map_err(|e| db.error(e))?;
    tracing::debug!(rows, write_lock_ms = began.elapsed().as_secs_f64() * 1e3, "batch committed");
    Ok(())
}

/// A position of a walk by blocks: a block number.
fn block(position: Option<&Value>) -> Option<i64> {
    match position {
        Some(Value::BigInt(Some(b))) => Some(*b),
        _ => None,
    }
}

/// What a backfill's walk follows.
#[derive(Copy, Clone, Debug)]
enum Position {
    /// A column in the order rows are stored (SQLite's `rowid`).
    Storage(&'static str),
    /// Ranges of `per_batch` heap blocks (PostgreSQL), up to `end`.
    Blocks {
        /// Blocks per batch.
        per_batch: i64,
        /// The table's blocks when the walk began.
        end: i64,
    },
    /// The facts table's key.
    Key,
}

/// How far a backfill is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Facts that need metadata, counted when the run starts.
    Total(u64),
    /// Facts handled so far.
    Done(u64),
}
