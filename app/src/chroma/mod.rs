//! AICO's semantic memory in ChromaDB, over Chroma's v2 HTTP API.
//!
//! AICO embeds Chroma's persistent store in `<memory dir>/semantic` and runs no server: the tool
//! serves that store with Chroma's own server for the run, or uses a running server at a URL. The
//! move reads the store from its files when they are in the format chromadb 1.0 writes.
//!
//! | file | holds |
//! |---|---|
//! | `config.rs` | [`ChromaConfig`], [`Endpoint`]: where the collection is, its names checked |
//! | `client.rs` | [`Chroma`], [`run`]: connect (serving the store first if asked), retry, sort failures |
//! | `wire.rs` | the JSON of the requests and answers |
//! | `backfill.rs` | [`backfill`](backfill()): the seed's flat temporal fields for every record lacking them |
//! | `verify.rs` | [`verify`](verify()): the one check `aico-ams verify` makes of this store |
//! | `records.rs` | [`Reader`], [`Collection`], [`Record`]: whole records with their exact vectors (the move's source) |
//! | `files.rs` | [`StoreFiles`]: the store read from its files, without a server (chromadb 1.0's format) |
//! | `health.rs` | [`health`](health()): coverage and records without a usable time, read only |
//! | `error.rs` | [`ChromaError`] |
//! | `server.rs` | [`LocalServer`]: AICO's store served for the run |
//! | `program.rs`, `format.rs` | which `chroma` serves it ([`ServerProgram`]); would it change [`StoreFormat`] |
//! | [`names`] | Chroma's rules for names |
//!
//! Each job returns a report value and prints nothing.

mod backfill;
mod client;
mod config;
mod error;
mod files;
mod format;
mod health;
pub mod names;
mod program;
mod records;
mod server;
mod verify;
mod wire;

pub use backfill::{ChromaReport, FIELDS, backfill, flat_fields, flat_fields_template, missing_fields};
pub use client::{Chroma, run};
pub use config::{ChromaConfig, Endpoint};
pub use error::ChromaError;
pub use files::{FileCollection, StoreFiles};
pub use format::StoreFormat;
pub use health::health;
pub use program::{Chosen, ServerProgram};
pub use records::{Collection, Reader, Record, parse_vector};
pub use server::{LocalServer, STORE_FILE};
pub use verify::{CHECK, verify};
