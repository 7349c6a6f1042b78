//! `aico db migrate | backfill | verify | health`: exit 0 ok, 1 a check or job failed, 2 usage or
//! connection error.

use std::process::ExitCode;

use aico::cli::{Cli, Db as DbCommand, Top};
use aico::error::AppError;
use aico::{backfill, health, migrate, verify};
use clap::Parser;
use serde::Serialize;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    migration::console::init_logging(level, cli.verbose > 1);
    match migration::console::block_on(run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
        Err(code) => code,
    }
}

/// Print `report` as JSON or text; `ok` decides the exit status (0, else 1).
fn emit<R: Serialize + std::fmt::Display>(report: &R, json: bool, ok: bool) -> ExitCode {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: cannot write the JSON report: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{report}");
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

async fn run(cli: Cli) -> Result<ExitCode, AppError> {
    let Top::Db { command } = cli.command;
    Ok(match command {
        DbCommand::Migrate(args) => {
            let report = migrate::run(&args).await?;
            emit(&report, args.common.json, true)
        }
        DbCommand::Backfill(args) => {
            let report = backfill::run(&args).await?;
            emit(&report, args.common.json, report.complete)
        }
        DbCommand::Verify(args) => {
            let report = verify::run(&args).await?;
            emit(&report, args.common.json, report.passed)
        }
        DbCommand::Health(args) => {
            let report = health::run(&args).await?;
            emit(&report, args.common.json, report.reachable)
        }
    })
}
