//! `aico-ams migrate [--status | --rollback | --dry-run]`: the target and the plan before any
//! change, each step as it is done, then the report. The lines are `migration`'s own
//! ([`migration::cli::lines`]).

use std::process::ExitCode;

use migration::cli::lines::{AicoLines, ProgressLines, StatusLine, StatusLines};

use super::args::MigrateArgs;
use super::emit;
use super::output::Stdout;
use crate::error::AppError;
use crate::sql::migrate::{MigrateReport, MigrationLine};
use crate::sql::{self, Action};

/// Run `aico-ams migrate`.
pub async fn run(args: &MigrateArgs, out: &mut Stdout) -> Result<ExitCode, AppError> {
    let json = args.common.json;
    let mut db = super::open_sql(&args.common, out).await?;
    let action = match (args.status, args.rollback, args.dry_run) {
        _ if args.repair => Action::Repair,
        (true, _, _) => Action::Status,
        (_, rollback, true) => Action::DryRun { rollback },
        (_, true, _) => Action::Rollback,
        _ => Action::Migrate,
    };
    let report = sql::migrate(&mut db, action, args.run.force, |progress| {
        if !json {
            out.print(ProgressLines { progress: &progress, dry_run: args.dry_run });
        }
    })
    .await;
    db.conn.close().await.ok();
    Ok(emit(out, json, &report?, true))
}

impl<'a> From<&'a MigrationLine> for StatusLine<'a> {
    fn from(m: &'a MigrationLine) -> Self {
        let applied_at = m.applied_at.as_deref().map(Into::into);
        Self { name: &m.name, state: m.status, applied_at, fingerprint: m.fingerprint, differs: &m.differs }
    }
}

impl std::fmt::Display for MigrateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.action == "dry-run" {
            writeln!(f, "SQL the run would execute (rolled back, nothing changed):")?;
            for sql in &self.statements {
                writeln!(f, "{sql};")?;
            }
        }
        if self.action == "status" {
            let aico = self
                .aico
                .as_ref()
                .map(|a| AicoLines { version: a.schema_version, applied_by_aico: &a.applied_by_aico });
            let migrations = self.migrations.iter().map(Into::into).collect();
            write!(f, "{}", StatusLines { aico, migrations })?;
        }
        if self.action == "repair" {
            match self.steps.is_empty() {
                true => writeln!(f, "nothing applied: no fingerprint to re-record")?,
                false => self.steps.iter().try_for_each(|s| writeln!(f, "{s}"))?,
            }
        }
        Ok(())
    }
}
