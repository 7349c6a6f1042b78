//! The `migration` binary as a user runs it: clear errors with exit codes and no change on bad
//! input, two migrators at once, and a migrator killed half-way.

use rstest::rstest;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use aico_tests::{
    Backend, TestDb, applied, column_of, exec, failed, fill_facts, kill_after, migrator, run_migrator, schema, settle,
    text, workspace_bin,
};

#[test]
fn bad_urls_fail_with_exit_2_naming_the_url() {
    for (url, needle) in [
        ("postgres//nope", "\"postgres//nope\" is not a usable database URL"),
        ("mysql://root@localhost/x", "unsupported database URL mysql://root@localhost/x"),
        ("postgres://u:secret@127.0.0.1:1/x", "cannot connect to PostgreSQL database postgres://u:***@127.0.0.1:1/x"),
        ("sqlite://", "\"sqlite://\" is not a usable database URL"),
    ] {
        let out = run_migrator(url, &["up"]);
        let (code, line) = failed(&out);
        assert_eq!(code, 2, "{url}: {}", text(&out));
        assert!(line.contains(needle), "{url}: `{line}` lacks `{needle}`");
        assert!(!text(&out).contains("secret"), "the password leaked: {}", text(&out));
    }
}

#[test]
fn a_missing_file_is_not_created() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("typo.db");
    let out = run_migrator(&format!("sqlite://{}", path.display()), &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 2, "{}", text(&out));
    assert!(line.contains(&format!("database file {} does not exist", path.display())), "{line}");
    assert!(!path.exists());
}

#[test]
fn a_corrupt_file_is_named_and_left_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("aico.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&path, &garbage).expect("write");
    let out = run_migrator(&format!("sqlite://{}", path.display()), &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 2, "{}", text(&out));
    // Random bytes look like an encrypted file (SQLite3 Multiple Ciphers encrypts the header too).
    assert!(line.contains(&format!("SQLite database {} is encrypted", path.display())), "{line}");
    assert!(line.contains("not a database or is corrupt") && line.contains("--db-key"), "{line}");
    assert_eq!(std::fs::read(&path).expect("read"), garbage, "the file was changed");
}

async fn facts_db(dir: &Path) -> String {
    let url = format!("sqlite://{}?mode=rwc", dir.join("aico.db").display());
    let db = aico_connect::target::Target::from_url(&url).expect("url").connect(None).await.expect("open");
    fill_facts(&db, 10, false).await;
    db.close().await.expect("close");
    format!("sqlite://{}", dir.join("aico.db").display())
}

/// The uid and gid of `nobody`, to run a binary without root's power over file modes.
const NOBODY: u32 = 65534;

#[tokio::test]
async fn a_read_only_database_is_named_and_left_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let url = facts_db(dir.path()).await;
    let path = dir.path().join("aico.db");
    let before = std::fs::read(&path).expect("read");
    let out = run_migrator(&format!("{url}?mode=ro"), &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 2, "{}", text(&out));
    assert!(line.contains(&format!("SQLite database {} is read-only", path.display())), "{line}");
    assert_eq!(std::fs::read(&path).expect("read"), before, "the file was changed");

    // A file without write permission. Root ignores file modes (CI runs as root): there the
    // migrator runs as `nobody`, for whom the mode binds, in a directory it may write (for the WAL).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod file");
    // The read-only run above leaves the `-wal` and `-shm` it cannot remove, made with the
    // database's mode (0600, as the tool makes files): the same read-only mode as the file, so
    // that `nobody` meets a read-only database, not one it cannot open at all.
    for companion in ["aico.db-wal", "aico.db-shm"] {
        let companion = dir.path().join(companion);
        if companion.exists() {
            std::fs::set_permissions(&companion, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        }
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod dir");
    let mut cmd = Command::new(workspace_bin("migration"));
    cmd.args(["-u", &url, "up"]).env_remove("DATABASE_URL").env("HOME", dir.path());
    if std::fs::OpenOptions::new().append(true).open(&path).is_ok() {
        use std::os::unix::process::CommandExt;
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let out = cmd.output().expect("run migration");
    let (code, line) = failed(&out);
    assert_eq!(code, 2, "{}", text(&out));
    assert!(line.contains("is read-only"), "{line}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[tokio::test]
async fn a_baseline_lacking_columns_exits_1_and_changes_nothing() {
    let db = TestDb::sqlite();
    let conn = db.connect().await;
    exec(&conn, "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, content TEXT)").await;
    let before = schema(&conn).await;
    let out = run_migrator(&db.url, &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 1, "{}", text(&out));
    assert!(line.contains("m0000_semantic_facts_baseline") && line.contains("created_at"), "{line}");
    assert_eq!(schema(&conn).await, before);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn two_migrators_at_once_apply_everything_exactly_once(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    fill_facts(&conn, 200_000, true).await;
    let spawn = || migrator(&db.url, &["up"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().expect("wait a"), b.wait_with_output().expect("wait b")];
    let mut appliers = 0;
    for out in &outs {
        let all = text(out);
        if out.status.success() {
            if all.contains("done: apply m0001_temporal_metadata") {
                appliers += 1;
            } else {
                assert!(all.contains("nothing to do"), "{}: {all}", db.name);
            }
        } else {
            // SQLite: the loser may give up after the busy timeout, saying so.
            let (code, line) = failed(out);
            assert!(code == 2 && line.contains("is locked by another process"), "{}: {all}", db.name);
        }
    }
    assert_eq!(appliers, 1, "{}: exactly one migrator applies", db.name);
    assert_eq!(applied(&conn).await.len(), 4, "{}", db.name);
    assert!(schema(&conn).await.contains("index idx_semantic_facts_temporal on semantic_facts"));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_migrator_killed_half_way_leaves_the_database_as_before(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    fill_facts(&conn, 300_000, true).await;
    let facts = "SELECT count(*) || ':' || sum(length(content)) || ':' || sum(length(CAST(temporal_metadata AS TEXT))) FROM semantic_facts";
    let rows = column_of(&conn, facts).await;
    let mut killed_mid_run = 0;
    for delay_ms in [40u64, 120, 250, 500] {
        killed_mid_run += u32::from(kill_after(&mut migrator(&db.url, &["up"]), Duration::from_millis(delay_ms)));
        settle(&conn).await;

        let done = applied(&conn).await;
        let s = schema(&conn).await;
        assert!(done.is_empty() || done.len() == 4, "{}: half-applied: {done:?}", db.name);
        let has_index = s.contains("index idx_semantic_facts_temporal on semantic_facts");
        let has_skills = s.contains("table skills");
        assert_eq!(has_index, !done.is_empty(), "{}: index without record (or the reverse)", db.name);
        assert_eq!(has_skills, !done.is_empty(), "{}: tables without record (or the reverse)", db.name);
        assert_eq!(column_of(&conn, facts).await, rows, "{}: facts changed", db.name);
        if db.name == "sqlite" {
            assert_eq!(column_of(&conn, "PRAGMA integrity_check").await, ["ok"]);
        }
        if !done.is_empty() {
            break;
        }
    }
    assert!(killed_mid_run > 0, "{}: no kill landed while the migrator ran", db.name);
    let out = run_migrator(&db.url, &["up"]);
    assert!(out.status.success(), "{}: rerun: {}", db.name, text(&out));
    assert_eq!(applied(&conn).await.len(), 4);
    assert_eq!(column_of(&conn, facts).await, rows);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn fresh_writes_a_backup_on_sqlite_and_needs_force_on_postgres(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    fill_facts(&conn, 5, false).await;
    let out = run_migrator(&db.url, &["fresh"]);
    match db.dir() {
        Some(dir) => {
            assert!(out.status.success(), "{}", text(&out));
            let backup = std::fs::read_dir(dir)
                .expect("dir")
                .filter_map(Result::ok)
                .find(|e| e.file_name().to_string_lossy().contains(".fresh.backup-"))
                .expect("a backup beside the database");
            assert!(text(&out).contains(&backup.path().display().to_string()), "the backup path is printed");
            let saved = aico_connect::target::Target::from_url(&format!("sqlite://{}", backup.path().display()))
                .expect("url")
                .connect(None)
                .await
                .expect("open");
            assert_eq!(column_of(&saved, "SELECT CAST(count(*) AS TEXT) FROM semantic_facts").await, ["5"]);
        }
        None => {
            let (code, line) = failed(&out);
            assert_eq!(code, 1, "{}", text(&out));
            assert!(line.contains("refusing to drop every table"), "{line}");
            assert_eq!(column_of(&conn, "SELECT CAST(count(*) AS TEXT) FROM semantic_facts").await, ["5"]);
            let out = run_migrator(&db.url, &["fresh", "--force"]);
            assert!(out.status.success(), "{}", text(&out));
        }
    }
    assert_eq!(applied(&conn).await.len(), 4, "{}", db.name);
    assert_eq!(column_of(&conn, "SELECT CAST(count(*) AS TEXT) FROM semantic_facts").await, ["0"], "{}", db.name);
}

#[test]
fn a_path_through_a_regular_file_or_a_directory_for_the_file_is_named() {
    // What root cannot do either: ENOTDIR, and a directory where the database file should be.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, b"not a directory").expect("write");
    let under_file = file.join("aico.db");
    let out = run_migrator(&format!("sqlite://{}?mode=rwc", under_file.display()), &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 2, "{}", text(&out));
    assert!(line.contains(&file.display().to_string()), "{line}");
    assert_eq!(std::fs::read(&file).expect("read"), b"not a directory");

    let as_dir = dir.path().join("aico.db");
    std::fs::create_dir(&as_dir).expect("mkdir");
    let out = run_migrator(&format!("sqlite://{}?mode=rwc", as_dir.display()), &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 2, "{}", text(&out));
    assert!(line.contains(&as_dir.display().to_string()) && line.contains("directory"), "{line}");
    assert_eq!(std::fs::read_dir(&as_dir).expect("list").count(), 0, "nothing was written into it");
}

/// `bin args` as on a machine whose whole environment is `HOME=home` (and `XDG_DATA_HOME=xdg`
/// when given): no AICO variables, no database URL.
fn bare(bin: &str, home: &Path, xdg: Option<&Path>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(workspace_bin(bin));
    cmd.args(args).env_clear().env("HOME", home).env("NO_COLOR", "1");
    if let Some(xdg) = xdg {
        cmd.env("XDG_DATA_HOME", xdg);
    }
    cmd.output().expect("run")
}

/// The files and directories under `dir`, if it exists.
fn tree(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.filter_map(Result::ok).flat_map(|e| [vec![e.path()], tree(&e.path())].concat()).collect()
}

#[rstest]
#[case::migration_up_xdg_unset("migration", &["up"], None)]
#[case::migration_up_xdg_in_home("migration", &["up"], Some("xdg"))]
#[case::aico_ams_migrate_xdg_unset("aico-ams", &["migrate"], None)]
#[case::aico_ams_migrate_xdg_in_home("aico-ams", &["migrate"], Some("xdg"))]
#[tokio::test]
async fn on_a_machine_without_aico_nothing_is_written_where_aico_keeps_its_data(
    #[case] bin: &str,
    #[case] first: &[&str],
    #[case] xdg: Option<&str>,
) {
    let home = tempfile::tempdir().expect("home");
    let xdg = xdg.map(|x| home.path().join(x));
    let data = xdg.clone().unwrap_or_else(|| home.path().join(".local/share"));
    let (aico_dir, own_db) = (data.join("aico"), data.join("aico-ams/ams.db"));

    let out = bare(bin, home.path(), xdg.as_deref(), first);
    assert!(out.status.success(), "{bin} {first:?}: {}", text(&out));
    let line = format!(
        "target: SQLite database {} (the tool's own database: AICO's {} does not exist)",
        own_db.display(),
        aico_dir.join("data/aico.db").display()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().next(), Some(line.as_str()), "{}", text(&out));
    for job in ["backfill", "verify", "health"] {
        let out = bare("aico-ams", home.path(), xdg.as_deref(), &[job]);
        assert!(out.status.success(), "{job}: {}", text(&out));
    }
    assert!(!aico_dir.exists(), "written under AICO's data directory: {:?}", tree(&aico_dir));
    let everything = tree(home.path());
    assert!(
        everything.iter().all(|p| p.starts_with(own_db.parent().expect("dir")) || own_db.starts_with(p)),
        "{everything:?}"
    );
    let db = aico_connect::target::Target::from_url(&format!("sqlite://{}", own_db.display()))
        .expect("url")
        .connect(None)
        .await
        .expect("open the tool's own database");
    assert_eq!(applied(&db).await.len(), 4, "ams.db is migrated");
    db.close().await.ok();
}

#[tokio::test]
async fn an_existing_aico_database_stays_the_default() {
    let home = tempfile::tempdir().expect("home");
    let aico_db = home.path().join(".local/share/aico/data/aico.db");
    std::fs::create_dir_all(aico_db.parent().expect("dir")).expect("mkdir");
    let url = format!("sqlite://{}?mode=rwc", aico_db.display());
    let db = aico_connect::target::Target::from_url(&url).expect("url").connect(None).await.expect("create");
    fill_facts(&db, 3, false).await;
    let out = bare("migration", home.path(), None, &["up"]);
    assert!(out.status.success(), "{}", text(&out));
    let line = format!("target: SQLite database {} (AICO's own database)", aico_db.display());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().next(), Some(line.as_str()), "{}", text(&out));
    assert_eq!(applied(&db).await.len(), 4);
    db.close().await.ok();
    assert!(!home.path().join(".local/share/aico-ams").exists(), "the tool's own database is not made");
}

#[test]
fn jobs_run_before_any_migration_write_nothing_under_aicos_data_directory() {
    let home = tempfile::tempdir().expect("home");
    let data = home.path().join(".local/share");
    for job in ["backfill", "verify", "health"] {
        let out = bare("aico-ams", home.path(), None, &[job]);
        // Not migrated yet: an error (backfill, health) or a failed check (verify), naming what to run.
        assert!(matches!(out.status.code(), Some(1 | 2)), "{job}: {}", text(&out));
        assert!(text(&out).contains("aico-ams/ams.db") && text(&out).contains("run `aico-ams migrate`"), "{job}");
        assert!(!data.join("aico").exists(), "{job} wrote under AICO's data directory: {:?}", tree(&data));
    }
}
