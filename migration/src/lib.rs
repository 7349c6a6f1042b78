//! The AMS schema of AICO as SeaORM migrations, in order, for SQLite and PostgreSQL.
//!
//! - `m0000` adopts (or creates) AICO's `semantic_facts`;
//! - `m0001` Phase 1: `temporal_metadata` and its expression indexes;
//! - `m0002` Phase 2: `consolidation_state`;
//! - `m0003` Phase 3: the behavioural learning tables (on AICO's database, from AICO's own
//!   statements in [`aico_phase3`]).
//!
//! [`runner`] runs them safely (one locked transaction per run); [`target`] finds the database;
//! [`key`] opens an encrypted one; `console` (feature `cli`, on by default) is what both
//! command-line tools start with.
#![warn(missing_docs)]

pub use sea_orm_migration::prelude::*;

pub mod aico_phase3;
pub mod catalog;
#[cfg(feature = "cli")]
pub mod console;
pub mod dialect;
pub mod error;
pub mod fingerprint;
pub mod key;
pub mod runner;
pub mod safety;
pub mod target;

mod m0000_semantic_facts_baseline;
mod m0001_temporal_metadata;
mod m0002_consolidation_state;
mod m0003_behavioral_learning;

/// The AMS migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0000_semantic_facts_baseline::Migration),
            Box::new(m0001_temporal_metadata::Migration),
            Box::new(m0002_consolidation_state::Migration),
            Box::new(m0003_behavioral_learning::Migration),
        ]
    }
}
