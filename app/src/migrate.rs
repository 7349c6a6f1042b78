//! `aico db migrate [--status | --rollback | --dry-run]`: the seed's CLI on the same Migrator and
//! runner as `cargo run -p migration`.

use std::sync::{Arc, Mutex};

use migration::runner::{self, Command, Mode, Progress, Step};
use serde::Serialize;

use crate::cli::MigrateArgs;
use crate::db::Db;
use crate::error::AppError;

/// What `aico db migrate` did.
#[derive(Debug, Serialize)]
pub struct MigrateReport {
    /// The database (password hidden).
    pub target: String,
    /// `status`, `migrate`, `rollback`, or `dry-run`.
    pub action: &'static str,
    /// Each migration and its state (after the run; for a dry run, before it).
    pub migrations: Vec<MigrationLine>,
    /// The steps taken (or, for a dry run, that would be taken).
    pub steps: Vec<String>,
    /// For a dry run: the SQL statements the run would execute, in order (reads left out).
    pub statements: Vec<String>,
}

/// One migration's state.
#[derive(Debug, Serialize)]
pub struct MigrationLine {
    /// Its name.
    pub name: String,
    /// `applied` or `pending`.
    pub status: &'static str,
    /// When it was applied (RFC 3339 UTC).
    pub applied_at: Option<String>,
}

/// Run `aico db migrate`. In text mode, prints the target and plan before any change.
pub async fn run(args: &MigrateArgs) -> Result<MigrateReport, AppError> {
    migration::safety::allow_destructive(args.force);
    let json = args.common.json;
    let mut db = Db::open(&args.common).await?;
    if !json {
        println!("target: {}", db.target);
    }
    let action = match (args.status, args.rollback, args.dry_run) {
        (true, _, _) => "status",
        (_, _, true) => "dry-run",
        (_, true, _) => "rollback",
        _ => "migrate",
    };
    let mut steps = Vec::new();
    let statements = Arc::new(Mutex::new(Vec::new()));
    if !args.status {
        let command = if args.rollback { Command::Down { steps: 1 } } else { Command::Up { steps: None } };
        let mode = if args.dry_run { Mode::DryRun } else { Mode::Apply };
        if args.dry_run {
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
        let taken = runner::run_in(&db.conn, &db.target, command, mode, |p| {
            if json {
                return;
            }
            match p {
                Progress::Waiting => println!("another migrator holds the lock on this database; waiting"),
                Progress::Plan(plan) if plan.is_empty() => println!("nothing to do: the schema is up to date"),
                Progress::Plan(plan) => {
                    println!("plan{}:", if args.dry_run { " (dry run: nothing will change)" } else { "" });
                    plan.iter().for_each(|s| println!("  {s}"));
                }
                Progress::Started(_) => {}
                Progress::Finished(step, took) => println!("done: {step} ({took:.2?})"),
            }
        })
        .await?;
        steps = taken.iter().map(Step::to_string).collect();
    }
    let migrations = runner::status(&db.conn, &db.target)
        .await?
        .into_iter()
        .map(|m| MigrationLine {
            status: if m.applied_at.is_some() { "applied" } else { "pending" },
            applied_at: m.applied_at_text(),
            name: m.name,
        })
        .collect();
    let statements = statements.lock().map(|s| s.clone()).unwrap_or_default();
    db.conn.close().await.ok();
    Ok(MigrateReport { target: db.target.to_string(), action, migrations, steps, statements })
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
            for m in &self.migrations {
                match &m.applied_at {
                    Some(at) => writeln!(f, "  applied  {}  (at {at})", m.name)?,
                    None => writeln!(f, "  pending  {}", m.name)?,
                }
            }
        }
        Ok(())
    }
}
