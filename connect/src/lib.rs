//! Connecting to AICO's databases, below everything else in the workspace (`migration`,
//! `entity`'s build script and `aico-ams` all use it):
//!
//! | module | holds |
//! |---|---|
//! | [`target`] | which database: a URL, else AICO's `aico.db`, else the tool's own; connecting to it |
//! | [`key`] | the key of an encrypted `aico.db`: derivation, salt file, keyring, lookup order, header |
//! | [`aico_pg`] | AICO's PostgreSQL database: where its settings put it, its password's sources and their order |
//! | [`dialect`] | the per-backend SQL (SQLite, PostgreSQL), chosen once per connection |
//! | [`error`] | what can go wrong connecting, each case with a stable code |
//! | [`private`] | files and directories the tool creates (0600, 0700), secret files others can read (refused) |
//!
//! The one SQLite: this crate depends on `aico-sqlite3mc`, so whatever depends on it links
//! SQLite3 Multiple Ciphers (see docs/entity.md, "Using the models from another crate", for the
//! three lines of `.cargo/config.toml` that tell sqlx's `libsqlite3-sys` to link it). Nothing
//! here prints: messages go through `tracing`, and errors carry what a user must act on.
#![warn(missing_docs)]

pub mod aico_pg;
pub mod dialect;
pub mod error;
pub mod key;
pub mod private;
pub mod target;

// Link SQLite3 Multiple Ciphers into every user of this crate (its build script puts the archive
// on the link path).
use aico_sqlite3mc as _;
