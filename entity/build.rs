//! Generates the entity models from the migrations: apply the `migration` crate's Migrator to a
//! scratch SQLite database in `OUT_DIR`, discover its schema (sea-schema), write the models
//! (sea-orm-codegen) into `OUT_DIR/entities.rs`, which `src/lib.rs` includes. Nothing generated is
//! committed; a change to the migrations regenerates them, so they can never drift.
//!
//! The same for AICO's own database: `aico.sql` (AICO's tables at its version 13) on a second
//! scratch database, then the migrations (which make Phase 3 there from AICO's own statements),
//! give the `aico` module (`user_memories`, AICO's `consolidation_state` and AICO's six Phase 3
//! tables). Foreign keys to tables not modelled there (AICO's `users`) are left out of the models.

use std::path::{Path, PathBuf};

use sea_orm::ConnectionTrait;

use aico_connect::key::KeySources;
use aico_connect::target::Target;
use migration::fingerprint;
use migration::runner::{self, Command};
use sea_orm_codegen::{
    BannerVersion, BigIntegerType, DateTimeCrate, EntityFormat, EntityTransformer, EntityWriterContext, WithPrelude,
    WithSerde,
};
use sea_schema::sqlite::discovery::SchemaDiscovery;

/// Tables that belong to the migration tool, not to the AMS schema: SeaORM's record of applied
/// migrations, and ours of their fingerprints.
const NOT_MODELLED: [&str; 2] = ["seaql_migrations", migration::fingerprint::TABLE];

/// The tables the migrations adopt as they find them on the seed's layout: every table of the
/// catalog (m0000 takes AICO's `semantic_facts` with only `id` and `created_at` required, m0002
/// and m0003 an existing table with the columns they make, whatever its NOT NULLs). Their models
/// allow NULL in every column but the key, so that they read every row such a table can hold,
/// whatever our own migration would have declared.
fn adopted_as_found() -> Vec<&'static str> {
    migration::catalog::CATALOG.iter().flat_map(|entry| entry.tables.iter().copied()).collect()
}

/// The Rust types sea-orm-codegen writes for timestamp and JSON columns, each replaced by the type
/// that reads whatever such a column holds (SQLite keeps them as free text): the value, or the
/// text that is not one, kept (`entity::values::StoredTimestamp`, `StoredJson`).
const STORED_TYPES: [(&str, &str); 4] = [
    ("DateTimeWithTimeZone", "crate :: values :: StoredTimestamp"),
    ("DateTimeUtc", "crate :: values :: StoredTimestamp"),
    ("DateTime", "crate :: values :: StoredTimestamp"),
    ("Json", "crate :: values :: StoredJson"),
];

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
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=aico.sql");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the build script");
    let generated = runtime.block_on(async {
        let seed =
            generate(&out_dir.join("schema.db"), None, |t| !NOT_MODELLED.contains(&t), &adopted_as_found()).await?;
        let adopted: Vec<String> = adopted_as_found().iter().map(|t| format!("{t:?}")).collect();
        let seed = format!(
            "{seed}/// The tables the migrations adopt as they find them: their models allow NULL in every \
             column but the key, so a live NOT NULL there is stricter than the model, not drift.\n\
             pub const ADOPTED_AS_FOUND: &[&str] = &[{}];\n",
            adopted.join(", ")
        );
        let aico =
            generate(&out_dir.join("aico.db"), Some(include_str!("aico.sql")), |t| AICO_MODELLED.contains(&t), &[])
                .await?;
        let aico: String =
            aico.lines().map(|l| if l.is_empty() { "\n".to_owned() } else { format!("    {l}\n") }).collect();
        Ok::<_, String>(format!(
            "{seed}/// AICO's own tables that the jobs use, as AICO builds them (its schema version 13, then the \
             migrations, which make Phase 3 from AICO's own statements): `user_memories`, its per-user \
             `consolidation_state`, and `skills`, `user_skill_confidence`, `trajectories`, \
             `context_skill_stats`, `context_preference_vectors`, `ams_behavioral_feedback`.\n\
             pub mod aico {{\n{aico}}}\n"
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

/// The models of the tables `keep` accepts, in a scratch database at `db_path` where `setup` (SQL)
/// ran before the migrations; those of the tables in `adopted` allow NULL in every column but the
/// key.
async fn generate(
    db_path: &Path,
    setup: Option<&str>,
    keep: impl Fn(&str) -> bool,
    adopted: &[&str],
) -> Result<String, String> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db_path.display()));
    }
    let target = Target::from_url(&format!("sqlite://{}?mode=rwc", db_path.display())).map_err(|e| e.to_string())?;
    // A build reads no secrets: the scratch database is plain, opened with no key source at all
    // (no AICO_DB_KEY, no AICO_MASTER_KEY, no OS keyring).
    let db = target.connect_with(None, &KeySources::none()).await.map_err(|e| e.to_string())?;
    if let Some(sql) = setup {
        db.execute_unprepared(sql).await.map_err(|e| format!("{}: {e}", db_path.display()))?;
    }
    // The error names the migration that failed and why.
    runner::run(&db, &target, Command::Up { steps: None }, &Default::default(), |_| {})
        .await
        .map_err(|e| e.to_string())?;

    let pool = db.get_sqlite_connection_pool().clone();
    let schema = SchemaDiscovery::new(pool)
        .discover()
        .await
        .map_err(|e| format!("discovering the migrated schema: {e}"))?
        .merge_indexes_into_table();
    let tables = schema
        .tables
        .into_iter()
        .filter(|t| keep(t.name.as_str()))
        .map(|mut t| {
            // A relation needs both models: a key to a table not modelled here is left out.
            t.foreign_keys.retain(|fk| keep(fk.table.as_str()));
            if adopted.contains(&t.name.as_str()) {
                for column in t.columns.iter_mut().filter(|c| !c.primary_key) {
                    column.not_null = false;
                }
            }
            t.write()
        })
        .collect();
    db.close().await.map_err(|e| e.to_string())?;

    let writer = EntityTransformer::transform(tables).map_err(|e| format!("transforming the schema: {e}"))?;
    let context = EntityWriterContext::new(
        EntityFormat::Compact,
        WithPrelude::All,
        WithSerde::Both,
        false,
        DateTimeCrate::Chrono,
        BigIntegerType::I64,
        None,
        false,
        false,
        false,
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        false,
        true,
        BannerVersion::Off,
    );
    let mut files = writer.generate(&context).files;
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut code = String::from("// Generated by entity/build.rs from the migrations. Do not edit.\n");
    // Every table the migrations make (the runner's bookkeeping left out), for `all_columns`.
    let mut made = Vec::new();
    for file in files {
        let Some(module) = file.name.strip_suffix(".rs") else { continue };
        if module == "mod" {
            continue;
        }
        // Inner attributes and docs cannot stand inside an inline module: drop them.
        let body: String = file
            .content
            .lines()
            .filter(|l| !l.starts_with("//!") && !l.starts_with("#!["))
            .map(|l| format!("    {}\n", stored_types(l)))
            .collect();
        let doc = if module == "prelude" {
            "The entities of every AMS table, by their table's name in CamelCase.".to_owned()
        } else {
            format!("The `{module}` table: `Model`, `ActiveModel`, `Entity`, `Column`.")
        };
        code.push_str(&format!("#[doc = {doc:?}]\n#[allow(missing_docs)]\npub mod {module} {{\n{body}}}\n\n"));
        if module != "prelude" && module != fingerprint::TABLE {
            made.push(format!("crate::ModelColumn::of::<self::{module}::Entity>()"));
        }
    }
    code.push_str(&format!(
        "/// Every column of every table modelled here that the migrations make (the runner's \
         bookkeeping left out), table by table: what `verify`'s drift check compares with the live \
         schema, so a table a new migration adds is checked without a line written by hand.\n\
         pub fn all_columns() -> ::std::vec::Vec<crate::ModelColumn> {{\n    [{}].concat()\n}}\n",
        made.join(", ")
    ));
    Ok(code)
}

/// `line` of generated code with every timestamp and JSON type replaced ([`STORED_TYPES`]).
/// sea-orm-codegen writes its tokens apart (`Option < DateTimeUtc >`), so whole tokens are
/// compared.
fn stored_types(line: &str) -> String {
    line.split(' ')
        .map(|token| STORED_TYPES.iter().find(|(from, _)| *from == token).map_or(token, |(_, to)| *to))
        .collect::<Vec<_>>()
        .join(" ")
}
