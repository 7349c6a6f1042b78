//! What can go wrong in an `aico-ams` command, the exit status it gives, and the stable code
//! (`kind`) that `--json` reports it by.

use aico_connect::error::ConnectError;
use migration::error::MigrateError;
use sea_orm::DbErr;

use crate::chroma::ChromaError;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Finding or opening the database failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Migrating the database failed (a failure to connect is [`AppError::Connect`]).
    #[error(transparent)]
    Migrate(MigrateError),
    /// A query failed.
    #[error("{target}: {source}")]
    Database {
        /// The database (password hidden).
        target: String,
        /// The error.
        source: DbErr,
    },
    /// The Chroma store cannot be set up as asked: no store to serve, no `chroma` to serve it
    /// with, a name Chroma cannot have.
    #[error(transparent)]
    Chroma(crate::chroma::ChromaError),
    /// The schema is not there yet.
    #[error("{target} has no {what}: run `aico-ams migrate` first")]
    NotMigrated {
        /// The database.
        target: String,
        /// What is missing.
        what: String,
    },
    /// A table of AICO's that a job needs is not there.
    #[error("{target} has no table {table}: is this AICO's database?")]
    MissingTable {
        /// The database.
        target: String,
        /// The table.
        table: &'static str,
    },
    /// A move could not run (see [`crate::moving::MoveError`]).
    #[error(transparent)]
    Move(#[from] crate::moving::MoveError),
    /// AICO's index or foreign key, set aside for a backfill or a move, could not be put back as
    /// it was.
    #[error(
        "{target}: AICO's {index} {detail}; its definition is kept in {record}: run the same command again to put \
         it back"
    )]
    AicoIndex {
        /// The database.
        target: String,
        /// The index (`index NAME`) or foreign key (`foreign key NAME of TABLE`).
        index: String,
        /// What is wrong.
        detail: String,
        /// Where its definition is recorded.
        record: String,
    },
}

impl From<MigrateError> for AppError {
    /// A migrator's failure to connect is [`AppError::Connect`], whoever met it.
    fn from(e: MigrateError) -> Self {
        match e {
            MigrateError::Connect(e) => Self::Connect(e),
            other => Self::Migrate(other),
        }
    }
}

impl AppError {
    /// The exit status: for finding, opening or migrating the database, [`MigrateError`]'s own
    /// (1 when a migration or a query of the runner failed, else 2: usage and connection
    /// errors); 1 for a query that failed part-way; 2 for a database not migrated yet and a
    /// Chroma store that cannot be set up as asked (the user must change something first). A
    /// check that fails is no error: `verify` reports it and exits 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Connect(e) => u8::try_from(e.exit_code()).unwrap_or(1),
            Self::Migrate(e) => u8::try_from(e.exit_code()).unwrap_or(1),
            Self::Database { .. } | Self::AicoIndex { .. } => 1,
            Self::MissingTable { .. } => 2,
            Self::Move(e) => e.exit_code(),
            Self::NotMigrated { .. } | Self::Chroma(_) => 2,
        }
    }

    /// A stable, code-like name of what went wrong, one per case (`--json`'s `error.kind`).
    /// Scripts may match on it; the message is for people and may change.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect(e) => e.code(),
            Self::Migrate(e) => e.code(),
            Self::Database { .. } => "query_failed",
            Self::NotMigrated { .. } => "not_migrated",
            Self::MissingTable { .. } => "missing_table",
            Self::AicoIndex { .. } => "aico_index",
            Self::Move(e) => e.kind(),
            Self::Chroma(e) => match e {
                ChromaError::NoServerProgram { .. } => "chroma_program_missing",
                ChromaError::NoStore { .. } => "chroma_store_missing",
                ChromaError::BadName { .. } => "chroma_bad_name",
                ChromaError::WouldUpgrade { .. } => "chroma_store_would_upgrade",
                ChromaError::StoreFormat { .. } => "chroma_store_unreadable",
                _ => "chroma_error",
            },
        }
    }
}

/// The kind of a command-line usage error (`--json`'s `error.kind`).
pub const USAGE: &str = "usage";
