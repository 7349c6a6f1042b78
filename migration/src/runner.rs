//! Running the Migrator the safe way: one locked transaction per run, so that two migrators never
//! interleave and a failure (or a `kill -9`) half-way leaves the database exactly as before.
//!
//! The `migration` binary and `aico-ams migrate` both run through here; the migrations themselves
//! are the stock sea-orm-migration ones and also run under sea-orm's own CLI.

use std::time::{Duration, Instant};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DatabaseConnection, EntityTrait};
use sea_orm_migration::seaql_migrations;

use crate::Migrator;
use crate::catalog::Layout;
use crate::dialect::Dialect;
use crate::error::MigrateError;
use crate::safety;
use crate::target::Target;

/// What a run does; the stock sea-orm-migration commands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Apply pending migrations (all, or the first `steps`).
    Up {
        /// How many; all when `None`.
        steps: Option<u32>,
    },
    /// Roll back the last `steps` applied migrations.
    Down {
        /// How many.
        steps: u32,
    },
    /// Drop every table, then apply all migrations (backup first).
    Fresh,
    /// Roll back all applied migrations, then apply them again.
    Refresh,
    /// Roll back all applied migrations and drop the migration table.
    Reset,
}

/// What a run reports while it works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Another migrator holds the lock; this one waits for it.
    Waiting,
    /// The steps this run will take, in order, decided under the lock and before any change.
    Plan(Vec<Step>),
    /// A step is starting.
    Started(Step),
    /// A step finished.
    Finished(Step, Duration),
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Apply this migration.
    Apply(String),
    /// Roll back this migration.
    Rollback(String),
    /// Drop every table, then apply every migration (`fresh`).
    Fresh,
    /// Drop the migration table (`reset`).
    Uninstall,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Apply(name) => write!(f, "apply {name}"),
            Self::Rollback(name) => write!(f, "roll back {name}"),
            Self::Fresh => write!(f, "drop every table, then apply every migration (fresh)"),
            Self::Uninstall => write!(f, "drop the migration table seaql_migrations"),
        }
    }
}

/// A migration and whether (and when, in Unix seconds) it was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's name, e.g. `m0001_temporal_metadata`.
    pub name: String,
    /// When it was applied, if it was.
    pub applied_at: Option<i64>,
}

impl MigrationState {
    /// When it was applied, as RFC 3339 UTC to the second (the raw seconds if out of range).
    pub fn applied_at_text(&self) -> Option<String> {
        self.applied_at.map(|secs| {
            chrono::DateTime::from_timestamp(secs, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| secs.to_string())
        })
    }
}

/// The names of all migrations, in order.
pub fn migration_names() -> Vec<String> {
    Migrator::migrations().iter().map(|m| m.name().to_owned()).collect()
}

/// Every migration with its state. Reads only: creates nothing, takes no lock.
pub async fn status(db: &DatabaseConnection, target: &Target) -> Result<Vec<MigrationState>, MigrateError> {
    let err = |e| MigrateError::classify(target, e);
    let manager = SchemaManager::new(db);
    let applied: Vec<seaql_migrations::Model> = if manager.has_table("seaql_migrations").await.map_err(err)? {
        seaql_migrations::Entity::find().all(db).await.map_err(err)?
    } else {
        Vec::new()
    };
    Ok(migration_names()
        .into_iter()
        .map(|name| {
            let applied_at = applied.iter().find(|m| m.version == name).map(|m| m.applied_at);
            MigrationState { name, applied_at }
        })
        .collect())
}

/// What AICO's own migrator did to a database it manages (`_aico_schema_metadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AicoSchema {
    /// AICO's schema version (`_aico_schema_metadata`, key `schema_version`).
    pub version: i64,
    /// The AMS migrations whose phase AICO applied itself (adopted as AICO made them), in order.
    pub applied_by_aico: Vec<String>,
}

/// AICO's schema version and the AMS phases AICO applied itself, or `None` when the database is
/// not managed by AICO's migrator. Reads only.
pub async fn aico_schema(db: &DatabaseConnection, target: &Target) -> Result<Option<AicoSchema>, MigrateError> {
    match Layout::detect(db).await.map_err(|e| MigrateError::classify(target, e))? {
        Layout::Seed => Ok(None),
        layout @ Layout::Aico { version } => Ok(Some(AicoSchema {
            version,
            applied_by_aico: migration_names().into_iter().filter(|m| layout.aico_applied(m)).collect(),
        })),
    }
}

/// Whether a run keeps its work.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Commit the run.
    Apply,
    /// Do everything, then roll it all back: nothing changes (to see the SQL a run would execute).
    DryRun,
}

/// Run `command` on `db` (the database `target` names) in one transaction under the migrators'
/// lock. `progress` hears the plan before any change, and each step as it goes. Returns the
/// steps taken.
pub async fn run(
    db: &DatabaseConnection,
    target: &Target,
    command: Command,
    progress: impl FnMut(Progress),
) -> Result<Vec<Step>, MigrateError> {
    run_in(db, target, command, Mode::Apply, progress).await
}

/// [`run`], or with [`Mode::DryRun`] the same run rolled back at the end (and no backup written:
/// there is nothing to restore).
pub async fn run_in(
    db: &DatabaseConnection,
    target: &Target,
    command: Command,
    mode: Mode,
    progress: impl FnMut(Progress),
) -> Result<Vec<Step>, MigrateError> {
    safety::rehearsing(mode == Mode::DryRun, run_steps(db, target, command, mode, progress)).await
}

async fn run_steps(
    db: &DatabaseConnection,
    target: &Target,
    command: Command,
    mode: Mode,
    mut progress: impl FnMut(Progress),
) -> Result<Vec<Step>, MigrateError> {
    let err = |e| MigrateError::classify(target, e);
    let dialect = Dialect::of_conn(db).map_err(err)?;
    let mut waited = false;
    let txn = dialect.begin_locked(db, || waited = true).await.map_err(err)?;
    if waited {
        progress(Progress::Waiting);
    }
    Migrator::install(&txn).await.map_err(err)?;

    let applied: Vec<String> =
        Migrator::get_applied_migrations(&txn).await.map_err(err)?.iter().map(|m| m.name().to_owned()).collect();
    let all = migration_names();
    let pending_after = |applied: &[String]| -> Vec<Step> {
        all.iter().filter(|n| !applied.contains(n)).cloned().map(Step::Apply).collect()
    };
    let rollback = |n: Option<u32>| -> Vec<Step> {
        let take = n.map_or(applied.len(), |n| n as usize);
        applied.iter().rev().take(take).cloned().map(Step::Rollback).collect()
    };
    let plan: Vec<Step> = match command {
        Command::Up { steps } => {
            let mut p = pending_after(&applied);
            if let Some(n) = steps {
                p.truncate(n as usize);
            }
            p
        }
        Command::Down { steps } => rollback(Some(steps)),
        Command::Fresh => vec![Step::Fresh],
        Command::Refresh => rollback(None).into_iter().chain(pending_after(&[])).collect(),
        Command::Reset => rollback(None).into_iter().chain([Step::Uninstall]).collect(),
    };
    progress(Progress::Plan(plan.clone()));

    for step in &plan {
        progress(Progress::Started(step.clone()));
        let started = Instant::now();
        match step {
            Step::Apply(name) => {
                Migrator::up(&txn, Some(1)).await.map_err(|e| MigrateError::in_migration(target, name, e))?
            }
            Step::Rollback(name) => {
                Migrator::down(&txn, Some(1)).await.map_err(|e| MigrateError::in_migration(target, name, e))?
            }
            Step::Fresh => {
                if let Layout::Aico { .. } = Layout::detect(&txn).await.map_err(err)? {
                    return Err(MigrateError::in_migration(
                        target,
                        "fresh",
                        DbErr::Migration(
                            "this is AICO's own database: fresh would drop every table of AICO's, not only the \
                             AMS's; refused (roll back with down instead)"
                                .into(),
                        ),
                    ));
                }
                let manager = SchemaManager::new(&txn);
                safety::restorable(&manager, "drop every table (fresh)", "fresh")
                    .await
                    .map_err(|e| MigrateError::in_migration(target, "fresh", e))?;
                Migrator::fresh(&txn).await.map_err(|e| MigrateError::in_migration(target, "fresh", e))?;
            }
            Step::Uninstall => Migrator::uninstall(&txn).await.map_err(err)?,
        }
        progress(Progress::Finished(step.clone(), started.elapsed()));
    }
    match mode {
        Mode::Apply => txn.commit().await.map_err(err)?,
        Mode::DryRun => txn.rollback().await.map_err(err)?,
    }
    Ok(plan)
}
