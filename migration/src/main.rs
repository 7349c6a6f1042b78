//! `cargo run -p migration -- [up|down|status|repair|fresh|refresh|reset]`: the runner's commands on
//! AICO's `aico.db` when it exists, else the tool's own database (or `DATABASE_URL` / `-u`), run
//! the safe way.

use std::process::ExitCode;

use aico_connect::error::ConnectError;
use aico_connect::key::KeySources;
use aico_connect::private::OpenSecrets;
use aico_connect::target::Target;
use aico_console::{Stdout, eprint};
use clap::{Parser, Subcommand};
use migration::Migrator;
use migration::error::MigrateError;
use migration::fingerprint::Check;
use migration::runner::{self, Command, Options, Progress};
use migration::safety;

#[derive(Parser)]
#[command(version, about = "Apply or roll back the AMS schema migrations of AICO")]
struct Cli {
    /// Show debug messages.
    #[arg(short = 'v', long, global = true)]
    verbose: bool,

    /// PostgreSQL schema (search path); default `public`. Ignored for SQLite.
    #[arg(short = 's', long, global = true, env = "DATABASE_SCHEMA", hide_env_values = true)]
    database_schema: Option<String>,

    /// Database URL (`sqlite://PATH`, `postgres://USER@HOST/DB`); default: AICO's aico.db if it
    /// exists, else the tool's own `<user data dir>/aico-ams/ams.db`.
    #[arg(short = 'u', long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// The key of an encrypted aico.db (64 hex digits, as AICO derives it), on the command line,
    /// where other users can read it (a warning says so): prefer --db-key-file or AICO_DB_KEY.
    /// Else AICO_MASTER_KEY with the salt file, else AICO's master key in the OS keyring.
    #[arg(long, global = true, value_name = "HEX")]
    db_key: Option<String>,

    /// Read the key of an encrypted aico.db (64 hex digits) from this file; `-` reads standard input.
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "db_key")]
    db_key_file: Option<std::path::PathBuf>,

    /// Read AICO's PostgreSQL password from this file, in place of AICO's Docker secret
    /// /run/secrets/pg_password: for a URL without a password that names AICO's database (after
    /// AICO_PG_PASSWORD, before AICO's keyring entry).
    #[arg(long, global = true, value_name = "PATH")]
    pg_password_file: Option<std::path::PathBuf>,

    /// Read a --db-key-file or password file that other users can read or write (refused
    /// otherwise): only for a read-only mount whose mode cannot be changed, such as a Docker
    /// secret (0444).
    #[arg(long, global = true)]
    allow_open_key_file: bool,

    /// Allow dropping tables that hold rows where no backup can be written (PostgreSQL).
    #[arg(long, global = true)]
    force: bool,

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    aico_console::init_logging(if cli.verbose { "debug" } else { "warn" }, cli.verbose);
    // A closed stdout (`migration status | head -1`) ends the output, never the run.
    let mut out = Stdout::default();
    let force = cli.force || safety::forces(std::env::var(safety::FORCE_ENV).ok().as_deref());
    let code = match aico_console::block_on(run(cli, force, &mut out)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprint(format_args!("error: {e}"));
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
        Err(code) => code,
    };
    out.finish(code)
}

async fn run(cli: Cli, force: bool, out: &mut Stdout) -> Result<(), MigrateError> {
    let target = Target::resolve(cli.database_url.as_deref())?;
    let open = if cli.allow_open_key_file { OpenSecrets::Allow } else { OpenSecrets::Refuse };
    let keys = KeySources::from_args(cli.db_key.as_deref(), cli.db_key_file.as_deref(), open)
        .map_err(ConnectError::KeyUnreadable)?
        .with_pg_password_file(cli.pg_password_file.as_deref());
    out.line(format_args!("target: {}", target.described_with(&keys)));
    if cli.db_key.is_some() {
        eprint(aico_connect::key::DB_KEY_FLAG_WARNING);
    }
    let (db, key) = target.connect_keyed(cli.database_schema.as_deref(), &keys).await?;
    let layout = migration::catalog::Layout::detect(&db).await.map_err(|e| MigrateError::classify(&target, e))?;
    if let Some(note) = layout.target_note() {
        out.line(format_args!("  {note}"));
    }
    let opts = Options { force, key, ..Options::default() };
    let command = match cli.command.unwrap_or(Sub::Up { num: None }) {
        Sub::Status => {
            if let Some(aico) = runner::aico_schema(&db, &target).await? {
                println!("AICO's database, at AICO's schema version {}", aico.version);
                match aico.applied_by_aico.is_empty() {
                    true => println!("  AICO applied none of the AMS phases itself"),
                    false => println!("  applied by AICO itself (adopted as is): {}", aico.applied_by_aico.join(", ")),
                }
            }
            for m in runner::status::<Migrator>(&db, &target, &opts.rehearsals).await? {
                let (check, differs) = match &m.fingerprint {
                    Some(Check::Changed(objects)) => (Some("changed"), objects.clone()),
                    other => (other.as_ref().map(Check::as_str), Vec::new()),
                };
                let at = m.applied_at_text();
                out.line(runner::status_line(&m.name, m.state(), at.as_deref(), check, &differs));
            }
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
    let result = runner::run(&db, &target, command, &opts, |p| match p {
        Progress::Waiting => out.line("another migrator holds the lock on this database; waiting"),
        Progress::Plan(steps) if steps.is_empty() => out.line("nothing to do: the schema is up to date"),
        Progress::Plan(steps) => {
            out.line("plan:");
            for step in steps {
                out.line(format_args!("  {step}"));
            }
        }
        Progress::Started(_) => {}
        Progress::Finished(step, took) => out.line(format_args!("done: {step} ({took:.2?})")),
        Progress::Recorded(names) => out.line(runner::recorded_line(&names)),
    })
    .await;
    db.close().await.ok();
    result.map(|_| ())
}
