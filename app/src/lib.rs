//! The `aico` command's library: one module per job of `aico db`.
//!
//! - [`migrate`]: `aico db migrate [--status | --rollback | --dry-run]`;
//! - [`backfill`]: initial temporal metadata for facts that have none;
//! - [`verify`]: the seed's verification queries and the schema checks;
//! - [`health`]: the seed's monitoring queries;
//! - [`cli`] the command line, [`db`] opening the database, [`error`] what goes wrong.
#![warn(missing_docs)]

pub mod backfill;
pub mod chroma;
pub mod cli;
pub mod db;
pub mod error;
pub mod health;
pub mod migrate;
pub mod stores;
pub mod verify;
pub mod working_memory;
