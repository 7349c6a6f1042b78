//! `aico-ams backfill`: fill every chosen store, with a progress bar on a terminal; exit 1 when a
//! store was not reached or something was left unfilled.

use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;

use serde::Serialize;

use super::args::{BackfillArgs, IndexChoice, StoreChoice};
use super::output::Stdout;
use super::{Labels, Memories, emit, render_stores};
use crate::error::AppError;
use crate::report::{Outcome, PerStore};
use crate::sql::{self, Progress};
use crate::{chroma, lmdb};

/// Each chosen store's backfill.
pub type BackfillStores = PerStore<
    sql::SqlBackfill,
    lmdb::LmdbBackfill,
    chroma::ChromaReport,
    sql::segments::SegmentsBackfill,
    sql::working::WorkingBackfill,
>;

/// The outcome of `aico-ams backfill`, all stores.
#[derive(Clone, Debug, Serialize)]
pub struct BackfillReport {
    /// The SQL database (password hidden), when it was one of the stores.
    pub target: Option<String>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Items per batch asked for.
    pub batch_size: u64,
    /// True when every chosen store was reached and every item that needed metadata has it (or
    /// would have, for a dry run).
    pub complete: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Each chosen store's outcome.
    pub stores: BackfillStores,
}

/// Run `aico-ams backfill` on the chosen stores.
pub async fn run(args: &BackfillArgs, out: &mut Stdout) -> Result<ExitCode, AppError> {
    let started = std::time::Instant::now();
    let mut stores = BackfillStores::default();
    let mut target = None;
    if args.stores.includes(StoreChoice::Facts) {
        let (sql_target, outcome) = backfill_facts(args, out).await?;
        stores.sql = Some(outcome);
        target = sql_target;
    }
    let memories = Memories::find(&args.common, &args.stores, out, !args.stores.includes(StoreChoice::Facts)).await?;
    target = target.or_else(|| memories.target());
    backfill_memories(args, memories, &mut stores).await?;
    let report = BackfillReport {
        target,
        dry_run: args.dry_run,
        batch_size: args.batch_size,
        complete: complete(&stores),
        seconds: started.elapsed().as_secs_f64(),
        stores,
    };
    Ok(emit(out, args.common.json, &report, report.complete))
}

/// The SQL facts table's backfill, with a progress bar on a terminal (not with `--json`).
async fn backfill_facts(
    args: &BackfillArgs,
    out: &mut Stdout,
) -> Result<(Option<String>, Outcome<sql::SqlBackfill>), AppError> {
    let json = args.common.json;
    super::sql_store(&args.common, &args.stores, out, async |db, layout| {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} facts  {per_sec}  eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        let filled = sql::backfill(db, layout, args.batch_size, args.dry_run, |p| match (p, &bar) {
            (Progress::Total(n), Some(bar)) => bar.set_length(n),
            (Progress::Done(n), Some(bar)) => bar.set_position(n),
            _ => {}
        })
        .await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        filled
    })
    .await
}

/// The backfill of AICO's memory stores chosen: segments and working memory on AICO's PostgreSQL
/// database, else the LMDB working memory and the Chroma segments; each outcome into `stores`.
async fn backfill_memories(
    args: &BackfillArgs,
    memories: Memories,
    stores: &mut BackfillStores,
) -> Result<(), AppError> {
    let (batch, dry_run) = (args.batch_size, args.dry_run);
    if args.stores.includes(StoreChoice::Segments) {
        let index = match args.segments_index {
            IndexChoice::Auto => sql::segments::IndexChoice::Auto,
            IndexChoice::Keep => sql::segments::IndexChoice::Keep,
            IndexChoice::Rebuild => sql::segments::IndexChoice::Rebuild,
        };
        stores.segments = memories
            .job(&args.stores, async |db| sql::segments::backfill(db, batch, dry_run, index, |_| {}).await)
            .await?;
    }
    if args.stores.includes(StoreChoice::WorkingMemory) {
        stores.working_memory =
            memories.job(&args.stores, async |db| sql::working::backfill(db, batch, dry_run, |_| {}).await).await?;
    }
    let on_pg = matches!(memories, Memories::AicoPostgres(_));
    memories.close().await;
    if args.stores.includes(StoreChoice::WorkingMemory) && !on_pg {
        let (batch, dir) = (
            args.batch_size as usize,
            lmdb::working_dir(args.stores.memory_dir.as_deref(), args.common.database.aico_data_dir()),
        );
        stores.lmdb = Some(lmdb::run(dir, |m| lmdb::backfill(m, batch, args.dry_run, |_| {})));
    }
    if args.stores.includes(StoreChoice::Segments) && !on_pg {
        let outcome =
            args.stores
                .chroma_job(args.common.database.aico_data_dir(), |c| async move {
                    chroma::backfill(&c, batch, dry_run).await
                })
                .await?;
        stores.chroma = Some(outcome);
    }
    Ok(())
}

/// True when every store backfilled was reached and left nothing unfilled (a store not chosen
/// counts as complete).
fn complete(stores: &BackfillStores) -> bool {
    stores.sql.as_ref().is_none_or(|o| o.done().is_some_and(|filled| filled.complete()))
        && stores.segments.as_ref().is_none_or(|o| o.done().is_some_and(|r| r.bad.is_empty()))
        && stores.working_memory.as_ref().is_none_or(|o| o.done().is_some_and(|r| r.bad.is_empty()))
        && stores.lmdb.as_ref().is_none_or(|o| o.done().is_some_and(|r| r.bad.is_empty() && r.changed_meanwhile == 0))
        && stores.chroma.as_ref().is_none_or(|o| o.done().is_some_and(|r| r.bad.is_empty()))
}

impl fmt::Display for BackfillReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would fill" } else { "filled" };
        let dry = if self.dry_run { " (dry run, nothing written)" } else { "" };
        let labels = Labels { sql: "sql", lmdb: "lmdb", chroma: "chroma" };
        let sql = |f: &mut fmt::Formatter<'_>, s: &sql::SqlBackfill| {
            writeln!(
                f,
                "sql{dry}: {} facts had no temporal metadata; {verb} {} in {} batches",
                s.without_temporal, s.filled, s.batches
            )?;
            if !s.bad.is_empty() {
                writeln!(f, "  {} facts left as they were (no usable created_at):", s.bad.count)?;
                for row in &s.bad.items {
                    writeln!(f, "    {}: {}", row.id, row.reason)?;
                }
                if s.bad.unlisted() > 0 {
                    writeln!(f, "    ... and {} more (all counted in --json)", s.bad.unlisted())?;
                }
            }
            Ok(())
        };
        let lmdb = |f: &mut fmt::Formatter<'_>, r: &lmdb::LmdbBackfill| {
            writeln!(f, "lmdb{dry}: {} entries, {} had metadata; {verb} {}", r.total, r.with_temporal, r.filled)?;
            if r.changed_meanwhile > 0 {
                writeln!(f, "  {} entries changed meanwhile: left for the next run", r.changed_meanwhile)?;
            }
            r.bad.items.iter().try_for_each(|e| writeln!(f, "    {}: {}", e.id, e.reason))
        };
        let chroma = |f: &mut fmt::Formatter<'_>, r: &chroma::ChromaReport| {
            writeln!(
                f,
                "chroma{dry} at {}: {} records, {} had temporal fields; {verb} {} (batches of {})",
                r.at, r.total, r.with_temporal, r.filled, r.batch_size
            )?;
            r.bad.items.iter().try_for_each(|b| writeln!(f, "    {}: {}", b.id, b.reason))
        };
        render_stores(f, &self.stores, &labels, sql, lmdb, chroma)?;
        let bad = |f: &mut fmt::Formatter<'_>, bad: &crate::report::BadItems<crate::report::BadItem>| {
            bad.items.iter().try_for_each(|b| writeln!(f, "    {}: {}", b.id, b.reason))
        };
        match &self.stores.segments {
            Some(crate::report::Outcome::Done(r)) => {
                let index = match r.index {
                    sql::segments::IndexPlan::Kept => "kept in place".to_owned(),
                    sql::segments::IndexPlan::Rebuilt => format!("set aside and rebuilt ({:.2}s)", r.index_seconds),
                    sql::segments::IndexPlan::Absent => "absent".to_owned(),
                };
                writeln!(
                    f,
                    "segments ({}){dry}: {} segments, {} lacked temporal keys; {verb} {} in {} batches; AICO's index {index}{}",
                    r.table,
                    r.total,
                    r.without_temporal,
                    r.filled,
                    r.batches,
                    if r.resumed { " (an interrupted run resumed)" } else { "" }
                )?;
                bad(f, &r.bad)?;
            }
            Some(other) => writeln!(f, "segments: {}", other.problem().unwrap_or_default())?,
            None => {}
        }
        match &self.stores.working_memory {
            Some(crate::report::Outcome::Done(r)) => {
                writeln!(
                    f,
                    "working memory ({}){dry}: {} messages, {} lacked temporal_metadata; {verb} {} in {} batches",
                    r.table, r.total, r.without_temporal, r.filled, r.batches
                )?;
                bad(f, &r.bad)?;
            }
            Some(other) => writeln!(f, "working memory: {}", other.problem().unwrap_or_default())?,
            None => {}
        }
        writeln!(f, "({:.2}s)", self.seconds)?;
        if !self.complete {
            writeln!(f, "incomplete: fix what is listed above, then run the backfill again")?;
        }
        Ok(())
    }
}
