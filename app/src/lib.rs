//! The `aico-ams` command's library: one module per store, each doing its jobs and returning report
//! values, and one thin layer for the command line.
//!
//! | module | holds |
//! |---|---|
//! | [`commands`] | the command line: clap's arguments, target lines, printing, `--json`, exit codes |
//! | [`sql`] | the SQL database: the facts and the AMS tables (on AICO's PostgreSQL also its other memories) |
//! | [`lmdb`] | AICO's LMDB working memory |
//! | [`chroma`] | AICO's ChromaDB collection |
//! | [`moving`] | `aico-ams move`: a 2025 install carried into AICO's PostgreSQL, verified row for row |
//! | [`report`] | the pieces every store's report is made of (`Outcome`, `PerStore`, `Check`) |
//! | [`error`] | what goes wrong, its exit status and its `--json` kind |
//!
//! Every store has the same files for the same jobs: how it is reached (`config.rs`, `client.rs`),
//! `backfill`, `verify`, `health`, and its errors (`error.rs`; the SQL store's are [`error::AppError`]'s).
//! Each command's report, covering every store, sits beside its command in [`commands`].
//!
//! Below it: `aico-connect` finds and opens the database (targets, keys, the per-backend SQL every
//! crate shares), `migration` migrates it, `entity` has its models; `aico-console` is what the
//! binary starts with.
#![warn(missing_docs)]

pub mod chroma;
pub mod commands;
pub mod error;
pub mod lmdb;
pub mod moving;
pub mod report;
pub mod sql;

/// AICO's memory directory (its `working/` LMDB environment and `semantic/` Chroma store):
/// `memory_dir` when given (`--memory-dir`, `AICO_MEMORY_DIR`), else `<AICO data dir>/data/memory`,
/// AICO's data directory being `aico_data` when given (`--aico-data-dir`, `AICO_DATA_DIR`).
pub fn memory_dir(
    memory_dir: Option<&std::path::Path>,
    aico_data: Option<&std::path::Path>,
) -> Result<std::path::PathBuf, String> {
    match memory_dir {
        Some(dir) => Ok(dir.to_owned()),
        None => {
            let aico_data = aico_connect::target::aico_data_dir(aico_data).map_err(|e| e.to_string())?;
            Ok(aico_data.join("data").join("memory"))
        }
    }
}
