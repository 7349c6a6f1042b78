//! `aico-ams migrate [--status | --rollback | --dry-run]` on the SQL store: the same Migrator and
//! runner as `cargo run -p migration`.

use std::sync::{Arc, Mutex};

use migration::Migrator;
use migration::fingerprint::Check;
use migration::runner::{self, Command, Mode, Options, Progress, Step};

use serde::Serialize;

use crate::error::AppError;
use crate::sql::Db;

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

/// What `aico-ams migrate` is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Show each migration's state; change nothing.
    Status,
    /// Re-record the fingerprints of the applied migrations; change no schema.
    Repair,
    /// Apply every pending migration.
    Migrate,
    /// Roll back the last applied migration.
    Rollback,
    /// Run the migrations (or, with `rollback`, the rollback) in a transaction that is rolled back,
    /// recording every statement.
    DryRun {
        /// Rehearse the rollback instead.
        rollback: bool,
    },
}

impl Action {
    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Repair => "repair",
            Self::Migrate => "migrate",
            Self::Rollback => "rollback",
            Self::DryRun { .. } => "dry-run",
        }
    }
}

/// Do `action` on `db`; `progress` hears the plan and each step as they happen (before anything
/// changes, the plan). `force` allows dropping tables that hold rows where no backup can be written.
pub async fn migrate(
    db: &mut Db,
    action: Action,
    force: bool,
    progress: impl FnMut(Progress),
) -> Result<MigrateReport, AppError> {
    // The run, then the status listed after it, share one rehearsal of the migrations.
    let mut opts = Options { force, key: db.key.clone(), ..Options::default() };
    let mut steps = Vec::new();
    let statements = Arc::new(Mutex::new(Vec::new()));
    let run = match action {
        Action::Status | Action::Repair => None,
        Action::Migrate => Some((Command::Up { steps: None }, Mode::Apply)),
        Action::Rollback => Some((Command::Down { steps: 1 }, Mode::Apply)),
        Action::DryRun { rollback: false } => Some((Command::Up { steps: None }, Mode::DryRun)),
        Action::DryRun { rollback: true } => Some((Command::Down { steps: 1 }, Mode::DryRun)),
    };
    if let Some((command, mode)) = run {
        opts.mode = mode;
        if mode == Mode::DryRun {
            let sink = Arc::clone(&statements);
            db.conn.set_metric_callback(move |info| {
                let sql = info.statement.to_string();
                let head = sql.trim_start().to_ascii_uppercase();
                if !(head.starts_with("SELECT") || head.starts_with("PRAGMA") || head.starts_with("WITH")) {
                    // The migration table is (re)installed before each step: list it once.
                    if let Ok(mut all) = sink.lock()
                        && !all.contains(&sql)
                    {
                        all.push(sql);
                    }
                }
            });
        }
        let taken = runner::run(&db.conn, &db.target, command, &opts, progress).await?;
        steps = taken.iter().map(Step::to_string).collect();
    }
    if action == Action::Repair {
        steps = runner::repair::<Migrator>(&db.conn, &db.target, &opts.rehearsals)
            .await?
            .iter()
            .map(ToString::to_string)
            .collect();
    }
    let migrations = runner::status::<Migrator>(&db.conn, &db.target, &opts.rehearsals)
        .await?
        .into_iter()
        .map(|m| MigrationLine {
            status: m.state(),
            applied_at: m.applied_at_text(),
            fingerprint: m.fingerprint.as_ref().map(Check::as_str),
            differs: match &m.fingerprint {
                Some(Check::Changed(objects)) => objects.clone(),
                _ => Vec::new(),
            },
            name: m.name,
        })
        .collect();
    let statements = statements.lock().map(|s| s.clone()).unwrap_or_default();
    let aico = runner::aico_schema(&db.conn, &db.target)
        .await?
        .map(|a| AicoSchemaLine { schema_version: a.version, applied_by_aico: a.applied_by_aico });
    Ok(MigrateReport { target: db.target.to_string(), action: action.name(), migrations, steps, statements, aico })
}
