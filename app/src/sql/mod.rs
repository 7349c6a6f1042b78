//! The SQL store: AICO's `aico.db` (or PostgreSQL) — `semantic_facts` and the AMS tables — and,
//! on AICO's PostgreSQL database, AICO's two other memories.
//!
//! | file | holds |
//! |---|---|
//! | `client.rs` | [`Db`]: open the database a command names (its config is `aico-connect`'s target and keys) |
//! | [`reads`] | the typed reads that backfill, verify and health share: the metadata column, coverage, consolidation |
//! | [`dialect`] | this store's per-backend SQL ([`dialect::StoreDialect`]) |
//! | [`backfill`](mod@backfill) | the initial `temporal_metadata` of facts that have none ([`initial_metadata`]) |
//! | [`verify`](mod@verify) | the seed's verification queries and the schema checks, one function per check |
//! | [`health`](mod@health) | the seed's monitoring queries |
//! | [`migrate`](mod@migrate) | apply, roll back or rehearse the migrations (the runner of `migration`) |
//! | [`segments`], [`working`] | AICO's other memories on its PostgreSQL: backfill, coverage (verify, health) |
//! | [`indexes`], [`foreign_keys`] | AICO's indexes and foreign keys set aside for a bulk write, and put back exactly as they were |
//!
//! The store's errors are [`crate::error::AppError`]'s (`NotMigrated`, `MissingTable`, `AicoIndex`,
//! `Database`). Each job returns a report value and prints nothing.

pub mod backfill;
mod blockwise;
mod client;
pub mod dialect;
pub mod foreign_keys;
pub mod health;
pub mod indexes;
pub mod initial_metadata;
pub mod migrate;
pub mod reads;
pub mod segments;
pub mod verify;
pub mod working;

pub use backfill::{BadRow, Progress, SqlBackfill, backfill};
pub use client::Db;
pub use health::{SqlHealth, health};
pub use migrate::{Action, migrate};
pub use verify::verify;
