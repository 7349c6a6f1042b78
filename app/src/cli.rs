//! The command line: `aico db migrate|backfill|verify|health`, as sentences.

use clap::{Args, Parser, Subcommand};

use crate::stores::StoreArgs;

/// AICO's command line (the AMS database commands).
#[derive(Debug, Parser)]
#[command(name = "aico", version, about = "AICO's Adaptive Memory System: database commands")]
pub struct Cli {
    /// Log more (`-v` info, `-vv` debug); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Top,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Top {
    /// The memory databases.
    Db {
        /// What to do with them.
        #[command(subcommand)]
        command: Db,
    },
}

/// `aico db ...`
#[derive(Debug, Subcommand)]
pub enum Db {
    /// Apply pending migrations (or show them, roll back the last one, or show the SQL).
    Migrate(MigrateArgs),
    /// Give every fact that has none its initial temporal metadata.
    Backfill(BackfillArgs),
    /// Run the seed's verification queries and the schema checks; exit 1 if one fails.
    Verify(ReportArgs),
    /// Coverage, confidence distribution and consolidation history.
    Health(ReportArgs),
}

/// Options every `aico db` command takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Database URL (`sqlite://PATH`, `postgres://USER@HOST/DB`); default: AICO's aico.db.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// PostgreSQL schema (search path); default `public`.
    #[arg(long, env = "DATABASE_SCHEMA")]
    pub database_schema: Option<String>,

    /// Print the report as JSON (stable keys) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `aico db migrate`
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
}

/// `aico db verify` and `aico db health`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,

    /// Which stores, and where.
    #[command(flatten)]
    pub stores: StoreArgs,
}

/// `aico db backfill`
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
