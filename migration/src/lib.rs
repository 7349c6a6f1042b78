//! The AMS schema of AICO as SeaORM migrations, in order, for SQLite and PostgreSQL.
//!
//! - `m0000` adopts (or creates) AICO's `semantic_facts`;
//! - `m0001` Phase 1: `temporal_metadata` and its expression indexes;
//! - `m0002` Phase 2: `consolidation_state`;
//! - `m0003` Phase 3: the behavioural learning tables (on AICO's database, from AICO's own
//!   statements in [`aico_phase3`]).
//!
//! The crate is the migrations and what applies them, as SeaORM documents a migration crate:
//!
//! | module | holds |
//! |---|---|
//! | this file | the ordered list (`MIGRATIONS`, [`Migrator`]); a new migration is its `mod` line and a line in it |
//! | `m0000_*` … `m0003_*` | one migration each, a `phase::Phase`: its `up`, `down`, and what it makes |
//! | `phase` | what every migration shares: one transaction each; the dialect, layout and catalog handed in |
//! | [`layout`] | below the migrations: [`layout::Layout`], what a migration makes ([`layout::Makes`]), AICO's names |
//! | [`aico_phase3`] | AICO's own Phase 3 statements (versions 14, 15, 18), which `m0003` runs |
//! | [`catalog`] | what the migrations of the list make (tables, indexes), read from `MIGRATIONS` |
//! | [`runner`] | runs them safely: one locked transaction per run, fingerprints checked |
//! | [`options`] | what a run needs, handed to [`runner::run`]: force, the file's key, mode, rehearsals |
//! | [`safety`] | a backup before a destructive step |
//! | [`fingerprint`] | what each applied migration made, recorded and compared |
//! | `canonical`, `dialect` | SQL text in canonical form; this crate's per-backend SQL (the fingerprints' reads) |
//! | [`error`] | what can go wrong migrating |
//! | `cli` | the runner's command line (feature `cli`): the flags and lines both binaries share |
//! | `main.rs` | the `migration` binary: `cli::run_cli` |
//!
//! Finding and opening the database (targets, keys, the per-backend dialect) is `aico-connect`'s
//! job, below this crate; the console both binaries start with is `aico-console`.
#![warn(missing_docs)]

pub use sea_orm_migration::prelude::*;

pub mod aico_pg;
pub mod aico_phase3;
pub mod catalog;
#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
pub mod fingerprint;
pub mod layout;
pub mod options;
pub mod runner;
pub mod safety;

mod canonical;
mod dialect;
mod phase;

mod m0000_semantic_facts_baseline;
mod m0001_temporal_metadata;
mod m0002_consolidation_state;
mod m0003_behavioral_learning;

use std::sync::Arc;

use phase::{Atomic, Phase};

/// The AMS migrations, oldest first: the one list. The catalog, the fingerprints and the tests
/// derive from it; adding a migration is a new file and a line here.
pub(crate) const MIGRATIONS: &[&dyn Phase] = &[
    &m0000_semantic_facts_baseline::Migration,
    &m0001_temporal_metadata::Migration,
    &m0002_consolidation_state::Migration,
    &m0003_behavioral_learning::Migration,
];

/// The AMS migrations ([`MIGRATIONS`]), each atomic ([`phase`]).
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let catalog = Arc::new(catalog::catalog());
        MIGRATIONS
            .iter()
            .map(|&phase| Box::new(Atomic { phase, catalog: catalog.clone() }) as Box<dyn MigrationTrait>)
            .collect()
    }
}
