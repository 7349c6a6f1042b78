//! The command line, a thin layer over the stores: clap's arguments ([`args`]), the target line,
//! printing (text or `--json`), and exit codes — 0 ok, 1 a check failed or a job is incomplete,
//! 2 a usage or connection error. The work itself is done by [`crate::sql`], [`crate::lmdb`] and
//! [`crate::chroma`], which return report values and print nothing.
//!
//! One file per command: [`migrate`], [`backfill`], [`verify`], [`health`] (each runs its job on
//! the chosen stores and renders the one report that covers them all), and [`moving`] (`move`).

pub mod args;
mod backfill;
mod health;
mod migrate;
mod moving;
mod output;
mod verify;

use std::fmt;
use std::process::ExitCode;

use clap::Parser;
use migration::catalog::Layout;
use serde_json::json;

use self::args::{Cli, Command};
pub use self::backfill::{BackfillReport, BackfillStores};
pub use self::health::{HealthReport, HealthStores};
use self::output::{Stdout, eprint};
pub use self::verify::VerifyReport;
use crate::error::{AppError, USAGE};
use crate::report::{Outcome, PerStore};

/// Parse the command line, run the command, print its report; the exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    aico_console::init_logging(level, cli.verbose > 1);
    let command = cli.command;
    if command.common().database.db_key.is_some() {
        eprint(aico_connect::key::DB_KEY_FLAG_WARNING);
    }
    let json = command.json();
    let mut out = Stdout::default();
    let result = match aico_console::block_on(run(command, &mut out)) {
        Ok(result) => result,
        Err(code) => return code,
    };
    match result {
        Ok(code) => out.finish(code),
        Err(e) => {
            error(&mut out, json, e.kind(), &e);
            out.finish(ExitCode::from(e.exit_code()))
        }
    }
}

async fn run(command: Command, out: &mut Stdout) -> Result<ExitCode, AppError> {
    match command {
        Command::Migrate(args) => migrate::run(&args, out).await,
        Command::Backfill(args) => backfill::run(&args, out).await,
        Command::Verify(args) => verify::run(&args, out).await,
        Command::Health(args) => health::run(&args, out).await,
        Command::Move(args) => moving::run(&args, out).await,
    }
}

/// An error: one line on stderr, and under `--json` also `{"error": {"kind", "message"}}` on stdout.
fn error(out: &mut Stdout, json: bool, kind: &str, message: &dyn fmt::Display) {
    if json {
        output::json(out, &json!({"error": {"kind": kind, "message": message.to_string()}}));
    }
    eprint(format_args!("error: {message}"));
}

/// A usage error (or `--help`, `--version`): clap's text, and the JSON error object when the
/// command line asks for `--json`.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    let informational = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if !informational && std::env::args_os().any(|a| a == "--json") {
        let text = e.render().to_string();
        let message = text.lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned();
        let mut out = Stdout::default();
        output::json(&mut out, &json!({"error": {"kind": USAGE, "message": message}}));
    }
    // clap writes help to stdout and errors to stderr, and ignores a closed pipe.
    let _ = e.print();
    ExitCode::from(code)
}

/// Print `report` as JSON or text; exit 0 when `ok`, else 1.
fn emit<R: serde::Serialize + fmt::Display>(out: &mut Stdout, json: bool, report: &R, ok: bool) -> ExitCode {
    if json {
        output::json(out, report);
    } else {
        out.print(report);
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// Text labels of the three stores in one report.
struct Labels {
    sql: &'static str,
    lmdb: &'static str,
    chroma: &'static str,
}

/// Render each chosen store of `stores`, in store order: its findings by the given function, or
/// one line saying why it was not done.
fn render_stores<S, L, C, G, W>(
    f: &mut fmt::Formatter<'_>,
    stores: &PerStore<S, L, C, G, W>,
    labels: &Labels,
    sql: impl Fn(&mut fmt::Formatter<'_>, &S) -> fmt::Result,
    lmdb: impl Fn(&mut fmt::Formatter<'_>, &L) -> fmt::Result,
    chroma: impl Fn(&mut fmt::Formatter<'_>, &C) -> fmt::Result,
) -> fmt::Result {
    fn one<T>(
        f: &mut fmt::Formatter<'_>,
        label: &str,
        outcome: Option<&Outcome<T>>,
        render: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
    ) -> fmt::Result {
        match outcome {
            None => Ok(()),
            Some(Outcome::Done(t)) => render(f, t),
            Some(other) => writeln!(f, "{label}: {}", other.problem().unwrap_or_default()),
        }
    }
    one(f, labels.sql, stores.sql.as_ref(), sql)?;
    one(f, labels.lmdb, stores.lmdb.as_ref(), lmdb)?;
    one(f, labels.chroma, stores.chroma.as_ref(), chroma)
}

/// Open the SQL database `common` names (the key of an encrypted file from `--db-key`, the
/// environment or the keyring), find its layout (once: the jobs are handed it) and, in a text
/// report, say which it is first.
async fn open_sql_with_layout(common: &args::Common, out: &mut Stdout) -> Result<(crate::sql::Db, Layout), AppError> {
    let (database, keys) = (&common.database, common.database.keys()?);
    let db = crate::sql::Db::open(database.target()?, database.database_schema.as_deref(), &keys).await?;
    let layout = match db.layout().await {
        Ok(layout) => layout,
        Err(e) => {
            db.conn.close().await.ok();
            return Err(e);
        }
    };
    if !common.json {
        let note = layout.target_note().map(|n| format!(" ({n})")).unwrap_or_default();
        out.line(format_args!("target: {}{note}", db.target.described_with(&keys)));
    }
    Ok((db, layout))
}

/// The SQL database for `migrate`, which needs no layout: found only for the target line of a
/// text report (a migration may change it).
async fn open_sql(common: &args::Common, out: &mut Stdout) -> Result<crate::sql::Db, AppError> {
    if !common.json {
        return open_sql_with_layout(common, out).await.map(|(db, _)| db);
    }
    let (database, keys) = (&common.database, common.database.keys()?);
    crate::sql::Db::open(database.target()?, database.database_schema.as_deref(), &keys).await
}

/// The SQL store's part of `backfill`, `verify` or `health`: `job` on the database `common` names
/// and its layout;
/// the target (password hidden, when the URL could be read) and the outcome. Chosen alone
/// (`--store sql`), an error ends the command as before (exit 2 for a connection error); beside
/// other stores it becomes the SQL store's status, and the other stores still run.
async fn sql_store<T>(
    common: &args::Common,
    stores: &args::StoreArgs,
    out: &mut Stdout,
    job: impl AsyncFnOnce(&crate::sql::Db, Layout) -> Result<T, AppError>,
) -> Result<(Option<String>, Outcome<T>), AppError> {
    let (db, layout) = match open_sql_with_layout(common, out).await {
        Ok(opened) => opened,
        Err(e) if stores.store == args::StoreChoice::Facts => return Err(e),
        Err(e) => {
            let target = common.database.target().ok();
            return Ok((target.map(|t| t.to_string()), sql_outcome(e)));
        }
    };
    let done = job(&db, layout).await;
    db.conn.close().await.ok();
    let target = Some(db.target.to_string());
    match done {
        Ok(t) => Ok((target, Outcome::Done(t))),
        Err(e) if stores.store == args::StoreChoice::Facts => Err(e),
        Err(e) => Ok((target, sql_outcome(e))),
    }
}

/// The SQL store's status after `e`: `unreachable` (a server or file that cannot be reached, or
/// a lock held too long), `not_configured` (no such file, no data directory), else `failed`. The
/// detail is the error's message: it names the database, never a password or a key.
fn sql_outcome<T>(e: AppError) -> Outcome<T> {
    use aico_connect::error::ConnectError;
    let detail = e.to_string();
    match e {
        AppError::Connect(ConnectError::Unreachable { .. } | ConnectError::Locked { .. }) => {
            Outcome::Unreachable { detail }
        }
        AppError::Connect(ConnectError::Missing { .. } | ConnectError::NoDataDir) => Outcome::NotConfigured { detail },
        _ => Outcome::Failed { detail },
    }
}

/// Where the segments and the working memory are (see [`args::StoreChoice`]).
enum Memories {
    /// AICO's PostgreSQL database (the SQL target): its `conversation_segments` and
    /// `working_memory_messages`.
    AicoPostgres(crate::sql::Db),
    /// A 2025 install: the Chroma collection and the LMDB environment.
    Stores,
}

impl Memories {
    /// Find them: AICO's PostgreSQL database when the SQL target is PostgreSQL with AICO's
    /// layout, else Chroma and LMDB (a SQLite target, or none that can be read: as before). The
    /// target line is printed when `print_target` (the facts print it otherwise). An error ends
    /// the command unless `--store all` is chosen: then the facts report it (the `sql` store's
    /// status) and Chroma and LMDB are tried, as before.
    async fn find(
        common: &args::Common,
        stores: &args::StoreArgs,
        out: &mut Stdout,
        print_target: bool,
    ) -> Result<Self, AppError> {
        use args::StoreChoice;
        if !stores.includes(StoreChoice::Segments) && !stores.includes(StoreChoice::WorkingMemory) {
            return Ok(Self::Stores);
        }
        let Ok(target) = common.database.target() else {
            return Ok(Self::Stores);
        };
        if target.sqlite_path().is_some() {
            return Ok(Self::Stores);
        }
        let opened = async {
            if print_target {
                return open_sql_with_layout(common, out).await;
            }
            let (database, keys) = (&common.database, common.database.keys()?);
            let db = crate::sql::Db::open(target, database.database_schema.as_deref(), &keys).await?;
            let layout = db.layout().await;
            Ok::<_, AppError>((db, layout?))
        }
        .await;
        match opened {
            Ok((db, Layout::AicoPostgres)) => Ok(Self::AicoPostgres(db)),
            Ok((db, _)) => {
                db.conn.close().await.ok();
                Ok(Self::Stores)
            }
            Err(e) if stores.store == StoreChoice::All => {
                tracing::info!(
                    "the SQL target could not be read ({e}): segments and working memory are Chroma and LMDB"
                );
                Ok(Self::Stores)
            }
            Err(e) => Err(e),
        }
    }

    /// The outcome of `job` on AICO's PostgreSQL database (None on a 2025 install). A failed job
    /// ends the command unless `--store all` is chosen, where it becomes the memory's status.
    async fn job<T>(
        &self,
        stores: &args::StoreArgs,
        job: impl AsyncFnOnce(&crate::sql::Db) -> Result<T, AppError>,
    ) -> Result<Option<Outcome<T>>, AppError> {
        match self {
            Self::Stores => Ok(None),
            Self::AicoPostgres(db) => match job(db).await {
                Ok(t) => Ok(Some(Outcome::Done(t))),
                Err(e) if stores.store == args::StoreChoice::All => Ok(Some(sql_outcome(e))),
                Err(e) => Err(e),
            },
        }
    }

    /// The SQL target, when the memories are on it.
    fn target(&self) -> Option<String> {
        match self {
            Self::AicoPostgres(db) => Some(db.target.to_string()),
            _ => None,
        }
    }

    /// Close the connection.
    async fn close(self) {
        if let Self::AicoPostgres(db) = self {
            db.conn.close().await.ok();
        }
    }
}
