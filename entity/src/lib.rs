//! Typed SeaORM models of the AMS schema, generated at build time from the `migration` crate (so
//! they can never disagree with it), and typed values for the JSON columns.
//!
//! - one module per table (`semantic_facts`, `skills`, ...), generated: `Model`, `ActiveModel`,
//!   `Entity`, `Column`; [`prelude`] names every `Entity`;
//! - [`values`]: `TemporalMetadata`, `ConsolidationState`, `PreferenceVector`, `Reward`, ...;
//! - typed accessors on the models (`fact.temporal()`, `skill.vector()`, ...), in `typed`;
//! - [`CheckViolation`]: which CHECK rule a rejected row broke;
//! - [`all_columns`] (and [`aico::all_columns`]), generated: every column of every table the
//!   migrations make, as [`ModelColumn`]s;
//! - [`aico_pg`], generated from AICO's own statements (`aico_pg.sql`): AICO's PostgreSQL facts,
//!   segments (the embedding a pgvector `PgVector`) and working memory, in schema `aico_core`.
#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

include!(concat!(env!("OUT_DIR"), "/entities.rs"));

mod constraint;
mod model_column;
mod typed;
pub mod values;

pub use constraint::CheckViolation;
pub use model_column::ModelColumn;
