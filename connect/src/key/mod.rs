//! The key of an encrypted SQLite file (AICO's `aico.db`): where it comes from, and how SQLite
//! gets it. One file per job:
//!
//! | file | holds |
//! |---|---|
//! | [`derive`] | [`DbKey`]: AICO's PBKDF2 derivation, the hex form, `PRAGMA key` on sqlx's options |
//! | [`salt`] | the salt file beside the database (`<db>.salt`) |
//! | [`keyring`] | the OS keyring: [`MasterKeyStore`], [`PasswordStore`], [`Keyring`], the native stores |
//! | [`sources`] | [`KeySources`]: the lookup order (flags, environment, key file, keyring) |
//! | [`header`] | sniffing a file's header: [`is_encrypted`] |
//!
//! AICO encrypts `aico.db` with SQLite3 Multiple Ciphers (AES-256-CBC, through python libsql) and
//! opens it with `PRAGMA key = 'x"<64 hex>"'`, where the 32 bytes are
//! PBKDF2-HMAC-SHA256(master key ‖ `aico-db-libsql`, salt = the 16 bytes of `<database>.salt`,
//! 100 000 iterations). The master key is 32 bytes, kept as hex in the OS keyring (service `AICO`,
//! entry `master_key`).
//!
//! A key is looked for, in this order: the derived key itself (`--db-key`, `--db-key-file`, or
//! [`DB_KEY_ENV`]); the master key in [`MASTER_KEY_ENV`] with the salt file; the master key from
//! AICO's keyring entry with the salt file. Key material is never printed: its `Debug` says
//! `***`, and no error carries it.

use std::path::{Path, PathBuf};

pub mod derive;
pub mod header;
pub mod keyring;
pub mod salt;
pub mod sources;

pub use derive::{DbKey, keyed};
pub use header::is_encrypted;
pub use keyring::{KEYRING_ENTRY, KEYRING_SERVICE, Keyring, MasterKeyStore, PasswordStore};
pub use salt::{read_salt, salt_path};
pub use sources::{
    ALLOW_OPEN_KEY_FILE_FLAG, DB_KEY_ENV, DB_KEY_FLAG_WARNING, KeySource, KeySources, Lookup, MASTER_KEY_ENV,
    read_key_file,
};

use salt::SALT_LEN;

/// Why no key could be had. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key (from a flag, an environment variable or the keyring) is not 64 hex digits.
    #[error("the {source_name} is not a 32-byte key written as 64 hex digits")]
    Malformed {
        /// Where the key came from (e.g. `database key (--db-key / AICO_DB_KEY)`).
        source_name: &'static str,
    },
    /// The salt file that the key derivation needs is missing or unreadable.
    #[error("cannot read the salt file {path} that the database key is derived with: {source}")]
    SaltUnreadable {
        /// The salt file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The salt file is not 16 bytes.
    #[error("the salt file {path} holds {len} bytes, not the {SALT_LEN} that AICO writes")]
    SaltLength {
        /// The salt file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The file named by `--db-key-file` (or standard input, for `-`) could not be read.
    #[error("cannot read the database key from {}: {source}", key_file_name(path))]
    KeyFile {
        /// The file (`-`: standard input).
        path: PathBuf,
        /// Why (never the file's content).
        source: std::io::Error,
    },
    /// The key file (`--db-key-file`) can be read or written by group or others: refused, unread.
    #[error(transparent)]
    OpenKeyFile(crate::private::OpenSecretFile),
    /// The keyring could not be read (other than: it has no such entry).
    #[error(
        "cannot read AICO's master key from the OS keyring (service {KEYRING_SERVICE}, entry {KEYRING_ENTRY}): {detail}"
    )]
    Keyring {
        /// The keyring's words (never a secret).
        detail: String,
    },
}

/// A key file's name in messages: the path, or `standard input` for `-`.
fn key_file_name(path: &Path) -> String {
    if path == Path::new("-") { "standard input".to_owned() } else { path.display().to_string() }
}
