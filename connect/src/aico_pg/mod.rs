//! AICO's PostgreSQL database (2026): where AICO's settings put it, and where its password comes
//! from. Two files:
//!
//! | file | holds |
//! |---|---|
//! | this one | [`AicoPgSettings`] (host, port, database, user, with AICO's defaults), whether a URL names that database, [`PgPassword`], [`PasswordSource`], [`PasswordError`] |
//! | [`sources`] | what the environment says ([`AicoPgSettings::from_env`]) and the password's lookup order ([`PasswordSources`]) |
//!
//! AICO (its `config/defaults/postgres.yaml` and its connection code) connects to host `127.0.0.1`,
//! port `5432`, database `aico`, user `postgres`; `AICO_PG_HOST`, `AICO_PG_PORT` and the database
//! name (`AICO_POSTGRES_DATABASE`, else `AICO_PG_DB_NAME`) override them. The password is
//! `AICO_PG_PASSWORD`, else the Docker secret file `/run/secrets/pg_password`, else the OS
//! keyring entry that AICO's key manager writes (service `AICO`, entry
//! `postgres_<user>_password`: `postgres_postgres_password` for AICO's user).
//!
//! These sources are AICO's password for AICO's database: they apply to a URL without a password
//! only when it names that database (host, port and database as AICO's settings say; `localhost`,
//! `127.0.0.1` and `::1` are one host), and to the default target when that is AICO's PostgreSQL.
//! Any other server never sees AICO's password (a server may ask for it in clear text).

use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

pub mod sources;

pub use sources::{
    DB_NAME_ENV, HOST_ENV, PASSWORD_ENV, PASSWORD_FILE, PORT_ENV, POSTGRES_DATABASE_ENV, PasswordSources,
};

use crate::private::OpenSecretFile;

/// AICO's default host (`config/defaults/postgres.yaml`).
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// AICO's default port.
pub const DEFAULT_PORT: u16 = 5432;
/// AICO's default database.
pub const DEFAULT_DB: &str = "aico";
/// AICO's database user.
pub const DEFAULT_USER: &str = "postgres";

/// The keyring entry (service `AICO`) in which AICO's key manager keeps the password of the
/// PostgreSQL user `user`: `get_database_password("postgres", username=user)` names it
/// `postgres_<user>_password`.
pub fn keyring_entry(user: &str) -> String {
    format!("postgres_{user}_password")
}

/// Where AICO's PostgreSQL database is, as AICO's settings say, and which settings said so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AicoPgSettings {
    /// The host (`AICO_PG_HOST`, else `127.0.0.1`).
    pub host: String,
    /// The port (`AICO_PG_PORT`, else 5432).
    pub port: u16,
    /// The database (`AICO_POSTGRES_DATABASE`, else `AICO_PG_DB_NAME`, else `aico`).
    pub db_name: String,
    /// The user (always `postgres`: AICO has no setting for it).
    pub user: String,
    /// The variables that were set (for the target line's "why").
    pub set: Vec<&'static str>,
}

/// A setting of AICO's that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{name} is {reason}")]
pub struct BadSetting {
    /// The variable.
    pub name: &'static str,
    /// What is wrong with it (never a secret: these are host, port and database names).
    pub reason: String,
}

impl Default for AicoPgSettings {
    /// AICO's defaults, nothing set.
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.to_owned(),
            port: DEFAULT_PORT,
            db_name: DEFAULT_DB.to_owned(),
            user: DEFAULT_USER.to_owned(),
            set: Vec::new(),
        }
    }
}

impl AicoPgSettings {
    /// The URL of AICO's database, without a password: `postgres://postgres@HOST:PORT/DB`, each
    /// part encoded by the URL's own setters (never pasted as text).
    pub fn url(&self) -> Result<url::Url, BadSetting> {
        let mut url = url::Url::parse("postgres://localhost/").expect("a constant URL");
        let host = match self.host.contains(':') && !self.host.starts_with('[') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        };
        url.set_host(Some(&host)).map_err(|e| BadSetting { name: HOST_ENV, reason: format!("not a host: {e}") })?;
        url.set_port(Some(self.port)).map_err(|()| BadSetting { name: PORT_ENV, reason: "not a port".into() })?;
        url.set_username(&self.user).map_err(|()| BadSetting { name: "user", reason: "not a user name".into() })?;
        url.path_segments_mut()
            .map_err(|()| BadSetting { name: DB_NAME_ENV, reason: "not a path".into() })?
            .push(&self.db_name);
        Ok(url)
    }

    /// Whether the PostgreSQL URL `url` names AICO's database: the same host (the loopback names
    /// `localhost`, `127.0.0.1`, `::1` count as one), port (default 5432) and database (default:
    /// the user's name, as PostgreSQL has it).
    pub fn names(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else { return false };
        let decode = |s: &str| percent_decode(s);
        let db = decode(url.path().trim_start_matches('/'));
        let db = if db.is_empty() { decode(url.username()) } else { db };
        same_host(host, &self.host) && url.port().unwrap_or(DEFAULT_PORT) == self.port && db == self.db_name
    }
}

/// `s` with its `%XX` escapes decoded (as the driver decodes a URL's parts).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether two host names are one host: equal ignoring case and IPv6 brackets, or both loopback.
fn same_host(a: &str, b: &str) -> bool {
    let norm = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let loopback = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "::1");
    let (a, b) = (norm(a), norm(b));
    a == b || (loopback(&a) && loopback(&b))
}

/// AICO's database password, held in memory that is wiped when dropped; its `Debug` says `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct PgPassword(Zeroizing<String>);

impl PgPassword {
    /// The password's text, to hand to the driver's options (never to a URL, a message or a log).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn new(text: Zeroizing<String>) -> Self {
        Self(text)
    }
}

impl fmt::Debug for PgPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PgPassword(***)")
    }
}

/// Where a PostgreSQL password came from (for messages; never the password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// The URL itself.
    Url,
    /// [`PASSWORD_ENV`].
    Env,
    /// The secret file (`/run/secrets/pg_password`, or `--pg-password-file`).
    File(PathBuf),
    /// AICO's entry in the OS keyring (service `AICO`).
    Keyring {
        /// The entry (`postgres_<user>_password`).
        entry: String,
    },
}

impl fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url => f.write_str("the URL"),
            Self::Env => f.write_str(PASSWORD_ENV),
            Self::File(path) => write!(f, "the secret file {}", path.display()),
            Self::Keyring { entry } => write!(f, "the keyring (service AICO, entry {entry})"),
        }
    }
}

/// Why AICO's database password could not be had. No variant carries the password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The secret file can be read or written by group or others: refused, unread.
    #[error(transparent)]
    OpenFile(OpenSecretFile),
    /// The secret file could not be read (a file named by `--pg-password-file` must exist).
    #[error("cannot read AICO's database password from the secret file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why (never the file's content).
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("url")
    }

    #[test]
    fn the_default_url_is_aicos_and_encoded() {
        let s = AicoPgSettings::default();
        assert_eq!(s.url().expect("url").as_str(), "postgres://postgres@127.0.0.1:5432/aico");
        let odd = AicoPgSettings { db_name: "a b/c?d".into(), host: "::1".into(), ..s };
        assert_eq!(odd.url().expect("url").as_str(), "postgres://postgres@[::1]:5432/a%20b%2Fc%3Fd");
        assert!(odd.names(&odd.url().expect("url")));
    }

    #[test]
    fn only_aicos_database_is_named() {
        let s = AicoPgSettings::default();
        assert!(s.names(&url("postgres://postgres@127.0.0.1:5432/aico")));
        assert!(s.names(&url("postgres://postgres@localhost/aico")));
        assert!(s.names(&url("postgresql://someone@[::1]/aico")));
        assert!(s.names(&url("postgres://aico@localhost")), "no database: the user's name");
        assert!(!s.names(&url("postgres://postgres@127.0.0.1:5433/aico")));
        assert!(!s.names(&url("postgres://postgres@127.0.0.1/other")));
        assert!(!s.names(&url("postgres://postgres@db.example/aico")));
    }

    #[test]
    fn aicos_keyring_entry() {
        assert_eq!(keyring_entry(DEFAULT_USER), "postgres_postgres_password");
    }

    #[test]
    fn a_password_never_shows_in_debug() {
        let p = PgPassword::new(Zeroizing::new("s3cr3t".into()));
        assert!(!format!("{p:?}").contains("s3cr3t"));
    }
}
