//! What every store's job reports, and how a store that is missing or unreachable is reported
//! (never silently passed): the pieces the per-job reports are made of.

use serde::Serialize;

/// One store's outcome in a report: `{"status": "done", ...}` or why it could not be done.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome<T> {
    /// The job ran; its findings.
    Done(T),
    /// The store is not where it was looked for (not set up, or not configured).
    NotConfigured {
        /// What was looked for.
        detail: String,
    },
    /// The store's server could not be reached.
    Unreachable {
        /// Why.
        detail: String,
    },
    /// The job failed part-way.
    Failed {
        /// Why.
        detail: String,
    },
}

impl<T> Outcome<T> {
    /// The findings, when the job ran.
    pub fn done(&self) -> Option<&T> {
        match self {
            Self::Done(t) => Some(t),
            _ => None,
        }
    }

    /// A one-line account of a store that was not done.
    pub fn problem(&self) -> Option<String> {
        match self {
            Self::Done(_) => None,
            Self::NotConfigured { detail } => Some(format!("not configured: {detail}")),
            Self::Unreachable { detail } => Some(format!("unreachable: {detail}")),
            Self::Failed { detail } => Some(format!("failed: {detail}")),
        }
    }
}

/// Each chosen store's outcome, for one command; a store that was not chosen is left out.
#[derive(Clone, Debug, Serialize)]
pub struct PerStore<S, L, C> {
    /// `semantic_facts` in the SQL database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<Outcome<S>>,
    /// The LMDB working memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lmdb: Option<Outcome<L>>,
    /// The Chroma collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chroma: Option<Outcome<C>>,
}

impl<S, L, C> Default for PerStore<S, L, C> {
    fn default() -> Self {
        Self { sql: None, lmdb: None, chroma: None }
    }
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It holds.
    Pass,
    /// It does not: `verify` exits 1.
    Fail,
    /// It does not apply (its migration is not applied).
    Skip,
}

/// One check of `verify` and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found, one line per finding.
    pub details: Vec<String>,
}

impl Check {
    /// A check named `name` that came out as `status`.
    pub fn new(name: &str, status: Status, details: Vec<String>) -> Self {
        Self { name: name.to_owned(), status, details }
    }

    /// `pass` when `ok`, else `fail`.
    pub fn pass_if(name: &str, ok: bool, details: Vec<String>) -> Self {
        Self::new(name, if ok { Status::Pass } else { Status::Fail }, details)
    }

    /// The check a store's `verify` gave, or a failed one saying why the store could not be checked.
    pub fn of_outcome(name: &str, outcome: Outcome<Check>) -> Self {
        match outcome {
            Outcome::Done(check) => check,
            other => Self::new(name, Status::Fail, vec![other.problem().unwrap_or_default()]),
        }
    }
}

/// `part` of `whole` in percent, two decimals (0 for an empty whole).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { (part as f64 * 10_000.0 / whole as f64).round() / 100.0 }
}

/// What `aico-ams migrate` did.
#[derive(Debug, Serialize)]
pub struct MigrateReport {
    /// The database (password hidden).
    pub target: String,
    /// `status`, `migrate`, `rollback`, `dry-run` or `repair`.
    pub action: &'static str,
    /// Each migration and its state (after the run; for a dry run, before it).
    pub migrations: Vec<MigrationLine>,
    /// The steps taken (or, for a dry run, that would be taken).
    pub steps: Vec<String>,
    /// For a dry run: the SQL statements the run would execute, in order (reads left out).
    pub statements: Vec<String>,
    /// On AICO's own database: its schema version and the AMS phases AICO applied itself; null
    /// on another database.
    pub aico: Option<AicoSchemaLine>,
}

/// AICO's own schema bookkeeping, as `aico-ams migrate` reports it.
#[derive(Debug, Serialize)]
pub struct AicoSchemaLine {
    /// `_aico_schema_metadata.schema_version`.
    pub schema_version: i64,
    /// The AMS migrations whose phase AICO applied itself (adopted as AICO made them).
    pub applied_by_aico: Vec<String>,
}

/// One migration's state.
#[derive(Debug, Serialize)]
pub struct MigrationLine {
    /// Its name.
    pub name: String,
    /// `applied`, `adopted` (found made by hand or by AICO, kept as found) or `pending`.
    pub status: &'static str,
    /// When it was applied (RFC 3339 UTC).
    pub applied_at: Option<String>,
    /// For an applied migration, its recorded fingerprint against what this tool's migration
    /// makes: `matches`, `changed`, `not recorded` or `not compared` (adopted); null when pending.
    pub fingerprint: Option<&'static str>,
    /// For a changed migration, the objects that differ (`index idx_...`, `table ...`).
    pub differs: Vec<String>,
}

/// Each chosen store's backfill.
pub type BackfillStores = PerStore<crate::sql::SqlBackfill, crate::lmdb::LmdbBackfill, crate::chroma::ChromaReport>;

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

/// The outcome of `aico-ams verify`, all stores.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// The SQL database (password hidden), when it was one of the stores.
    pub target: Option<String>,
    /// True when no check failed.
    pub passed: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

/// Each chosen store's health.
pub type HealthStores = PerStore<crate::sql::SqlHealth, crate::lmdb::LmdbHealth, crate::chroma::ChromaReport>;

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
