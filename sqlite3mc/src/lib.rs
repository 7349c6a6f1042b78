//! SQLite3 Multiple Ciphers as the workspace's SQLite.
//!
//! This crate has no Rust API: its build script compiles the SQLite3 Multiple Ciphers amalgamation
//! (SQLite with page encryption, AICO's `aico.db` format) into the `sqlite3` library that sqlx's
//! `libsqlite3-sys` links (see `.cargo/config.toml`). `aico-connect` depends on it, so every crate
//! that connects to a database links it.
//! It is compiled with AES-256-CBC as the default cipher (AICO's, through python libsql) and with
//! `SQLITE_DQS=0`.
//! The release compiled in is the one `sqlite3mc-src` ships (pinned in `Cargo.toml`); SQLite
//! reports it as `sqlite3mc_version()`.
#![no_std]
