//! The SQL store's health: the seed's monitoring queries — temporal metadata coverage, the confidence
//! distribution, and the consolidation history — and whether other users can read the database
//! file or its salt file.
//!
//! On AICO's own database the facts are `user_memories`, and the consolidation history is AICO's
//! per-user `consolidation_state`, read as it is (one row per user).

use migration::catalog::{FACT_METADATA, Layout};
use serde::Serialize;

use crate::error::AppError;
use crate::sql::Db;

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

/// One consolidation run, newest first (on AICO's database: each user's last run).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConsolidationRun {
    /// AICO's database: the user (null on the seed's table, which is not per user).
    pub user_id: Option<String>,
    /// Its status (`pending`, `completed`, ... on AICO's database; the seed's `state_json.status`).
    pub status: Option<String>,
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
    /// Facts in `semantic_facts` (AICO's `user_memories`).
    pub total: i64,
    /// Of those, with temporal metadata.
    pub with_temporal: i64,
    /// `with_temporal` as a percentage of `total`, two decimals (0 for no facts).
    pub coverage_percent: f64,
    /// The confidence distribution of facts with metadata.
    pub confidence: Confidence,
    /// The last ten consolidation runs (empty before Phase 2).
    pub consolidation: Vec<ConsolidationRun>,
    /// The SQLite database file and its salt file (`<db>.salt`), when other users of this machine
    /// can read them (a warning: they are never chmod-ed by the tool; empty on PostgreSQL).
    pub readable_by_others: Vec<OpenFile>,
}

/// A file of the memory that other users of this machine can read.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct OpenFile {
    /// The file.
    pub path: String,
    /// Its permission bits, in octal (`0644`).
    pub mode: String,
    /// What it is: `database` or `salt`.
    pub what: &'static str,
}

/// The SQLite database file `db` and its salt file, each when others can read it. A file whose
/// mode cannot be read is left out (the database itself was just opened).
pub fn readable_by_others(db: &std::path::Path) -> Vec<OpenFile> {
    let salt = aico_connect::key::salt_path(db);
    [(db, "database"), (salt.as_path(), "salt")]
        .into_iter()
        .filter_map(|(path, what)| {
            let mode = aico_connect::private::open_to_others(path)
                .inspect_err(|e| tracing::debug!("cannot read the mode of {}: {e}", path.display()))
                .ok()
                .flatten()?;
            Some(OpenFile { path: path.display().to_string(), mode: format!("{mode:04o}"), what })
        })
        .collect()
}

/// Measure `db`.
pub async fn health(db: &Db) -> Result<SqlHealth, AppError> {
    let d = db.dialect;
    let layout = db.layout().await?;
    let (table, _) = layout.facts();
    if d.column_type(&db.conn, table, FACT_METADATA).await.map_err(|e| db.error(e))?.is_none() {
        return Err(AppError::NotMigrated {
            target: db.target.to_string(),
            what: format!("{table}.temporal_metadata"),
        });
    }
    // Seed: temporal metadata coverage.
    // `table` (and `key`) are the catalog's names for the facts table (`Layout::facts`), never input.
    let rows =
        db.rows(&format!("SELECT COUNT(*) AS total, COUNT(temporal_metadata) AS with_temporal FROM {table}")).await?;
    let (total, with_temporal): (i64, i64) = match rows.first() {
        Some(r) => {
            (r.try_get("", "total").map_err(|e| db.error(e))?, r.try_get("", "with_temporal").map_err(|e| db.error(e))?)
        }
        None => (0, 0),
    };
    let coverage_percent =
        if total == 0 { 0.0 } else { (with_temporal as f64 * 10_000.0 / total as f64).round() / 100.0 };

    // Seed: confidence distribution.
    let conf = d.json_number(layout.fact_metadata_json(), "confidence");
    // `table` (and `key`) are the catalog's names for the facts table (`Layout::facts`), never input.
    let rows = db
        .rows(&format!(
            "SELECT CASE WHEN {conf} >= 0.8 THEN 'high' WHEN {conf} >= 0.5 THEN 'medium' ELSE 'low' END AS confidence_level, \
             COUNT(*) AS n FROM {table} WHERE temporal_metadata IS NOT NULL GROUP BY 1"
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
    let (table, state) = (layout.consolidation_table(), layout.consolidation_json());
    if db.has_table(table).await? {
        let sql = match layout {
            Layout::Aico { .. } => "SELECT user_id, status, CAST(last_consolidation_at AS TEXT) AS last_run, \
                 NULL AS completed, NULL AS failed, messages_consolidated AS experiences \
                 FROM consolidation_state ORDER BY updated_at DESC LIMIT 10"
                .to_owned(),
            // The seed's shape (on AICO's PostgreSQL database, under AICO's name). Only the
            // migrations' own table and column names and JSON keys are pasted here.
            Layout::Seed | Layout::AicoPostgres => format!(
                "SELECT NULL AS user_id, {} AS status, {} AS last_run, {} AS completed, {} AS failed, \
                 {} AS experiences FROM {table} ORDER BY updated_at DESC LIMIT 10",
                d.json_text(state, "status"),
                d.json_text(state, "last_run"),
                d.json_number(state, "progress.completed_users"),
                d.json_number(state, "progress.failed_users"),
                d.json_number(state, "progress.processed_experiences"),
            ),
        };
        let rows = db.rows(&sql).await?;
        for r in rows {
            let num = |c: &str| {
                r.try_get::<Option<f64>>("", c)
                    .ok()
                    .flatten()
                    .or_else(|| r.try_get::<Option<i64>>("", c).ok().flatten().map(|v| v as f64))
            };
            let text = |c: &str| r.try_get::<Option<String>>("", c).ok().flatten();
            consolidation.push(ConsolidationRun {
                user_id: text("user_id"),
                status: text("status"),
                last_run: r.try_get::<Option<String>>("", "last_run").ok().flatten(),
                completed_users: num("completed"),
                failed_users: num("failed"),
                processed_experiences: num("experiences"),
            });
        }
    }
    let readable_by_others = db.target.sqlite_path().map(readable_by_others).unwrap_or_default();
    Ok(SqlHealth { total, with_temporal, coverage_percent, confidence, consolidation, readable_by_others })
}
