//! Which database a tool works on: a `DATABASE_URL`, else AICO's own `aico.db` when it
//! exists, else AICO's PostgreSQL database when AICO's settings name it, else the tool's own
//! database.
//!
//! AICO keeps its data in `$AICO_DATA_DIR` (read by the binaries, `--aico-data-dir`, and passed in
//! here), else the platform's user data directory for the app `aico` (Linux:
//! `~/.local/share/aico`), and its database in `<data dir>/data/aico.db`. Nothing
//! is ever created there: AICO creates that file itself (encrypted) and refuses one that exists, so
//! on a machine without it the default is `<user data dir>/aico-ams/ams.db` (Linux:
//! `$XDG_DATA_HOME/aico-ams/ams.db`, else `~/.local/share/aico-ams/ams.db`). `AICO_DATA_DIR` is
//! AICO's variable and says where AICO's data is; it does not move the tool's own database.
//!
//! AICO's PostgreSQL database (2026, see [`crate::aico_pg`]) is the default when AICO's settings
//! are present: `AICO_PG_HOST`, `AICO_PG_PORT`, `AICO_PG_DB_NAME` or `AICO_POSTGRES_DATABASE` set,
//! or one of its password's sources holding something (`AICO_PG_PASSWORD`, the secret file
//! `/run/secrets/pg_password`, AICO's keyring entry). A URL without a password that names AICO's
//! database gets its password from those sources, put into the driver's options (never into the
//! URL).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr};

use sea_orm::sqlx::postgres::PgConnectOptions;

use crate::aico_pg::{self, AicoPgSettings, BadSetting, PasswordSource, PasswordSources, PgPassword};
use crate::error::{Cause, ConnectError};
use crate::key::{self, DbKey, KeySource, KeySources, Lookup};
use crate::private;

/// The environment variable naming AICO's data directory (read by the binaries' command line,
/// never by this library).
pub const DATA_DIR_ENV: &str = "AICO_DATA_DIR";

/// How long a SQLite connection waits for another writer before it gives up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The directory (under the user data directory) and file of the tool's own database.
const OWN_DB: [&str; 2] = ["aico-ams", "ams.db"];

/// Which default database a target without a URL is, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultDb {
    /// AICO's own `aico.db`: it exists.
    Aico,
    /// The tool's own database, because AICO's `aico.db` (this path) does not exist.
    Own {
        /// Where AICO's database was looked for.
        aico_db: PathBuf,
    },
}

/// A database to migrate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A SQLite database file.
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Create the file (and its directories) when missing: only for the tool's own database,
        /// or a URL with `mode=rwc`.
        create: bool,
        /// The URL's query (`mode=ro`, `cache=shared`, ...), passed on to the driver (see
        /// `with_user_query`).
        query: Option<String>,
        /// Set when no URL named the file: which default it is, and why.
        default: Option<DefaultDb>,
    },
    /// A PostgreSQL database.
    Postgres {
        /// The URL as given (it may hold a password: print the target, never this).
        url: String,
        /// The URL with its password replaced by `***`.
        redacted: String,
        /// The URL names AICO's database (as AICO's settings say): without a password of its own,
        /// it gets one from AICO's password sources ([`crate::aico_pg`]).
        aicos: bool,
        /// Set when no URL named it: why it is AICO's PostgreSQL database (which of AICO's
        /// settings are present).
        default: Option<String>,
    },
}

/// AICO's data directory: `given` (`--aico-data-dir`, `$AICO_DATA_DIR`) unless it is empty, else
/// the platform's user data directory for `aico`.
pub fn aico_data_dir(given: Option<&Path>) -> Result<PathBuf, ConnectError> {
    match given.filter(|dir| !dir.as_os_str().is_empty()) {
        Some(dir) => Ok(dir.to_owned()),
        None => Ok(dirs::data_dir().ok_or(ConnectError::NoDataDir)?.join("aico")),
    }
}

/// AICO's database: `<AICO data dir>/data/aico.db`, the data directory as [`aico_data_dir`] finds it.
pub fn aico_db_path(aico_data: Option<&Path>) -> Result<PathBuf, ConnectError> {
    Ok(aico_data_dir(aico_data)?.join("data").join("aico.db"))
}

/// The tool's own database: `<user data dir>/aico-ams/ams.db` (Linux: `$XDG_DATA_HOME`, else
/// `~/.local/share`). `AICO_DATA_DIR` does not move it: that variable names AICO's data.
pub fn own_db_path() -> Result<PathBuf, ConnectError> {
    Ok(dirs::data_dir().ok_or(ConnectError::NoDataDir)?.join(OWN_DB[0]).join(OWN_DB[1]))
}

/// How a SQLite file is opened.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SqliteMode {
    /// Read and write; the file must exist.
    ReadWrite,
    /// Read and write; create the file when missing.
    ReadWriteCreate,
    /// Read only.
    ReadOnly,
}

/// The options every SQLite connection of the tools is opened with: the file `path` (created when
/// `create`), the URL's own `query`, the key `key` of an encrypted file; WAL with
/// `synchronous = NORMAL` (every commit atomic and consistent; only the last commits before a
/// power cut may be lost, never a half-written one) and a busy timeout.
fn sqlite_options(path: &Path, create: bool, query: Option<&str>, key: Option<DbKey>) -> ConnectOptions {
    let mode = if create { SqliteMode::ReadWriteCreate } else { SqliteMode::ReadWrite };
    let mut opts = ConnectOptions::new(with_user_query(sqlite_url(path, mode), query));
    opts.map_sqlx_sqlite_opts(move |o| {
        key::keyed(o, key.as_ref())
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
    });
    opts
}

/// The sqlx URL of the SQLite file `path` opened in `mode`.
pub fn sqlite_url(path: &Path, mode: SqliteMode) -> String {
    let mode = match mode {
        SqliteMode::ReadWrite => "rw",
        SqliteMode::ReadWriteCreate => "rwc",
        SqliteMode::ReadOnly => "ro",
    };
    // sqlx percent-decodes the path part; keep '%', '?' and '#' in file names literal.
    let path = path.to_string_lossy().replace('%', "%25").replace('?', "%3F").replace('#', "%23");
    format!("sqlite://{path}?mode={mode}")
}

/// `url` (ours, ending in `?mode=...`) with the query of the user's own URL handed on to the
/// driver, which parses it as it parses any of its options and refuses a key it does not know: a
/// mode the user gave (`mode=ro`) replaces ours, any other key (`cache=shared`) is added to it.
fn with_user_query(url: String, query: Option<&str>) -> String {
    match query.filter(|q| !q.is_empty()) {
        None => url,
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => {
            format!("{}?{q}", url.split_once('?').map_or(url.as_str(), |(p, _)| p))
        }
        Some(q) => format!("{url}&{q}"),
    }
}

impl Target {
    /// The target named by `url`, else the default database ([`Target::default_db`]) with AICO's
    /// data directory `aico_data` (see [`aico_data_dir`]), with AICO's PostgreSQL settings as the
    /// environment gives them ([`AicoPgSettings::from_env`], [`PasswordSources::default`]).
    pub fn resolve(url: Option<&str>, aico_data: Option<&Path>) -> Result<Self, ConnectError> {
        Self::resolve_in(url, aico_data, AicoPgSettings::from_env(), &PasswordSources::default())
    }

    /// [`Target::resolve`] with AICO's PostgreSQL settings `aico` (an unusable setting is an
    /// error only where it is needed: choosing the default) and its password sources `passwords`
    /// (asked, without reading a file, whether one holds something).
    pub fn resolve_in(
        url: Option<&str>,
        aico_data: Option<&Path>,
        aico: Result<AicoPgSettings, BadSetting>,
        passwords: &PasswordSources,
    ) -> Result<Self, ConnectError> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                let mut target = Self::from_url(url)?;
                if let (Self::Postgres { url, aicos, .. }, Ok(aico)) = (&mut target, &aico) {
                    *aicos = url::Url::parse(url).is_ok_and(|u| u.password().is_none() && aico.names(&u));
                }
                Ok(target)
            }
            None => Self::default_db(aico_data, aico, passwords),
        }
    }

    /// AICO's own database ([`aico_db_path`] in `aico_data`) when it exists, never created; else AICO's
    /// PostgreSQL database when its settings are present ([`AicoPgSettings::set`], or one of
    /// `passwords` holding something); else the tool's own ([`own_db_path`]), created with its
    /// directories when missing (0600, directories 0700: see [`crate::private`]). Nothing is
    /// written where AICO keeps its data: a file there would stop AICO from creating its own.
    pub fn default_db(
        aico_data: Option<&Path>,
        aico: Result<AicoPgSettings, BadSetting>,
        passwords: &PasswordSources,
    ) -> Result<Self, ConnectError> {
        let aico_db = aico_db_path(aico_data)?;
        if aico_db.exists() {
            return Ok(Self::Sqlite { path: aico_db, create: false, query: None, default: Some(DefaultDb::Aico) });
        }
        let aico = aico.map_err(ConnectError::AicoPgSetting)?;
        let why = match aico.set.is_empty() {
            false => Some(format!("{} set", aico.set.join(", "))),
            true => passwords.present(&aico.user).map(|source| match source {
                PasswordSource::File(path) => format!("the secret file {} exists", path.display()),
                PasswordSource::Keyring { entry } => format!("the keyring entry {entry} (service AICO) exists"),
                other => format!("{other} set"),
            }),
        };
        if let Some(why) = why {
            let url = aico.url().map_err(ConnectError::AicoPgSetting)?.to_string();
            return Ok(Self::Postgres { redacted: url.clone(), url, aicos: true, default: Some(why) });
        }
        Ok(Self::Sqlite { path: own_db_path()?, create: true, query: None, default: Some(DefaultDb::Own { aico_db }) })
    }

    /// The target line's text: the database (password hidden) and, for a default database,
    /// which it is and why.
    pub fn described(&self) -> String {
        match self {
            Self::Sqlite { default: Some(DefaultDb::Aico), .. } => format!("{self} (AICO's own database)"),
            Self::Sqlite { default: Some(DefaultDb::Own { aico_db }), .. } => {
                format!("{self} (the tool's own database: AICO's {} does not exist)", aico_db.display())
            }
            Self::Postgres { default: Some(why), .. } => format!("{self} (AICO's PostgreSQL: {why})"),
            _ => self.to_string(),
        }
    }

    /// [`Target::described`], and for AICO's PostgreSQL database where its password comes from
    /// (looked up in `keys`, as [`Target::connect_keyed`] will; the source, never the password).
    pub fn described_with(&self, keys: &KeySources) -> String {
        let Self::Postgres { aicos: true, default, .. } = self else { return self.described() };
        let password = match self.pg_password(keys) {
            Ok(Some((_, source))) => format!("password from {source}"),
            Ok(None) => "no password found".to_owned(),
            Err(_) => "its password cannot be read".to_owned(),
        };
        match default {
            Some(why) => format!("{self} (AICO's PostgreSQL: {why}; {password})"),
            None => format!("{self} (AICO's database: {password})"),
        }
    }

    /// The password to connect to this PostgreSQL target with, from AICO's sources in `keys`
    /// (`None` for SQLite, a URL with its own password, or a database not AICO's).
    fn pg_password(&self, keys: &KeySources) -> Result<Option<(PgPassword, PasswordSource)>, ConnectError> {
        let Self::Postgres { url, aicos: true, .. } = self else { return Ok(None) };
        keys.pg_password
            .resolve(&pg_user(url))
            .map_err(|source| ConnectError::PgPassword { target: self.to_string(), source })
    }

    /// The error for a refused password (SQLSTATE 28P01) on this target, given where the
    /// password came from; `None` for any other error.
    fn password_refused(
        &self,
        err: &DbErr,
        source: Option<&PasswordSource>,
        keys: &KeySources,
    ) -> Option<ConnectError> {
        use sea_orm::sqlx::Error as SqlxError;
        let (DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))) = err else { return None };
        let SqlxError::Database(db) = e.as_ref() else { return None };
        if db.code().as_deref() != Some("28P01") {
            return None;
        }
        let Self::Postgres { url, aicos, .. } = self else { return None };
        let user = pg_user(url);
        let aico_hint = || {
            format!(
                "give it in {}, in the secret file {} (or --pg-password-file PATH), or in AICO's keyring entry \
                 (service AICO, entry {}), or in the URL",
                aico_pg::PASSWORD_ENV,
                keys.pg_password.file().map_or_else(|| aico_pg::PASSWORD_FILE.into(), |p| p.display().to_string()),
                aico_pg::keyring_entry(&user),
            )
        };
        let target = self.to_string();
        Some(match (source, aicos) {
            (Some(PasswordSource::Url), _) => ConnectError::WrongPassword {
                target,
                source_name: PasswordSource::Url.to_string(),
                hint: String::new(),
            },
            (Some(source), _) => ConnectError::WrongPassword {
                target,
                source_name: source.to_string(),
                hint: format!(" (AICO's order: {}, then the secret file, then the keyring)", aico_pg::PASSWORD_ENV),
            },
            (None, true) => ConnectError::PasswordNeeded { target, hint: aico_hint() },
            (None, false) => ConnectError::PasswordNeeded {
                target,
                hint: format!(
                    "put it in the URL (postgres://USER:PASSWORD@HOST/DB; or PGPASSWORD, ~/.pgpass); AICO's password \
                     sources ({}, the secret file, the keyring) apply only to the database AICO's settings name \
                     ({}, {}, {} or {}; default {})",
                    aico_pg::PASSWORD_ENV,
                    aico_pg::HOST_ENV,
                    aico_pg::PORT_ENV,
                    aico_pg::DB_NAME_ENV,
                    aico_pg::POSTGRES_DATABASE_ENV,
                    AicoPgSettings::default().url().map(|u| u.to_string()).unwrap_or_default(),
                ),
            },
        })
    }

    /// The target a database URL names: `sqlite://PATH` (or `sqlite:PATH`), `postgres://...`.
    pub fn from_url(url: &str) -> Result<Self, ConnectError> {
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let (path, query) = match rest.split_once('?') {
                Some((p, q)) => (p, Some(q.to_owned())),
                None => (rest, None),
            };
            if path.is_empty() || path == ":memory:" {
                return Err(ConnectError::MalformedUrl {
                    url: url.to_owned(),
                    reason: "it names no database file".into(),
                });
            }
            let create = query.as_deref().is_some_and(|q| q.split('&').any(|kv| kv == "mode=rwc"));
            return Ok(Self::Sqlite { path: PathBuf::from(path), create, query, default: None });
        }
        let parsed = url::Url::parse(url)
            .map_err(|e| ConnectError::MalformedUrl { url: redact_loose(url), reason: e.to_string() })?;
        match parsed.scheme() {
            "postgres" | "postgresql" => {
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(ConnectError::MalformedUrl { url: redact(&parsed), reason: "it names no host".into() });
                }
                Ok(Self::Postgres { url: url.to_owned(), redacted: redact(&parsed), aicos: false, default: None })
            }
            _ => Err(ConnectError::UnsupportedScheme { url: redact(&parsed) }),
        }
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite { path, .. } => Some(path),
            Self::Postgres { .. } => None,
        }
    }

    /// Open a connection pool to the target: SQLite in WAL mode with a busy timeout, PostgreSQL
    /// with `schema` (default `public`) as its search path. An encrypted SQLite file is opened
    /// with the key the environment or the keyring gives ([`KeySources::default`]). Errors name
    /// the target.
    pub async fn connect(&self, schema: Option<&str>) -> Result<DatabaseConnection, ConnectError> {
        self.connect_with(schema, &KeySources::default()).await
    }

    /// [`Target::connect`], with the key of an encrypted SQLite file looked for in `keys`.
    ///
    /// A plain file opens without a key (a key that is given is then not used). An encrypted file
    /// needs one: none found, or one that does not open it, is an error naming the file and how to
    /// give the key. A file that does not exist yet is created encrypted only when a key is given
    /// outright (`--db-key` / `AICO_DB_KEY`).
    pub async fn connect_with(
        &self,
        schema: Option<&str>,
        keys: &KeySources,
    ) -> Result<DatabaseConnection, ConnectError> {
        self.connect_keyed(schema, keys).await.map(|(db, _)| db)
    }

    /// [`Target::connect_with`], also handing back the key an encrypted file was opened with
    /// (`None` for a plain file or PostgreSQL): a step that writes a backup of the file needs it
    /// to encrypt the copy (migration's runner gets it in `Options::key`).
    pub async fn connect_keyed(
        &self,
        schema: Option<&str>,
        keys: &KeySources,
    ) -> Result<(DatabaseConnection, Option<DbKey>), ConnectError> {
        self.open_pool(schema, keys, true).await
    }

    /// A PostgreSQL target opened as [`Target::connect_keyed`] opens it (password sources, search
    /// path), except that the tool's own schema is not made on AICO's database: for a run that
    /// must write nothing (`move --dry-run`). The search path still names it; PostgreSQL skips a
    /// schema that does not exist.
    pub async fn connect_without_own_schema(&self, keys: &KeySources) -> Result<DatabaseConnection, ConnectError> {
        self.open_pool(None, keys, false).await.map(|(db, _)| db)
    }

    /// The SQLite file of this target opened read-only (`mode=ro`), with the key of an encrypted
    /// file found in `keys`, and no pragma that writes (no journal mode, no `synchronous`): the
    /// file's bytes stay as they were. A PostgreSQL target, or a file that does not exist, is an
    /// error.
    pub async fn connect_read_only(&self, keys: &KeySources) -> Result<DatabaseConnection, ConnectError> {
        let Self::Sqlite { path, query, .. } = self else {
            return Err(ConnectError::NotADatabase {
                target: self.to_string(),
                detail: "a SQLite file (AICO's aico.db) is needed here".into(),
            });
        };
        if path.is_dir() {
            return Err(ConnectError::NotADatabase { target: self.to_string(), detail: "it is a directory".into() });
        }
        if !path.exists() {
            return Err(ConnectError::Missing { path: path.clone() });
        }
        let key_used = self.key_for(path, keys)?;
        let key = key_used.as_ref().map(|(key, _)| key.clone());
        // A mode in the URL's query (`mode=rwc`) never replaces read-only.
        let query: Option<String> = query.as_deref().map(|q| {
            q.split('&').filter(|kv| !kv.starts_with("mode=") && !kv.is_empty()).collect::<Vec<_>>().join("&")
        });
        let mut opts = ConnectOptions::new(with_user_query(sqlite_url(path, SqliteMode::ReadOnly), query.as_deref()));
        opts.map_sqlx_sqlite_opts(move |o| {
            key::keyed(o, key.as_ref()).read_only(true).busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
        opts.sqlx_logging(false);
        match (Database::connect(opts).await, &key_used) {
            (Ok(db), _) => Ok(db),
            (Err(e), Some((_, source))) if Cause::of(&e) == Cause::NotADatabase => {
                Err(ConnectError::WrongKey { target: self.to_string(), source_name: source.to_string() })
            }
            (Err(e), _) => Err(ConnectError::classify(self, e)),
        }
    }

    /// [`Target::connect_keyed`]; the tool's own schema is made on AICO's database when `own`.
    async fn open_pool(
        &self,
        schema: Option<&str>,
        keys: &KeySources,
        own: bool,
    ) -> Result<(DatabaseConnection, Option<DbKey>), ConnectError> {
        let (mut opts, key_used, password, password_source) = match self {
            Self::Sqlite { path, create, query, .. } => {
                let (opts, key_used) = self.sqlite_pool_options(path, *create, query.as_deref(), keys)?;
                (opts, key_used, None, None)
            }
            Self::Postgres { url, .. } => {
                let (opts, password, source) = self.pg_pool_options(url, schema, keys, own).await?;
                (opts, None, password, source)
            }
        };
        opts.sqlx_logging(false);
        let connected = Database::connect(opts).await;
        let db = match (connected, &key_used) {
            (Ok(db), _) => db,
            (Err(e), Some((_, source))) if Cause::of(&e) == Cause::NotADatabase => {
                return Err(ConnectError::WrongKey { target: self.to_string(), source_name: source.to_string() });
            }
            (Err(e), _) => {
                return Err(self
                    .password_refused(&e, password_source.as_ref(), keys)
                    .unwrap_or_else(|| ConnectError::classify(self, e)));
            }
        };
        drop(password);
        Ok((db, key_used.map(|(key, _)| key)))
    }

    /// The pool options of the SQLite file at `path` (made first when `create`), with the key
    /// `keys` give for an encrypted file, and where that key came from.
    fn sqlite_pool_options(
        &self,
        path: &Path,
        create: bool,
        query: Option<&str>,
        keys: &KeySources,
    ) -> Result<(ConnectOptions, Option<(DbKey, KeySource)>), ConnectError> {
        if path.is_dir() {
            return Err(ConnectError::NotADatabase { target: self.to_string(), detail: "it is a directory".into() });
        }
        if create {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                private::create_dir_all(dir)
                    .map_err(|source| ConnectError::CreateDir { path: dir.to_owned(), source })?;
            }
        } else if !path.exists() {
            return Err(ConnectError::Missing { path: path.to_owned() });
        }
        let key_used = self.key_for(path, keys)?;
        if create {
            create_private_db(path)?;
        }
        let opts = sqlite_options(path, create, query, key_used.as_ref().map(|(key, _)| key.clone()));
        Ok((opts, key_used))
    }

    /// The pool options of the PostgreSQL database at `url`, probed first (search path `schema`,
    /// the tool's own schema made on AICO's database when `own`), with the password found in `keys`
    /// and where a password came from.
    async fn pg_pool_options(
        &self,
        url: &str,
        schema: Option<&str>,
        keys: &KeySources,
        own: bool,
    ) -> Result<(ConnectOptions, Option<PgPassword>, Option<PasswordSource>), ConnectError> {
        let asked = schema.unwrap_or("public");
        // Our schema is made on AICO's database only when the run can use it.
        let ours = own && schema.is_none_or(|s| s == AICO_PG_SCHEMA);
        let found = self.pg_password(keys)?;
        let has_own = url::Url::parse(url).is_ok_and(|u| u.password().is_some());
        let password_source =
            found.as_ref().map(|(_, source)| source.clone()).or(has_own.then_some(PasswordSource::Url));
        let password = found.map(|(password, _)| password);
        let mut pg: PgConnectOptions =
            url.parse().map_err(|e| ConnectError::MalformedUrl { url: self.to_string(), reason: format!("{e}") })?;
        if let Some(password) = &password {
            pg = pg.password(password.expose());
        }
        let found = probe_postgres(pg, asked, ours).await.map_err(|e| {
            self.password_refused(&e, password_source.as_ref(), keys).unwrap_or_else(|| ConnectError::classify(self, e))
        })?;
        let search_path = if found.aico_core {
            // AICO's own database: the AMS is AICO's, in `aico_core`; what is ours (the
            // migration table, the fingerprints) goes into a schema of ours, first on the
            // path so that it is the current schema, and never into AICO's.
            if schema.is_some_and(|s| s != AICO_PG_SCHEMA) {
                return Err(ConnectError::AicoPostgresSchema { target: self.to_string(), schema: asked.to_owned() });
            }
            [OWN_PG_SCHEMA, AICO_PG_SCHEMA, "public"].map(quote_ident).join(", ")
        } else if found.schema {
            quote_ident(asked)
        } else {
            return Err(ConnectError::NoSuchSchema { target: self.to_string(), schema: asked.to_owned() });
        };
        let mut opts = ConnectOptions::new(url.to_owned());
        if let Some(password) = password.clone() {
            // The password goes into the driver's options, never into the URL's text.
            opts.map_sqlx_postgres_opts(move |o| o.password(password.expose()));
        }
        // SeaORM writes `SET search_path = <this>` as text, pasting a value that starts
        // with `"` as it is: so it gets identifiers, each quoted with every `"` doubled,
        // never the flag's raw text.
        opts.set_schema_search_path(search_path)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        Ok((opts, password, password_source))
    }

    /// One more connection to a SQLite target that is open already, with the key it was opened
    /// with (`key`, from [`Target::connect_keyed`]): for work beside the first connection, such
    /// as checkpointing its write-ahead log while it writes. None for PostgreSQL.
    pub async fn connect_again(&self, key: Option<&DbKey>) -> Option<Result<DatabaseConnection, ConnectError>> {
        let Self::Sqlite { path, query, .. } = self else { return None };
        let mut opts = sqlite_options(path, false, query.as_deref(), key.cloned());
        opts.sqlx_logging(false);
        Some(Database::connect(opts).await.map_err(|e| ConnectError::classify(self, e)))
    }

    /// A read-only connection to a SQLite target's file, with the key it was opened with (`key`,
    /// from [`Target::connect_keyed`]): for reading beside a connection that holds the write
    /// transaction, such as writing a backup of the file. None for PostgreSQL.
    pub async fn connect_again_read_only(
        &self,
        key: Option<&DbKey>,
    ) -> Option<Result<DatabaseConnection, ConnectError>> {
        let Self::Sqlite { path, .. } = self else { return None };
        let key = key.cloned();
        let mut opts = ConnectOptions::new(sqlite_url(path, SqliteMode::ReadOnly));
        opts.max_connections(1).sqlx_logging(false).map_sqlx_sqlite_opts(move |o| key::keyed(o, key.as_ref()));
        Some(Database::connect(opts).await.map_err(|e| ConnectError::classify(self, e)))
    }

    /// A scratch database of this target's backend, for work that must change nothing (the
    /// migrations' rehearsal): a SQLite database in memory, or one connection to this target's
    /// PostgreSQL server (its URL as given), whose caller keeps its work in a transaction that it
    /// rolls back. One connection, so that a session's temporary schema stays one.
    pub async fn connect_scratch(&self) -> Result<DatabaseConnection, ConnectError> {
        let url = match self {
            Self::Sqlite { .. } => "sqlite::memory:".to_owned(),
            Self::Postgres { url, .. } => url.clone(),
        };
        let mut opts = ConnectOptions::new(url);
        opts.max_connections(1).min_connections(1).sqlx_logging(false);
        Database::connect(opts).await.map_err(|e| ConnectError::classify(self, e))
    }

    /// The key to open the SQLite file `path` with, if it needs one.
    fn key_for(&self, path: &Path, keys: &KeySources) -> Result<Option<(DbKey, KeySource)>, ConnectError> {
        let encrypted = key::is_encrypted(path)
            .map_err(|e| ConnectError::Unreachable { target: self.to_string(), detail: e.to_string() })?;
        let key_error = |source| ConnectError::Key { target: self.to_string(), source };
        if encrypted {
            return match keys.resolve(path).map_err(key_error)? {
                Lookup::Found(key, source) => Ok(Some((key, source))),
                Lookup::NotFound { keyring } => Err(ConnectError::Encrypted {
                    target: self.to_string(),
                    salt: key::salt_path(path),
                    keyring: keyring.map_or_else(String::new, |why| format!("; {why}")),
                }),
            };
        }
        let is_new = std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
        if is_new && keys.has_given_key() {
            return keys.resolve(path).map(Lookup::found).map_err(key_error);
        }
        if keys.has_given_key() {
            tracing::warn!("{self} is not encrypted: opening it without the key that was given");
        }
        Ok(None)
    }
}

/// Make the SQLite file `path` that is about to be created, empty and with [`private::FILE_MODE`]
/// (0600) whatever the umask, before SQLite opens it: SQLite would make it 0644 less the umask,
/// and makes its `-wal` and `-shm` files with the database file's own mode. A file that exists
/// (made meanwhile, or a moment ago by another process) is left as it is.
fn create_private_db(path: &Path) -> Result<(), ConnectError> {
    match private::create_file(path, private::FILE_MODE) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(ConnectError::CreateFile { path: path.to_owned(), source }),
    }
}

/// `name` as one SQL identifier: in double quotes, each `"` in it doubled, so that any name
/// PostgreSQL allows (with `"`, `;`, spaces, upper case) is that name and never more SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// AICO's own facts table on PostgreSQL (2026): its schema `aico_core` holding it marks AICO's
/// database.
pub const AICO_PG_FACTS: &str = "aico_core.ams_user_memories";

/// AICO's schema on PostgreSQL, where all of its tables are.
pub const AICO_PG_SCHEMA: &str = "aico_core";

/// This tool's own schema on AICO's PostgreSQL database: the migration table and the
/// fingerprints, nothing of AICO's.
pub const OWN_PG_SCHEMA: &str = "aico_ams";

/// Makes [`OWN_PG_SCHEMA`] (a constant of ours, no value from outside).
const OWN_PG_SCHEMA_DDL: &str = "CREATE SCHEMA IF NOT EXISTS aico_ams";

/// What [`probe_postgres`] found.
struct Probed {
    /// The schema asked for exists.
    schema: bool,
    /// The database is AICO's own ([`AICO_PG_FACTS`] exists); then [`OWN_PG_SCHEMA`] exists too
    /// (made by the probe when missing).
    aico_core: bool,
}

/// One direct connection attempt, so that an unreachable server fails at once with its real cause
/// (a pool would retry until its acquire timeout and then only say that it timed out); whether
/// the schema `schema` exists (asked with the name as a bound parameter), and whether the database
/// is AICO's own; on AICO's database, when `make_ours`, [`OWN_PG_SCHEMA`] is made if missing.
async fn probe_postgres(options: PgConnectOptions, schema: &str, make_ours: bool) -> Result<Probed, DbErr> {
    use sea_orm::sqlx::{self, Connection, PgConnection};
    let conn_err = |e| DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(e)));
    let attempt = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&options)).await;
    match attempt {
        Ok(Ok(mut conn)) => {
            let found = sqlx::query_as::<_, (bool, bool)>(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), to_regclass($2) IS NOT NULL",
            )
            .bind(schema)
            .bind(AICO_PG_FACTS)
            .fetch_one(&mut conn)
            .await;
            let found = found.map(|(schema, aico_core)| Probed { schema, aico_core }).map_err(conn_err);
            let made = match &found {
                // Our schema on AICO's database, made before the pool's connections set their path.
                Ok(Probed { aico_core: true, .. }) if make_ours => {
                    sqlx::query(OWN_PG_SCHEMA_DDL).execute(&mut conn).await.map(|_| ())
                }
                _ => Ok(()),
            };
            conn.close().await.ok();
            made.map_err(conn_err)?;
            found
        }
        Ok(Err(e)) => Err(conn_err(e)),
        Err(_) => Err(DbErr::Conn(RuntimeErr::Internal("timed out after 10s".into()))),
    }
}

/// The PostgreSQL user the URL `url` connects as, as the driver reads it (its default: `PGUSER`,
/// else the operating system's user).
fn pg_user(url: &str) -> String {
    url.parse::<PgConnectOptions>()
        .map(|o| o.get_username().to_owned())
        .unwrap_or_else(|_| aico_pg::DEFAULT_USER.into())
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path, .. } => write!(f, "SQLite database {}", path.display()),
            Self::Postgres { redacted, .. } => write!(f, "PostgreSQL database {redacted}"),
        }
    }
}

/// The URL with its password, if any, replaced by `***`.
fn redact(url: &url::Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// Best-effort redaction of a string that did not parse as a URL: hide `:password@`.
fn redact_loose(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_password_is_hidden() {
        let t = Target::from_url("postgres://alice:s3cret@db.example:5432/aico").unwrap();
        assert_eq!(t.to_string(), "PostgreSQL database postgres://alice:***@db.example:5432/aico");
    }

    #[test]
    fn sqlite_urls() {
        let t = Target::from_url("sqlite:///tmp/a b/aico.db?mode=rwc").unwrap();
        assert_eq!(t.sqlite_path(), Some(Path::new("/tmp/a b/aico.db")));
        assert!(matches!(t, Target::Sqlite { create: true, .. }));
        let t = Target::from_url("sqlite:rel.db").unwrap();
        assert_eq!(t.sqlite_path(), Some(Path::new("rel.db")));
        assert!(matches!(t, Target::Sqlite { create: false, .. }));
    }

    #[test]
    fn bad_urls_name_the_url() {
        let e = Target::from_url("mysql://root@localhost/x").unwrap_err();
        assert!(e.to_string().contains("mysql://root@localhost/x"), "{e}");
        let e = Target::from_url("not a url").unwrap_err();
        assert!(e.to_string().contains("not a url"), "{e}");
        let e = Target::from_url("postgres://u:pw@/db").unwrap_err();
        assert!(!e.to_string().contains("pw@"), "{e}");
        let e = Target::from_url("sqlite://").unwrap_err();
        assert!(e.to_string().contains("sqlite://"), "{e}");
    }

    #[test]
    fn identifiers_are_quoted_with_quotes_doubled() {
        assert_eq!(quote_ident("public"), "\"public\"");
        assert_eq!(quote_ident("x\"; DROP TABLE v; --"), "\"x\"\"; DROP TABLE v; --\"");
    }

    #[test]
    fn the_users_query_reaches_the_driver() {
        let ours = || sqlite_url(Path::new("/x/aico.db"), SqliteMode::ReadWrite);
        assert_eq!(with_user_query(ours(), None), "sqlite:///x/aico.db?mode=rw");
        assert_eq!(with_user_query(ours(), Some("mode=ro")), "sqlite:///x/aico.db?mode=ro");
        assert_eq!(with_user_query(ours(), Some("cache=shared")), "sqlite:///x/aico.db?mode=rw&cache=shared");
        assert_eq!(with_user_query(ours(), Some("cache=shared&mode=ro")), "sqlite:///x/aico.db?cache=shared&mode=ro");
    }

    #[test]
    fn sqlite_url_escapes_reserved_characters() {
        assert_eq!(
            sqlite_url(Path::new("/x/a?b#c%d.db"), SqliteMode::ReadOnly),
            "sqlite:///x/a%3Fb%23c%25d.db?mode=ro"
        );
    }
}
