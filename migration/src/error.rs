//! What can go wrong when migrating, each case naming the thing a user must act on.

use std::path::PathBuf;

use sea_orm_migration::sea_orm::DbErr;

use crate::target::Target;

/// A migrator's failure. Every message names the database (password hidden), file or migration.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The URL could not be read.
    #[error("{url:?} is not a usable database URL: {reason}")]
    MalformedUrl {
        /// The URL (password hidden).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL names a database the AMS does not support.
    #[error("unsupported database URL {url}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedScheme {
        /// The URL (password hidden).
        url: String,
    },
    /// No data directory could be found for AICO's default database.
    #[error("cannot find a data directory for AICO's database: set AICO_DATA_DIR or DATABASE_URL")]
    NoDataDir,
    /// The directory of the default database could not be created.
    #[error("cannot create the directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The SQLite file a URL names does not exist (it is never created by accident).
    #[error("database file {path} does not exist; check the path, or add ?mode=rwc to create it")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The database server could not be reached or refused the connection.
    #[error("cannot connect to {target}: {detail}")]
    Unreachable {
        /// The database (password hidden).
        target: String,
        /// The driver's words.
        detail: String,
    },
    /// The file is not a SQLite database, or is damaged.
    #[error("{target} is not a database or is corrupt: {detail}")]
    NotADatabase {
        /// The database.
        target: String,
        /// The driver's words.
        detail: String,
    },
    /// The database cannot be written.
    #[error("{target} is read-only: {detail}")]
    ReadOnly {
        /// The database.
        target: String,
        /// The driver's words.
        detail: String,
    },
    /// Another process holds the database's write lock for longer than the busy timeout.
    #[error("{target} is locked by another process (another migrator, or AICO writing); retry later")]
    Locked {
        /// The database.
        target: String,
    },
    /// A migration failed; its transaction was rolled back and nothing was changed.
    #[error("migration {name} failed on {target}: {detail}; nothing was changed")]
    Migration {
        /// The migration.
        name: String,
        /// The database.
        target: String,
        /// What went wrong.
        detail: String,
    },
    /// Any other database error.
    #[error("{target}: {source}")]
    Database {
        /// The database.
        target: String,
        /// The error.
        source: DbErr,
    },
}

impl MigrateError {
    /// Sort a driver error on `target` into the case a user can act on.
    pub fn classify(target: &Target, err: DbErr) -> Self {
        let detail = err.to_string();
        let lower = detail.to_lowercase();
        let target = target.to_string();
        if lower.contains("file is not a database") || lower.contains("database disk image is malformed") {
            Self::NotADatabase { target, detail }
        } else if lower.contains("readonly") || lower.contains("read-only") {
            Self::ReadOnly { target, detail }
        } else if lower.contains("database is locked") || lower.contains("database table is locked") {
            Self::Locked { target }
        } else if [
            "connection refused",
            "error communicating",
            "timed out",
            "failed to lookup",
            "unable to open database file",
            "no such host",
            "does not exist",
            "password authentication failed",
            "error with configuration",
            "connection reset",
        ]
        .iter()
        .any(|needle| lower.contains(needle))
        {
            Self::Unreachable { target, detail }
        } else {
            Self::Database { target, source: err }
        }
    }

    /// The failure of migration `name` on `target`, unless the driver error is one of the
    /// cases a user acts on differently (locked, read-only, corrupt).
    pub fn in_migration(target: &Target, name: &str, err: DbErr) -> Self {
        match Self::classify(target, err) {
            Self::Database { target, source } => Self::Migration {
                name: name.to_owned(),
                target,
                detail: match source {
                    DbErr::Migration(msg) => msg,
                    other => other.to_string(),
                },
            },
            Self::Unreachable { target, detail } => Self::Migration { name: name.to_owned(), target, detail },
            other => other,
        }
    }

    /// The process exit status for this error: 2 for usage and connection problems, 1 when a
    /// migration itself failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Migration { .. } | Self::Database { .. } => 1,
            _ => 2,
        }
    }
}
