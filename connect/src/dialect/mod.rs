//! How each backend says the few things that differ between SQLite and PostgreSQL, for every
//! crate of the workspace (`migration`, `entity`'s build script, `aico-ams`): call sites ask a
//! [`Dialect`] for SQL and never `match` on the backend (as sea-query keeps each dialect in one
//! backend module). The SQL only `aico-ams`'s SQL store speaks (the backfill's timestamps and
//! fill, AICO's index set aside) is in that store's own dialect module, `app/src/sql/dialect.rs`.
//! By job:
//!
//! - `sql`: fragments of SQL the migrations and the reports share (JSON access, expression
//!   indexes, checks);
//! - `schema`: what the database holds (indexes, query plans, column types, storage order);
//! - `aico`: which of AICO's databases this is (AICO's PostgreSQL database, AICO's schema
//!   version);
//! - `locking`: the transactions that write, and the lock that keeps migrators apart;
//! - `backup`: what must happen before rows are destroyed.

mod aico;
mod backup;
mod locking;
mod schema;
mod sql;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

pub use backup::RestorePoint;
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
