//! `aico-ams move`: the source and target lines, the move (or its plan), its report; exit 0 when
//! every source row is verified in the target or was there already, the same; 1 when some were
//! refused or differ; 2 when a check stopped it before anything was written (or a usage or
//! connection error).

use std::cell::RefCell;
use std::io::IsTerminal;
use std::process::ExitCode;

use aico_connect::aico_pg::AicoPgSettings;
use aico_connect::target::{DefaultDb, Target, aico_db_path};

use super::args::MoveArgs;
use super::output::{self, Stdout};
use crate::chroma::{ChromaError, Endpoint, Reader};
use crate::error::AppError;
use crate::lmdb;
use crate::moving::{self, ChromaInput, Dest, MoveError, MoveOptions, Source, Step};

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
    let chroma = chroma_input(args, aico_data).await?;
    let source = Source::open(from, &keys).await?;
    let dest = match Dest::open(to, &keys, !args.dry_run).await {
        Ok(dest) => dest,
        Err(e) => {
            source.close().await;
            return Err(e.into());
        }
    };
    // At most 10,000 (the flag's range): it fits, and no second copy of the default is needed.
    let batch_size = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
    let working = lmdb::working_dir(args.memory_dir.as_deref(), aico_data);
    let shown = Progress::new(!args.common.json);
    let progress = |step: Step<'_>| shown.step(step);
    let opts = MoveOptions { dry_run: args.dry_run, batch_size, progress: &progress };
    let done = moving::run(&source, &dest, working, &chroma, opts).await;
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

/// AICO's Chroma store as the move reads it: the server at --chroma-url; else the store at
/// --chroma-path or `<memory dir>/semantic`, a private copy of it served for the run. No store
/// where AICO keeps it (nothing given): skipped, and the report says so. A store given but not
/// there, or one that cannot be served, is the command's error (exit 2), before anything is read.
async fn chroma_input(args: &MoveArgs, aico_data: Option<&std::path::Path>) -> Result<ChromaInput, AppError> {
    let config = args.chroma.config("conversation_segments", args.memory_dir.as_deref(), aico_data);
    if let Ok(config) = &config
        && let Endpoint::Serve { path, .. } = &config.endpoint
        && args.chroma.chroma_path.is_none()
        && !path.join(crate::chroma::STORE_FILE).is_file()
    {
        return Ok(ChromaInput::Skipped(format!("no Chroma store at {} (nothing to move)", path.display())));
    }
    match config {
        Err(ChromaError::NoStore { detail, .. }) if args.chroma.chroma_path.is_none() => {
            Ok(ChromaInput::Skipped(format!("no Chroma store: {detail}")))
        }
        Err(e) => Err(AppError::Chroma(e)),
        Ok(config) => Reader::open(config).await.map(|r| ChromaInput::Read(Box::new(r))).map_err(AppError::Chroma),
    }
}

/// The move's progress on stderr: a bar per table on a terminal, else one line per table when it
/// is done; nothing with `--json`.
struct Progress {
    /// Whether anything is shown.
    shown: bool,
    /// Bars (a terminal) rather than lines.
    bars: bool,
    /// The current table's bar.
    bar: RefCell<Option<indicatif::ProgressBar>>,
}

impl Progress {
    fn new(shown: bool) -> Self {
        Self { shown, bars: shown && std::io::stderr().is_terminal(), bar: RefCell::new(None) }
    }

    fn step(&self, step: Step<'_>) {
        if !self.shown {
            return;
        }
        match step {
            Step::Begin { table, rows } if self.bars => {
                let bar = rows.map_or_else(indicatif::ProgressBar::new_spinner, indicatif::ProgressBar::new);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{prefix:32} {bar:30} {pos}/{len} rows  {per_sec}  {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar.set_prefix(table.to_owned());
                *self.bar.borrow_mut() = Some(bar);
            }
            Step::Rows(n) => {
                if let Some(bar) = &*self.bar.borrow() {
                    bar.inc(n);
                }
            }
            Step::End { table, moved, of } => match self.bar.borrow_mut().take() {
                Some(bar) => bar.finish_with_message(format!("{moved} moved")),
                None => eprintln!("{table}: {moved} of {of} rows moved"),
            },
            Step::Begin { .. } => {}
        }
    }
}
