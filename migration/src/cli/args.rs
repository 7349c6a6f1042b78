//! The flags both binaries take to reach a database and to run the migrations: one clap struct
//! each, flattened into `migration`'s command line and into `aico-ams migrate` (and, for the
//! database, into every `aico-ams` command).
//!
//! Every option read from the environment hides its value from `--help` (`hide_env_values`): a
//! database URL carries a password, a key is a secret.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use aico_connect::error::ConnectError;
use aico_connect::key::KeySources;
use aico_connect::private::OpenSecrets;
use aico_connect::target::{DATA_DIR_ENV, Target};
use clap::Args;
use clap::builder::{OsStringValueParser, TypedValueParser};

use crate::safety;

/// Which database, and where its key and password come from.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL (`sqlite://PATH`, `postgres://USER@HOST/DB`); default: AICO's aico.db if it
    /// exists, else the tool's own `<user data dir>/aico-ams/ams.db`.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// PostgreSQL schema (search path); default `public`. Ignored for SQLite.
    #[arg(long, global = true, env = "DATABASE_SCHEMA", hide_env_values = true)]
    pub database_schema: Option<String>,

    /// AICO's data directory, where AICO keeps `data/aico.db` and `data/memory`; default: the
    /// user data directory's `aico`. It never moves the tool's own database.
    #[arg(long, global = true, env = DATA_DIR_ENV, hide_env_values = true, value_name = "DIR",
          value_parser = OsStringValueParser::new().map(PathBuf::from))]
    pub aico_data_dir: Option<PathBuf>,

    /// The key of an encrypted aico.db (64 hex digits, as AICO derives it), on the command line,
    /// where other users can read it (a warning says so): prefer --db-key-file or AICO_DB_KEY.
    /// Else AICO_MASTER_KEY with the salt file beside the database, else AICO's master key in the
    /// OS keyring.
    #[arg(long, global = true, value_name = "HEX")]
    pub db_key: Option<String>,

    /// Read the key of an encrypted aico.db (64 hex digits) from this file; `-` reads standard input.
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "db_key")]
    pub db_key_file: Option<PathBuf>,

    /// Read AICO's PostgreSQL password from this file, in place of AICO's Docker secret
    /// /run/secrets/pg_password: for a URL without a password that names AICO's database (after
    /// AICO_PG_PASSWORD, before AICO's keyring entry).
    #[arg(long, global = true, value_name = "PATH")]
    pub pg_password_file: Option<PathBuf>,

    /// Read a --db-key-file or password file that other users can read or write (refused
    /// otherwise): only for a read-only mount whose mode cannot be changed, such as a Docker
    /// secret (0444).
    #[arg(long, global = true)]
    pub allow_open_key_file: bool,
}

impl DatabaseArgs {
    /// The database: the URL given, else the default one (AICO's, found in AICO's data directory).
    pub fn target(&self) -> Result<Target, ConnectError> {
        Target::resolve(self.database_url.as_deref(), self.aico_data_dir())
    }

    /// AICO's data directory as given (`--aico-data-dir`, `AICO_DATA_DIR`); `None` when not given
    /// or empty (see [`aico_connect::target::aico_data_dir`]).
    pub fn aico_data_dir(&self) -> Option<&Path> {
        self.aico_data_dir.as_deref().filter(|dir| !dir.as_os_str().is_empty())
    }

    /// Where to look for the key of an encrypted SQLite file: `--db-key` or `--db-key-file` (read
    /// here, once), the environment, the OS keyring; and for AICO's PostgreSQL password:
    /// `AICO_PG_PASSWORD`, `--pg-password-file` (else AICO's secret file), the OS keyring.
    pub fn keys(&self) -> Result<KeySources, ConnectError> {
        let open = if self.allow_open_key_file { OpenSecrets::Allow } else { OpenSecrets::Refuse };
        KeySources::from_args(self.db_key.as_deref(), self.db_key_file.as_deref(), open)
            .map(|keys| keys.with_pg_password_file(self.pg_password_file.as_deref()))
            .map_err(ConnectError::KeyUnreadable)
    }
}

/// What a run of the migrations may do.
#[derive(Debug, Clone, Copy, Args)]
pub struct RunArgs {
    /// Allow dropping tables that hold rows where no backup can be written (PostgreSQL).
    // `AICO_FORCE_DROP=1` forces as the flag does; any other value does not ([`safety::forces`]).
    #[arg(long, global = true, env = safety::FORCE_ENV, hide_env_values = true, default_missing_value = "1",
          value_parser = OsStringValueParser::new().map(|v: OsString| safety::forces(v.to_str())))]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use clap::{Args, Command, FromArgMatches};

    use super::RunArgs;

    /// `force` from the command line `args`, with `AICO_FORCE_DROP` holding `env`: a default value
    /// goes through the same parser as the variable's value, without touching the environment.
    fn force(args: &[&str], env: Option<&'static str>) -> bool {
        let cmd = RunArgs::augment_args(Command::new("t")).mut_arg("force", |a| match env {
            Some(value) => a.env(None::<&str>).default_value(value),
            None => a.env(None::<&str>),
        });
        let matches = cmd.try_get_matches_from(std::iter::once("t").chain(args.iter().copied())).expect("parses");
        RunArgs::from_arg_matches(&matches).expect("RunArgs").force
    }

    /// The flag forces, and of the values of `AICO_FORCE_DROP` only `1` does
    /// ([`crate::safety::forces`]), as before clap read the variable.
    #[test]
    fn only_the_flag_and_a_1_force() {
        let cmd = RunArgs::augment_args(Command::new("t"));
        let arg = cmd.get_arguments().find(|a| a.get_id() == "force").expect("--force");
        assert_eq!(arg.get_env(), Some(OsStr::new("AICO_FORCE_DROP")));
        assert!(force(&["--force"], None));
        assert!(!force(&[], None));
        assert!(force(&[], Some("1")));
        assert!(force(&["--force"], Some("0")));
        for value in ["", "0", "true", "yes", "on", "2"] {
            assert!(!force(&[], Some(value)), "AICO_FORCE_DROP={value:?} must not force");
        }
    }
}
