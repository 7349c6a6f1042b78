//! The SQL store: AICO's `aico.db` (or PostgreSQL) — `semantic_facts` and the AMS tables.
//!
//! - [`migrate`]: apply, roll back or rehearse the migrations (the runner of `migration`);
//! - [`backfill`]: the seed's initial `temporal_metadata` for facts that have none, built by
//!   [`initial_metadata`] (also a SQLite function, so that SQLite's `UPDATE` runs it);
//! - [`verify`]: the seed's verification queries and the schema checks, one function per check;
//! - [`health`]: the seed's monitoring queries;
//! - [`segments`], [`working`]: AICO's two other memories on its PostgreSQL database
//!   (`conversation_segments`, `working_memory_messages`): backfill and coverage.
//!
//! Each returns a report value and prints nothing.

pub mod backfill;
mod blockwise;
mod db;
pub mod health;
pub mod initial_metadata;
pub mod migrate;
pub mod segments;
pub mod verify;
pub mod working;

pub use backfill::{BadRow, Progress, SqlBackfill, backfill};
pub use db::Db;
pub use health::{SqlHealth, health};
pub use migrate::{Action, migrate};
pub use verify::verify;
