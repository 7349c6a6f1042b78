//! AICO's salt file: 16 bytes in `<database>.salt`, beside the database, that the database key
//! is derived with.

use std::path::{Path, PathBuf};

use super::KeyError;

/// The length of AICO's salt file.
pub const SALT_LEN: usize = 16;
/// AICO's salt file of the database `db`: `<db>.salt` beside it.
pub fn salt_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".salt");
    PathBuf::from(name)
}

/// The 16 bytes of `db`'s salt file.
pub fn read_salt(db: &Path) -> Result<[u8; SALT_LEN], KeyError> {
    let path = salt_path(db);
    let bytes = std::fs::read(&path).map_err(|source| KeyError::SaltUnreadable { path: path.clone(), source })?;
    <[u8; SALT_LEN]>::try_from(bytes.as_slice()).map_err(|_| KeyError::SaltLength { path, len: bytes.len() as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_file_is_beside_the_database() {
        assert_eq!(salt_path(Path::new("/d/aico.db")), Path::new("/d/aico.db.salt"));
    }
}
