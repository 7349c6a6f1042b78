//! No code: the dependency lines in this crate's `Cargo.toml`, written by `cargo hakari generate`,
//! give every build of the workspace the same features of each dependency (docs/architecture.md,
//! "One build for tests and runs").
