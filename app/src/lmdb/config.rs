//! Where the working memory is: AICO's LMDB environment and its named database.

use std::path::{Path, PathBuf};

/// The LMDB environment directory: `<memory dir>/working`, the memory directory being `memory_dir`
/// when given, else `<AICO data dir>/data/memory` (AICO's data directory `aico_data` when given).
pub fn working_dir(memory_dir: Option<&Path>, aico_data: Option<&Path>) -> Result<PathBuf, String> {
    Ok(crate::memory_dir(memory_dir, aico_data)?.join("working"))
}

/// The named database AICO keeps messages in.
pub const DATABASE: &str = "session_memory";
