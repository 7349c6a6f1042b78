//! What the tool writes is its owner's alone, and a secret that others can read is refused.
//!
//! Every file the tool creates (its own database, the restore points written before rows are
//! dropped, anything a later command writes) is made with [`create_file`] (mode [`FILE_MODE`],
//! 0600) and every directory with [`create_dir_all`] ([`DIR_MODE`], 0700), whatever the umask. The
//! mode is given to `open(2)` / `mkdir(2)` themselves, so there is no moment when the new file is
//! more open; when the umask took more away than that, the file or directory just made is set
//! to exactly that mode (narrowing nothing anyone else could use). SQLite's write-ahead log and
//! shared-memory files (`-wal`, `-shm`) and journals are made by SQLite with the database
//! file's own mode, so a 0600 database keeps them 0600.
//!
//! Existing files are never chmod-ed: a file that is not ours to make keeps the mode its owner
//! gave it (AICO's `aico.db`); [`open_to_others`] lets a report say that others can read it.
//!
//! A file holding a secret (the key file `--db-key-file`; any later password file) is checked
//! with [`check_secret_file`] before it is read: readable or writable by group or others, it is
//! refused ([`OpenSecretFile`]), as `ssh` refuses such a private key, unless the user passed the
//! bypass flag for a read-only mount whose mode cannot change (Docker secrets are 0444).
//! On other platforms than Unix there are no such modes: these checks pass and the files get the
//! platform's defaults.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The mode of every file the tool creates: read and write for its owner alone.
pub const FILE_MODE: u32 = 0o600;
/// The mode of every directory the tool creates: its owner alone may list or enter it.
pub const DIR_MODE: u32 = 0o700;
/// The permission bits that refuse a secret file: read or write for group or others.
pub const SECRET_OPEN_BITS: u32 = 0o066;
/// The permission bits that make a file readable by others than its owner (group or others).
pub const READABLE_BY_OTHERS: u32 = 0o044;

/// A secret file (a key or password file) that group or others can read or write: refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {what} {path} has mode {mode:04o}, so other users of this machine can read or change it: run `chmod 600 {path}`, \
     or pass {bypass} if it is on a read-only mount whose mode cannot change (a Docker secret)",
    path = .path.display()
)]
pub struct OpenSecretFile {
    /// Which secret it holds (`key file`, `password file`).
    pub what: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// The flag that accepts it anyway (e.g. `--allow-open-key-file`).
    pub bypass: &'static str,
}

/// Whether a secret file that others can read or write is accepted anyway (the bypass flag).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum OpenSecrets {
    /// Refuse it (the default).
    #[default]
    Refuse,
    /// Accept it: a read-only mount whose mode cannot be changed (a Docker secret).
    Allow,
}

/// Check the opened secret file `file` (at `path`, holding a `what`) before reading it: refused
/// when group or others can read or write it, unless `open` is [`OpenSecrets::Allow`]. The mode is
/// read from the open file (`fstat`), so it is the mode of what is then read. `bypass` names the
/// flag that accepts it anyway, for the message.
pub fn check_secret_file(
    file: &File,
    path: &Path,
    what: &'static str,
    bypass: &'static str,
    open: OpenSecrets,
) -> Result<(), SecretFileError> {
    let Some(mode) = mode_of(&file.metadata().map_err(|source| SecretFileError::Io { path: path.to_owned(), source })?)
    else {
        return Ok(());
    };
    if mode & SECRET_OPEN_BITS == 0 {
        return Ok(());
    }
    if open == OpenSecrets::Allow {
        tracing::warn!("the {what} {} has mode {mode:04o} (others can read it): accepted, as asked", path.display());
        return Ok(());
    }
    Err(SecretFileError::Open(OpenSecretFile { what, path: path.to_owned(), mode, bypass }))
}

/// Why a secret file was not read.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Group or others can read or write it.
    #[error(transparent)]
    Open(OpenSecretFile),
    /// Its mode could not be read.
    #[error("cannot read the mode of {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The permission bits of `path` when group or others can read it (see [`READABLE_BY_OTHERS`]),
/// else `None` (also when it does not exist, or on a platform without such modes).
pub fn open_to_others(path: &Path) -> io::Result<Option<u32>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(mode_of(&meta).filter(|mode| mode & READABLE_BY_OTHERS != 0)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The permission bits of a file (`None` where there are none: not Unix).
pub fn mode_of(meta: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Create the new file `path` (it must not exist) with the permission bits `mode` (at most
/// [`FILE_MODE`]: callers pass that, or less), whatever the umask; the open file.
pub fn create_file(path: &Path, mode: u32) -> io::Result<File> {
    let mode = mode & FILE_MODE;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let file = options.open(path)?;
    set_exact_mode(&file, mode)?;
    Ok(file)
}

/// Create the directory `path` and every missing parent, each with [`DIR_MODE`] whatever the
/// umask. Directories that exist are left as they are (their modes are their owners').
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    match builder.create(path) {
        Ok(()) => {
            // Ours, just made, and no wider than DIR_MODE: set exactly that if the umask took more.
            let dir = File::open(path)?;
            set_exact_mode(&dir, DIR_MODE)
        }
        // Made meanwhile by someone else: theirs, left as it is.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Set the permission bits of the file `path`, which the tool has just written (mode
/// [`FILE_MODE`]), to the narrower `mode` (a backup of a database whose own mode allows less).
pub fn narrow(path: &Path, mode: u32) -> io::Result<()> {
    let file = File::open(path)?;
    set_exact_mode(&file, mode & FILE_MODE)
}

/// Set the permission bits of `file`, which the tool has just created with at most `mode`, to
/// exactly `mode` when the umask took more away (`fchmod` on the open file, never on a path).
fn set_exact_mode(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if mode_of(&file.metadata()?) != Some(mode) {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (file, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        mode_of(&std::fs::metadata(path).expect("metadata")).expect("unix")
    }

    #[test]
    fn made_files_and_directories_are_the_owners_alone() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("a").join("b");
        create_dir_all(&dir).expect("dirs");
        assert_eq!((mode(&tmp.path().join("a")), mode(&dir)), (0o700, 0o700));
        let file = dir.join("f");
        create_file(&file, FILE_MODE).expect("file");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(create_file(&file, FILE_MODE).expect_err("exists").kind(), io::ErrorKind::AlreadyExists);
        let narrower = dir.join("g");
        create_file(&narrower, 0o400).expect("file");
        assert_eq!(mode(&narrower), 0o400);
    }

    #[test]
    fn a_secret_others_can_read_is_refused_unless_allowed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("k");
        std::fs::write(&path, "x").expect("write");
        let check = |bits: u32, open| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bits)).expect("chmod");
            check_secret_file(&File::open(&path).expect("open"), &path, "key file", "--allow-open-key-file", open)
        };
        for bits in [0o600, 0o400, 0o700] {
            assert!(check(bits, OpenSecrets::Refuse).is_ok(), "{bits:o}");
        }
        for bits in [0o644, 0o640, 0o604, 0o620, 0o602, 0o444] {
            let err = check(bits, OpenSecrets::Refuse).expect_err("refused").to_string();
            assert!(err.contains(&format!("mode {bits:04o}")) && err.contains("chmod 600"), "{err}");
            assert!(check(bits, OpenSecrets::Allow).is_ok(), "{bits:o}");
        }
    }
}
