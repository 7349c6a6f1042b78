//! One table's move: its source rows in storage order, batch by batch; each row converted (or
//! refused, with the reason); the rows the target holds already compared; the others inserted in
//! one transaction per batch, never over a row that is there; each compared as PostgreSQL stored it.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;

use entity::values::{FromJson, TemporalMetadata};

use super::binary::Forms;
use super::checks::{Prepared, qualified};
use super::convert::{Cell, Kind, SqlValue, convert};
use super::error::MoveError;
use super::mapping::{KEY_SEPARATOR, Parent, fact_dated_by, shown_key};
use super::pg::{Dest, TargetColumn};
use super::report::TableMove;
use super::source::Source;
use super::{MoveOptions, Step};
use crate::sql::foreign_keys;
use crate::sql::indexes::{self, Build, Parking};

/// Move (or, on a dry run, plan) the table `p` in batches (`opts`). `parents` holds, per
/// parent, the keys a row's parent may have (the target's and those of the parent table's source
/// rows);
/// `accepted` receives the keys of this table's rows that are in the target afterwards (or would
/// be), for the tables after it.
pub async fn move_table(
    source: &Source,
    dest: &Dest,
    p: &Prepared,
    opts: MoveOptions<'_>,
    parents: &[(Parent, HashSet<String>)],
    accepted: &mut HashSet<String>,
) -> Result<TableMove, MoveError> {
    let mut t = p.nothing_moved();
    let Some(table) = &p.source_table else { return Ok(t) };
    let key = p.map.key;
    let source_keys: Vec<String> = key.iter().map(|k| p.map.source_column(k).to_owned()).collect();
    for _ in 0..source.null_keys(table, &source_keys).await? {
        t.refused.add("NULL", format!("its key {} is NULL", source_keys.join(", ")));
    }
    let order = source.order(table, &source_keys).await?;
    let (into, held) =
        Batch::for_target(dest, p.map.target, key.to_vec(), p.target_columns.clone(), opts.dry_run).await?;
    let target = qualified(p.map.target);
    let aside = set_aside(dest, p, &target, held).await?;
    let written = async {
        // One bound array per column (`Dest::insert`), whatever the batch's size.
        let batch = opts.batch_size.max(1);
        let mut after: Option<SqlValue> = None;
        let mut writes = Writes::new(dest, into);
        loop {
            let rows = source.batch(table, &order, &source_keys, &p.source_columns, after.as_ref(), batch).await?;
            let Some((last, _)) = rows.last() else { break };
            after = Some(last.clone());
            let mut ready = Vec::with_capacity(rows.len());
            // The rows whose metadata the move fills: counted when they are written (or would be).
            let mut filled_keys = HashSet::new();
            let read = rows.len() as u64;
            for (_, mut row) in rows {
                match convert_row(p, &mut row, parents) {
                    Ok((k, cells, filled)) => {
                        if filled {
                            filled_keys.insert(k.clone());
                        }
                        ready.push((k, cells));
                    }
                    Err((k, reason)) => t.refused.add(shown_key(&k), reason),
                }
            }
            writes.push(ready, filled_keys, read, &mut t, accepted, opts.progress).await?;
        }
        writes.finish(&mut t, accepted, opts.progress).await
    }
    .await;
    // Put back what was set aside even when a batch failed (its record stays until it is back).
    if let Some(aside) = aside {
        let back = aside.put_back(&target).await.map_err(|e| dest.index_error(e));
        tracing::info!(table = p.map.target, seconds = back.as_ref().ok(), "AICO's indexes and foreign keys");
        written?;
        (t.indexes, t.foreign_keys, t.index_seconds) = (aside.indexes.plan, aside.foreign_keys.plan, back?);
    } else {
        written?;
    }
    Ok(t)
}

/// Below this many new rows a table's indexes and foreign keys stay in place.
pub const PARK_MIN_ROWS: u64 = 5_000;

/// What a large write set aside on its table, to put back after it.
struct SetAside {
    db: crate::sql::Db,
    indexes: indexes::Aside,
    foreign_keys: foreign_keys::Aside,
}

impl SetAside {
    /// The indexes built again, two at once, and the foreign keys validated again: the seconds.
    async fn put_back(&self, target: &str) -> Result<f64, crate::error::AppError> {
        let parking = Parking { table: target, only: None };
        let built = indexes::put_back(&self.db, parking, &self.indexes, Build::TwoAtOnce).await?;
        Ok(built + foreign_keys::put_back(&self.db, target, &self.foreign_keys).await?)
    }
}

/// Before writing many rows into `p`'s table (`target`, schema-qualified): at least
/// [`PARK_MIN_ROWS`], and at least as many as it holds already, AICO's indexes on it that no
/// constraint needs and its foreign keys are set aside ([`indexes::set_aside_for`],
/// [`foreign_keys::set_aside_for`]; every row's parent is checked by the move itself); or what an
/// earlier run set aside is taken over. Measured on 300,000 facts (PostgreSQL 18, 2 cores): the
/// `INSERT` took 12.6 s with AICO's twelve indexes and its foreign key to `user_profiles`, 3.9 s
/// with the primary key alone and the key; building the eleven afterwards 3.9 s one at a time; the
/// key cost about 3.6 s of the 12.6. `held`: the rows the table holds now; None on a dry run,
/// which sets nothing aside.
async fn set_aside(dest: &Dest, p: &Prepared, target: &str, held: Option<u64>) -> Result<Option<SetAside>, MoveError> {
    let Some(held) = held else { return Ok(None) };
    let new = p.in_source.saturating_sub(held);
    let worth = new >= PARK_MIN_ROWS && new >= held;
    let db = dest.as_db();
    let parking = Parking { table: target, only: None };
    let indexes = indexes::set_aside_for(&db, parking, worth).await.map_err(|e| dest.index_error(e))?;
    let foreign_keys = foreign_keys::set_aside_for(&db, target, worth).await.map_err(|e| dest.index_error(e))?;
    Ok(Some(SetAside { db, indexes, foreign_keys }))
}

/// Batches written at once, each in a transaction on a connection of its own (PostgreSQL works on
/// each in a process of its own), while the next one is read and converted.
const AT_ONCE: usize = 2;

/// One batch written: its figures, the keys the target holds afterwards, the source rows it
/// covered, and its rows' cells, to be freed by the thread that made them ([`Writes::settle_one`]).
type Written = (TableMove, HashSet<String>, u64, Vec<Vec<Cell>>);

/// A batch being written, as a task of its own: the runtime's other thread sends it, reads what
/// PostgreSQL stored and compares it, while this one reads and converts the next batch. Dropped
/// (the move failed or was stopped), the task is aborted and its transaction rolled back.
struct InFlight {
    task: tokio::task::JoinHandle<Result<Written, MoveError>>,
    /// The target (password hidden), for the error of a task that stopped.
    target: String,
}

impl Future for InFlight {
    type Output = Result<Written, MoveError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx).map(|joined| match joined {
            Ok(written) => written,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Only a dropped `InFlight` aborts its task, and then nobody polls it.
                Err(e) => {
                    Err(MoveError::Target { target: self.target.clone(), detail: format!("a batch stopped: {e}") })
                }
            },
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The batches of one table on their way: at most [`AT_ONCE`] in flight; each one's figures are
/// added to the table's as it finishes, in order.
pub(super) struct Writes {
    dest: Dest,
    into: Arc<Batch>,
    in_flight: FuturesOrdered<InFlight>,
}

impl Writes {
    /// Batches of `into` to `dest`.
    pub(super) fn new(dest: &Dest, into: Batch) -> Self {
        Self { dest: dest.clone(), into: Arc::new(into), in_flight: FuturesOrdered::new() }
    }

    /// Start writing `ready` (from `rows` source rows; `filled`: whose metadata the move fills),
    /// once fewer than [`AT_ONCE`] are in flight; what finishes meanwhile goes into `t` and
    /// `accepted`, and `progress` hears of it.
    pub(super) async fn push(
        &mut self,
        ready: Vec<(String, Vec<Cell>)>,
        filled: HashSet<String>,
        rows: u64,
        t: &mut TableMove,
        accepted: &mut HashSet<String>,
        progress: &dyn Fn(Step<'_>),
    ) -> Result<(), MoveError> {
        while self.in_flight.len() >= AT_ONCE {
            self.settle_one(t, accepted, progress).await?;
        }
        let (dest, into) = (self.dest.clone(), Arc::clone(&self.into));
        let target = dest.target.to_string();
        let task = tokio::spawn(async move {
            let mut part = TableMove::nothing_yet(None, into.table, Vec::new(), 0);
            let (present, spent) = write_batch(&dest, &into, ready, &filled, &mut part).await?;
            Ok((part, present, rows, spent))
        });
        self.in_flight.push_back(InFlight { task, target });
        Ok(())
    }

    /// Wait for every batch in flight.
    pub(super) async fn finish(
        mut self,
        t: &mut TableMove,
        accepted: &mut HashSet<String>,
        progress: &dyn Fn(Step<'_>),
    ) -> Result<(), MoveError> {
        while !self.in_flight.is_empty() {
            self.settle_one(t, accepted, progress).await?;
        }
        Ok(())
    }

    async fn settle_one(
        &mut self,
        t: &mut TableMove,
        accepted: &mut HashSet<String>,
        progress: &dyn Fn(Step<'_>),
    ) -> Result<(), MoveError> {
        if let Some(done) = self.in_flight.next().await {
            let (part, present, rows, spent) = done?;
            // Freed here, where they were made: mimalloc frees a block another thread made more
            // slowly (measured on 300,000 facts: about 7% of the move's own CPU).
            drop(spent);
            t.absorb(part);
            accepted.extend(present);
            progress(Step::Rows(rows));
        }
        Ok(())
    }
}

/// Where the batches of a table go: the target table, its key, the columns written (owned: each
/// batch's task shares it).
pub(super) struct Batch {
    /// The table in `aico_core`.
    pub table: &'static str,
    /// Its key columns.
    pub key: Vec<&'static str>,
    /// The columns written, in the order of each row's cells.
    pub columns: Vec<TargetColumn>,
    /// Plan only: count, write nothing.
    pub dry_run: bool,
    /// The columns' binary forms, while batches go by `COPY` ([`Dest::copy`]): from the start
    /// when the table held no rows then, its key is one text column and every column has a form;
    /// until a batch cannot go so, after which the rest go by insert.
    copy: Option<(Forms, AtomicBool)>,
}

impl Batch {
    /// Batches into `table` (key `key`, columns `columns`) as the target holds it now; and the
    /// rows it holds (None on a dry run, which counts nothing). They go by `COPY` when it holds
    /// none, a `COPY` into it does what an insert does ([`Dest::copy_is_insert`]), the key is one
    /// text column and every column has a binary form ([`Forms::of`]).
    pub async fn for_target(
        dest: &Dest,
        table: &'static str,
        key: Vec<&'static str>,
        columns: Vec<TargetColumn>,
        dry_run: bool,
    ) -> Result<(Self, Option<u64>), MoveError> {
        let held = match dry_run {
            true => None,
            false => Some(dest.count(table).await?),
        };
        let copies = held == Some(0) && dest.copy_is_insert(table).await?;
        let text_key = |k: &str| columns.iter().any(|c| c.name == k && c.kind == Kind::Text);
        let copy = match key.as_slice() {
            [k] if copies && text_key(k) => Forms::of(&columns).map(|f| (f, AtomicBool::new(true))),
            _ => None,
        };
        Ok((Self { table, key, columns, dry_run, copy }, held))
    }

    /// The forms to write the next batch by `COPY` with, while that is the way.
    fn copy_forms(&self) -> Option<&Forms> {
        self.copy.as_ref().filter(|(_, on)| on.load(Ordering::Relaxed)).map(|(forms, _)| forms)
    }

    /// The rest go by insert.
    fn stop_copying(&self) {
        if let Some((_, on)) = &self.copy {
            on.store(false, Ordering::Relaxed);
        }
    }
}

/// One batch of converted rows (key, cells): inserted in one transaction, never over a row that is
/// there (`ON CONFLICT DO NOTHING`), each compared as stored: written and the same (verified),
/// there before and the same or different, or kept out by another unique constraint; counted into
/// `t` (a dry run reads and compares only). `filled_keys`: the rows whose temporal metadata the move fills. The keys of the rows
/// the target holds afterwards (on a dry run: would hold), which later tables' rows may name; and
/// the rows' cells, spent.
pub(super) async fn write_batch(
    dest: &Dest,
    b: &Batch,
    ready: Vec<(String, Vec<Cell>)>,
    filled_keys: &HashSet<String>,
    t: &mut TableMove,
) -> Result<(HashSet<String>, Vec<Vec<Cell>>), MoveError> {
    if b.dry_run {
        let keys: Vec<String> = ready.iter().map(|(k, _)| k.clone()).collect();
        let there = dest.read(b.table, &b.key, &b.columns, &keys).await?;
        for (k, cells) in &ready {
            match there.get(k).map(|held| first_difference(cells, held, &b.columns)) {
                None => {
                    t.moved += 1;
                    t.metadata_filled += u64::from(filled_keys.contains(k));
                }
                Some(None) => t.already_same += 1,
                Some(Some(why)) => t.already_different.add(shown_key(k), why),
            }
        }
        return Ok((keys.into_iter().collect(), Vec::new()));
    }
    // Into a table that held none of the move's rows, by `COPY`, while batches can go so. Else
    // every row is offered to the insert: one that the target holds under its key is left as it is
    // (`ON CONFLICT DO NOTHING`). The rows written come back as stored; those that did not are
    // read (there before, or kept out by another unique constraint).
    let new = ready;
    let copied = match (b.copy_forms(), b.key.as_slice()) {
        (Some(forms), [key]) => dest.copy(b.table, key, &b.columns, forms, &new).await?,
        _ => None,
    };
    let inserted = match copied {
        Some(compared) => compared,
        None => {
            b.stop_copying();
            dest.insert(b.table, &b.key, &b.columns, &new).await?
        }
    };
    t.metadata_filled += inserted.keys().filter(|k| filled_keys.contains(*k)).count() as u64;
    let others: Vec<String> = new.iter().filter(|(k, _)| !inserted.contains_key(k)).map(|(k, _)| k.clone()).collect();
    let there = dest.read(b.table, &b.key, &b.columns, &others).await?;
    // The keys the target holds afterwards.
    let mut present = HashSet::with_capacity(new.len());
    let (keys, spent): (Vec<String>, Vec<Vec<Cell>>) = new.into_iter().unzip();
    for (k, cells) in keys.into_iter().zip(&spent) {
        if let Some(compared) = inserted.get(&k) {
            t.moved += 1;
            match compared {
                None => t.verified += 1,
                Some((i, held)) => t.mismatched.add(shown_key(&k), differs(&b.columns[*i], &cells[*i], held)),
            }
            present.insert(k);
            continue;
        }
        match there.get(&k).map(|held| first_difference(cells, held, &b.columns)) {
            // There before (or written meanwhile by someone else), under the same key.
            Some(None) => t.already_same += 1,
            Some(Some(why)) => t.already_different.add(shown_key(&k), why),
            None => {
                t.refused.add(
                    shown_key(&k),
                    format!(
                        "not written: it conflicts with another row of {} (a unique constraint)",
                        qualified(b.table)
                    ),
                );
                continue;
            }
        }
        present.insert(k);
    }
    Ok((present, spent))
}

/// A key part as the compared key holds it.
fn key_part(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Text(t) => Some(t.clone()),
        Cell::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A source key part, for a row refused before its key could be converted.
fn raw_part(value: &SqlValue) -> String {
    match value {
        SqlValue::Text(t) => t.clone(),
        SqlValue::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// A source row as it goes to the target: its key (composite keys' parts joined by
/// [`KEY_SEPARATOR`]), the cells of `p.target_columns`, and whether its temporal metadata was
/// filled; or its key and why it cannot go. The row's text values that go as they are, but for its
/// key's, are taken out of it (not copied).
fn convert_row(
    p: &Prepared,
    row: &mut [SqlValue],
    parents: &[(Parent, HashSet<String>)],
) -> Result<(String, Vec<Cell>, bool), (String, String)> {
    let parts = p.map.key.len();
    let raw_key: Vec<String> = row.iter().take(parts).map(raw_part).collect();
    let raw_key = raw_key.join(&KEY_SEPARATOR.to_string());
    let refuse_raw = |reason: String| (raw_key.clone(), reason);
    let plain = p.source_columns.len() - p.folded.len();
    let mut cells = Vec::with_capacity(p.target_columns.len());
    let columns = p.source_columns.iter().zip(&p.target_columns);
    for (i, (value, (name, column))) in row.iter_mut().zip(columns).take(plain).enumerate() {
        let cell = match (&column.kind, value) {
            (Kind::Text, SqlValue::Text(text)) if i >= parts => Cell::Text(std::mem::take(text)),
            (kind, value) => convert(name, value, kind).map_err(refuse_raw)?,
        };
        if cell == Cell::Null && column.not_null {
            let target = qualified(p.map.target);
            return Err(refuse_raw(format!("{name} is NULL, and {target}.{} takes no NULL", column.name)));
        }
        if let Some((_, lo, hi)) = p.map.ranges.iter().find(|(c, _, _)| *c == column.name)
            && let Cell::Int(i) = cell
            && !(*lo..=*hi).contains(&i)
        {
            return Err(refuse_raw(format!("{name}: {i} is not an integer from {lo} to {hi}")));
        }
        cells.push(cell);
    }
    let mut key = Vec::with_capacity(parts);
    for (cell, name) in cells.iter().zip(p.map.key) {
        key.push(key_part(cell).ok_or_else(|| refuse_raw(format!("its key {name} is not text")))?);
    }
    let key = key.join(&KEY_SEPARATOR.to_string());
    let refuse = |reason: String| (key.clone(), reason);
    while cells.len() < p.target_columns.len() {
        cells.push(Cell::Null);
    }
    for f in &p.folded {
        let (from, into, under) = (f.from, f.into, f.under.as_str());
        let name = &p.source_columns[from];
        let value = match &row[from] {
            SqlValue::Null if f.gathered => serde_json::Value::Null,
            SqlValue::Null => continue,
            SqlValue::Text(t) if f.gathered => match serde_json::from_str(t) {
                Ok(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => v,
                _ => serde_json::Value::String(t.clone()),
            },
            SqlValue::Text(t) => serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.clone())),
            SqlValue::Integer(i) => serde_json::Value::from(*i),
            SqlValue::Real(r) => serde_json::Value::from(*r),
            SqlValue::Blob(_) => return Err(refuse(format!("{name}: a blob, where JSON or text is kept"))),
        };
        let column = &p.target_columns[into].name;
        match &mut cells[into] {
            Cell::Null => cells[into] = Cell::Json(serde_json::json!({ under: value })),
            Cell::Json(serde_json::Value::Object(o)) if !o.contains_key(under) => {
                o.insert(under.to_owned(), value);
            }
            _ => {
                return Err(refuse(format!(
                    "{name} is kept in {column} under \"{under}\", but the source's {column} is not an \
                     object without that key"
                )));
            }
        }
    }
    let mut filled = false;
    if let Some(i) = p.metadata {
        let column = &p.target_columns[i];
        match &cells[i] {
            Cell::Null => {
                let dated = fact_dated_by()
                    .iter()
                    .find_map(|d| p.target_columns.iter().position(|c| c.name == *d).and_then(|j| cells[j].instant()));
                let Some(created) = dated else {
                    return Err(refuse(format!(
                        "none of {} is set to date its temporal metadata by",
                        fact_dated_by().join(", ")
                    )));
                };
                cells[i] = metadata_cell(TemporalMetadata::initial_json_string(created), column);
                filled = true;
            }
            Cell::Text(text) => {
                TemporalMetadata::from_json_str(text).map_err(|e| refuse(format!("{}: {e}", column.name)))?;
            }
            Cell::Json(value) => {
                TemporalMetadata::from_json(value).map_err(|e| refuse(format!("{}: {e}", column.name)))?;
            }
            _ => return Err(refuse(format!("{} is not JSON text", column.name))),
        }
    }
    for (parent, keys) in parents {
        let at = p.target_columns.iter().position(|c| c.name == parent.column);
        let named = at.and_then(|j| match &cells[j] {
            Cell::Text(v) => Some(v.as_str()),
            _ => None,
        });
        match named {
            Some(v) if keys.contains(v) => {}
            Some(v) => {
                return Err(refuse(format!(
                    "its {} {v} is in neither the source nor {}",
                    p.map.source_column(parent.column),
                    qualified(parent.table)
                )));
            }
            None => return Err(refuse(format!("its {} is not set", p.map.source_column(parent.column)))),
        }
    }
    Ok((key, cells, filled))
}

/// The metadata text as its column takes it (text, or JSON on a drifted target).
fn metadata_cell(text: String, column: &TargetColumn) -> Cell {
    match column.kind {
        Kind::Json => serde_json::from_str(&text).map_or(Cell::Text(text), Cell::Json),
        _ => Cell::Text(text),
    }
}

/// The first column where `ours` and `held` differ, as a reason; None when they are the same.
fn first_difference(ours: &[Cell], held: &[Cell], columns: &[TargetColumn]) -> Option<String> {
    ours.iter().zip(held).zip(columns).find(|((a, b), _)| !a.same(b)).map(|((a, b), c)| differs(c, a, b))
}

/// The reason for a row whose `column` holds `held` in the target where the source has `ours`.
fn differs(column: &TargetColumn, ours: &Cell, held: &Cell) -> String {
    format!("{} differs: the source's {} against the target's {}", column.name, shown(ours), shown(held))
}

/// A cell, short, for a reason.
fn shown(c: &Cell) -> String {
    let text = match c {
        Cell::Null => "NULL".to_owned(),
        Cell::Text(t) => format!("'{t}'"),
        Cell::Bool(b) => b.to_string(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(x) => x.to_string(),
        Cell::Time(t) => t.to_rfc3339(),
        Cell::Json(v) => v.to_string(),
        Cell::Vector(v) => format!("a vector of {} dimensions", v.len()),
    };
    if text.chars().count() > 80 { format!("{}...", text.chars().take(80).collect::<String>()) } else { text }
}
