//! `aico-ams move`: the source and target lines, the move (or its plan), its report; exit 0 when
//! every source row is verified in the target or was there already, the same; 1 when some were
//! refused or differ; 2 when a check stopped it before anything was written (or a usage or
//! connection error).

use std::process::ExitCode;

use aico_connect::aico_pg::AicoPgSettings;
use aico_connect::target::{DefaultDb, Target, aico_db_path};

use super::args::MoveArgs;
use super::output::{self, Stdout};
use crate::error::AppError;
use crate::lmdb;
use crate::moving::{self, Dest, MoveError, MoveOptions, Source};

/// Run `aico-ams move`.
pub async fn run(args: &MoveArgs, out: &mut Stdout) -> Result<ExitCode, AppError> {
    let database = &args.common.database;
    let keys = database.keys()?;
    let aico_data = database.aico_data_dir();
    let from = match database.database_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => Target::resolve(Some(url), aico_data)?,
        None => {
            let path = aico_db_path(aico_data)?;
            Target::Sqlite { path, create: false, query: None, default: Some(DefaultDb::Aico) }
        }
    };
    if from.sqlite_path().is_none() {
        return Err(MoveError::NotSqlite { target: from.to_string() }.into());
    }
    let to = match &args.to {
        Some(url) => url.clone(),
        None => AicoPgSettings::from_env()
            .and_then(|s| s.url())
            .map_err(aico_connect::error::ConnectError::AicoPgSetting)?
            .to_string(),
    };
    let to = Target::resolve(Some(&to), aico_data)?;
    if to.sqlite_path().is_some() {
        return Err(MoveError::NotPostgres { target: to.to_string() }.into());
    }
    if !args.common.json {
        out.line(format_args!("source: {} (read-only)", from.described_with(&keys)));
        out.line(format_args!("target: {}", to.described_with(&keys)));
    }
    let source = Source::open(from, &keys).await?;
    let dest = match Dest::open(to, &keys, !args.dry_run).await {
        Ok(dest) => dest,
        Err(e) => {
            source.close().await;
            return Err(e.into());
        }
    };
    let batch_size = usize::try_from(args.batch_size).unwrap_or(1000);
    let working = lmdb::working_dir(args.memory_dir.as_deref(), aico_data);
    let done = moving::run(&source, &dest, working, MoveOptions { dry_run: args.dry_run, batch_size }).await;
    source.close().await;
    dest.close().await;
    let report = done?;
    if args.common.json {
        output::json(out, &report);
    } else {
        out.print(&report);
    }
    Ok(match (report.stopped.is_empty(), report.ok) {
        (false, _) => ExitCode::from(2),
        (true, true) => ExitCode::SUCCESS,
        (true, false) => ExitCode::from(1),
    })
}
