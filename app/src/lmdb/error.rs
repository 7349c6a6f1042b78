//! What can go wrong with the working memory.

use std::path::PathBuf;

use super::DATABASE;

/// What can go wrong with the working memory.
#[derive(Debug, thiserror::Error)]
pub enum WorkingMemoryError {
    /// There is no LMDB environment there.
    #[error("no LMDB environment at {dir} (no data.mdb): set --memory-dir or AICO_MEMORY_DIR")]
    NotFound {
        /// The directory.
        dir: PathBuf,
    },
    /// The environment has no `session_memory` database.
    #[error("the LMDB environment at {dir} has no database {DATABASE:?}")]
    MissingDatabase {
        /// The directory.
        dir: PathBuf,
    },
    /// LMDB failed.
    #[error("LMDB at {dir}: {source}")]
    Lmdb {
        /// The directory.
        dir: PathBuf,
        /// The error.
        source: heed::Error,
    },
}
