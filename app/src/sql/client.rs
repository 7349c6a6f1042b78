//! Opening the SQL database a command works on.

use aico_connect::dialect::Dialect;
use aico_connect::key::{DbKey, KeySources};
use aico_connect::target::Target;
use migration::catalog::Layout;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

use crate::error::AppError;

/// An open database and how to speak to it; made by [`Db::open`] only, so that its SQLite
/// connections have the functions the jobs call.
pub struct Db {
    /// Which database (printable: password hidden).
    pub target: Target,
    /// The connection pool.
    pub(crate) conn: DatabaseConnection,
    /// Its SQL dialect.
    pub dialect: Dialect,
    /// The key an encrypted SQLite file was opened with (a backup is encrypted with it).
    pub(crate) key: Option<DbKey>,
}

impl Db {
    /// Open the database `target` ([`Target::resolve`]), with the PostgreSQL `schema` as its
    /// search path; an encrypted SQLite file with the key found in `keys`. SQLite connections
    /// have the function `aico_initial_metadata` (see [`super::initial_metadata`]).
    pub async fn open(target: Target, schema: Option<&str>, keys: &KeySources) -> Result<Self, AppError> {
        if target.sqlite_path().is_some() {
            super::initial_metadata::register_sqlite_function()
                .map_err(|e| AppError::Database { target: target.to_string(), source: DbErr::Custom(e) })?;
        }
        let (conn, key) = target.connect_keyed(schema, keys).await?;
        let dialect = Dialect::of_conn(&conn).map_err(|e| aico_connect::error::ConnectError::classify(&target, e))?;
        Ok(Self { target, conn, dialect, key })
    }

    /// A query error on this database.
    pub fn error(&self, source: DbErr) -> AppError {
        AppError::Database { target: self.target.to_string(), source }
    }

    /// Whose schema the database follows (AICO's own, or the seed's), and so where its facts are.
    pub async fn layout(&self) -> Result<Layout, AppError> {
        Layout::detect(&self.conn).await.map_err(|e| self.error(e))
    }

    /// Whether `table` exists (on PostgreSQL: on the search path, as a statement would find it;
    /// on AICO's PostgreSQL database, AICO's tables in `aico_core` behind this tool's own schema).
    pub async fn has_table(&self, table: &str) -> Result<bool, AppError> {
        let columns = self.dialect.column_names(&self.conn, table).await.map_err(|e| self.error(e))?;
        Ok(!columns.is_empty())
    }

    /// Rows of a raw query in this dialect. `sql` is our own text, with the catalog's names at
    /// most (see [`Dialect::stmt`]); values are never pasted into it.
    pub async fn rows(&self, sql: &str) -> Result<Vec<sea_orm::QueryResult>, AppError> {
        self.conn
            .query_all_raw(Statement::from_string(self.dialect.backend(), sql.to_owned()))
            .await
            .map_err(|e| self.error(e))
    }
}
