//! Running the Migrator the safe way: one locked transaction per run, so that two migrators never
//! interleave and a failure (or a `kill -9`) half-way leaves the database exactly as before.
//!
//! The `migration` binary and `aico-ams migrate` both run through here; the migrations themselves
//! are the stock sea-orm-migration ones and also run under sea-orm's own CLI.

use std::time::{Duration, Instant};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait};
use sea_orm_migration::seaql_migrations;

use crate::Migrator;
use crate::catalog::Layout;
use crate::error::MigrateError;
use crate::fingerprint::{self, Check, Fingerprint, How, Rehearsals};
pub use crate::options::{Mode, Options};
use crate::safety;
use aico_connect::dialect::Dialect;
use aico_connect::target::Target;

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
    /// These applied migrations had no fingerprint (applied before fingerprints existed): what
    /// the database holds of them is now recorded. Said once, by the `up` that records them.
    Recorded(Vec<String>),
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
    /// For an applied migration: applied, or adopted (by its fingerprint's record; without one,
    /// adopted where AICO applied the phase itself).
    pub how: Option<How>,
    /// For an applied migration: its recorded fingerprint against what this tool's migration makes.
    pub fingerprint: Option<Check>,
}

impl MigrationState {
    /// `applied`, `adopted` or `pending`.
    pub fn state(&self) -> &'static str {
        self.how.map_or("pending", How::as_str)
    }

    /// When it was applied, as RFC 3339 UTC to the second (the raw seconds if out of range).
    pub fn applied_at_text(&self) -> Option<String> {
        self.applied_at.map(|secs| {
            chrono::DateTime::from_timestamp(secs, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| secs.to_string())
        })
    }
}

fn names<M: MigratorTrait>() -> Vec<String> {
    M::migrations().iter().map(|m| m.name().to_owned()).collect()
}

/// What this tool's migrations make from empty, found by rehearsal when first asked.
struct Expected<'a> {
    target: &'a Target,
    layout: Layout,
    names: Vec<String>,
    rehearsals: &'a Rehearsals,
}

impl<'a> Expected<'a> {
    fn new<M: MigratorTrait>(target: &'a Target, layout: Layout, rehearsals: &'a Rehearsals) -> Self {
        Self { target, layout, names: names::<M>(), rehearsals }
    }

    /// What `name` makes from empty; `None` where it cannot run from empty (adopted from AICO).
    async fn of<M: MigratorTrait>(&self, name: &str) -> Result<Option<Fingerprint>, MigrateError> {
        let rehearsed = self
            .rehearsals
            .of::<M>(self.target, self.layout)
            .await
            .map_err(|e| MigrateError::in_migration(self.target, "fingerprint rehearsal", e))?;
        let at = self.names.iter().position(|n| n == name);
        Ok(at.and_then(|i| rehearsed.get(i).cloned().flatten()))
    }

    /// Record what the database behind `conn` holds of `name`, applied or adopted.
    async fn record<M: MigratorTrait, C: ConnectionTrait>(&self, conn: &C, name: &str) -> Result<How, MigrateError> {
        let err = |e| MigrateError::in_migration(self.target, name, e);
        let found = fingerprint::read(conn, self.layout, name).await.map_err(err)?;
        let how = How::of(&found, self.of::<M>(name).await?.as_ref());
        fingerprint::record(conn, name, &found, how).await.map_err(err)?;
        Ok(how)
    }
}

impl std::fmt::Display for Repaired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |h: &str| h.chars().take(12).collect::<String>();
        let was = self.was.as_deref().map_or("none".to_owned(), short);
        write!(f, "re-recorded {} as {}: fingerprint {} (was {was})", self.name, self.how.as_str(), short(&self.now))
    }
}

/// Every migration of `M` (the AMS's: [`Migrator`]) with its state and fingerprint check.
/// Changes nothing and takes no lock; what the migrations make is rehearsed on a scratch database
/// (on PostgreSQL the session's temporary schema, in a transaction that is rolled back), once per
/// `rehearsals` value.
pub async fn status<M: MigratorTrait>(
    db: &DatabaseConnection,
    target: &Target,
    rehearsals: &Rehearsals,
) -> Result<Vec<MigrationState>, MigrateError> {
    let err = |e| MigrateError::classify(target, e);
    let manager = SchemaManager::new(db);
    let applied: Vec<seaql_migrations::Model> = if manager.has_table("seaql_migrations").await.map_err(err)? {
        seaql_migrations::Entity::find().all(db).await.map_err(err)?
    } else {
        Vec::new()
    };
    let records = fingerprint::records(db).await.map_err(err)?;
    let layout = Layout::detect(db).await.map_err(err)?;
    let expected = Expected::new::<M>(target, layout, rehearsals);
    let mut out = Vec::new();
    for name in names::<M>() {
        let applied_at = applied.iter().find(|m| m.version == name).map(|m| m.applied_at);
        let record = records.get(&name);
        let (how, check) = match (applied_at, record) {
            (None, _) => (None, None),
            (Some(_), Some(r)) if r.how == How::Applied => {
                (Some(How::Applied), Some(Check::of(Some(r), expected.of::<M>(&name).await?.as_ref())))
            }
            (Some(_), Some(r)) => (Some(r.how), Some(Check::of(Some(r), None))),
            (Some(_), None) if layout.aico_applied(&name) => (Some(How::Adopted), Some(Check::NotRecorded)),
            (Some(_), None) => (Some(How::Applied), Some(Check::NotRecorded)),
        };
        out.push(MigrationState { name, applied_at, how, fingerprint: check });
    }
    Ok(out)
}

/// One fingerprint re-recorded by [`repair`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repaired {
    /// The migration.
    pub name: String,
    /// Recorded as applied (the database holds what the migration makes) or adopted (it holds
    /// something else, now accepted as found).
    pub how: How,
    /// The fingerprint recorded before, if any.
    pub was: Option<String>,
    /// The fingerprint recorded now.
    pub now: String,
}

/// Re-record the fingerprints of all applied migrations of `M` (the AMS's: [`Migrator`]) from
/// the database as it is now, under the migrators' lock, after a user has checked a schema that
/// `up` reported as changed. Changes no schema (only the fingerprint table, created if missing).
pub async fn repair<M: MigratorTrait>(
    db: &DatabaseConnection,
    target: &Target,
    rehearsals: &Rehearsals,
) -> Result<Vec<Repaired>, MigrateError> {
    let err = |e| MigrateError::classify(target, e);
    let dialect = Dialect::of_conn(db).map_err(err)?;
    let txn = dialect.begin_locked(db, || {}).await.map_err(err)?;
    if !SchemaManager::new(&txn).has_table("seaql_migrations").await.map_err(err)? {
        return Ok(Vec::new());
    }
    fingerprint::install(&txn).await.map_err(err)?;
    let before = fingerprint::records(&txn).await.map_err(err)?;
    let layout = Layout::detect(&txn).await.map_err(err)?;
    let expected = Expected::new::<M>(target, layout, rehearsals);
    let applied: Vec<String> =
        M::get_applied_migrations(&txn).await.map_err(err)?.iter().map(|m| m.name().to_owned()).collect();
    let mut out = Vec::new();
    for name in applied {
        let how = expected.record::<M, _>(&txn, &name).await?;
        let now = fingerprint::records(&txn).await.map_err(err)?.remove(&name).map(|r| r.fingerprint.hash);
        out.push(Repaired {
            was: before.get(&name).map(|r| r.fingerprint.hash.clone()),
            now: now.unwrap_or_default(),
            how,
            name,
        });
    }
    txn.commit().await.map_err(err)?;
    Ok(out)
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
        // AICO's PostgreSQL database has no schema versions.
        Layout::Seed | Layout::AicoPostgres => Ok(None),
        layout @ Layout::Aico { version } => Ok(Some(AicoSchema {
            version,
            applied_by_aico: names::<Migrator>().into_iter().filter(|m| layout.aico_applied(m)).collect(),
        })),
    }
}

/// Run `command` on `db` (the database `target` names) in one transaction under the migrators'
/// lock, as `opts` say (force, the file's key, commit or roll back, the rehearsals to share).
/// `progress` hears the plan before any change, and each step as it goes. Returns the steps taken.
pub async fn run(
    db: &DatabaseConnection,
    target: &Target,
    command: Command,
    opts: &Options,
    progress: impl FnMut(Progress),
) -> Result<Vec<Step>, MigrateError> {
    run_with::<Migrator>(db, target, command, opts, progress).await
}

/// [`run`] with the migrations of `M` (the AMS's: [`Migrator`]; tests run a changed set).
pub async fn run_with<M: MigratorTrait>(
    db: &DatabaseConnection,
    target: &Target,
    command: Command,
    opts: &Options,
    progress: impl FnMut(Progress),
) -> Result<Vec<Step>, MigrateError> {
    run_steps::<M>(db, target, command, opts, progress).await
}

async fn run_steps<M: MigratorTrait>(
    db: &DatabaseConnection,
    target: &Target,
    command: Command,
    opts: &Options,
    mut progress: impl FnMut(Progress),
) -> Result<Vec<Step>, MigrateError> {
    let err = |e| MigrateError::classify(target, e);
    let dialect = Dialect::of_conn(db).map_err(err)?;
    let mut waited = false;
    let txn = dialect.begin_locked(db, || waited = true).await.map_err(err)?;
    if waited {
        progress(Progress::Waiting);
    }
    M::install(&txn).await.map_err(err)?;
    fingerprint::install(&txn).await.map_err(err)?;

    let applied: Vec<String> =
        M::get_applied_migrations(&txn).await.map_err(err)?.iter().map(|m| m.name().to_owned()).collect();
    let layout = Layout::detect(&txn).await.map_err(err)?;
    let expected = Expected::new::<M>(target, layout, &opts.rehearsals);
    if let Command::Up { .. } = command {
        check_fingerprints::<M>(&txn, target, &applied, &expected, &mut progress).await?;
    }
    let plan = plan::<M>(command, &applied);
    progress(Progress::Plan(plan.clone()));

    for step in &plan {
        progress(Progress::Started(step.clone()));
        let started = Instant::now();
        take_step::<M>(&txn, target, step, &expected, layout, opts).await?;
        progress(Progress::Finished(step.clone(), started.elapsed()));
    }
    match opts.mode {
        Mode::Apply => txn.commit().await.map_err(err)?,
        Mode::DryRun => txn.rollback().await.map_err(err)?,
    }
    Ok(plan)
}

/// The steps `command` takes, given the migrations already `applied` (oldest first).
fn plan<M: MigratorTrait>(command: Command, applied: &[String]) -> Vec<Step> {
    let all = names::<M>();
    let pending_after = |applied: &[String]| -> Vec<Step> {
        all.iter().filter(|n| !applied.contains(n)).cloned().map(Step::Apply).collect()
    };
    let rollback = |n: Option<u32>| -> Vec<Step> {
        let take = n.map_or(applied.len(), |n| n as usize);
        applied.iter().rev().take(take).cloned().map(Step::Rollback).collect()
    };
    match command {
        Command::Up { steps } => {
            let mut p = pending_after(applied);
            if let Some(n) = steps {
                p.truncate(n as usize);
            }
            p
        }
        Command::Down { steps } => rollback(Some(steps)),
        Command::Fresh => vec![Step::Fresh],
        Command::Refresh => rollback(None).into_iter().chain(pending_after(&[])).collect(),
        Command::Reset => rollback(None).into_iter().chain([Step::Uninstall]).collect(),
    }
}

/// Takes one step of the plan inside `txn`, on a database of `layout`.
async fn take_step<M: MigratorTrait>(
    txn: &DatabaseTransaction,
    target: &Target,
    step: &Step,
    expected: &Expected<'_>,
    layout: Layout,
    opts: &Options,
) -> Result<(), MigrateError> {
    let err = |e| MigrateError::classify(target, e);
    match step {
        Step::Apply(name) => {
            M::up(txn, Some(1)).await.map_err(|e| MigrateError::in_migration(target, name, e))?;
            expected.record::<M, _>(txn, name).await?;
        }
        Step::Rollback(name) => {
            // Nothing lost: the tables this rollback drops, if they hold rows, are backed up
            // first (or the step is refused).
            let drops = crate::catalog::rollback_drops(name, layout);
            let label = name.split('_').next().unwrap_or(name);
            safety::guard_drop(&SchemaManager::new(txn), &drops, label, opts)
                .await
                .map_err(|e| MigrateError::in_migration(target, name, e))?;
            M::down(txn, Some(1)).await.map_err(|e| MigrateError::in_migration(target, name, e))?;
            fingerprint::forget(txn, name).await.map_err(err)?;
        }
        Step::Fresh => fresh::<M>(txn, target, expected, opts).await?,
        Step::Uninstall => {
            M::uninstall(txn).await.map_err(err)?;
            fingerprint::uninstall(txn).await.map_err(err)?;
        }
    }
    Ok(())
}

/// The `fresh` step: refused on AICO's own database; else drops every table (after the backup
/// `opts` asks for), applies every migration and records their fingerprints.
async fn fresh<M: MigratorTrait>(
    txn: &DatabaseTransaction,
    target: &Target,
    expected: &Expected<'_>,
    opts: &Options,
) -> Result<(), MigrateError> {
    let err = |e| MigrateError::classify(target, e);
    if let Layout::Aico { .. } | Layout::AicoPostgres = Layout::detect(txn).await.map_err(err)? {
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
    let manager = SchemaManager::new(txn);
    safety::restorable(&manager, "drop every table (fresh)", "fresh", opts)
        .await
        .map_err(|e| MigrateError::in_migration(target, "fresh", e))?;
    M::fresh(txn).await.map_err(|e| MigrateError::in_migration(target, "fresh", e))?;
    // `fresh` dropped every table, the fingerprints' too.
    fingerprint::install(txn).await.map_err(err)?;
    for name in &names::<M>() {
        expected.record::<M, _>(txn, name).await?;
    }
    Ok(())
}

/// Before `up` changes anything: stop when an applied migration now makes other objects than its
/// recorded fingerprint says it made; record the applied migrations that have no fingerprint yet.
async fn check_fingerprints<M: MigratorTrait>(
    txn: &DatabaseTransaction,
    target: &Target,
    applied: &[String],
    expected: &Expected<'_>,
    progress: &mut impl FnMut(Progress),
) -> Result<(), MigrateError> {
    let records = fingerprint::records(txn).await.map_err(|e| MigrateError::classify(target, e))?;
    let mut changes = Vec::new();
    let mut unrecorded = Vec::new();
    for name in applied {
        match records.get(name) {
            None => unrecorded.push(name.clone()),
            Some(r) if r.how == How::Applied => {
                if let Check::Changed(objects) = Check::of(Some(r), expected.of::<M>(name).await?.as_ref()) {
                    let (what, by) = (fingerprint::what_differs(&objects), r.recorded_by());
                    changes.push(format!("migration {name} changed since it was applied ({what}; recorded by {by})"));
                }
            }
            Some(_) => {}
        }
    }
    if !changes.is_empty() {
        return Err(MigrateError::Changed { target: target.to_string(), changes: changes.join("; ") });
    }
    for name in &unrecorded {
        expected.record::<M, _>(txn, name).await?;
    }
    if !unrecorded.is_empty() {
        progress(Progress::Recorded(unrecorded));
    }
    Ok(())
}
