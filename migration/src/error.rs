//! What can go wrong when migrating: connecting ([`ConnectError`], from `aico-connect`), a
//! migration that fails, or applied migrations that changed.

use aico_connect::error::ConnectError;
use aico_connect::target::Target;
use sea_orm_migration::sea_orm::DbErr;

/// A migrator's failure. Every message names the database (password hidden), file or migration.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database could not be found, opened or read.
    #[error(transparent)]
    Connect(#[from] ConnectError),
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
    /// Applied migrations that make other objects now than when they were applied (their recorded
    /// fingerprint differs): `up` stops before changing anything.
    #[error(
        "{target}: {changes}; nothing was changed: check the schema, then run \
         `aico-ams migrate --repair` (or `migration repair`) to re-record what the database holds"
    )]
    Changed {
        /// The database.
        target: String,
        /// Each changed migration and what differs, e.g. `migration m0001_x changed since it was
        /// applied (index idx_a differ; recorded by version 0.1.0 of this tool at ...)`.
        changes: String,
    },
}

impl MigrateError {
    /// Sort a driver error on `target` into the case a user can act on, by its code
    /// ([`ConnectError::classify`]).
    pub fn classify(target: &Target, err: DbErr) -> Self {
        Self::Connect(ConnectError::classify(target, err))
    }

    /// The failure of migration `name` on `target`, unless the driver error is one of the
    /// cases a user acts on differently (locked, read-only, corrupt).
    pub fn in_migration(target: &Target, name: &str, err: DbErr) -> Self {
        match ConnectError::classify(target, err) {
            ConnectError::Database { target, source } => Self::Migration {
                name: name.to_owned(),
                target,
                detail: match source {
                    DbErr::Migration(msg) => msg,
                    other => other.to_string(),
                },
            },
            ConnectError::Unreachable { target, detail } => Self::Migration { name: name.to_owned(), target, detail },
            other => Self::Connect(other),
        }
    }

    /// A stable, code-like name of the case: [`ConnectError::code`], `migration_failed` or
    /// `migration_changed`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Connect(e) => e.code(),
            Self::Migration { .. } => "migration_failed",
            Self::Changed { .. } => "migration_changed",
        }
    }

    /// The process exit status for this error: 2 for usage and connection problems and for
    /// applied migrations that changed (nothing was run), 1 when a migration itself failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Connect(e) => e.exit_code(),
            Self::Migration { .. } => 1,
            Self::Changed { .. } => 2,
        }
    }
}
