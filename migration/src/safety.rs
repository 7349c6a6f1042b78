//! Nothing lost: before a step drops tables that hold rows, make it restorable or refuse.
//!
//! On SQLite a consistent copy of the whole database file is written beside it (`VACUUM INTO`,
//! through a second, read-only connection, so it also works inside the migrator's transaction) and
//! its path is logged. The copy is its owner's alone: made 0600 before anything is written into
//! it, and never more open than the database itself. PostgreSQL has no file to copy: the step is
//! refused unless the operator forced it ([`Options::force`]: `--force`, or `AICO_FORCE_DROP=1`
//! as the binaries read it) after taking a `pg_dump` of their own.

use std::path::{Path, PathBuf};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use aico_connect::dialect::{Dialect, RestorePoint};
use aico_connect::key::DbKey;
use aico_connect::private;
use aico_connect::target::Target;

use crate::options::Options;

/// The environment variable that, set to `1`, allows dropping tables holding rows where no
/// backup can be written (PostgreSQL). Read by the binaries (`migration`, `aico-ams migrate`)
/// into [`Options::force`], never by this library.
pub const FORCE_ENV: &str = "AICO_FORCE_DROP";

/// Whether the value of [`FORCE_ENV`] (as the binaries read it) forces: only `1` does.
pub fn forces(value: Option<&str>) -> bool {
    value == Some("1")
}

/// Before dropping `tables`: if any of them holds rows, write a restorable backup (SQLite) or
/// refuse unless forced (PostgreSQL). `label` names the step in the backup's file name.
/// Returns the backup written, if one was.
pub async fn guard_drop(
    manager: &SchemaManager<'_>,
    tables: &[&str],
    label: &str,
    opts: &Options,
) -> Result<Option<PathBuf>, DbErr> {
    let conn = manager.get_connection();
    let dialect = Dialect::of_conn(conn)?;
    let mut holding = Vec::new();
    for table in tables {
        if !manager.has_table(table).await? {
            continue;
        }
        // `tables` are the migrations' own table names (constants).
        let row = conn.query_one_raw(dialect.stmt(format!("SELECT COUNT(*) AS n FROM {table}"))).await?;
        let rows: i64 = match row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        if rows > 0 {
            holding.push(format!("{table}: {rows} row(s)"));
        }
    }
    if holding.is_empty() {
        return Ok(None);
    }
    restorable(manager, &format!("drop tables holding rows ({})", holding.join(", ")), label, opts).await
}

/// Make the database restorable before `what` happens, whatever it holds: write a backup
/// (SQLite) or refuse unless forced (PostgreSQL). In a rehearsal ([`Options::rehearsal`]) a step
/// that would write a backup says so and writes none, as its run will be rolled back.
pub async fn restorable(
    manager: &SchemaManager<'_>,
    what: &str,
    label: &str,
    opts: &Options,
) -> Result<Option<PathBuf>, DbErr> {
    let conn = manager.get_connection();
    let dialect = Dialect::of_conn(conn)?;
    match dialect.restore_point(conn).await? {
        RestorePoint::CopyFile { source } if opts.rehearsal() => {
            tracing::warn!(
                "about to {what}: a real run writes a backup of {} first (not in a dry run)",
                source.display()
            );
            Ok(None)
        }
        RestorePoint::CopyFile { source } => {
            let dest = backup_path(&source, label);
            snapshot(dialect, &source, &dest, opts.key.as_ref()).await?;
            tracing::warn!(
                "about to {what}: backup written to {} (to restore, copy it over {})",
                dest.display(),
                source.display()
            );
            Ok(Some(dest))
        }
        RestorePoint::RefuseUnlessForced if opts.force => {
            tracing::warn!("about to {what} without a backup: forced");
            Ok(None)
        }
        RestorePoint::RefuseUnlessForced => Err(DbErr::Migration(format!(
            "refusing to {what}: no backup can be written on this backend; take one \
             (e.g. pg_dump) and rerun with --force (or {FORCE_ENV}=1)"
        ))),
    }
}

/// `<file>.<label>.backup-<UTC time>` beside the database file.
fn backup_path(source: &Path, label: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    source.with_file_name(format!("{name}.{label}.backup-{stamp}"))
}

/// Write a consistent copy of the SQLite file `source` to `dest` through a second, read-only
/// connection (`VACUUM INTO` cannot run inside the migrator's own transaction). An encrypted file
/// is read with the key the run opened it with (`key`, [`Options::key`]), and SQLite3 Multiple
/// Ciphers writes the copy encrypted with that same key; a copy that came out plain is deleted,
/// never left beside it.
async fn snapshot(dialect: Dialect, source: &Path, dest: &Path, key: Option<&DbKey>) -> Result<(), DbErr> {
    let Some(stmt) = dialect.snapshot_into(dest) else {
        return Err(DbErr::Migration("this backend has no file snapshot".into()));
    };
    let failed = |why: String| DbErr::Migration(format!("could not write the backup {}: {why}", dest.display()));
    let mode = backup_mode(source);
    // The copy goes into a file made empty first, for the owner alone (`VACUUM INTO` accepts an
    // empty file, and would otherwise make it 0644 less the umask).
    private::create_file(dest, private::FILE_MODE).map_err(|e| failed(e.to_string()))?;
    let file = Target::Sqlite { path: source.to_owned(), create: false, query: None, default: None };
    let written = async {
        let reader = match file.connect_again_read_only(key).await {
            Some(reader) => reader.map_err(|e| DbErr::Custom(e.to_string()))?,
            None => return Err(DbErr::Custom("not a SQLite file".into())),
        };
        let result = reader.execute_raw(stmt).await;
        reader.close().await?;
        result
    }
    .await;
    if let Err(e) = written {
        // Never leave an empty or partial file that looks like a backup.
        std::fs::remove_file(dest).ok();
        return Err(failed(e.to_string()));
    }
    if key.is_some() && !aico_connect::key::is_encrypted(dest).unwrap_or(false) {
        std::fs::remove_file(dest).ok();
        return Err(failed("it came out unencrypted and was deleted".into()));
    }
    if mode != private::FILE_MODE {
        // Narrower than 0600 (the source's own mode allows less): narrowing opens nothing.
        private::narrow(dest, mode).map_err(|e| failed(e.to_string()))?;
    }
    Ok(())
}

/// The mode of a backup of `source`: never more open than the source, and never wider than 0600
/// (the source's owner bits at most; group and others never).
fn backup_mode(source: &Path) -> u32 {
    let source_mode = std::fs::metadata(source).ok().and_then(|m| private::mode_of(&m)).unwrap_or(private::FILE_MODE);
    source_mode & private::FILE_MODE
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A backup is never more open than its source, and never wider than 0600.
    #[test]
    fn a_backup_is_never_more_open_than_its_source() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let source = dir.path().join("aico.db");
        std::fs::write(&source, b"x").expect("write");
        for (source_mode, backup) in [(0o644, 0o600), (0o666, 0o600), (0o600, 0o600), (0o640, 0o600), (0o400, 0o400)] {
            std::fs::set_permissions(&source, std::fs::Permissions::from_mode(source_mode)).expect("chmod");
            assert_eq!(backup_mode(&source), backup, "{source_mode:o}");
        }
    }
}
