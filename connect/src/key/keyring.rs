//! The OS keyring, where AICO keeps its master key and its PostgreSQL password:
//! [`MasterKeyStore`] and [`PasswordStore`], AICO's entries in a `keyring-core` store
//! ([`Keyring`]), and the platform's native stores.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::KeyError;

/// AICO's keyring service name.
pub const KEYRING_SERVICE: &str = "AICO";
/// AICO's keyring entry holding the master key.
pub const KEYRING_ENTRY: &str = "master_key";

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

impl Keyring {
    /// The secret of AICO's entry `entry` (service [`KEYRING_SERVICE`]), `None` when there is none.
    fn entry(&self, entry: &str) -> Result<Option<Zeroizing<String>>, KeyError> {
        let store = self.store()?;
        let entry = store.build(KEYRING_SERVICE, entry, None).map_err(keyring_error)?;
        match entry.get_password() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

impl MasterKeyStore for Keyring {
    fn master_key_hex(&self) -> Result<Option<Zeroizing<String>>, KeyError> {
        self.entry(KEYRING_ENTRY)
    }
}

/// Where AICO's database password may be read from, besides the environment and the secret file:
/// AICO's key manager keeps it in the OS keyring (service [`KEYRING_SERVICE`], the entry named by
/// [`crate::aico_pg::keyring_entry`]).
pub trait PasswordStore: Send + Sync {
    /// The password in AICO's entry `entry`, or `None` when the store has no such entry. An error
    /// carries the keyring's words, never a secret.
    fn password(&self, entry: &str) -> Result<Option<Zeroizing<String>>, String>;
}

impl PasswordStore for Keyring {
    fn password(&self, entry: &str) -> Result<Option<Zeroizing<String>>, String> {
        self.entry(entry).map_err(|e| match e {
            KeyError::Keyring { detail } => detail,
            other => other.to_string(),
        })
    }
}

/// The master key from `keyring`, asked on a thread of its own (a platform keyring may run its
/// own async runtime, which cannot start inside the caller's): `Ok(None)` when it has no such
/// entry, [`KeyError::Keyring`] when it cannot be read (locked, or no Secret Service on a
/// headless machine), which the caller reports beside the other ways to give the key.
pub(crate) fn ask_keyring(keyring: &dyn MasterKeyStore) -> Result<Option<Zeroizing<String>>, KeyError> {
    on_own_thread(|| keyring.master_key_hex())
        .unwrap_or_else(|| Err(KeyError::Keyring { detail: "its client panicked".into() }))
}

/// `ask` run on a thread of its own (see [`ask_keyring`]); `None` when it panicked.
pub(crate) fn on_own_thread<T: Send>(ask: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|s| s.spawn(ask).join()).ok()
}
