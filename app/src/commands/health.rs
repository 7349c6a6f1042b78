//! `aico-ams health`: the seed's monitoring figures of every chosen store; exit 1 when a store
//! could not be measured.

use std::fmt;
use std::process::ExitCode;

use serde::Serialize;

use super::args::{ReportArgs, StoreChoice};
use super::output::Stdout;
use super::{Labels, Memories, emit, render_stores};
use crate::error::AppError;
use crate::report::PerStore;
use crate::sql::{self, SqlHealth};
use crate::{chroma, lmdb};

/// Each chosen store's health.
pub type HealthStores = PerStore<
    SqlHealth,
    lmdb::LmdbHealth,
    chroma::ChromaReport,
    sql::segments::SegmentsCoverage,
    sql::working::WorkingCoverage,
>;

/// The outcome of `aico-ams health`, all stores.
#[derive(Clone, Debug, Serialize)]
pub struct HealthReport {
    /// The SQL database (password hidden), when it was one of the stores.
    pub target: Option<String>,
    /// True when every chosen store could be measured.
    pub reachable: bool,
    /// Each chosen store's health.
    pub stores: HealthStores,
}

/// Run `aico-ams health` on the chosen stores.
pub async fn run(args: &ReportArgs, out: &mut Stdout) -> Result<ExitCode, AppError> {
    let json = args.common.json;
    let mut stores = HealthStores::default();
    let mut target = None;
    if args.stores.includes(StoreChoice::Facts) {
        let (sql_target, outcome) =
            super::sql_store(&args.common, &args.stores, out, async |db, layout| sql::health(db, layout).await).await?;
        stores.sql = Some(outcome);
        target = sql_target;
    }
    let memories = Memories::find(&args.common, &args.stores, out, !args.stores.includes(StoreChoice::Facts)).await?;
    target = target.or_else(|| memories.target());
    if args.stores.includes(StoreChoice::Segments) {
        stores.segments = memories.job(&args.stores, async |db| sql::segments::coverage(db).await).await?;
    }
    if args.stores.includes(StoreChoice::WorkingMemory) {
        stores.working_memory = memories.job(&args.stores, async |db| sql::working::coverage(db).await).await?;
    }
    let on_pg = matches!(memories, Memories::AicoPostgres(_));
    memories.close().await;
    if args.stores.includes(StoreChoice::WorkingMemory) && !on_pg {
        let dir = lmdb::working_dir(args.stores.memory_dir.as_deref(), args.common.database.aico_data_dir());
        stores.lmdb = Some(lmdb::run(dir, |m| lmdb::health(m, chrono::Utc::now())));
    }
    if args.stores.includes(StoreChoice::Segments) && !on_pg {
        stores.chroma = Some(
            args.stores
                .chroma_job(args.common.database.aico_data_dir(), |c| async move { chroma::health(&c).await })
                .await?,
        );
    }
    let reachable = stores.sql.as_ref().is_none_or(|o| o.done().is_some())
        && stores.lmdb.as_ref().is_none_or(|o| o.done().is_some())
        && stores.chroma.as_ref().is_none_or(|o| o.done().is_some())
        && stores.segments.as_ref().is_none_or(|o| o.done().is_some())
        && stores.working_memory.as_ref().is_none_or(|o| o.done().is_some());
    let report = HealthReport { target, reachable, stores };
    Ok(emit(out, json, &report, report.reachable))
}

impl fmt::Display for HealthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render_stores(f)?;
        match &self.stores.segments {
            Some(crate::report::Outcome::Done(c)) => writeln!(
                f,
                "segments (conversation_segments): {} of {} with temporal keys ({:.2}%), embedding {}, {} without an offset, AICO's index {}",
                c.with_temporal,
                c.total,
                c.coverage_percent,
                c.embedding_width.map_or_else(|| "vector".to_owned(), |w| format!("vector({w})")),
                c.without_offset,
                if c.index_valid { "valid" } else { "MISSING or not valid" }
            )?,
            Some(other) => writeln!(f, "segments: {}", other.problem().unwrap_or_default())?,
            None => {}
        }
        match &self.stores.working_memory {
            Some(crate::report::Outcome::Done(c)) => writeln!(
                f,
                "working memory (working_memory_messages): {} of {} with temporal metadata ({:.2}%), {} without an offset",
                c.with_temporal, c.total, c.coverage_percent, c.without_offset
            ),
            Some(other) => writeln!(f, "working memory: {}", other.problem().unwrap_or_default()),
            None => Ok(()),
        }
    }
}

impl HealthReport {
    fn render_stores(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels = Labels { sql: "sql", lmdb: "working memory (LMDB)", chroma: "semantic memory (Chroma)" };
        render_stores(
            f,
            &self.stores,
            &labels,
            sql_health,
            |f, h| {
                writeln!(
                    f,
                    "{}: {} of {} entries with temporal metadata ({:.2}%), {} bad, {} expired",
                    labels.lmdb, h.with_temporal, h.total, h.coverage_percent, h.bad.count, h.expired
                )
            },
            |f, h| {
                writeln!(
                    f,
                    "{} at {}: {} of {} records with temporal fields, {} without a usable time",
                    labels.chroma, h.at, h.with_temporal, h.total, h.bad.count
                )
            },
        )
    }
}

fn sql_health(f: &mut fmt::Formatter<'_>, h: &SqlHealth) -> fmt::Result {
    for open in &h.readable_by_others {
        let what = if open.what == "salt" { "the salt file" } else { "the database" };
        writeln!(
            f,
            "warning: {what} {} has mode {}: other users of this machine can read it (AICO's memory);              `chmod 600 {}` keeps it yours alone (the tool never changes it)",
            open.path, open.mode, open.path
        )?;
    }
    writeln!(f, "temporal metadata coverage: {} of {} facts ({:.2}%)", h.with_temporal, h.total, h.coverage_percent)?;
    if let Some(n) = h.without_offset {
        writeln!(f, "facts with a created_at or last_accessed without an offset: {n}")?;
    }
    let c = &h.confidence;
    writeln!(f, "confidence: high {}  medium {}  low {}", c.high, c.medium, c.low)?;
    if h.consolidation.is_empty() {
        return writeln!(f, "consolidation: no runs recorded");
    }
    writeln!(f, "consolidation (newest first):")?;
    let n = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v}"));
    for r in &h.consolidation {
        writeln!(
            f,
            "  {:<22} completed {:>6}  failed {:>4}  experiences {:>8}",
            r.last_run.as_deref().unwrap_or("-"),
            n(r.completed_users),
            n(r.failed_users),
            n(r.processed_experiences)
        )?;
    }
    Ok(())
}
