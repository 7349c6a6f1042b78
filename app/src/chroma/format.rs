//! A Chroma store's format, and whether a server would change it.
//!
//! A store's format is what its `chroma.sqlite3` says in its table `migrations`: the highest
//! version applied in each directory (`embeddings_queue 2, metadb 5, sysdb 9` for chromadb
//! 1.0.20). A newer server applies its own migrations when it opens a store, after which AICO's
//! pinned chromadb can no longer open it. Whether the chosen server would do so is found out on a
//! scratch copy of the store's database, never on the store itself.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::sqlx::{self, Connection, SqliteConnection};

use super::ChromaError;
use super::program::ServerProgram;
use super::server::{LocalServer, STORE_FILE};

/// The highest migration applied in each of a store's migration directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFormat(BTreeMap<String, i64>);

/// `embeddings_queue 2, metadb 5, sysdb 9`.
impl fmt::Display for StoreFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(dir, v)| format!("{dir} {v}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// The format of the store whose database is `db`, read only.
async fn read(db: &Path) -> Result<StoreFormat, ChromaError> {
    let unreadable = |e: sqlx::Error| ChromaError::StoreFormat { path: db.into(), detail: e.to_string() };
    let options = SqliteConnectOptions::new().filename(db).read_only(true);
    let mut conn = SqliteConnection::connect_with(&options).await.map_err(unreadable)?;
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT dir, MAX(version) FROM migrations GROUP BY dir")
        .fetch_all(&mut conn)
        .await
        .map_err(unreadable)?;
    conn.close().await.map_err(unreadable)?;
    Ok(StoreFormat(rows.into_iter().collect()))
}

/// The store's format, when `program` leaves it as it is; else [`ChromaError::WouldUpgrade`].
///
/// The store's database (with its journal or log, if any) is copied into a private scratch
/// directory, `program` serves the copy until it answers, and the copy's format is read before
/// and after. The store itself is only read.
pub async fn unchanged_by(store: &Path, program: &ServerProgram) -> Result<StoreFormat, ChromaError> {
    let scratch_err =
        |e: std::io::Error| ChromaError::StoreFormat { path: store.join(STORE_FILE), detail: e.to_string() };
    let scratch = tempfile::Builder::new().prefix("aico-ams-chroma-probe").tempdir().map_err(scratch_err)?;
    for suffix in ["", "-wal", "-journal"] {
        let name = format!("{STORE_FILE}{suffix}");
        let from = store.join(&name);
        if suffix.is_empty() || from.is_file() {
            std::fs::copy(&from, scratch.path().join(&name)).map_err(scratch_err)?;
        }
    }
    let before = read(&scratch.path().join(STORE_FILE)).await?;
    drop(LocalServer::start(scratch.path(), program.clone()).await?);
    let after = read(&scratch.path().join(STORE_FILE)).await?;
    tracing::info!(%before, %after, "format of {} as {} leaves it", store.display(), program.path.display());
    if before == after {
        Ok(before)
    } else {
        Err(ChromaError::WouldUpgrade {
            path: store.into(),
            format: before.to_string(),
            upgraded: after.to_string(),
            program: program.to_string(),
        })
    }
}
