//! The key of an encrypted SQLite file (AICO's `aico.db`): where it comes from, and how SQLite
//! gets it.
//!
//! AICO encrypts `aico.db` with SQLite3 Multiple Ciphers (AES-256-CBC, through python libsql) and
//! opens it with `PRAGMA key = 'x"<64 hex>"'`, where the 32 bytes are
//! PBKDF2-HMAC-SHA256(master key ‖ `aico-db-libsql`, salt = the 16 bytes of `<database>.salt`,
//! 100 000 iterations). The master key is 32 bytes, kept as hex in the OS keyring (service `AICO`,
//! entry `master_key`).
//!
//! A key is looked for, in this order: the derived key itself (`--db-key`, `--db-key-file`, or
//! [`DB_KEY_ENV`]);
//! the master key in [`MASTER_KEY_ENV`] with the salt file; the master key from AICO's keyring
//! entry with the salt file. Key material lives in zeroizing memory and is never printed: its
//! `Debug` says `***`, and no error carries it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

/// The environment variable holding the derived database key (64 hex digits).
pub const DB_KEY_ENV: &str = "AICO_DB_KEY";
/// The environment variable holding AICO's master key (64 hex digits).
pub const MASTER_KEY_ENV: &str = "AICO_MASTER_KEY";
/// AICO's keyring service name.
pub const KEYRING_SERVICE: &str = "AICO";
/// AICO's keyring entry holding the master key.
pub const KEYRING_ENTRY: &str = "master_key";

/// The warning `--db-key HEX` gives: a key on the command line is readable by every local user.
pub const DB_KEY_FLAG_WARNING: &str = "warning: --db-key puts the database key on the command line, where other \
    users of this machine can read it (ps, /proc/PID/cmdline) and your shell keeps it in its history; give it with \
    --db-key-file PATH (or --db-key-file - to read standard input), or in AICO_DB_KEY (readable only by your own \
    user), or keep AICO's master key in the OS keyring as AICO does";

/// What AICO appends to the master key before deriving the database key.
const KDF_CONTEXT: &[u8] = b"aico-db-libsql";
/// AICO's PBKDF2 iteration count (`security.key_derivation.pbkdf2.iterations`).
const PBKDF2_ITERATIONS: u32 = 100_000;
/// The length of AICO's salt file.
const SALT_LEN: usize = 16;
/// The length of a key, in bytes.
const KEY_LEN: usize = 32;

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
    /// The keyring could not be read (other than: it has no such entry).
    #[error(
        "cannot read AICO's master key from the OS keyring (service {KEYRING_SERVICE}, entry {KEYRING_ENTRY}): {detail}"
    )]
    Keyring {
        /// The keyring's words (never a secret).
        detail: String,
    },
}

/// A 32-byte database key, zeroed when dropped.
#[derive(Clone)]
pub struct DbKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbKey(***)")
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

impl DbKey {
    /// A key written as 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str, source_name: &'static str) -> Result<Self, KeyError> {
        Ok(Self(decode_hex32(text).ok_or(KeyError::Malformed { source_name })?))
    }

    /// The database key AICO derives from its 32-byte master key and the file's 16-byte salt.
    pub fn derive(master_key: &[u8], salt: &[u8]) -> Self {
        let mut input = Zeroizing::new(Vec::with_capacity(master_key.len() + KDF_CONTEXT.len()));
        input.extend_from_slice(master_key);
        input.extend_from_slice(KDF_CONTEXT);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&input, salt, PBKDF2_ITERATIONS, out.as_mut());
        Self(out)
    }

    /// The value of `PRAGMA key` as AICO writes it: `'x"<64 hex>"'`.
    pub fn pragma_value(&self) -> Zeroizing<String> {
        let mut hex = Zeroizing::new(String::with_capacity(2 * KEY_LEN + 5));
        hex.push_str("'x\"");
        for byte in self.0.iter() {
            hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        hex.push_str("\"'");
        hex
    }
}

/// `opts` keyed with `key`, if any: sqlx runs `PRAGMA key` before every other pragma, as SQLite3
/// Multiple Ciphers needs.
pub fn keyed(
    opts: sea_orm_migration::sea_orm::sqlx::sqlite::SqliteConnectOptions,
    key: Option<&DbKey>,
) -> sea_orm_migration::sea_orm::sqlx::sqlite::SqliteConnectOptions {
    match key {
        // The value is built from the key's 32 decoded bytes: only hex digits between fixed quotes.
        Some(key) => opts.pragma("key", key.pragma_value().as_str().to_owned()),
        None => opts,
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn decode_hex32(text: &str) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let text = text.trim().as_bytes();
    if text.len() != 2 * KEY_LEN {
        return None;
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// The text of the key file `path` (`-`: standard input), held in zeroizing memory; its content
/// is checked later, by [`KeySources::resolve`], and never echoed.
pub fn read_key_file(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    use std::io::Read;
    let error = |source| KeyError::KeyFile { path: path.to_owned(), source };
    let mut bytes = Zeroizing::new(Vec::with_capacity(2 * KEY_LEN + 2));
    if path == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut bytes).map_err(error)?;
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(error)?;
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(error(std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not text"))),
    }
}

/// A key file's name in messages: the path, or `standard input` for `-`.
fn key_file_name(path: &Path) -> String {
    if path == Path::new("-") { "standard input".to_owned() } else { path.display().to_string() }
}

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

/// Where the master key may be read from, besides the environment.
pub trait MasterKeyStore: Send + Sync {
    /// The master key's hex text, or `None` when the store has no such entry.
    fn master_key_hex(&self) -> Result<Option<Zeroizing<String>>, KeyError>;
}

/// AICO's entry (service `AICO`, entry `master_key`) in a `keyring-core` credential store: the
/// platform's own (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows), or
/// any other, such as keyring-core's mock store in tests.
pub struct Keyring(Option<Arc<keyring_core::CredentialStore>>);

impl Keyring {
    /// The platform's keyring, connected anew each time it is asked (nothing is cached).
    pub fn native() -> Self {
        Self(None)
    }

    /// A given credential store (tests use `keyring_core::mock::Store`).
    pub fn with_store(store: Arc<keyring_core::CredentialStore>) -> Self {
        Self(Some(store))
    }

    fn store(&self) -> Result<Arc<keyring_core::CredentialStore>, KeyError> {
        if let Some(store) = &self.0 {
            return Ok(store.clone());
        }
        native_store()
    }
}

#[cfg(target_os = "linux")]
fn native_store() -> Result<Arc<keyring_core::CredentialStore>, KeyError> {
    let store = zbus_secret_service_keyring_store::Store::new().map_err(keyring_error)?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn native_store() -> Result<Arc<keyring_core::CredentialStore>, KeyError> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(keyring_error)?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn native_store() -> Result<Arc<keyring_core::CredentialStore>, KeyError> {
    let store = windows_native_keyring_store::Store::new().map_err(keyring_error)?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn native_store() -> Result<Arc<keyring_core::CredentialStore>, KeyError> {
    Err(KeyError::Keyring { detail: "no OS keyring is supported on this platform".into() })
}

fn keyring_error(e: keyring_core::Error) -> KeyError {
    KeyError::Keyring { detail: e.to_string() }
}

impl MasterKeyStore for Keyring {
    fn master_key_hex(&self) -> Result<Option<Zeroizing<String>>, KeyError> {
        let store = self.store()?;
        let entry = store.build(KEYRING_SERVICE, KEYRING_ENTRY, None).map_err(keyring_error)?;
        match entry.get_password() {
            Ok(hex) => Ok(Some(Zeroizing::new(hex))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// Where to look for the key of an encrypted database.
pub struct KeySources {
    /// The derived key as given on the command line (`--db-key`), else [`DB_KEY_ENV`].
    pub db_key: Option<Zeroizing<String>>,
    /// The master key's hex, else [`MASTER_KEY_ENV`].
    pub master_key: Option<Zeroizing<String>>,
    /// The keyring, asked last.
    pub keyring: Option<Box<dyn MasterKeyStore>>,
}

impl fmt::Debug for KeySources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySources")
            .field("db_key", &self.db_key.as_ref().map(|_| "***"))
            .field("master_key", &self.master_key.as_ref().map(|_| "***"))
            .field("keyring", &self.keyring.as_ref().map(|_| "..."))
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
        }
    }

    /// [`KeySources::from_env`], with the derived key given by `--db-key HEX` (`flag`) or read
    /// from `--db-key-file PATH` (`file`; `-` reads standard input) when either is given.
    pub fn from_args(flag: Option<&str>, file: Option<&Path>) -> Result<Self, KeyError> {
        let mut keys = Self::from_env(flag);
        if let Some(path) = file {
            keys.db_key = Some(read_key_file(path)?);
        }
        Ok(keys)
    }

    /// No key anywhere (plain files only).
    pub fn none() -> Self {
        Self { db_key: None, master_key: None, keyring: None }
    }

    /// Whether a key was given outright (`--db-key` / [`DB_KEY_ENV`]): it then also encrypts a
    /// database file that is created.
    pub fn has_given_key(&self) -> bool {
        self.db_key.is_some()
    }

    /// The key of the encrypted database `db`, and where it came from; `None` when no source has
    /// one. A key that is given but malformed, or a salt file that is missing or short, is an error.
    pub fn resolve(&self, db: &Path) -> Result<Option<(DbKey, KeySource)>, KeyError> {
        if let Some(hex) = &self.db_key {
            return Ok(Some((
                DbKey::from_hex(hex, "database key (--db-key, --db-key-file or AICO_DB_KEY)")?,
                KeySource::Given,
            )));
        }
        if let Some(hex) = &self.master_key {
            let master =
                decode_hex32(hex).ok_or(KeyError::Malformed { source_name: "master key in AICO_MASTER_KEY" })?;
            let salt = read_salt(db)?;
            return Ok(Some((DbKey::derive(master.as_ref(), &salt), KeySource::MasterKeyEnv)));
        }
        if let Some(keyring) = &self.keyring
            && let Some(hex) = ask_keyring(keyring.as_ref())?
        {
            let master =
                decode_hex32(&hex).ok_or(KeyError::Malformed { source_name: "master key in AICO's keyring entry" })?;
            let salt = read_salt(db)?;
            return Ok(Some((DbKey::derive(master.as_ref(), &salt), KeySource::Keyring)));
        }
        Ok(None)
    }
}

/// The master key from `keyring`, asked on a thread of its own (a platform keyring may run its
/// own async runtime, which cannot start inside the caller's). A keyring that cannot be reached
/// (no Secret Service on a headless machine, say) counts as one without the entry: the caller
/// then says how else to give the key.
fn ask_keyring(keyring: &dyn MasterKeyStore) -> Result<Option<Zeroizing<String>>, KeyError> {
    let answer = std::thread::scope(|s| s.spawn(|| keyring.master_key_hex()).join());
    match answer {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => {
            tracing::debug!("no master key from the OS keyring: {e}");
            Ok(None)
        }
        Err(_) => {
            tracing::debug!("no master key from the OS keyring: its client panicked");
            Ok(None)
        }
    }
}

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

/// The keys this process opened encrypted files with, by file: a step that writes a backup of
/// such a file (see [`crate::safety`]) encrypts the backup with the same key. Migrations see only
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

/// The first 16 bytes of every plain SQLite database file.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_aico() {
        // python: PBKDF2HMAC(SHA256, 32, salt=bytes(range(16)), iterations=100000)
        //           .derive(bytes(range(32)) + b"aico-db-libsql").hex()
        let master: Vec<u8> = (0u8..32).collect();
        let salt: Vec<u8> = (0u8..16).collect();
        let key = DbKey::derive(&master, &salt);
        assert_eq!(
            key.pragma_value().as_str(),
            "'x\"099b0484cbabcfe99a622551b58d1b90c9ec75732e0e5c364cf2a2cc233dd63e\"'"
        );
    }

    #[test]
    fn malformed_keys_are_refused_without_echo() {
        let e = DbKey::from_hex("zz", "database key (--db-key / AICO_DB_KEY)").unwrap_err();
        assert!(!e.to_string().contains("zz"), "{e}");
        assert!(DbKey::from_hex(&"ab".repeat(32), "x").is_ok());
        assert!(DbKey::from_hex(&"ab".repeat(31), "x").is_err());
        assert!(DbKey::from_hex(&"é".repeat(32), "x").is_err());
        assert_eq!(format!("{:?}", DbKey::from_hex(&"ab".repeat(32), "x").unwrap()), "DbKey(***)");
    }

    #[test]
    fn salt_file_is_beside_the_database() {
        assert_eq!(salt_path(Path::new("/d/aico.db")), Path::new("/d/aico.db.salt"));
    }
}
