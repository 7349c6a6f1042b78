//! The keys this process opened encrypted files with.

use std::path::{Path, PathBuf};

use super::DbKey;

/// The keys this process opened encrypted files with, by file: a step that writes a backup of
/// such a file (migration's `safety`) encrypts the backup with the same key. Migrations see only
/// a connection, so this is where they find it.
static OPENED: std::sync::Mutex<Vec<(PathBuf, DbKey)>> = std::sync::Mutex::new(Vec::new());

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Remember that the file `path` was opened with `key`.
pub(crate) fn remember(path: &Path, key: DbKey) {
    let path = canonical(path);
    let mut opened = OPENED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    opened.retain(|(p, _)| *p != path);
    opened.push((path, key));
}

/// The key the file `path` was opened with by this process, if it is encrypted.
pub fn opened_with(path: &Path) -> Option<DbKey> {
    let path = canonical(path);
    let opened = OPENED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    opened.iter().find(|(p, _)| *p == path).map(|(_, key)| key.clone())
}
