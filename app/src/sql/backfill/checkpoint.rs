//! SQLite's checkpoints, moved off the batches' path: while the backfill's connection writes the
//! next batch, a second connection copies the last batch's pages from the write-ahead log into
//! the database file (and syncs it), on the other core.
//!
//! SQLite's own automatic checkpoint runs inside the commit that pushes the log past 1000 pages,
//! on the writing connection: every other batch waited for it (about 45 ms of writing pages and
//! two fsyncs, on 300,000 facts). So for the run the writing connection's automatic checkpoint is
//! off (`PRAGMA wal_autocheckpoint = 0`, restored at the end). That setting belongs to one
//! connection and is made through the pool: it reaches the writing connection because on SQLite
//! the run never uses two of the pool's connections at once (one batch in flight,
//! [`super::walk::Walk::at_once`]), so the pool opens one and hands it out every time. After each
//! commit a `PRAGMA wal_checkpoint(PASSIVE)` starts on the second connection. A passive
//! checkpoint never blocks a writer or a reader (AICO's included): it copies what no reader still
//! needs and leaves the rest for the next one.
//!
//! The log can be started over from its beginning only by a write that begins after a checkpoint
//! has copied all of it; with the next batch always begun while the last one is being copied, the
//! log would grow by every batch. So once it holds [`RESTART_FRAMES`] pages, the next batch waits
//! for the checkpoint in flight, and its first write starts the log afresh: the log stays under
//! about that size plus a batch, where SQLite's default would keep it near 1000 pages, and is
//! removed when the last connection closes, as always.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
use tokio::task::JoinHandle;

use crate::error::AppError;
use crate::sql::Db;

/// The log's size, in pages, from which the next batch waits for the checkpoint in flight, so that
/// the log starts over (16,384 pages: 64 MiB of 4 KiB pages).
pub(super) const RESTART_FRAMES: i64 = 16_384;

/// What a passive checkpoint found: the log's size and how much of it is now in the database
/// file, in pages.
#[derive(Clone, Copy, Debug, Default)]
struct Copied {
    log: i64,
    checkpointed: i64,
}

/// The checkpoints of one backfill run on SQLite.
pub(super) struct Checkpoints {
    /// The second connection, which runs them.
    conn: DatabaseConnection,
    /// The checkpoint in flight, if any.
    running: Option<JoinHandle<Result<Copied, DbErr>>>,
    /// The writing connection's `wal_autocheckpoint` before the run.
    autocheckpoint: i64,
    /// The log's size from which the next batch waits (see [`RESTART_FRAMES`]).
    restart_frames: i64,
}

impl Checkpoints {
    /// Take the checkpoints of `db`'s writes over, for a run, starting the log over once it holds
    /// `restart_frames` pages: None on PostgreSQL, which has none of these (and no second
    /// connection of this kind, [`aico_connect::target::Target::connect_again`]).
    pub(super) async fn start(db: &Db, restart_frames: i64) -> Result<Option<Self>, AppError> {
        let Some(conn) = db.target.connect_again(db.key.as_ref()).await else { return Ok(None) };
        let conn = conn?;
        let autocheckpoint = pragma(&db.conn, "PRAGMA wal_autocheckpoint").await.map_err(|e| db.error(e))?;
        db.conn.execute_unprepared("PRAGMA wal_autocheckpoint = 0").await.map_err(|e| db.error(e))?;
        Ok(Some(Self { conn, running: None, autocheckpoint, restart_frames }))
    }

    /// After a batch's commit: start copying it into the database file. When the log has grown to
    /// [`RESTART_FRAMES`], wait for that copy, so that the next batch starts the log afresh.
    pub(super) async fn committed(&mut self) {
        let last = self.wait().await;
        self.running = Some(tokio::spawn(checkpoint(self.conn.clone())));
        if last.log >= self.restart_frames {
            self.wait().await;
        }
    }

    /// Wait for the checkpoint in flight; what it found (nothing when none ran or it failed: a
    /// checkpoint that fails loses nothing, SQLite copies those pages in a later one).
    async fn wait(&mut self) -> Copied {
        let Some(running) = self.running.take() else { return Copied::default() };
        match running.await {
            Ok(Ok(copied)) => copied,
            Ok(Err(e)) => {
                tracing::warn!("checkpoint failed (its pages stay in the write-ahead log): {e}");
                Copied::default()
            }
            Err(e) => {
                tracing::warn!("checkpoint did not finish: {e}");
                Copied::default()
            }
        }
    }

    /// End of the run: wait for the checkpoint in flight, give the writing connection its own
    /// automatic checkpoints back, and close the second connection.
    pub(super) async fn finish(mut self, db: &Db) -> Result<(), AppError> {
        self.wait().await;
        // The value read from SQLite at the start, written back as a number.
        let restore = format!("PRAGMA wal_autocheckpoint = {}", self.autocheckpoint);
        db.conn.execute_unprepared(&restore).await.map_err(|e| db.error(e))?;
        self.conn.close().await.map_err(|e| db.error(e))?;
        Ok(())
    }
}

/// One passive checkpoint on `conn`.
async fn checkpoint(conn: DatabaseConnection) -> Result<Copied, DbErr> {
    let started = std::time::Instant::now();
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), "PRAGMA wal_checkpoint(PASSIVE)"))
        .await?
        .ok_or_else(|| DbErr::Custom("PRAGMA wal_checkpoint returned no row".into()))?;
    let copied = Copied { log: row.try_get_by_index(1)?, checkpointed: row.try_get_by_index(2)? };
    tracing::debug!(
        log_pages = copied.log,
        checkpointed_pages = copied.checkpointed,
        checkpoint_ms = started.elapsed().as_secs_f64() * 1e3,
        "checkpoint"
    );
    Ok(copied)
}

/// The number a `PRAGMA` query gives.
async fn pragma(conn: &DatabaseConnection, sql: &str) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned()))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("{sql} returned no row")))?;
    row.try_get_by_index(0)
}

#[cfg(test)]
mod tests {
    use aico_connect::key::KeySources;
    use aico_connect::target::Target;
    use sea_orm::{ConnectionTrait, TransactionTrait};

    use super::{Checkpoints, pragma};
    use crate::sql::Db;

    /// Thirty commits of about 100 pages each, with the log to start over from 200 pages: it
    /// never grows past that and a few commits (SQLite's own checkpoints being off, it would reach
    /// 3000 pages); every page reaches the database file; the writer's setting comes back.
    #[tokio::test]
    async fn the_log_is_copied_beside_the_writes_and_starts_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("t.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let db =
            Db::open(Target::resolve(Some(&url), None).expect("url"), None, &KeySources::none()).await.expect("open");
        db.conn.execute_unprepared("CREATE TABLE t (b BLOB)").await.expect("table");
        let wal = dir.path().join("t.db-wal");
        let pages = || std::fs::metadata(&wal).map(|m| m.len() / 4096).unwrap_or(0);
        let mut checkpoints = Checkpoints::start(&db, 200).await.expect("start").expect("sqlite");
        assert_eq!(pragma(&db.conn, "PRAGMA wal_autocheckpoint").await.expect("pragma"), 0);
        let mut largest = 0;
        for _ in 0..30 {
            let txn = db.conn.begin().await.expect("begin");
            txn.execute_unprepared(
                "INSERT INTO t WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100) \
                 SELECT randomblob(4000) FROM s",
            )
            .await
            .expect("insert");
            txn.commit().await.expect("commit");
            checkpoints.committed().await;
            largest = largest.max(pages());
        }
        checkpoints.finish(&db).await.expect("finish");
        assert!((200..=200 + 3 * 110).contains(&largest), "the log grew to {largest} pages");
        assert_eq!(pragma(&db.conn, "PRAGMA wal_autocheckpoint").await.expect("pragma"), 1000);
        // Every commit's pages are in the database file itself (which only a checkpoint writes).
        let in_file = std::fs::metadata(&file).expect("file").len() / 4096;
        assert!(in_file >= 30 * 100, "the database file holds {in_file} pages");
    }
}
