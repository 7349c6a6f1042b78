//! `aico-ams move`: a 2025 install's memory carried into AICO's PostgreSQL (2026), verified row
//! for row. This version moves every table of `aico.db` that has a target: the users, the facts, the
//! consolidation state, the behavioural tables (AMS Phase 3) and the knowledge graph; then LMDB's
//! working memory ([`working`]); then Chroma's segments and the graph's vectors ([`vectors`]).
//!
//! | file | holds |
//! |---|---|
//! | [`mapping`] | which source table goes where, which have no target, which are not moved yet |
//! | [`source`] | AICO's `aico.db`, opened read-only: tables, columns, counts, rows in storage order |
//! | [`pg`] | AICO's PostgreSQL: the live catalog, the rows under given keys, the insert that never overwrites |
//! | [`binary`] | a batch in `COPY`'s binary format, for a table that held none of the move's rows |
//! | [`checks`] | the checks before anything is written ([`checks::Prepared`]) |
//! | [`convert`] | one value from SQLite to PostgreSQL, and the form both are compared in |
//! | [`write`](mod@write) | one table: batches, refusals, the insert, the comparison |
//! | [`working`] | LMDB's `session_memory` into `working_memory_messages`, with our key map |
//! | [`vectors`] | Chroma's collections into `conversation_segments` and the graph's vector tables |
//! | [`report`] | what a move reports |
//!
//! The source is never written (read-only connection, no pragma that writes). The target is
//! written only when every check passes, in batches, one transaction each, `ON CONFLICT DO
//! NOTHING`: a row already there is compared, never overwritten, so a second run writes nothing.
//! Nothing here prints; [`run`] returns the report.

pub mod binary;
pub mod checks;
pub mod convert;
mod error;
pub mod mapping;
pub mod pg;
pub mod report;
pub mod source;
pub mod vectors;
pub mod working;
pub mod write;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

pub use self::error::MoveError;
use self::mapping::{DERIVED, MOVED, NO_TARGET, NOT_YET, is_album_feedback};
pub use self::pg::Dest;
use self::report::{ChromaSource, MoveReport, Unmoved};
pub use self::source::Source;

/// How a move runs.
#[derive(Clone, Copy)]
pub struct MoveOptions<'a> {
    /// Plan only: read both sides, write nothing.
    pub dry_run: bool,
    /// Rows per batch (one transaction each).
    pub batch_size: usize,
    /// Told where the move is, table by table (for a progress display; nothing here prints).
    pub progress: &'a dyn Fn(Step<'_>),
}

/// Where a move is.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// A table begins: its name in the target and how many rows its source holds (None: not
    /// known before they are read).
    Begin {
        /// The target table.
        table: &'a str,
        /// The source's rows.
        rows: Option<u64>,
    },
    /// So many more of the table's source rows are done (moved, found there, or refused).
    Rows(u64),
    /// The table is done: how many rows this run wrote (or, on a dry run, would), of how many.
    End {
        /// The target table.
        table: &'a str,
        /// Rows written.
        moved: u64,
        /// Rows in the source.
        of: u64,
    },
}

/// AICO's Chroma store, as the move reads it.
pub enum ChromaInput {
    /// Read through this server (a private copy of the store, or a server at a URL).
    Read(Box<crate::chroma::Reader>),
    /// Not read, and why (no store where AICO keeps it).
    Skipped(String),
}

/// Move (or plan) `source` into `dest`: the checks first, against the target's live catalog; when
/// one fails, nothing is written and the report says what stopped it. Then each table of
/// [`MOVED`] in order, verified row for row.
///
/// Then AICO's LMDB working memory in `working` (its `working/` directory, or why it is not known):
/// [`working::move_working_memory`]; then Chroma's collections ([`vectors`]), whose checks (the
/// vector width among them) run with the tables', before anything is written.
pub async fn run(
    source: &Source,
    dest: &Dest,
    working: Result<PathBuf, String>,
    chroma: &ChromaInput,
    opts: MoveOptions<'_>,
) -> Result<MoveReport, MoveError> {
    let tables = source.tables().await?;
    let mut report = MoveReport {
        source: source.target.to_string(),
        target: dest.target.to_string(),
        dry_run: opts.dry_run,
        stopped: Vec::new(),
        tables: Vec::new(),
        no_target: Vec::new(),
        not_moved_yet: Vec::new(),
        vector_width: Vec::new(),
        chroma: match chroma {
            ChromaInput::Read(reader) => ChromaSource { at: Some(reader.at()), skipped: None },
            ChromaInput::Skipped(why) => ChromaSource { at: None, skipped: Some(why.clone()) },
        },
        working_memory: working::WorkingMove::default(),
        ok: false,
    };
    let mut prepared = Vec::new();
    for map in MOVED {
        let p = checks::prepare(source, dest, &tables, map).await?;
        report.stopped.extend(p.problems.iter().cloned());
        prepared.push(p);
    }
    let mut collections = Vec::new();
    if let ChromaInput::Read(reader) = chroma {
        for map in vectors::VECTORS {
            let p = vectors::prepare(reader, dest, map).await?;
            report.stopped.extend(p.problems.iter().cloned());
            report.vector_width.extend(p.width.clone());
            collections.push(p);
        }
    }
    unmoved(source, &tables, &prepared, &mut report).await?;
    if !report.stopped.is_empty() {
        report.tables.extend(prepared.iter().map(checks::Prepared::nothing_moved));
        report.tables.extend(collections.iter().map(vectors::PreparedVectors::nothing_moved));
        return Ok(report);
    }
    // The keys each table holds afterwards (or would): the parents of the tables after it.
    let mut accepted: HashMap<&str, HashSet<String>> = HashMap::new();
    for p in &prepared {
        let mut parents = Vec::new();
        for parent in p.map.parents {
            let mut keys = dest.keys(parent.table, parent.key).await?;
            keys.extend(accepted.get(parent.table).into_iter().flatten().cloned());
            parents.push((*parent, keys));
        }
        let mut mine = HashSet::new();
        (opts.progress)(Step::Begin { table: p.map.target, rows: Some(p.in_source) });
        let t = write::move_table(source, dest, p, opts, &parents, &mut mine).await?;
        (opts.progress)(Step::End { table: p.map.target, moved: t.moved, of: t.in_source });
        tracing::info!(table = p.map.target, moved = t.moved, refused = t.refused.count, "table done");
        accepted.insert(p.map.target, mine);
        report.tables.push(t);
    }
    report.working_memory = working::move_working_memory(working, dest, opts).await?;
    tracing::info!(moved = report.working_memory.moved, "working memory done");
    for p in &collections {
        let mut parents = HashSet::new();
        if let Some(parent) = p.map.parent {
            parents = dest.keys(parent.table, parent.key).await?;
            parents.extend(accepted.get(parent.table).into_iter().flatten().cloned());
        }
        (opts.progress)(Step::Begin { table: p.map.target, rows: Some(p.in_source) });
        let t = vectors::move_collection(dest, p, opts, &parents).await?;
        (opts.progress)(Step::End { table: p.map.target, moved: t.moved, of: t.in_source });
        tracing::info!(table = p.map.target, moved = t.moved, refused = t.refused.count, "collection done");
        report.tables.push(t);
    }
    report.ok = report.tables.iter().all(|t| t.complete(opts.dry_run)) && report.working_memory.complete();
    Ok(report)
}

/// The source tables the move leaves: those with no target, those not moved yet (and a second
/// source of a table already read from another); with counts.
async fn unmoved(
    source: &Source,
    tables: &[String],
    prepared: &[checks::Prepared],
    report: &mut MoveReport,
) -> Result<(), MoveError> {
    for table in tables {
        if prepared.iter().any(|p| p.source_table.as_ref() == Some(table)) {
            continue;
        }
        let no_target = NO_TARGET.iter().find(|(name, _)| name == table);
        let later = NOT_YET.iter().find(|(name, _)| name == table);
        let other = prepared.iter().find(|p| p.map.sources.contains(&table.as_str()));
        if let Some((_, reason)) = no_target
            && is_album_feedback(&source.columns(table).await?)
        {
            report.no_target.push(Unmoved {
                table: table.clone(),
                target: None,
                rows: source.count(table).await?,
                reason: (*reason).to_owned(),
            });
        } else if table == "ams_feedback_events" && is_album_feedback(&source.columns(table).await?) {
            // AICO's version 16 renamed the Memory Album's table so.
            report.no_target.push(Unmoved {
                table: table.clone(),
                target: None,
                rows: source.count(table).await?,
                reason: NO_TARGET[0].1.to_owned(),
            });
        } else if let Some((_, reason)) = DERIVED.iter().find(|(name, _)| name == table) {
            report.no_target.push(Unmoved {
                table: table.clone(),
                target: None,
                rows: source.count(table).await?,
                reason: (*reason).to_owned(),
            });
        } else if let Some(p) = other {
            let reason = match &p.source_table {
                Some(read) => format!("not moved: {} is moved from the source's {read}", p.map.target),
                None => "not moved: its columns are not of the shape this version moves".to_owned(),
            };
            report.not_moved_yet.push(Unmoved {
                table: table.clone(),
                target: Some(p.map.target.to_owned()),
                rows: source.count(table).await?,
                reason,
            });
        } else if let Some((_, target)) = later {
            report.not_moved_yet.push(Unmoved {
                table: table.clone(),
                target: Some((*target).to_owned()),
                rows: source.count(table).await?,
                reason: "not moved by this version yet".into(),
            });
        }
    }
    Ok(())
}
