//! Where the key of an encrypted database is looked for, in order ([`KeySources`]): the derived
//! key (`--db-key`, `--db-key-file`, [`DB_KEY_ENV`]), the master key in [`MASTER_KEY_ENV`] with
//! the salt file, AICO's master key in the OS keyring with the salt file. A new key source is
//! added here.

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use super::KeyError;
use super::derive::{DbKey, KEY_LEN, decode_hex32};
use super::keyring::{Keyring, MasterKeyStore, ask_keyring};
use super::salt::read_salt;
use crate::aico_pg::PasswordSources;
use crate::private::{self, OpenSecrets, SecretFileError};

/// The environment variable holding the derived database key (64 hex digits).
pub const DB_KEY_ENV: &str = "AICO_DB_KEY";
/// The environment variable holding AICO's master key (64 hex digits).
pub const MASTER_KEY_ENV: &str = "AICO_MASTER_KEY";
/// The warning `--db-key HEX` gives: a key on the command line is readable by every local user.
pub const DB_KEY_FLAG_WARNING: &str = "warning: --db-key puts the database key on the command line, where other \
    users of this machine can read it (ps, /proc/PID/cmdline) and your shell keeps it in its history; give it with \
    --db-key-file PATH (or --db-key-file - to read standard input), or in AICO_DB_KEY (readable only by your own \
    user), or keep AICO's master key in the OS keyring as AICO does";

/// What [`KeySources::resolve`] found.
#[derive(Debug)]
pub enum Lookup {
    /// A key, and where it came from.
    Found(DbKey, KeySource),
    /// No source has a key. `keyring` says why the OS keyring gave none when it could not be read
    /// (locked, no Secret Service): `None` when it was not asked or has no such entry.
    NotFound {
        /// The keyring's failure ([`KeyError::Keyring`]), if it was asked and could not answer.
        keyring: Option<KeyError>,
    },
}

impl Lookup {
    /// The key and its source, if one was found.
    pub fn found(self) -> Option<(DbKey, KeySource)> {
        match self {
            Self::Found(key, source) => Some((key, source)),
            Self::NotFound { .. } => None,
        }
    }
}

/// Where a key came from (for messages; never the key itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The derived key, given (`--db-key` / [`DB_KEY_ENV`]).
    Given,
    /// Derived from the master key in [`MASTER_KEY_ENV`] and the salt file.
    MasterKeyEnv,
    /// Derived from the master key in AICO's keyring entry and the salt file.
    Keyring,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Given => "the database key (--db-key, --db-key-file or AICO_DB_KEY)",
            Self::MasterKeyEnv => "the master key in AICO_MASTER_KEY",
            Self::Keyring => "AICO's master key in the OS keyring",
        })
    }
}

/// The flag that accepts a key file others can read or write (a read-only mount: a Docker secret).
pub const ALLOW_OPEN_KEY_FILE_FLAG: &str = "--allow-open-key-file";

/// The text of the key file `path` (`-`: standard input), held in zeroizing memory; its content
/// is checked later, by [`KeySources::resolve`], and never echoed. A file that group or others
/// can read or write is refused before it is read ([`KeyError::OpenKeyFile`]) unless `open` allows
/// it ([`ALLOW_OPEN_KEY_FILE_FLAG`]); standard input is whatever feeds it, and is not checked.
pub fn read_key_file(path: &Path, open: OpenSecrets) -> Result<Zeroizing<String>, KeyError> {
    use std::io::Read;
    let error = |source| KeyError::KeyFile { path: path.to_owned(), source };
    let mut bytes = Zeroizing::new(Vec::with_capacity(2 * KEY_LEN + 2));
    if path == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut bytes).map_err(error)?;
    } else {
        let mut file = std::fs::File::open(path).map_err(error)?;
        private::check_secret_file(&file, path, "key file", ALLOW_OPEN_KEY_FILE_FLAG, open).map_err(|e| match e {
            SecretFileError::Open(open) => KeyError::OpenKeyFile(open),
            SecretFileError::Io { source, .. } => error(source),
        })?;
        file.read_to_end(&mut bytes).map_err(error)?;
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(error(std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not text"))),
    }
}

/// Where to look for the key of an encrypted database, and for AICO's PostgreSQL password.
pub struct KeySources {
    /// The derived key as given on the command line (`--db-key`), else [`DB_KEY_ENV`].
    pub db_key: Option<Zeroizing<String>>,
    /// The master key's hex, else [`MASTER_KEY_ENV`].
    pub master_key: Option<Zeroizing<String>>,
    /// The keyring, asked last.
    pub keyring: Option<Box<dyn MasterKeyStore>>,
    /// Where AICO's PostgreSQL password is looked for (a URL without one, on AICO's database).
    pub pg_password: PasswordSources,
}

impl fmt::Debug for KeySources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySources")
            .field("db_key", &self.db_key.as_ref().map(|_| "***"))
            .field("master_key", &self.master_key.as_ref().map(|_| "***"))
            .field("keyring", &self.keyring.as_ref().map(|_| "..."))
            .field("pg_password", &self.pg_password)
            .finish()
    }
}

impl Default for KeySources {
    /// The environment ([`DB_KEY_ENV`], [`MASTER_KEY_ENV`]) and the platform's keyring.
    fn default() -> Self {
        Self::from_env(None)
    }
}

impl KeySources {
    /// `db_key` if given (a flag), else [`DB_KEY_ENV`]; [`MASTER_KEY_ENV`]; the platform keyring.
    pub fn from_env(db_key: Option<&str>) -> Self {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty()).map(Zeroizing::new);
        Self {
            db_key: db_key.map(|k| Zeroizing::new(k.to_owned())).or_else(|| env(DB_KEY_ENV)),
            master_key: env(MASTER_KEY_ENV),
            keyring: Some(Box::new(Keyring::native())),
            pg_password: PasswordSources::default(),
        }
    }

    /// [`KeySources::from_env`], with the derived key given by `--db-key HEX` (`flag`) or read
    /// from `--db-key-file PATH` (`file`; `-` reads standard input) when either is given. A key
    /// file that others can read or write is refused unless `open` allows it ([`read_key_file`]).
    pub fn from_args(flag: Option<&str>, file: Option<&Path>, open: OpenSecrets) -> Result<Self, KeyError> {
        let mut keys = Self::from_env(flag);
        keys.pg_password = PasswordSources::from_env(None, open);
        if let Some(path) = file {
            keys.db_key = Some(read_key_file(path, open)?);
        }
        Ok(keys)
    }

    /// No key anywhere (plain files only).
    pub fn none() -> Self {
        Self { db_key: None, master_key: None, keyring: None, pg_password: PasswordSources::none() }
    }

    /// These sources, with AICO's PostgreSQL password read from `file` (`--pg-password-file`)
    /// in place of `/run/secrets/pg_password` when given.
    pub fn with_pg_password_file(mut self, file: Option<&Path>) -> Self {
        self.pg_password = self.pg_password.with_file(file);
        self
    }

    /// Whether a key was given outright (`--db-key` / [`DB_KEY_ENV`]): it then also encrypts a
    /// database file that is created.
    pub fn has_given_key(&self) -> bool {
        self.db_key.is_some()
    }

    /// The key of the encrypted database `db`, and where it came from, or why none was found. A
    /// key that is given but malformed, or a salt file that is missing or short, is an error.
    pub fn resolve(&self, db: &Path) -> Result<Lookup, KeyError> {
        if let Some(hex) = &self.db_key {
            let key = DbKey::from_hex(hex, "database key (--db-key, --db-key-file or AICO_DB_KEY)")?;
            return Ok(Lookup::Found(key, KeySource::Given));
        }
        if let Some(hex) = &self.master_key {
            let master =
                decode_hex32(hex).ok_or(KeyError::Malformed { source_name: "master key in AICO_MASTER_KEY" })?;
            let salt = read_salt(db)?;
            return Ok(Lookup::Found(DbKey::derive(master.as_ref(), &salt), KeySource::MasterKeyEnv));
        }
        let Some(keyring) = &self.keyring else { return Ok(Lookup::NotFound { keyring: None }) };
        match ask_keyring(keyring.as_ref()) {
            Ok(Some(hex)) => {
                let master = decode_hex32(&hex)
                    .ok_or(KeyError::Malformed { source_name: "master key in AICO's keyring entry" })?;
                let salt = read_salt(db)?;
                Ok(Lookup::Found(DbKey::derive(master.as_ref(), &salt), KeySource::Keyring))
            }
            Ok(None) => Ok(Lookup::NotFound { keyring: None }),
            Err(unreadable) => {
                tracing::debug!("no master key from the OS keyring: {unreadable}");
                Ok(Lookup::NotFound { keyring: Some(unreadable) })
            }
        }
    }
}
