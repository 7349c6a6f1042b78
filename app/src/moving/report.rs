//! What a move reports: the checks that stopped it, and per table what was in the source, moved,
//! already there (the same or different), refused and verified; the tables it does not move.

use std::fmt;

use serde::Serialize;

use crate::sql::indexes::IndexPlan;

/// At most this many rows are listed per list (all are counted).
pub const LISTED: usize = 1000;

/// The outcome of `aico-ams move` (or, with `--dry-run`, its plan).
#[derive(Clone, Debug, Serialize)]
pub struct MoveReport {
    /// The source, AICO's `aico.db` (opened read-only).
    pub source: String,
    /// The target, AICO's PostgreSQL database (password hidden).
    pub target: String,
    /// A dry run: nothing was written; `moved` counts what would be.
    pub dry_run: bool,
    /// What the checks of the target's live catalog found that stops the move. When any, nothing
    /// was written.
    pub stopped: Vec<Problem>,
    /// Each table moved, in order.
    pub tables: Vec<TableMove>,
    /// Source tables that have no target in AICO's PostgreSQL.
    pub no_target: Vec<Unmoved>,
    /// Source tables that have a target but that this version does not move yet.
    pub not_moved_yet: Vec<Unmoved>,
    /// Each Chroma collection's vector width against its target column's.
    pub vector_width: Vec<super::vectors::WidthCheck>,
    /// AICO's Chroma store: where it was read, or why not.
    pub chroma: ChromaSource,
    /// LMDB's working memory (`session_memory`): moved after the tables, when nothing stopped them.
    pub working_memory: super::working::WorkingMove,
    /// True when nothing stopped the move and every source row is verified in the target or was
    /// there already, the same (on a dry run: would be).
    pub ok: bool,
}

/// Where Chroma's records were read.
#[derive(Clone, Debug, Serialize)]
pub struct ChromaSource {
    /// The store (and the program serving its private copy), or the server's URL.
    pub at: Option<String>,
    /// Why Chroma was not read (no store where AICO keeps it).
    pub skipped: Option<String>,
}

/// A check that stops the move before anything is written.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    /// The table (`aico_core.<name>`, or the source's).
    pub table: String,
    /// The column, when the problem is one column's.
    pub column: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A row named in a report, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowNote {
    /// Its key in the source.
    pub key: String,
    /// Why it is listed.
    pub reason: String,
}

/// Rows counted, the first [`LISTED`] of them listed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Rows {
    /// How many.
    pub count: u64,
    /// The first of them, in the order the source was read (its storage order).
    pub rows: Vec<RowNote>,
}

impl Rows {
    /// Count one more, listed while fewer than [`LISTED`] are.
    pub fn add(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.count += 1;
        if self.rows.len() < LISTED {
            self.rows.push(RowNote { key: key.into(), reason: reason.into() });
        }
    }

    /// Count `other`'s too, listed while fewer than [`LISTED`] are.
    pub fn absorb(&mut self, other: Rows) {
        self.count += other.count;
        let room = LISTED.saturating_sub(self.rows.len());
        self.rows.extend(other.rows.into_iter().take(room));
    }
}

/// One table of the move.
#[derive(Clone, Debug, Serialize)]
pub struct TableMove {
    /// Its name in the source (None: the source has no such table).
    pub source_table: Option<String>,
    /// Its table in `aico_core`.
    pub target_table: String,
    /// The columns written (the key first).
    pub columns: Vec<String>,
    /// Rows in the source.
    pub in_source: u64,
    /// Rows written by this run (a dry run: that would be written).
    pub moved: u64,
    /// Rows whose key the target held already, with the same values: left as they are.
    pub already_same: u64,
    /// Rows whose key the target held already, with other values: left as they are, listed with
    /// the first column that differs.
    pub already_different: Rows,
    /// Rows that cannot go, with the reason: never written.
    pub refused: Rows,
    /// Rows written by this run and read back equal to the source, in the one form both are
    /// compared in.
    pub verified: u64,
    /// Rows written by this run that PostgreSQL stored different (listed).
    pub mismatched: Rows,
    /// Rows that arrive with the temporal metadata the backfill would write (the source had none).
    pub metadata_filled: u64,
    /// What became of AICO's indexes on the table while the rows were written: kept in place, or
    /// set aside and built again as they were (a large write), or none.
    pub indexes: IndexPlan,
    /// What became of AICO's foreign keys on the table (set aside with the indexes, and validated
    /// again at the end).
    pub foreign_keys: IndexPlan,
    /// The seconds it took to build the indexes again and validate the foreign keys.
    pub index_seconds: f64,
}

impl TableMove {
    /// Add the figures of `part` (one batch of the same table) to these.
    pub fn absorb(&mut self, part: TableMove) {
        self.moved += part.moved;
        self.already_same += part.already_same;
        self.verified += part.verified;
        self.metadata_filled += part.metadata_filled;
        self.already_different.absorb(part.already_different);
        self.refused.absorb(part.refused);
        self.mismatched.absorb(part.mismatched);
    }

    /// A table's report before anything of it is moved: its names, the columns written and the
    /// source's rows, every other figure zero.
    pub fn nothing_yet(source_table: Option<String>, target_table: &str, columns: Vec<String>, in_source: u64) -> Self {
        Self {
            source_table,
            target_table: target_table.to_owned(),
            columns,
            in_source,
            moved: 0,
            already_same: 0,
            already_different: Rows::default(),
            refused: Rows::default(),
            verified: 0,
            mismatched: Rows::default(),
            metadata_filled: 0,
            indexes: IndexPlan::Kept,
            foreign_keys: IndexPlan::Kept,
            index_seconds: 0.0,
        }
    }

    /// Whether every source row of this table is verified, or was there already, the same (on a
    /// dry run: would be moved or is there already, the same).
    pub fn complete(&self, dry_run: bool) -> bool {
        let settled = if dry_run { self.moved } else { self.verified };
        self.refused.count == 0
            && self.already_different.count == 0
            && self.mismatched.count == 0
            && settled + self.already_same == self.in_source
    }
}

/// A source table that is not moved.
#[derive(Clone, Debug, Serialize)]
pub struct Unmoved {
    /// Its name in the source.
    pub table: String,
    /// Where it will go (None: nowhere).
    pub target: Option<String>,
    /// Its rows.
    pub rows: u64,
    /// Why it is not moved.
    pub reason: String,
}

impl fmt::Display for MoveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The source and target lines are the command's: printed before the move starts.
        if !self.stopped.is_empty() {
            writeln!(f, "stopped before writing anything:")?;
            for p in &self.stopped {
                writeln!(f, "  {p}")?;
            }
        }
        let moved = if self.dry_run { "would move" } else { "moved" };
        for t in &self.tables {
            let from = t.source_table.as_deref().unwrap_or("(not in the source)");
            write!(f, "{from} -> {}: {} in source, {} {moved}", t.target_table, t.in_source, t.moved)?;
            write!(
                f,
                ", {} already there (same), {} already there (different)",
                t.already_same, t.already_different.count
            )?;
            write!(f, ", {} refused", t.refused.count)?;
            if !self.dry_run {
                write!(f, ", {} verified", t.verified)?;
            }
            if t.mismatched.count > 0 {
                write!(f, ", {} stored different", t.mismatched.count)?;
            }
            writeln!(f)?;
            let what = match (t.indexes, t.foreign_keys) {
                (IndexPlan::Rebuilt, IndexPlan::Rebuilt) => Some("indexes and foreign keys"),
                (IndexPlan::Rebuilt, _) => Some("indexes"),
                (_, IndexPlan::Rebuilt) => Some("foreign keys"),
                _ => None,
            };
            if let Some(what) = what {
                writeln!(f, "  AICO's {what} on it set aside and put back as they were ({:.1}s)", t.index_seconds)?;
            }
            if t.metadata_filled > 0 {
                let with = if self.dry_run { "would arrive" } else { "arrived" };
                writeln!(f, "  {} {with} with the temporal metadata the backfill writes", t.metadata_filled)?;
            }
            for (what, rows) in
                [("refused", &t.refused), ("different", &t.already_different), ("mismatch", &t.mismatched)]
            {
                for r in &rows.rows {
                    writeln!(f, "  {what}: {from} {}: {}", r.key, r.reason)?;
                }
                if rows.count > rows.rows.len() as u64 {
                    writeln!(f, "  ... and {} more ({what})", rows.count - rows.rows.len() as u64)?;
                }
            }
        }
        for u in &self.no_target {
            writeln!(f, "no target: {} ({} rows): {}", u.table, u.rows, u.reason)?;
        }
        for u in &self.not_moved_yet {
            let to = u.target.as_deref().unwrap_or("?");
            writeln!(f, "not moved yet: {} -> {to} ({} rows)", u.table, u.rows)?;
        }
        let w = &self.working_memory;
        match &w.skipped {
            Some(why) => writeln!(f, "working memory (LMDB): {why}")?,
            None if self.stopped.is_empty() => {
                write!(f, "working memory (LMDB) {}: session_memory -> working_memory_messages: ", w.dir)?;
                write!(f, "{} in source, {} {moved}, {} moved before", w.in_source, w.moved, w.already_moved)?;
                writeln!(f, ", {} refused", w.refused.count)?;
                for r in &w.refused.rows {
                    writeln!(f, "  refused: session_memory {}: {}", r.key, r.reason)?;
                }
                if let Some(n) = w.user_sessions {
                    writeln!(f, "no target: LMDB user_sessions ({n} entries): AICO's PostgreSQL keeps no sessions")?;
                }
            }
            None => {}
        }
        match (&self.chroma.at, &self.chroma.skipped) {
            (_, Some(why)) => writeln!(f, "Chroma: {why}")?,
            (Some(at), None) => writeln!(f, "Chroma: read from {at}")?,
            (None, None) => {}
        }
        for w in &self.vector_width {
            let width = |w: Option<u64>, none: &str| w.map_or_else(|| none.to_owned(), |w| w.to_string());
            let verdict = if w.ok { "ok" } else { "differs: stopped" };
            writeln!(
                f,
                "vector width: Chroma {} {} -> {} {}: {verdict}",
                w.collection,
                width(w.source, "(empty)"),
                w.column,
                width(w.target, "(any)")
            )?;
        }
        let verdict = match (self.stopped.is_empty(), self.dry_run, self.ok) {
            (false, _, _) => "stopped: nothing was written",
            (true, true, true) => "dry run: every row can go; nothing was written",
            (true, true, false) => "dry run: some rows would be refused or differ; nothing was written",
            (true, false, true) => "ok: every source row is verified in the target or was there already, the same",
            (true, false, false) => "incomplete: some rows were refused or differ",
        };
        writeln!(f, "{verdict}")
    }
}
