//! `aico-ams verify`: every check of every chosen store, `pass`/`FAIL`/`skip` one per line; exit 1
//! when one fails. A store that cannot be reached fails its check.

use std::process::ExitCode;

use serde::Serialize;

use super::args::{ReportArgs, StoreChoice};
use super::output::Stdout;
use super::{Memories, emit};
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
    /// AICO's PostgreSQL database: the segments' coverage, the embedding's width, AICO's index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<sql::segments::SegmentsCoverage>,
    /// AICO's PostgreSQL database: the working memory's coverage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_memory: Option<sql::working::WorkingCoverage>,
}

/// The name of the check that stands for the SQL store when it could not be checked at all.
const SQL_CHECK: &str = "SQL database";

/// Run `aico-ams verify` on the chosen stores.
pub async fn run(args: &ReportArgs, out: &mut Stdout) -> Result<ExitCode, AppError> {
    let json = args.common.json;
    let mut report =
        VerifyReport { target: None, passed: true, checks: Vec::new(), segments: None, working_memory: None };
    if args.stores.includes(StoreChoice::Facts) {
        let (target, outcome) =
            super::sql_store(&args.common, &args.stores, out, async |db, layout| sql::verify(db, layout).await).await?;
        report.target = target;
        match outcome {
            Outcome::Done(checks) => report.checks = checks,
            other => report.checks.push(Check::new(SQL_CHECK, Status::Fail, vec![other.problem().unwrap_or_default()])),
        }
    }
    let memories = Memories::find(&args.common, &args.stores, out, !args.stores.includes(StoreChoice::Facts)).await?;
    report.target = report.target.take().or_else(|| memories.target());
    if args.stores.includes(StoreChoice::Segments) {
        match memories.job(&args.stores, async |db| sql::segments::coverage(db).await).await? {
            Some(Outcome::Done(c)) => {
                report.checks.push(sql::segments::check(&c));
                report.segments = Some(c);
            }
            Some(other) => {
                report.checks.push(Check::of_outcome(sql::segments::CHECK, other.map(|_| unreachable_check())))
            }
            None => {}
        }
    }
    if args.stores.includes(StoreChoice::WorkingMemory) {
        match memories.job(&args.stores, async |db| sql::working::coverage(db).await).await? {
            Some(Outcome::Done(c)) => {
                report.checks.push(sql::working::check(&c));
                report.working_memory = Some(c);
            }
            Some(other) => {
                report.checks.push(Check::of_outcome(sql::working::CHECK, other.map(|_| unreachable_check())))
            }
            None => {}
        }
    }
    let on_pg = matches!(memories, Memories::AicoPostgres(_));
    memories.close().await;
    if args.stores.includes(StoreChoice::WorkingMemory) && !on_pg {
        let dir = lmdb::working_dir(args.stores.memory_dir.as_deref(), args.common.database.aico_data_dir());
        let outcome = lmdb::run(dir, |m| lmdb::verify(m, chrono::Utc::now()));
        report.checks.push(Check::of_outcome(lmdb::CHECK, outcome));
    }
    if args.stores.includes(StoreChoice::Segments) && !on_pg {
        let outcome = args
            .stores
            .chroma_job(args.common.database.aico_data_dir(), |c| async move { chroma::verify(&c).await })
            .await?;
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

/// Never made: a `done` outcome is handled before (see [`Outcome::map`]).
fn unreachable_check() -> Check {
    Check::new("", Status::Fail, Vec::new())
}
