//! clap's arguments: `aico-ams migrate|backfill|verify|health`, as sentences.
//!
//! Every option read from the environment hides its value from `--help` (`hide_env_values`): a
//! database URL carries a password, a token or key is a secret.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::chroma::ChromaConfig;

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
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Database URL (`sqlite://PATH`, `postgres://USER@HOST/DB`); default: AICO's aico.db if it
    /// exists, else the tool's own `<user data dir>/aico-ams/ams.db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// PostgreSQL schema (search path); default `public`.
    #[arg(long, env = "DATABASE_SCHEMA", hide_env_values = true)]
    pub database_schema: Option<String>,

    /// The key of an encrypted aico.db (64 hex digits, as AICO derives it), on the command line,
    /// where other users can read it (a warning says so): prefer --db-key-file or AICO_DB_KEY.
    /// Else AICO_MASTER_KEY with the salt file beside the database, else AICO's master key in the
    /// OS keyring.
    #[arg(long, value_name = "HEX")]
    pub db_key: Option<String>,

    /// Read the key of an encrypted aico.db (64 hex digits) from this file; `-` reads standard input.
    #[arg(long, value_name = "PATH", conflicts_with = "db_key")]
    pub db_key_file: Option<PathBuf>,

    /// Print the report as JSON (stable keys) instead of text; an error as `{"error": {...}}`.
    #[arg(long)]
    pub json: bool,
}

impl Common {
    /// Where to look for the key of an encrypted SQLite file: `--db-key` or `--db-key-file` (read
    /// here, once), the environment, the OS keyring.
    pub fn keys(&self) -> Result<migration::key::KeySources, migration::error::MigrateError> {
        migration::key::KeySources::from_args(self.db_key.as_deref(), self.db_key_file.as_deref())
            .map_err(migration::error::MigrateError::KeyUnreadable)
    }
}

impl Command {
    /// The options every command takes, as given.
    pub fn common(&self) -> &Common {
        match self {
            Self::Migrate(a) => &a.common,
            Self::Backfill(a) => &a.common,
            Self::Verify(a) | Self::Health(a) => &a.common,
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

    /// Allow dropping tables that hold rows where no backup can be written (PostgreSQL).
    #[arg(long)]
    pub force: bool,

    /// Re-record the fingerprints of the applied migrations from the database as it is now (after
    /// checking a schema that a run reported as changed). Changes no schema.
    #[arg(long, conflicts_with_all = ["status", "rollback", "dry_run"])]
    pub repair: bool,
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
}

/// A store, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreChoice {
    /// `semantic_facts` in the SQL database.
    Sql,
    /// The LMDB working memory.
    Lmdb,
    /// The ChromaDB collection.
    Chroma,
    /// All three.
    All,
}

/// Which stores, and where.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Which store(s).
    #[arg(long, value_enum, default_value = "sql")]
    pub store: StoreChoice,

    /// AICO's memory directory (its `working/` LMDB environment); default
    /// `$AICO_MEMORY_DIR`, else `<AICO data dir>/data/memory`.
    #[arg(long, env = "AICO_MEMORY_DIR", hide_env_values = true)]
    pub memory_dir: Option<PathBuf>,

    /// The Chroma server (`http://` or `https://`).
    #[arg(long, env = "CHROMA_URL", hide_env_values = true, default_value = "http://localhost:8000")]
    pub chroma_url: String,

    /// A bearer token for the Chroma server.
    #[arg(long, env = "CHROMA_TOKEN", hide_env_values = true)]
    pub chroma_token: Option<String>,

    /// A PEM file of CA certificates to trust for an `https://` Chroma server, beside the system's.
    #[arg(long, env = "CHROMA_CA_CERT", hide_env_values = true)]
    pub chroma_ca_cert: Option<PathBuf>,

    /// The Chroma collection.
    #[arg(long, default_value = "conversation_segments")]
    pub collection: String,

    /// The Chroma tenant.
    #[arg(long, default_value = "default_tenant")]
    pub chroma_tenant: String,

    /// The Chroma database.
    #[arg(long, default_value = "default_database")]
    pub chroma_database: String,
}

impl StoreArgs {
    /// Whether `store` is one of the chosen.
    pub fn includes(&self, store: StoreChoice) -> bool {
        self.store == store || self.store == StoreChoice::All
    }

    /// The Chroma collection to use.
    pub fn chroma(&self) -> ChromaConfig {
        ChromaConfig {
            url: self.chroma_url.clone(),
            token: self.chroma_token.clone(),
            ca_cert: self.chroma_ca_cert.clone(),
            tenant: self.chroma_tenant.clone(),
            database: self.chroma_database.clone(),
            collection: self.collection.clone(),
        }
    }
}
