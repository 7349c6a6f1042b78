//! Whether a file is an encrypted SQLite database, from its first bytes.

use std::path::Path;

/// Whether the file at `path` is a SQLite database whose pages are encrypted: it exists, is not
/// empty, and does not start with SQLite's plain header.
pub fn is_encrypted(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read > 0 && header[..read] != PLAIN_HEADER[..read])
}

/// The first 16 bytes of every plain SQLite database file.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";
