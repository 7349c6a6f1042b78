//! clap's arguments: `aico-ams migrate|backfill|verify|health`, as sentences. The database's
//! flags and `--force` are [`migration::cli`]'s, shared with the `migration` binary.
//!
//! Every option read from the environment hides its value from `--help` (`hide_env_values`): a
//! database URL carries a password, a token or key is a secret.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use migration::cli::{DatabaseArgs, RunArgs};

use crate::chroma::{self, Chroma, ChromaConfig, ChromaError, Endpoint};
use crate::error::AppError;
use crate::report::Outcome;

/// The AMS's command line: AICO's memory stores (SQL, LMDB, Chroma). Named `aico-ams` so that it
/// never shadows AICO's own `aico` command.
#[derive(Debug, Parser)]
#[command(name = "aico-ams", version, about = "AICO's Adaptive Memory System: migrate, backfill, verify and health")]
pub struct Cli {
    /// Log more (`-v` info, `-vv` debug); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `aico-ams ...`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations (or show them, roll back the last one, or show the SQL).
    Migrate(MigrateArgs),
    /// Give every fact that has none its initial temporal metadata.
    Backfill(BackfillArgs),
    /// Run the seed's verification queries and the schema checks; exit 1 if one fails.
    Verify(ReportArgs),
    /// Coverage, confidence distribution and consolidation history.
    Health(ReportArgs),
    /// Carry a 2025 install's memory (AICO's aico.db) into AICO's PostgreSQL database, verified
    /// row for row; never overwrites a row that is there. This version moves the users and the
    /// facts.
    Move(MoveArgs),
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Which database, and its key and password: the flags `migration` takes too.
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Print the report as JSON (stable keys) instead of text; an error as `{"error": {...}}`.
    #[arg(long)]
    pub json: bool,
}

impl Command {
    /// The options every command takes, as given.
    pub fn common(&self) -> &Common {
        match self {
            Self::Migrate(a) => &a.common,
            Self::Backfill(a) => &a.common,
            Self::Verify(a) | Self::Health(a) => &a.common,
            Self::Move(a) => &a.common,
        }
    }

    /// Whether the command asks for JSON.
    pub fn json(&self) -> bool {
        self.common().json
    }
}

/// `aico-ams migrate`
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,

    /// Show each migration: applied (and when) or pending. Changes nothing.
    #[arg(long, conflicts_with_all = ["rollback"])]
    pub status: bool,

    /// Roll back the last applied migration (a backup is written first where it drops rows).
    #[arg(long)]
    pub rollback: bool,

    /// Print the SQL the run would execute on this backend, and change nothing.
    #[arg(long, conflicts_with = "status")]
    pub dry_run: bool,

    /// What the run may do (`--force`, `AICO_FORCE_DROP`): the flags `migration` takes too.
    #[command(flatten)]
    pub run: RunArgs,

    /// Re-record the fingerprints of the applied migrations from the database as it is now (after
    /// checking a schema that a run reported as changed). Changes no schema.
    #[arg(long, conflicts_with_all = ["status", "rollback", "dry_run"])]
    pub repair: bool,
}

/// `aico-ams move`. The source is AICO's `aico.db` (`--database-url sqlite://PATH`, else AICO's
/// own, with the key as every command finds it).
#[derive(Debug, Args)]
pub struct MoveArgs {
    /// Shared options (`--database-url` names the source, AICO's aico.db).
    #[command(flatten)]
    pub common: Common,

    /// AICO's PostgreSQL database (`postgres://USER@HOST:PORT/DB`); its password as AICO keeps it
    /// (AICO_PG_PASSWORD, --pg-password-file or AICO's secret file, AICO's keyring entry). Default:
    /// the database AICO's settings name (AICO_PG_HOST, AICO_PG_PORT, AICO_PG_DB_NAME; else
    /// postgres://postgres@127.0.0.1:5432/aico).
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,

    /// Show the plan (tables, counts, what would be refused and why) and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Rows per batch: one transaction each.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch_size: u64,

    /// AICO's memory directory, whose `working/` LMDB environment and `semantic/` Chroma store are
    /// moved (read-only; the Chroma store through a private copy); default `$AICO_MEMORY_DIR`, else
    /// `<AICO data dir>/data/memory`. Not there: the report says so.
    #[arg(long, env = "AICO_MEMORY_DIR", hide_env_values = true)]
    pub memory_dir: Option<PathBuf>,

    /// Where AICO's Chroma store is, and how to reach it.
    #[command(flatten)]
    pub chroma: ChromaArgs,
}

/// `aico-ams verify` and `aico-ams health`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,

    /// Which stores, and where.
    #[command(flatten)]
    pub stores: StoreArgs,
}

/// `aico-ams backfill`
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,

    /// Which stores to fill, and where.
    #[command(flatten)]
    pub stores: StoreArgs,

    /// Facts (entries, records) per batch: one transaction each.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch_size: u64,

    /// Count what would be filled and which rows cannot be, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// AICO's HNSW index on `conversation_segments` (AICO's PostgreSQL database) while segments
    /// are filled: its definition is recorded in `aico_ams.parked_indexes` before it is dropped,
    /// and it is built again from that record.
    #[arg(long, value_enum, default_value = "auto")]
    pub segments_index: IndexChoice,
}

/// A memory, or all of them: named for what it holds. Where each is depends on the installation:
/// on AICO's PostgreSQL database (2026) all three are tables of the SQL target; on a 2025 install
/// the segments are the Chroma collection and the working memory is the LMDB environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreChoice {
    /// The facts: `ams_user_memories` (AICO's PostgreSQL), `user_memories` (AICO's aico.db) or
    /// `semantic_facts` in the SQL database (alias `sql`).
    #[value(alias = "sql")]
    Facts,
    /// The conversation segments: `conversation_segments` on AICO's PostgreSQL database, else the
    /// Chroma collection (alias `chroma`).
    #[value(alias = "chroma")]
    Segments,
    /// The working memory: `working_memory_messages` on AICO's PostgreSQL database, else the LMDB
    /// environment (alias `lmdb`).
    #[value(name = "working-memory", alias = "lmdb")]
    WorkingMemory,
    /// All three.
    All,
}

/// What to do with AICO's nearest-neighbour index on `conversation_segments` while its segments
/// are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IndexChoice {
    /// Set it aside and build it again when many segments need filling (cheaper than updating it
    /// once per row), else keep it.
    Auto,
    /// Keep it: every filled segment enters it again.
    Keep,
    /// Set it aside and build it again whenever a segment needs filling.
    Rebuild,
}

/// Which stores, and where.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Which store(s).
    #[arg(long, value_enum, default_value = "facts")]
    pub store: StoreChoice,

    /// AICO's memory directory (its `working/` LMDB environment and `semantic/` Chroma store); default
    /// `$AICO_MEMORY_DIR`, else `<AICO data dir>/data/memory`.
    #[arg(long, env = "AICO_MEMORY_DIR", hide_env_values = true)]
    pub memory_dir: Option<PathBuf>,

    /// Where AICO's Chroma store is, and how to reach it.
    #[command(flatten)]
    pub chroma: ChromaArgs,

    /// The Chroma collection (Chroma's rules: 3-512 of [a-zA-Z0-9._-], a letter or digit first
    /// and last, no `..`, not an IP address).
    #[arg(long, default_value = "conversation_segments", value_parser = chroma_name)]
    pub collection: String,
}

/// Where AICO's Chroma store is (a server, or the persistent store served for the run), and how to
/// reach it: the flags of every command that reads Chroma.
#[derive(Debug, Args, Clone)]
pub struct ChromaArgs {
    /// A running Chroma server (`http://` or `https://`). Without it, Chroma's own server is started
    /// for the run on --chroma-path.
    #[arg(long, env = "CHROMA_URL", hide_env_values = true, conflicts_with = "chroma_path")]
    pub chroma_url: Option<String>,

    /// Chroma's persistent store (AICO's `PersistentClient` directory), served for the run by
    /// Chroma's own server; default `<memory dir>/semantic`. Never created.
    #[arg(long, value_name = "DIR")]
    pub chroma_path: Option<PathBuf>,

    /// The `chroma` program that serves --chroma-path (from the `chromadb` package); default
    /// AICO's own (beside the interpreter of its `aico` command), else `chroma` on the PATH. The
    /// backfill refuses a program that would upgrade the store's format; the move serves a
    /// private copy of the store, which any will do.
    #[arg(long, env = "AICO_CHROMA_BIN", hide_env_values = true, value_name = "PATH")]
    pub chroma_bin: Option<PathBuf>,

    /// A bearer token for the Chroma server.
    #[arg(long, env = "CHROMA_TOKEN", hide_env_values = true)]
    pub chroma_token: Option<String>,

    /// A PEM file of CA certificates to trust for an `https://` Chroma server, beside the system's.
    #[arg(long, env = "CHROMA_CA_CERT", hide_env_values = true)]
    pub chroma_ca_cert: Option<PathBuf>,

    /// The Chroma tenant (at least 3 characters).
    #[arg(long, default_value = "default_tenant", value_parser = chroma_tenant)]
    pub chroma_tenant: String,

    /// The Chroma database (the rules of --collection).
    #[arg(long, default_value = "default_database", value_parser = chroma_name)]
    pub chroma_database: String,
}

impl ChromaArgs {
    /// The collection `collection`, and where: the server at --chroma-url, else Chroma's own
    /// server on --chroma-path or `<memory dir>/semantic` (`memory_dir`, else the memory
    /// directory in AICO's data directory `aico_data`).
    pub fn config(
        &self,
        collection: &str,
        memory_dir: Option<&Path>,
        aico_data: Option<&Path>,
    ) -> Result<ChromaConfig, ChromaError> {
        let endpoint = match (&self.chroma_url, &self.chroma_path) {
            (Some(url), _) => Endpoint::Url(url.clone()),
            (None, path) => Endpoint::Serve {
                path: match path {
                    Some(path) => path.clone(),
                    None => crate::memory_dir(memory_dir, aico_data)
                        .map_err(|detail| ChromaError::NoStore { path: "<memory dir>/semantic".into(), detail })?
                        .join("semantic"),
                },
                program: self.chroma_bin.clone(),
            },
        };
        Ok(ChromaConfig {
            endpoint,
            token: self.chroma_token.clone(),
            ca_cert: self.chroma_ca_cert.clone(),
            tenant: self.chroma_tenant.clone(),
            database: self.chroma_database.clone(),
            collection: collection.to_owned(),
        })
    }
}

/// clap's check of a collection or database name: Chroma's rules.
fn chroma_name(name: &str) -> Result<String, String> {
    chroma::names::check_name(name).map(|()| name.to_owned())
}

/// clap's check of a tenant: Chroma's rule.
fn chroma_tenant(name: &str) -> Result<String, String> {
    chroma::names::check_tenant(name).map(|()| name.to_owned())
}

impl StoreArgs {
    /// Whether `store` is one of the chosen.
    pub fn includes(&self, store: StoreChoice) -> bool {
        self.store == store || self.store == StoreChoice::All
    }

    /// The Chroma collection to use, and where ([`ChromaArgs::config`] of --collection).
    pub fn chroma(&self, aico_data: Option<&Path>) -> Result<ChromaConfig, ChromaError> {
        self.chroma.config(&self.collection, self.memory_dir.as_deref(), aico_data)
    }

    /// The outcome of `job` on the Chroma collection ([`StoreArgs::chroma`]). A store that cannot
    /// be set up (no store to serve, no `chroma` to serve it with) is its status under `--store
    /// all`, and otherwise the command's error (exit 2).
    pub async fn chroma_job<T, F>(
        &self,
        aico_data: Option<&Path>,
        job: impl FnOnce(Chroma) -> F,
    ) -> Result<Outcome<T>, AppError>
    where
        F: Future<Output = Result<T, ChromaError>>,
    {
        let result = match self.chroma(aico_data) {
            Ok(config) => chroma::run(config, job).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(outcome) => Ok(outcome),
            // A refusal to touch AICO's store is never just a status.
            Err(e @ (ChromaError::WouldUpgrade { .. } | ChromaError::StoreFormat { .. })) => Err(AppError::Chroma(e)),
            Err(e) if self.store == StoreChoice::All => Ok(Outcome::NotConfigured { detail: e.to_string() }),
            Err(e) => Err(AppError::Chroma(e)),
        }
    }
}
