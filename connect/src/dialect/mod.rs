//! How each backend says the few things that differ between SQLite and PostgreSQL.
//!
//! The per-backend SQL of the project lives here (as sea-query keeps each dialect in one backend
//! module): call sites ask a [`Dialect`] for SQL. One choice is made outside, by the SQL backfill
//! (`app/src/sql/backfill.rs`): which walk suits the table's storage order on this backend. By job:
//!
//! - `sql`: fragments of SQL (JSON access, expression indexes, timestamps as canonical text);
//! - `schema`: what the database holds (indexes, query plans, column types, storage order);
//! - `index`: an index set aside while its table is rewritten, and rebuilt as it was (PostgreSQL);
//! - `locking`: the transactions that write, and the lock that keeps migrators apart;
//! - `backup`: what must happen before rows are destroyed.

mod backup;
mod index;
mod locking;
mod schema;
mod sql;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

pub use backup::RestorePoint;
pub use index::IndexState;
pub use schema::StorageOrder;

/// A database backend the AMS schema supports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (and libSQL files), the embedded default.
    Sqlite,
    /// PostgreSQL, for users past one machine.
    Postgres,
}

impl Dialect {
    /// The dialect of a connection, or an error for backends the AMS does not support.
    pub fn of(backend: DbBackend) -> Result<Self, DbErr> {
        match backend {
            DbBackend::Sqlite => Ok(Self::Sqlite),
            DbBackend::Postgres => Ok(Self::Postgres),
            other => {
                Err(DbErr::Migration(format!("the AMS schema supports SQLite and PostgreSQL, not {}", other.as_str())))
            }
        }
    }

    /// The dialect of the connection `conn` speaks.
    pub fn of_conn<C: ConnectionTrait>(conn: &C) -> Result<Self, DbErr> {
        Self::of(conn.get_database_backend())
    }

    /// The sea-orm backend of this dialect.
    pub fn backend(self) -> DbBackend {
        match self {
            Self::Sqlite => DbBackend::Sqlite,
            Self::Postgres => DbBackend::Postgres,
        }
    }

    /// A statement of raw SQL in this dialect. `sql` is our own text: names from the migrations
    /// and the catalog, never a value from a flag, the environment or a row (bind those instead).
    pub fn stmt(self, sql: impl Into<String>) -> Statement {
        Statement::from_string(self.backend(), sql.into())
    }
}
