//! The runner's command line (feature `cli`): the flags both binaries share ([`DatabaseArgs`],
//! [`RunArgs`]), the text both print ([`lines`]), and the `migration` binary itself ([`run_cli`]:
//! `up`, `down`, `status`, `repair`, `fresh`, `refresh`, `reset`, as SeaORM's migration CLI names
//! them). `aico-ams migrate` flattens the same flags and prints the same lines.

mod args;
pub mod lines;

use std::process::ExitCode;

use aico_console::{Stdout, eprint};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use self::args::{DatabaseArgs, RunArgs};
use self::lines::{ProgressLines, StatusLines};
use crate::Migrator;
use crate::error::MigrateError;
use crate::options::Options;
use crate::runner::{self, Command};

/// The `migration` binary's command line.
#[derive(Parser)]
#[command(name = "migration", version, about = "Apply or roll back the AMS schema migrations of AICO")]
struct Cli {
    /// Show debug messages.
    #[arg(short = 'v', long, global = true)]
    verbose: bool,

    /// Which database.
    #[command(flatten)]
    database: DatabaseArgs,

    /// What the run may do.
    #[command(flatten)]
    run: RunArgs,

    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Subcommand, Clone, Copy)]
enum Sub {
    /// Apply pending migrations (the default).
    Up {
        /// Number of pending migrations to apply.
        #[arg(short, long)]
        num: Option<u32>,
    },
    /// Roll back applied migrations.
    Down {
        /// Number of applied migrations to roll back.
        #[arg(short, long, default_value_t = 1)]
        num: u32,
    },
    /// Show each migration, whether it is applied, and its fingerprint check.
    Status,
    /// Re-record the fingerprints of the applied migrations from the database as it is now.
    Repair,
    /// Drop every table, then apply all migrations (a backup is written first).
    Fresh,
    /// Roll back all applied migrations, then apply them all again.
    Refresh,
    /// Roll back all applied migrations.
    Reset,
}

impl Cli {
    /// The command line as given, with SeaORM's short flags `-u` (URL) and `-s` (schema), which
    /// only this binary takes; clap's own exit on `--help` or a usage error.
    fn parse_with_short_flags() -> Self {
        let mut command =
            Self::command().mut_arg("database_url", |a| a.short('u')).mut_arg("database_schema", |a| a.short('s'));
        let parsed = command.try_get_matches_from_mut(std::env::args_os());
        match parsed.and_then(|mut matches| Self::from_arg_matches_mut(&mut matches)) {
            Ok(cli) => cli,
            Err(e) => e.format(&mut command).exit(),
        }
    }
}

/// The `migration` binary: parse the command line, run it on the database, print what it does.
/// Exit 0, or the error's status ([`MigrateError::exit_code`]).
pub fn run_cli() -> ExitCode {
    let cli = Cli::parse_with_short_flags();
    aico_console::init_logging(if cli.verbose { "debug" } else { "warn" }, cli.verbose);
    // A closed stdout (`migration status | head -1`) ends the output, never the run.
    let mut out = Stdout::default();
    let code = match aico_console::block_on(run(cli, &mut out)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprint(format_args!("error: {e}"));
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
        Err(code) => code,
    };
    out.finish(code)
}

async fn run(cli: Cli, out: &mut Stdout) -> Result<(), MigrateError> {
    let target = cli.database.target()?;
    let keys = cli.database.keys()?;
    out.line(format_args!("target: {}", target.described_with(&keys)));
    if cli.database.db_key.is_some() {
        eprint(aico_connect::key::DB_KEY_FLAG_WARNING);
    }
    let (db, key) = target.connect_keyed(cli.database.database_schema.as_deref(), &keys).await?;
    let layout = crate::catalog::Layout::detect(&db).await.map_err(|e| MigrateError::classify(&target, e))?;
    if let Some(note) = layout.target_note() {
        out.line(format_args!("  {note}"));
    }
    let opts = Options { force: cli.run.force, key, ..Options::default() };
    let command = match cli.command.unwrap_or(Sub::Up { num: None }) {
        Sub::Status => {
            let aico = runner::aico_schema(&db, &target).await?;
            let states = runner::status::<Migrator>(&db, &target, &opts.rehearsals).await?;
            let migrations = states.iter().map(Into::into).collect();
            out.print(StatusLines { aico: aico.as_ref().map(Into::into), migrations });
            return Ok(());
        }
        Sub::Repair => {
            let repaired = runner::repair::<Migrator>(&db, &target, &opts.rehearsals).await?;
            if repaired.is_empty() {
                out.line("nothing applied: no fingerprint to re-record");
            }
            repaired.iter().for_each(|r| out.line(r));
            return Ok(());
        }
        Sub::Up { num } => Command::Up { steps: num },
        Sub::Down { num } => Command::Down { steps: num },
        Sub::Fresh => Command::Fresh,
        Sub::Refresh => Command::Refresh,
        Sub::Reset => Command::Reset,
    };
    let result = runner::run(&db, &target, command, &opts, |progress| {
        out.print(ProgressLines { progress: &progress, dry_run: false })
    })
    .await;
    db.close().await.ok();
    result.map(|_| ())
}
