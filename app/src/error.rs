//! What can go wrong in an `aico db` command, and the exit status it gives.

use migration::error::MigrateError;
use sea_orm::DbErr;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Finding, opening or migrating the database failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// A query failed.
    #[error("{target}: {source}")]
    Database {
        /// The database (password hidden).
        target: String,
        /// The error.
        source: DbErr,
    },
    /// The schema is not there yet.
    #[error("{target} has no {what}: run `aico db migrate` first")]
    NotMigrated {
        /// The database.
        target: String,
        /// What is missing.
        what: String,
    },
}

impl AppError {
    /// The exit status: 2 for usage and connection errors, 1 for a failed job or check.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Migrate(e) => e.exit_code() as u8,
            Self::Database { .. } => 1,
            Self::NotMigrated { .. } => 2,
        }
    }
}
