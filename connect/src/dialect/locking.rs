//! The transactions that write, and the lock that keeps two migrators apart.

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::Dialect;

/// Key of the PostgreSQL advisory lock that serialises migrators (`hashtext('aico-ams-migrate')`
/// would be just as good; a constant keeps it readable in `pg_locks`).
const PG_MIGRATE_LOCK_KEY: i64 = 0x0A1C_0A35;

impl Dialect {
    /// Begin a transaction that will write: SQLite takes its write lock at `BEGIN IMMEDIATE`
    /// (waiting for the busy timeout), so no read inside it ever needs a lock upgrade, which
    /// would fail at once with "database is locked" beside another writer; PostgreSQL's default.
    pub async fn begin_write<C>(self, conn: &C) -> Result<DatabaseTransaction, DbErr>
    where
        C: TransactionTrait<Transaction = DatabaseTransaction>,
    {
        match self {
            Self::Sqlite => {
                conn.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await
            }
            Self::Postgres => conn.begin().await,
        }
    }

    /// Begin a write transaction whose commit need not wait for the disk: a batch of a job that
    /// a later run redoes if it is lost. SQLite's connections already commit so (WAL with
    /// `synchronous = NORMAL`); PostgreSQL's `synchronous_commit = off` for this transaction.
    /// Either way a crash of the machine can lose only the last such commits, whole, never half
    /// of one, and never one that a later commit depends on.
    pub async fn begin_batch<C>(self, conn: &C) -> Result<DatabaseTransaction, DbErr>
    where
        C: TransactionTrait<Transaction = DatabaseTransaction>,
    {
        let txn = self.begin_write(conn).await?;
        if self == Self::Postgres {
            // A fixed statement: nothing in it comes from outside.
            txn.execute_raw(self.stmt("SET LOCAL synchronous_commit = off")).await?;
        }
        Ok(txn)
    }

    /// Begin the transaction a migrator runs in, holding the lock that keeps a second migrator
    /// out until it ends: SQLite's write lock (`BEGIN IMMEDIATE`, which waits for the busy
    /// timeout), PostgreSQL's transaction-scoped advisory lock. `on_wait` is called once when
    /// another migrator holds the lock and this one waits for it.
    pub async fn begin_locked<C>(self, conn: &C, on_wait: impl FnOnce()) -> Result<DatabaseTransaction, DbErr>
    where
        C: TransactionTrait<Transaction = DatabaseTransaction>,
    {
        match self {
            Self::Sqlite => self.begin_write(conn).await,
            Self::Postgres => {
                let txn = conn.begin().await?;
                // The key is a constant of ours, formatted as a number.
                let got = txn
                    .query_one_raw(self.stmt(format!("SELECT pg_try_advisory_xact_lock({PG_MIGRATE_LOCK_KEY}) AS got")))
                    .await?
                    .map(|row| row.try_get::<bool>("", "got"))
                    .transpose()?
                    .unwrap_or(false);
                if !got {
                    on_wait();
                    txn.execute_raw(self.stmt(format!("SELECT pg_advisory_xact_lock({PG_MIGRATE_LOCK_KEY})"))).await?;
                }
                Ok(txn)
            }
        }
    }
}
