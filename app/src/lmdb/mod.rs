//! AICO's working memory: the LMDB environment `<memory dir>/working`, named database
//! `session_memory`, keys `"{conversation_id}:{timestamp}"`, values JSON messages — through heed.
//!
//! The backfill adds `temporal_metadata` to each message that lacks it, by inserting the one key
//! before the object's closing brace, so every other byte of the value is kept and keys are never
//! changed. Batches are write transactions that re-read each value and write only if it is still
//! the one that was read (AICO may have rewritten it meanwhile); a run resumes where the keys say.
//!
//! | file | holds |
//! |---|---|
//! | `config.rs` | [`working_dir`], [`DATABASE`]: where the environment is |
//! | `client.rs` | [`WorkingMemory`], [`run`]: open it, read its entries a page at a time |
//! | `backfill.rs` | [`backfill`](backfill()): `temporal_metadata` for every message that lacks it |
//! | `verify.rs` | [`verify`](verify()): the one check `aico-ams verify` makes of this store |
//! | `health.rs` | [`health`](health()): coverage, bad values, expired entries |
//! | `error.rs` | [`WorkingMemoryError`] |
//!
//! Each job returns a report value and prints nothing.

mod backfill;
mod client;
mod config;
mod error;
mod health;
mod verify;

pub use backfill::{LmdbBackfill, backfill, with_metadata};
pub use client::{Entry, WorkingMemory, run, time_of};
pub use config::{DATABASE, working_dir};
pub use error::WorkingMemoryError;
pub use health::{LmdbHealth, health};
pub use verify::{CHECK, verify};
