//! `aico-ams migrate [--status | --rollback | --dry-run]`: the target and the plan before any
//! change, each step as it is done, then the report.

use std::process::ExitCode;

use migration::runner::{Progress, status_line};
use migration::safety;

use super::args::MigrateArgs;
use super::emit;
use super::output::Stdout;
use crate::error::AppError;
use crate::sql::migrate::MigrateReport;
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
    // `AICO_FORCE_DROP=1` forces as `--force` does: read here, never by the migration library.
    let force = args.force || safety::forces(std::env::var(safety::FORCE_ENV).ok().as_deref());
    let report = sql::migrate(&mut db, action, force, |p| {
        if json {
            return;
        }
        match p {
            Progress::Waiting => out.line("another migrator holds the lock on this database; waiting"),
            Progress::Plan(plan) if plan.is_empty() => out.line("nothing to do: the schema is up to date"),
            Progress::Plan(plan) => {
                let dry = if args.dry_run { " (dry run: nothing will change)" } else { "" };
                out.line(format_args!("plan{dry}:"));
                plan.iter().for_each(|s| out.line(format_args!("  {s}")));
            }
            Progress::Started(_) => {}
            Progress::Finished(step, took) => out.line(format_args!("done: {step} ({took:.2?})")),
            Progress::Recorded(names) => out.line(migration::runner::recorded_line(&names)),
        }
    })
    .await;
    db.conn.close().await.ok();
    Ok(emit(out, json, &report?, true))
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
            if let Some(aico) = &self.aico {
                writeln!(f, "AICO's database, at AICO's schema version {}", aico.schema_version)?;
                match aico.applied_by_aico.is_empty() {
                    true => writeln!(f, "  AICO applied none of the AMS phases itself")?,
                    false => {
                        writeln!(f, "  applied by AICO itself (adopted as is): {}", aico.applied_by_aico.join(", "))?
                    }
                }
            }
            for m in &self.migrations {
                writeln!(f, "{}", status_line(&m.name, m.status, m.applied_at.as_deref(), m.fingerprint, &m.differs))?;
            }
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
