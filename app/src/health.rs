//! `aico db health`: the seed's monitoring queries — temporal metadata coverage, the confidence
//! distribution, and the consolidation history.

use serde::Serialize;

use crate::chroma::ChromaReport;
use crate::cli::ReportArgs;
use crate::db::Db;
use crate::error::AppError;
use crate::stores::{Outcome, PerStore, StoreChoice, with_chroma, with_working_memory};
use crate::working_memory::LmdbHealth;

/// Facts per confidence level (the seed's bands: high ≥ 0.8, medium ≥ 0.5, else low).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Confidence {
    /// Confidence at least 0.8.
    pub high: i64,
    /// At least 0.5, below 0.8.
    pub medium: i64,
    /// Below 0.5, or not a number.
    pub low: i64,
}

/// One consolidation run, newest first.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConsolidationRun {
    /// When it ran.
    pub last_run: Option<String>,
    /// Users it completed.
    pub completed_users: Option<f64>,
    /// Users it failed on.
    pub failed_users: Option<f64>,
    /// Experiences it processed.
    pub processed_experiences: Option<f64>,
}

/// The SQL store's health.
#[derive(Clone, Debug, Serialize)]
pub struct SqlHealth {
    /// The database (password hidden).
    pub target: String,
    /// Facts in `semantic_facts`.
    pub total_facts: i64,
    /// Of those, with temporal metadata.
    pub with_temporal: i64,
    /// `with_temporal` as a percentage of `total_facts`, two decimals (0 for no facts).
    pub coverage_percent: f64,
    /// The confidence distribution of facts with metadata.
    pub confidence: Confidence,
    /// The last ten consolidation runs (empty before Phase 2).
    pub consolidation: Vec<ConsolidationRun>,
}

/// Measure `db`.
pub async fn health(db: &Db) -> Result<SqlHealth, AppError> {
    let d = db.dialect;
    if d.column_type(&db.conn, "semantic_facts", "temporal_metadata").await.map_err(|e| db.error(e))?.is_none() {
        return Err(AppError::NotMigrated {
            target: db.target.to_string(),
            what: "semantic_facts.temporal_metadata".into(),
        });
    }
    // Seed: temporal metadata coverage.
    let rows =
        db.rows("SELECT COUNT(*) AS total, COUNT(temporal_metadata) AS with_temporal FROM semantic_facts").await?;
    let (total_facts, with_temporal): (i64, i64) = match rows.first() {
        Some(r) => {
            (r.try_get("", "total").map_err(|e| db.error(e))?, r.try_get("", "with_temporal").map_err(|e| db.error(e))?)
        }
        None => (0, 0),
    };
    let coverage_percent =
        if total_facts == 0 { 0.0 } else { (with_temporal as f64 * 10_000.0 / total_facts as f64).round() / 100.0 };

    // Seed: confidence distribution.
    let conf = d.json_number("temporal_metadata", "confidence");
    let rows = db
        .rows(&format!(
            "SELECT CASE WHEN {conf} >= 0.8 THEN 'high' WHEN {conf} >= 0.5 THEN 'medium' ELSE 'low' END AS confidence_level, \
             COUNT(*) AS n FROM semantic_facts WHERE temporal_metadata IS NOT NULL GROUP BY 1"
        ))
        .await?;
    let mut confidence = Confidence::default();
    for r in rows {
        let level: String = r.try_get("", "confidence_level").map_err(|e| db.error(e))?;
        let n: i64 = r.try_get("", "n").map_err(|e| db.error(e))?;
        match level.as_str() {
            "high" => confidence.high = n,
            "medium" => confidence.medium = n,
            _ => confidence.low += n,
        }
    }

    // Seed: consolidation history.
    let mut consolidation = Vec::new();
    if db.has_table("consolidation_state").await? {
        let rows = db
            .rows(&format!(
                "SELECT {} AS last_run, {} AS completed, {} AS failed, {} AS experiences \
                 FROM consolidation_state ORDER BY updated_at DESC LIMIT 10",
                d.json_text("state_json", "last_run"),
                d.json_number("state_json", "progress.completed_users"),
                d.json_number("state_json", "progress.failed_users"),
                d.json_number("state_json", "progress.processed_experiences"),
            ))
            .await?;
        for r in rows {
            let num = |c: &str| {
                r.try_get::<Option<f64>>("", c)
                    .ok()
                    .flatten()
                    .or_else(|| r.try_get::<Option<i64>>("", c).ok().flatten().map(|v| v as f64))
            };
            consolidation.push(ConsolidationRun {
                last_run: r.try_get::<Option<String>>("", "last_run").ok().flatten(),
                completed_users: num("completed"),
                failed_users: num("failed"),
                processed_experiences: num("experiences"),
            });
        }
    }
    Ok(SqlHealth {
        target: db.target.to_string(),
        total_facts,
        with_temporal,
        coverage_percent,
        confidence,
        consolidation,
    })
}

impl std::fmt::Display for SqlHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "temporal metadata coverage: {} of {} facts ({:.2}%)",
            self.with_temporal, self.total_facts, self.coverage_percent
        )?;
        let c = &self.confidence;
        writeln!(f, "confidence: high {}  medium {}  low {}", c.high, c.medium, c.low)?;
        if self.consolidation.is_empty() {
            writeln!(f, "consolidation: no runs recorded")?;
        } else {
            writeln!(f, "consolidation (newest first):")?;
            let n = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v}"));
            for r in &self.consolidation {
                writeln!(
                    f,
                    "  {:<22} completed {:>6}  failed {:>4}  experiences {:>8}",
                    r.last_run.as_deref().unwrap_or("-"),
                    n(r.completed_users),
                    n(r.failed_users),
                    n(r.processed_experiences)
                )?;
            }
        }
        Ok(())
    }
}

/// Each chosen store's health.
pub type HealthStores = PerStore<SqlHealth, LmdbHealth, ChromaReport>;

/// The outcome of `aico db health`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HealthReport {
    /// True when every chosen store could be measured.
    pub reachable: bool,
    /// Each chosen store's health.
    pub stores: HealthStores,
}

/// Run `aico db health` on the chosen stores.
pub async fn run(args: &ReportArgs) -> Result<HealthReport, AppError> {
    let mut stores = HealthStores::default();
    if args.stores.includes(StoreChoice::Sql) {
        let db = Db::open(&args.common).await?;
        if !args.common.json {
            println!("target: {}", db.target);
        }
        stores.sql = Some(Outcome::Done(health(&db).await?));
        db.conn.close().await.ok();
    }
    if args.stores.includes(StoreChoice::Lmdb) {
        stores.lmdb = Some(with_working_memory(args.stores.working_dir(), |m| m.health(chrono::Utc::now())));
    }
    if args.stores.includes(StoreChoice::Chroma) {
        stores.chroma = Some(with_chroma(args.stores.chroma(), |c| async move { c.health().await }).await);
    }
    let reachable = stores.lmdb.as_ref().is_none_or(|o| o.done().is_some())
        && stores.chroma.as_ref().is_none_or(|o| o.done().is_some());
    Ok(HealthReport { reachable, stores })
}

impl std::fmt::Display for HealthReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(sql) = &self.stores.sql {
            match sql.done() {
                Some(h) => write!(f, "{h}")?,
                None => writeln!(f, "sql: {}", sql.problem().unwrap_or_default())?,
            }
        }
        if let Some(lmdb) = &self.stores.lmdb {
            match lmdb.done() {
                Some(h) => writeln!(
                    f,
                    "working memory (LMDB): {} of {} entries with temporal metadata ({:.2}%), {} bad, {} expired",
                    h.with_temporal, h.entries, h.coverage_percent, h.bad_count, h.expired
                )?,
                None => writeln!(f, "working memory (LMDB): {}", lmdb.problem().unwrap_or_default())?,
            }
        }
        if let Some(chroma) = &self.stores.chroma {
            match chroma.done() {
                Some(h) => writeln!(
                    f,
                    "semantic memory (Chroma): {} of {} records with temporal fields, {} without a usable time",
                    h.with_temporal, h.records, h.bad_count
                )?,
                None => writeln!(f, "semantic memory (Chroma): {}", chroma.problem().unwrap_or_default())?,
            }
        }
        Ok(())
    }
}
