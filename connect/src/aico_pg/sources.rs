//! What the environment says about AICO's PostgreSQL database ([`AicoPgSettings::from_env`]), and
//! where its password is looked for, in AICO's order ([`PasswordSources`]): [`PASSWORD_ENV`], the
//! secret file ([`PASSWORD_FILE`], or the file given with `--pg-password-file`), AICO's entry in
//! the OS keyring. The only place (with `key::sources`) where this crate reads the environment.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::{AicoPgSettings, BadSetting, PasswordError, PasswordSource, PgPassword, keyring_entry};
use crate::key::keyring::{Keyring, PasswordStore, on_own_thread};
use crate::key::sources::ALLOW_OPEN_KEY_FILE_FLAG;
use crate::private::{self, OpenSecrets, SecretFileError};

/// AICO's variable naming the database host.
pub const HOST_ENV: &str = "AICO_PG_HOST";
/// AICO's variable naming the database port.
pub const PORT_ENV: &str = "AICO_PG_PORT";
/// AICO's variable naming the database (its configuration's `postgres.db_name`).
pub const DB_NAME_ENV: &str = "AICO_PG_DB_NAME";
/// AICO's other variable naming the database; it wins over [`DB_NAME_ENV`], as in AICO's code.
pub const POSTGRES_DATABASE_ENV: &str = "AICO_POSTGRES_DATABASE";
/// AICO's variable holding the database password.
pub const PASSWORD_ENV: &str = "AICO_PG_PASSWORD";
/// Where AICO's Docker deployment mounts the password (its secret `pg_password`).
pub const PASSWORD_FILE: &str = "/run/secrets/pg_password";

/// A variable's value, when set and not blank.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl AicoPgSettings {
    /// AICO's settings as the environment gives them ([`HOST_ENV`], [`PORT_ENV`],
    /// [`POSTGRES_DATABASE_ENV`], [`DB_NAME_ENV`]), AICO's defaults for the rest.
    pub fn from_env() -> Result<Self, BadSetting> {
        Self::from_values(env(HOST_ENV), env(PORT_ENV), env(POSTGRES_DATABASE_ENV), env(DB_NAME_ENV))
    }

    /// AICO's settings from the given values (each `None` when unset).
    pub fn from_values(
        host: Option<String>,
        port: Option<String>,
        postgres_database: Option<String>,
        db_name: Option<String>,
    ) -> Result<Self, BadSetting> {
        let mut s = Self::default();
        if let Some(host) = host {
            s.host = host.trim().to_owned();
            s.set.push(HOST_ENV);
        }
        if let Some(port) = port {
            s.port = port.trim().parse().ok().filter(|p| *p > 0).ok_or_else(|| BadSetting {
                name: PORT_ENV,
                reason: format!("{:?}, not a port (1-65535)", port.trim()),
            })?;
            s.set.push(PORT_ENV);
        }
        if let Some(db) = postgres_database {
            s.db_name = db;
            s.set.push(POSTGRES_DATABASE_ENV);
        } else if let Some(db) = db_name {
            s.db_name = db;
            s.set.push(DB_NAME_ENV);
        }
        Ok(s)
    }
}

/// Where AICO's database password is looked for, in AICO's order ([`PasswordSources::resolve`]).
/// What is found is kept for the run (the file is read and the keyring asked once per user).
pub struct PasswordSources {
    /// [`PASSWORD_ENV`]'s value.
    env: Option<Zeroizing<String>>,
    /// The secret file, and whether it was named (`--pg-password-file`: then it must exist).
    file: Option<(PathBuf, bool)>,
    /// Whether a secret file others can read is accepted (`--allow-open-key-file`).
    open: OpenSecrets,
    /// The keyring, asked last.
    keyring: Option<Box<dyn PasswordStore>>,
    /// What was found, for which user.
    found: Mutex<Option<(String, Found)>>,
}

/// A password and where it came from, or none.
type Found = Option<(PgPassword, PasswordSource)>;

impl fmt::Debug for PasswordSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordSources")
            .field("env", &self.env.as_ref().map(|_| "***"))
            .field("file", &self.file)
            .field("open", &self.open)
            .field("keyring", &self.keyring.as_ref().map(|_| "..."))
            .finish()
    }
}

impl Default for PasswordSources {
    /// [`PasswordSources::from_env`] with AICO's secret file, refused when others can read it.
    fn default() -> Self {
        Self::from_env(None, OpenSecrets::Refuse)
    }
}

impl PasswordSources {
    /// [`PASSWORD_ENV`]; the secret file `file` (`--pg-password-file`), else [`PASSWORD_FILE`]
    /// when it exists (accepted when others can read it only if `open` allows it); the platform's
    /// keyring.
    pub fn from_env(file: Option<&Path>, open: OpenSecrets) -> Self {
        Self::new(
            env(PASSWORD_ENV).map(Zeroizing::new),
            Some(file.map_or_else(|| (PathBuf::from(PASSWORD_FILE), false), |f| (f.to_owned(), true))),
            open,
            Some(Box::new(Keyring::native())),
        )
    }

    /// The given sources: a password as if from [`PASSWORD_ENV`], a secret file (and whether it
    /// was named, so must exist), a keyring (tests use keyring-core's mock store).
    pub fn new(
        env: Option<Zeroizing<String>>,
        file: Option<(PathBuf, bool)>,
        open: OpenSecrets,
        keyring: Option<Box<dyn PasswordStore>>,
    ) -> Self {
        Self { env, file, open, keyring, found: Mutex::new(None) }
    }

    /// No source at all.
    pub fn none() -> Self {
        Self::new(None, None, OpenSecrets::Refuse, None)
    }

    /// The secret file named with `--pg-password-file` (it must then exist), in place of
    /// [`PASSWORD_FILE`].
    pub fn with_file(mut self, file: Option<&Path>) -> Self {
        if let Some(file) = file {
            self.file = Some((file.to_owned(), true));
        }
        self
    }

    /// Whether a secret file others can read is accepted.
    pub fn with_open(mut self, open: OpenSecrets) -> Self {
        self.open = open;
        self
    }

    /// The secret file a password is looked for in.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_ref().map(|(path, _)| path.as_path())
    }

    /// The password of the PostgreSQL user `user` on AICO's database, and where it came from:
    /// [`PASSWORD_ENV`], else the secret file, else AICO's keyring entry for `user`
    /// ([`keyring_entry`]); `None` when no source has one (a keyring that cannot be read counts
    /// as none, logged). A secret file that others can read, or a named one that cannot be
    /// read, is an error. Trailing whitespace (a file's newline) is not part of the password.
    pub fn resolve(&self, user: &str) -> Result<Found, PasswordError> {
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, answer)) = found.as_ref().filter(|(u, _)| u == user) {
            return Ok(answer.clone());
        }
        let answer = self.look_up(user)?;
        *found = Some((user.to_owned(), answer.clone()));
        Ok(answer)
    }

    fn look_up(&self, user: &str) -> Result<Found, PasswordError> {
        let trimmed =
            |text: &str| Some(text.trim_end()).filter(|t| !t.is_empty()).map(|t| Zeroizing::new(t.to_owned()));
        if let Some(text) = self.env.as_deref().and_then(|t| trimmed(t)) {
            return Ok(Some((PgPassword::new(text), PasswordSource::Env)));
        }
        if let Some((path, named)) = &self.file
            && let Some(text) = read_secret_file(path, *named, self.open)?
            && let Some(text) = trimmed(&text)
        {
            return Ok(Some((PgPassword::new(text), PasswordSource::File(path.clone()))));
        }
        let Some(keyring) = &self.keyring else { return Ok(None) };
        let entry = keyring_entry(user);
        match on_own_thread(|| keyring.password(&entry)) {
            Some(Ok(Some(text))) => Ok(trimmed(&text).map(|t| (PgPassword::new(t), PasswordSource::Keyring { entry }))),
            Some(Ok(None)) => Ok(None),
            Some(Err(why)) => {
                tracing::debug!("no database password from the OS keyring (service AICO, entry {entry}): {why}");
                Ok(None)
            }
            None => {
                tracing::debug!("no database password from the OS keyring: its client panicked");
                Ok(None)
            }
        }
    }

    /// Whether a source holds something, without reading a file: [`PASSWORD_ENV`] is set, the
    /// secret file exists, or AICO's keyring entry for `user` exists. The first that does, for
    /// the target line's "why".
    pub fn present(&self, user: &str) -> Option<PasswordSource> {
        if self.env.is_some() {
            return Some(PasswordSource::Env);
        }
        if let Some((path, _)) = &self.file
            && path.is_file()
        {
            return Some(PasswordSource::File(path.clone()));
        }
        let keyring = self.keyring.as_ref()?;
        let entry = keyring_entry(user);
        match on_own_thread(|| keyring.password(&entry)) {
            Some(Ok(Some(_))) => Some(PasswordSource::Keyring { entry }),
            _ => None,
        }
    }
}

/// The text of the secret file `path`: `None` when it does not exist and was not `named`. Checked
/// before it is read ([`private::check_secret_file`]): refused when others can read or write it,
/// unless `open` allows it.
fn read_secret_file(path: &Path, named: bool, open: OpenSecrets) -> Result<Option<Zeroizing<String>>, PasswordError> {
    let error = |source| PasswordError::File { path: path.to_owned(), source };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => return Ok(None),
        Err(e) => return Err(error(e)),
    };
    private::check_secret_file(&file, path, "password file", ALLOW_OPEN_KEY_FILE_FLAG, open).map_err(|e| match e {
        SecretFileError::Open(open) => PasswordError::OpenFile(open),
        SecretFileError::Io { source, .. } => error(source),
    })?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes).map_err(error)?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Some(Zeroizing::new(text.to_owned()))),
        Err(_) => Err(error(std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not text"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Store(Option<&'static str>);
    impl PasswordStore for Store {
        fn password(&self, entry: &str) -> Result<Option<Zeroizing<String>>, String> {
            assert_eq!(entry, "postgres_postgres_password");
            Ok(self.0.map(|p| Zeroizing::new(p.to_owned())))
        }
    }

    fn file_with(dir: &Path, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("pg_password");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    fn source(env: Option<&str>, file: Option<PathBuf>, keyring: Option<&'static str>) -> Option<PasswordSource> {
        let sources = PasswordSources::new(
            env.map(|e| Zeroizing::new(e.to_owned())),
            file.map(|f| (f, false)),
            OpenSecrets::Refuse,
            Some(Box::new(Store(keyring))),
        );
        sources.resolve("postgres").expect("resolve").map(|(_, source)| source)
    }

    #[test]
    fn env_beats_file_beats_keyring() {
        let dir = tempfile::tempdir().expect("dir");
        let file = file_with(dir.path(), "from-file\n", 0o600);
        assert_eq!(source(Some("e"), Some(file.clone()), Some("k")), Some(PasswordSource::Env));
        assert_eq!(source(None, Some(file.clone()), Some("k")), Some(PasswordSource::File(file)));
        let missing = dir.path().join("none");
        let entry = "postgres_postgres_password".to_owned();
        assert_eq!(source(None, Some(missing.clone()), Some("k")), Some(PasswordSource::Keyring { entry }));
        assert_eq!(source(None, Some(missing), None), None);
    }

    #[test]
    fn a_files_newline_is_not_the_password_and_an_open_file_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let file = file_with(dir.path(), "pw\n", 0o600);
        let sources = PasswordSources::new(None, Some((file.clone(), true)), OpenSecrets::Refuse, None);
        assert_eq!(sources.resolve("postgres").expect("read").expect("found").0.expose(), "pw");
        file_with(dir.path(), "pw\n", 0o644);
        let refused = PasswordSources::new(None, Some((file.clone(), true)), OpenSecrets::Refuse, None);
        let err = refused.resolve("postgres").expect_err("refused").to_string();
        assert!(err.contains("chmod 600") && !err.contains("pw\n"), "{err}");
        let allowed = PasswordSources::new(None, Some((file, true)), OpenSecrets::Allow, None);
        assert!(allowed.resolve("postgres").expect("allowed").is_some());
    }

    #[test]
    fn settings_follow_aicos_precedence() {
        let s = AicoPgSettings::from_values(None, Some("5418".into()), Some("a".into()), Some("b".into())).unwrap();
        assert_eq!((s.port, s.db_name.as_str(), s.set.clone()), (5418, "a", vec![PORT_ENV, POSTGRES_DATABASE_ENV]));
        let err = AicoPgSettings::from_values(None, Some("x".into()), None, None).expect_err("bad port");
        assert!(err.to_string().contains(PORT_ENV), "{err}");
    }
}
