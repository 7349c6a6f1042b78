//! The SQL store's health: the seed's monitoring queries — temporal metadata coverage, the confidence
//! distribution, and the consolidation history — and whether other users can read the database
//! file or its salt file.
//!
//! On AICO's own database the facts are `user_memories`, and the consolidation history is AICO's
//! per-user `consolidation_state`, read as it is (one row per user).

use migration::catalog::{FACT_METADATA, Layout};
use serde::Serialize;

use super::reads;
pub use super::reads::ConsolidationRun;
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
    /// AICO's PostgreSQL database: facts whose `temporal_metadata.created_at` or `.last_accessed`
    /// has no offset, which AICO's index functions read in the session's TimeZone (absent
    /// elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_offset: Option<u64>,
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

/// Measure `db`, whose facts follow `layout`.
pub async fn health(db: &Db, layout: Layout) -> Result<SqlHealth, AppError> {
    let (table, _) = layout.facts();
    reads::require_metadata_column(db, table).await?;
    let coverage = reads::coverage(db, table).await?;
    let consolidation = match db.has_table(layout.consolidation_table()).await? {
        true => reads::consolidation(db, layout, 10, reads::RunFigures::Progress).await?,
        false => Vec::new(),
    };
    Ok(SqlHealth {
        total: coverage.total,
        with_temporal: coverage.with_temporal,
        coverage_percent: coverage.percent(),
        confidence: confidence(db, layout).await?,
        consolidation,
        readable_by_others: db.target.sqlite_path().map(readable_by_others).unwrap_or_default(),
        without_offset: without_offset(db, layout).await?,
    })
}

/// Seed: the confidence distribution of the facts with metadata.
async fn confidence(db: &Db, layout: Layout) -> Result<Confidence, AppError> {
    let (table, _) = layout.facts();
    let conf = db.dialect.json_number(layout.fact_metadata_json(), "confidence");
    // `table` is the catalog's name for the facts table (`Layout::facts`), never input.
    let rows = db
        .rows(&format!(
            "SELECT CASE WHEN {conf} >= 0.8 THEN 'high' WHEN {conf} >= 0.5 THEN 'medium' ELSE 'low' END \
             AS confidence_level, COUNT(*) AS n FROM {table} WHERE {FACT_METADATA} IS NOT NULL GROUP BY 1"
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
    Ok(confidence)
}

/// On AICO's PostgreSQL database, the facts whose `created_at` or `last_accessed` has no offset
/// ([`reads::facts_without_offset`]); None elsewhere.
async fn without_offset(db: &Db, layout: Layout) -> Result<Option<u64>, AppError> {
    match layout {
        Layout::AicoPostgres => reads::facts_without_offset(db, layout).await.map(Some),
        _ => Ok(None),
    }
}
