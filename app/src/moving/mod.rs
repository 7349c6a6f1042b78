//! `aico-ams move`: a 2025 install's memory carried into AICO's PostgreSQL (2026), verified row
//! for row. This version moves every table of `aico.db` that has a target: the users, the facts, the
//! consolidation state, the behavioural tables (AMS Phase 3) and the knowledge graph; then LMDB's
//! working memory ([`working`]). Chroma (docs/move.md) is not read yet.
//!
//! | file | holds |
//! |---|---|
//! | [`mapping`] | which source table goes where, which have no target, which are not moved yet |
//! | [`source`] | AICO's `aico.db`, opened read-only: tables, columns, counts, rows in key order |
//! | [`pg`] | AICO's PostgreSQL: the live catalog, the rows under given keys, the insert that never overwrites |
//! | [`checks`] | the checks before anything is written ([`checks::Prepared`]) |
//! | [`convert`] | one value from SQLite to PostgreSQL, and the form both are compared in |
//! | [`write`](mod@write) | one table: batches, refusals, the insert, the read back |
//! | [`working`] | LMDB's `session_memory` into `working_memory_messages`, with our key map |
//! | [`report`] | what a move reports |
//!
//! The source is never written (read-only connection, no pragma that writes). The target is
//! written only when every check passes, in batches, one transaction each, `ON CONFLICT DO
//! NOTHING`: a row already there is compared, never overwritten, so a second run writes nothing.
//! Nothing here prints; [`run`] returns the report.

pub mod checks;
pub mod convert;
mod error;
pub mod mapping;
pub mod pg;
pub mod report;
pub mod source;
pub mod working;
pub mod write;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

pub use self::error::MoveError;
use self::mapping::{DERIVED, MOVED, NO_TARGET, NOT_YET, is_album_feedback};
pub use self::pg::Dest;
use self::report::{MoveReport, Unmoved};
pub use self::source::Source;

/// How a move runs.
#[derive(Debug, Clone, Copy)]
pub struct MoveOptions {
    /// Plan only: read both sides, write nothing.
    pub dry_run: bool,
    /// Rows per batch (one transaction each).
    pub batch_size: usize,
}

/// What the report says of the vector width while segments are not moved.
const VECTOR_WIDTH: &str = "not checked: this version does not move Chroma's segments yet";

/// Move (or plan) `source` into `dest`: the checks first, against the target's live catalog; when
/// one fails, nothing is written and the report says what stopped it. Then each table of
/// [`MOVED`] in order, verified row for row.
///
/// Then AICO's LMDB working memory in `working` (its `working/` directory, or why it is not known):
/// [`working::move_working_memory`].
pub async fn run(
    source: &Source,
    dest: &Dest,
    working: Result<PathBuf, String>,
    opts: MoveOptions,
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
        vector_width: VECTOR_WIDTH.to_owned(),
        working_memory: working::WorkingMove::default(),
        ok: false,
    };
    let mut prepared = Vec::new();
    for map in MOVED {
        let p = checks::prepare(source, dest, &tables, map).await?;
        report.stopped.extend(p.problems.iter().cloned());
        prepared.push(p);
    }
    unmoved(source, &tables, &prepared, &mut report).await?;
    if !report.stopped.is_empty() {
        for p in &prepared {
            report.tables.push(p.nothing_moved());
        }
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
        let t = write::move_table(source, dest, p, opts.batch_size, opts.dry_run, &parents, &mut mine).await?;
        tracing::info!(table = p.map.target, moved = t.moved, refused = t.refused.count, "table done");
        accepted.insert(p.map.target, mine);
        report.tables.push(t);
    }
    report.working_memory = working::move_working_memory(working, dest, opts.batch_size, opts.dry_run).await?;
    tracing::info!(moved = report.working_memory.moved, "working memory done");
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
