//! `aico-ams verify`: every check of every chosen store, `pass`/`FAIL`/`skip` one per line; exit 1
//! when one fails. A store that cannot be reached fails its check.

use std::process::ExitCode;

use serde::Serialize;

use super::args::{ReportArgs, StoreChoice};
use super::emit;
use super::output::Stdout;
use crate::error::AppError;
use crate::report::{Check, Outcome, Status};
use crate::sql;
use crate::{chroma, lmdb};

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

/// The name of the check that stands for the SQL store when it could not be checked at all.
const SQL_CHECK: &str = "SQL database";

/// Run `aico-ams verify` on the chosen stores.
pub async fn run(args: &ReportArgs, out: &mut Stdout) -> Result<ExitCode, AppError> {
    let json = args.common.json;
    let mut report = VerifyReport { target: None, passed: true, checks: Vec::new() };
    if args.stores.includes(StoreChoice::Sql) {
        let (target, outcome) =
            super::sql_store(&args.common, &args.stores, out, async |db| sql::verify(db).await).await?;
        report.target = target;
        match outcome {
            Outcome::Done(checks) => report.checks = checks,
            other => report.checks.push(Check::new(SQL_CHECK, Status::Fail, vec![other.problem().unwrap_or_default()])),
        }
    }
    if args.stores.includes(StoreChoice::Lmdb) {
        let dir = lmdb::working_dir(args.stores.memory_dir.as_deref());
        let outcome = lmdb::run(dir, |m| lmdb::verify(m, chrono::Utc::now()));
        report.checks.push(Check::of_outcome(lmdb::CHECK, outcome));
    }
    if args.stores.includes(StoreChoice::Chroma) {
        let outcome = args.stores.chroma_job(|c| async move { chroma::verify(&c).await }).await?;
        report.checks.push(Check::of_outcome(chroma::CHECK, outcome));
    }
    report.passed = report.checks.iter().all(|c| c.status != Status::Fail);
    Ok(emit(out, json, &report, report.passed))
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            writeln!(f, "{mark}  {}", c.name)?;
            for d in &c.details {
                writeln!(f, "        {d}")?;
            }
        }
        writeln!(f, "{}", if self.passed { "verify: all checks passed" } else { "verify: FAILED" })
    }
}
