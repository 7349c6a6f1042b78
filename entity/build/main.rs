//! Generates the entity models from the migrations: apply the `migration` crate's Migrator to a
//! scratch SQLite database in `OUT_DIR`, discover its schema (sea-schema), write the models
//! (sea-orm-codegen) into `OUT_DIR/entities.rs`, which `src/lib.rs` includes. Nothing generated is
//! committed; a change to the migrations regenerates them, so they can never drift.
//!
//! The same for AICO's own database: `aico.sql` (AICO's tables at its version 13) on a second
//! scratch database, then the migrations (which make Phase 3 there from AICO's own statements),
//! give the `aico` module (`user_memories`, AICO's `consolidation_state` and AICO's six Phase 3
//! tables). Foreign keys to tables not modelled there (AICO's `users`) are left out of the models.
//!
//! And for AICO's PostgreSQL database (2026): `aico_pg.sql` (AICO's statements of its facts,
//! segments and working memory tables, copied from its schema file) is read here (`aico_pg`, no
//! server needed) and gives the `aico_pg` module, whose models name schema `aico_core`.
//!
//! `sqlite` discovers a scratch database's tables, `aico_pg` reads AICO's PostgreSQL statements,
//! `write` turns either into models.

mod aico_pg;
mod sqlite;
mod write;

use std::path::PathBuf;

use migration::fingerprint;

/// Tables that belong to the migration tool, not to the AMS schema: SeaORM's record of applied
/// migrations, and ours of their fingerprints.
const NOT_MODELLED: [&str; 2] = ["seaql_migrations", migration::fingerprint::TABLE];

/// The tables the migrations adopt as they find them on the seed's layout: every table of the
/// catalog (m0000 takes AICO's `semantic_facts` with only `id` and `created_at` required, m0002
/// and m0003 an existing table with the columns they make, whatever its NOT NULLs). Their models
/// allow NULL in every column but the key, so that they read every row such a table can hold,
/// whatever our own migration would have declared.
fn adopted_as_found() -> Vec<&'static str> {
    migration::catalog::seed().iter().flat_map(|entry| entry.tables.iter().copied()).collect()
}

/// The tables of AICO's own database that the jobs use, modelled in `aico`.
const AICO_MODELLED: [&str; 8] = [
    "user_memories",
    "consolidation_state",
    "skills",
    "user_skill_confidence",
    "trajectories",
    "context_skill_stats",
    "context_preference_vectors",
    "ams_behavioral_feedback",
];

fn main() {
    println!("cargo:rerun-if-changed=../migration/src");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=aico.sql");
    println!("cargo:rerun-if-changed=aico_pg.sql");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the build script");
    let generated = runtime.block_on(async {
        let seed =
            sqlite::discover(&out_dir.join("schema.db"), None, |t| !NOT_MODELLED.contains(&t), &adopted_as_found())
                .await?;
        let seed = write::models(seed, None, &[fingerprint::TABLE])?;
        let adopted: Vec<String> = adopted_as_found().iter().map(|t| format!("{t:?}")).collect();
        let seed = format!(
            "{seed}/// The tables the migrations adopt as they find them: their models allow NULL in every \
             column but the key, so a live NOT NULL there is stricter than the model, not drift.\n\
             pub const ADOPTED_AS_FOUND: &[&str] = &[{}];\n",
            adopted.join(", ")
        );
        let aico = sqlite::discover(
            &out_dir.join("aico.db"),
            Some(include_str!("../aico.sql")),
            |t| AICO_MODELLED.contains(&t),
            &[],
        )
        .await?;
        let aico = indented(&write::models(aico, None, &[])?);
        let aico_pg = aico_pg::tables(include_str!("../aico_pg.sql")).map_err(|e| format!("aico_pg.sql: {e}"))?;
        let aico_pg = indented(&write::models(aico_pg, Some(aico_pg::SCHEMA), &[])?);
        Ok::<_, String>(format!(
            "{seed}/// AICO's own tables that the jobs use, as AICO builds them (its schema version 13, then the \
             migrations, which make Phase 3 from AICO's own statements): `user_memories`, its per-user \
             `consolidation_state`, and `skills`, `user_skill_confidence`, `trajectories`, \
             `context_skill_stats`, `context_preference_vectors`, `ams_behavioral_feedback`.\n\
             pub mod aico {{\n{aico}}}\n\
             /// AICO's PostgreSQL tables (2026, schema `{schema}`) that the jobs read and backfill, as \
             AICO's schema file makes them: the facts (`ams_user_memories`), the segments \
             (`conversation_segments`, the embedding a pgvector `PgVector`) and the working memory \
             (`working_memory_messages`). Every model names schema `{schema}`.\n\
             pub mod aico_pg {{\n{aico_pg}}}\n",
            schema = aico_pg::SCHEMA,
        ))
    });
    match generated {
        Ok(code) => std::fs::write(out_dir.join("entities.rs"), code).expect("write OUT_DIR/entities.rs"),
        Err(why) => {
            // Shown by cargo as the build failure's cause.
            eprintln!("error: cannot generate the entity models: {why}");
            std::process::exit(1);
        }
    }
}

/// `code` indented one level, to stand inside an inline module.
fn indented(code: &str) -> String {
    code.lines().map(|l| if l.is_empty() { "\n".to_owned() } else { format!("    {l}\n") }).collect()
}
