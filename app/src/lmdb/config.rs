//! Where the working memory is: AICO's LMDB environment and its named database.

use std::path::{Path, PathBuf};

/// The LMDB environment directory: `<memory dir>/working`, the memory directory being `memory_dir`
/// when given, else `<AICO data dir>/data/memory`.
pub fn working_dir(memory_dir: Option<&Path>) -> Result<PathBuf, String> {
    Ok(crate::memory_dir(memory_dir)?.join("working"))
}

/// The named database AICO keeps messages in.
pub const DATABASE: &str = "session_memory";
