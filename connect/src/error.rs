//! What can go wrong when connecting to a database, each case naming the thing a user must act on,
//! with a stable code ([`ConnectError::code`]) that scripts may match on.

use std::path::PathBuf;

use sea_orm::DbErr;

use crate::target::Target;

/// A failure to find, open or read a database. Every message names the database (password
/// hidden), file or flag.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL could not be read.
    #[error("{url:?} is not a usable database URL: {reason}")]
    MalformedUrl {
        /// The URL (password hidden).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL names a database the AMS does not support.
    #[error("unsupported database URL {url}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedScheme {
        /// The URL (password hidden).
        url: String,
    },
    /// No data directory could be found for AICO's default database.
    #[error("cannot find a data directory for AICO's database: set AICO_DATA_DIR or DATABASE_URL")]
    NoDataDir,
    /// The directory of the default database could not be created.
    #[error("cannot create the directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database file to be created could not be.
    #[error("cannot create the database file {path}: {source}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The SQLite file a URL names does not exist (it is never created by accident).
    #[error("database file {path} does not exist; check the path, or add ?mode=rwc to create it")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The PostgreSQL schema named by `--database-schema` / `DATABASE_SCHEMA` does not exist.
    #[error(
        "{target} has no schema {schema:?}: create it first (CREATE SCHEMA), or name another with \
         --database-schema / DATABASE_SCHEMA; nothing was run"
    )]
    NoSuchSchema {
        /// The database (password hidden).
        target: String,
        /// The schema, as given.
        schema: String,
    },
    /// On AICO's own PostgreSQL database (2026: `aico_core.ams_user_memories`), a
    /// `--database-schema` other than AICO's `aico_core`.
    #[error(
        "{target} is AICO's own PostgreSQL database: the AMS there is AICO's, in schema aico_core \
         (and this tool's bookkeeping in aico_ams), so --database-schema / DATABASE_SCHEMA {schema:?} \
         does not apply: leave it out; nothing was run"
    )]
    AicoPostgresSchema {
        /// The database (password hidden).
        target: String,
        /// The schema, as given.
        schema: String,
    },
    /// The database server could not be reached or refused the connection.
    #[error("cannot connect to {target}: {detail}")]
    Unreachable {
        /// The database (password hidden).
        target: String,
        /// The driver's words.
        detail: String,
    },
    /// The file is not a SQLite database, or is damaged.
    #[error("{target} is not a database or is corrupt: {detail}")]
    NotADatabase {
        /// The database.
        target: String,
        /// The driver's words.
        detail: String,
    },
    /// The database cannot be written.
    #[error("{target} is read-only: {detail}")]
    ReadOnly {
        /// The database.
        target: String,
        /// The driver's words.
        detail: String,
    },
    /// Another process holds the database's write lock for longer than the busy timeout.
    #[error("{target} is locked by another process (another migrator, or AICO writing); retry later")]
    Locked {
        /// The database.
        target: String,
    },
    /// The SQLite file is encrypted (its header is not SQLite's) and no key was found. A file of
    /// random bytes looks the same: the message says so.
    #[error(
        "{target} is encrypted (else it is not a database or is corrupt): give its key with --db-key-file, \
         --db-key or AICO_DB_KEY (64 hex digits), or AICO's master key in AICO_MASTER_KEY (with the salt file {salt} \
         beside it), or keep the master key in the OS keyring as AICO does (service AICO, entry master_key){keyring}"
    )]
    Encrypted {
        /// The database.
        target: String,
        /// The salt file the master key is used with.
        salt: PathBuf,
        /// Why the OS keyring gave no key when it could not be read (`; cannot read AICO's master
        /// key from the OS keyring ...: <its words>`), else empty.
        keyring: String,
    },
    /// The key does not open the encrypted file.
    #[error("{target}: the key from {source_name} does not open this database (wrong key, or not AICO's database)")]
    WrongKey {
        /// The database.
        target: String,
        /// Where the key came from.
        source_name: String,
    },
    /// The key could not be had (malformed, salt file missing or short, keyring unreadable).
    #[error("{target}: {source}")]
    Key {
        /// The database.
        target: String,
        /// What went wrong.
        source: crate::key::KeyError,
    },
    /// The key given for an encrypted file could not be read (`--db-key-file`).
    #[error(transparent)]
    KeyUnreadable(crate::key::KeyError),
    /// AICO's PostgreSQL settings (`AICO_PG_HOST`, `AICO_PG_PORT`, ...) cannot be used.
    #[error("cannot use AICO's PostgreSQL settings: {0}")]
    AicoPgSetting(crate::aico_pg::BadSetting),
    /// AICO's database password could not be read (a secret file others can read, or one that
    /// cannot be read).
    #[error("{target}: {source}")]
    PgPassword {
        /// The database (password hidden).
        target: String,
        /// What went wrong (never the password).
        source: crate::aico_pg::PasswordError,
    },
    /// The server refused the password.
    #[error(
        "{target}: the server refused the password from {source_name} (password authentication failed): \
         check that password, or give the right one{hint}"
    )]
    WrongPassword {
        /// The database (password hidden).
        target: String,
        /// Where the password came from (the URL, `AICO_PG_PASSWORD`, the secret file, the keyring).
        source_name: String,
        /// Where else a password may be given, starting with `; ` (empty for a URL's own).
        hint: String,
    },
    /// The server asks for a password and none was found.
    #[error("{target}: the server asks for a password and none was given: {hint}")]
    PasswordNeeded {
        /// The database (password hidden).
        target: String,
        /// Where a password may be given.
        hint: String,
    },
    /// Any other database error.
    #[error("{target}: {source}")]
    Database {
        /// The database.
        target: String,
        /// The error.
        source: DbErr,
    },
}

/// How a driver error is to be read, by the codes the database gave (never by message text).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The server or file could not be reached or opened (connection refused, authentication,
    /// no such database, I/O, a pool that timed out).
    Unreachable,
    /// The file is not a database, or is damaged (SQLite `NOTADB`, `CORRUPT`).
    NotADatabase,
    /// The database cannot be written (SQLite `READONLY`, PostgreSQL `25006`).
    ReadOnly,
    /// Another process holds a lock for too long (SQLite `BUSY`/`LOCKED`, PostgreSQL `55P03`).
    Locked,
    /// Anything else: a statement failed.
    Other,
}

/// SQLite primary result codes (the low byte of an extended code).
mod sqlite_code {
    pub const BUSY: i64 = 5;
    pub const LOCKED: i64 = 6;
    pub const READONLY: i64 = 8;
    pub const CORRUPT: i64 = 11;
    pub const CANTOPEN: i64 = 14;
    pub const NOTADB: i64 = 26;
}

impl Cause {
    /// The cause of `err`, from SQLite's result code or PostgreSQL's SQLSTATE.
    pub fn of(err: &DbErr) -> Self {
        use sea_orm::RuntimeErr;
        let sqlx = match err {
            DbErr::ConnectionAcquire(_) => return Self::Unreachable,
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
            DbErr::Conn(_) => return Self::Unreachable,
            _ => return Self::Other,
        };
        use sea_orm::sqlx::Error as SqlxError;
        match sqlx.as_ref() {
            SqlxError::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                match code.parse::<i64>() {
                    // SQLite gives its (extended) result code as a number.
                    Ok(n) if db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() => match n & 0xff {
                        sqlite_code::NOTADB | sqlite_code::CORRUPT => Self::NotADatabase,
                        sqlite_code::READONLY => Self::ReadOnly,
                        sqlite_code::BUSY | sqlite_code::LOCKED => Self::Locked,
                        sqlite_code::CANTOPEN => Self::Unreachable,
                        _ => Self::Other,
                    },
                    // PostgreSQL gives a SQLSTATE: class 08 connection, 28 authorization,
                    // 3D no such database, 57P0x shutting down or not accepting connections.
                    _ => match code.as_str() {
                        "25006" => Self::ReadOnly,
                        "55P03" => Self::Locked,
                        "3D000" | "57P01" | "57P02" | "57P03" => Self::Unreachable,
                        c if c.starts_with("08") || c.starts_with("28") => Self::Unreachable,
                        _ => Self::Other,
                    },
                }
            }
            SqlxError::Io(_)
            | SqlxError::Tls(_)
            | SqlxError::Protocol(_)
            | SqlxError::PoolTimedOut
            | SqlxError::PoolClosed
            | SqlxError::Configuration(_) => Self::Unreachable,
            _ => Self::Other,
        }
    }
}

impl ConnectError {
    /// Sort a driver error on `target` into the case a user can act on, by its code.
    pub fn classify(target: &Target, err: DbErr) -> Self {
        let target_text = target.to_string();
        match Cause::of(&err) {
            Cause::NotADatabase => Self::NotADatabase { target: target_text, detail: err.to_string() },
            Cause::ReadOnly => Self::ReadOnly { target: target_text, detail: err.to_string() },
            Cause::Locked => Self::Locked { target: target_text },
            Cause::Unreachable => Self::Unreachable { target: target_text, detail: err.to_string() },
            Cause::Other => Self::Database { target: target_text, source: err },
        }
    }

    /// A stable, code-like name of the case (`aico-ams --json`'s `error.kind`). Scripts may match
    /// on it; the message is for people and may change.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedUrl { .. } => "malformed_url",
            Self::UnsupportedScheme { .. } => "unsupported_url_scheme",
            Self::NoDataDir => "no_data_dir",
            Self::CreateDir { .. } => "cannot_create_dir",
            Self::CreateFile { .. } => "cannot_create_file",
            Self::Missing { .. } => "database_missing",
            Self::Unreachable { .. } => "unreachable",
            Self::NoSuchSchema { .. } => "no_such_schema",
            Self::AicoPostgresSchema { .. } => "aico_postgres_schema",
            Self::NotADatabase { .. } => "not_a_database",
            Self::ReadOnly { .. } => "read_only",
            Self::Locked { .. } => "locked",
            Self::Database { .. } => "database_error",
            Self::Encrypted { .. } => "encrypted_no_key",
            Self::WrongKey { .. } => "wrong_key",
            Self::KeyUnreadable(crate::key::KeyError::OpenKeyFile(_)) => "key_file_permissions",
            Self::Key { .. } | Self::KeyUnreadable(_) => "key_unusable",
            Self::AicoPgSetting(_) => "aico_pg_setting",
            Self::PgPassword { source: crate::aico_pg::PasswordError::OpenFile(_), .. } => "password_file_permissions",
            Self::PgPassword { .. } => "password_unreadable",
            Self::WrongPassword { .. } => "wrong_password",
            Self::PasswordNeeded { .. } => "password_needed",
        }
    }

    /// The process exit status for this error: 1 when a statement failed, else 2 (usage and
    /// connection problems).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Database { .. } => 1,
            _ => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeySources;

    fn code_of(url: &str) -> &'static str {
        Target::from_url(url).map(|_| ()).expect_err("refused").code()
    }

    /// The codes scripts match on (`aico-ams --json`'s `error.kind`), each met as a user meets it.
    #[tokio::test]
    async fn each_case_keeps_its_code() {
        assert_eq!(code_of("mysql://u@h/db"), "unsupported_url_scheme");
        assert_eq!(code_of("postgres:///db"), "malformed_url");
        assert_eq!(code_of("sqlite://"), "malformed_url");

        let dir = std::env::temp_dir().join(format!("aico-connect-codes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let open = |path: &std::path::Path| {
            let target = Target::from_url(&format!("sqlite://{}", path.display())).expect("url");
            async move { target.connect_with(None, &KeySources::none()).await.map(|_| ()).expect_err("refused") }
        };
        assert_eq!(open(&dir.join("none.db")).await.code(), "database_missing");
        assert_eq!(open(&dir).await.code(), "not_a_database");
        // Bytes that are not SQLite's header: encrypted, as far as anyone can tell, and no key.
        let noise = dir.join("noise.db");
        std::fs::write(&noise, [0x5a_u8; 4096]).expect("write");
        let err = open(&noise).await;
        assert_eq!((err.code(), err.exit_code()), ("encrypted_no_key", 2));
        std::fs::remove_dir_all(&dir).ok();
    }
}
