//! Helpers for the end-to-end tests, by what they hold:
//!
//! - [`db`]: one fresh database per test on every backend, and its rows read back;
//! - [`schema`]: the schema read back from the database, one line per object;
//! - [`bins`]: the workspace's binaries, run as a user runs them;
//! - [`python`]: Python with AICO's own libraries, to write and read AICO's stores;
//! - [`skip`]: skipping a test loudly when a real prerequisite is missing;
//! - [`stores`]: AICO's other stores, served for a test (a Chroma server, an https endpoint);
//! - [`shaped`]: AICO-shaped data (uuid4 keys, the timestamp mix, near-miss timestamps);
//! - [`aico`]: AICO's own database, built the way AICO's migrator builds it;
//! - [`pg18`]: AICO's 2026 database (`aico_core` on PostgreSQL 18 with pgvector), as AICO's schema file
//!   builds it or drifted, and AICO-shaped rows in it;
//! - [`secret_service`]: a real Secret Service (gnome-keyring on a D-Bus session bus).
//!
//! The helpers most tests use (those of `bins`, `db`, `pg18`, `python`, `schema`, `skip`, and a few of
//! `shaped` and `stores`) are also re-exported here, so that a test imports
//! `aico_tests::{TestDb, exec, ...}`; the rest by their module.
#![warn(missing_docs)]

pub mod aico;
pub mod bins;
pub mod db;
pub mod pg18;
pub mod python;
pub mod schema;
pub mod secret_service;
pub mod shaped;
pub mod skip;
pub mod stores;

pub use bins::*;
pub use db::*;
pub use pg18::*;
pub use python::*;
pub use schema::*;
pub use shaped::near_miss_timestamps;
pub use skip::*;
pub use stores::{ChromaServer, chroma_program, http_status};
