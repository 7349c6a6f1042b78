//! The tables a scratch SQLite database holds after `setup` and the migrations, discovered with
//! sea-schema, as `CREATE TABLE` statements for sea-orm-codegen.

use std::path::Path;

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::TableCreateStatement;

use aico_connect::key::KeySources;
use aico_connect::target::Target;
use migration::runner::{self, Command};
use sea_schema::sqlite::discovery::SchemaDiscovery;

/// The tables `keep` accepts, in a scratch database at `db_path` where `setup` (SQL) ran before
/// the migrations; those of the tables in `adopted` allow NULL in every column but the key.
pub async fn discover(
    db_path: &Path,
    setup: Option<&str>,
    keep: impl Fn(&str) -> bool,
    adopted: &[&str],
) -> Result<Vec<TableCreateStatement>, String> {
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
    Ok(tables)
}
