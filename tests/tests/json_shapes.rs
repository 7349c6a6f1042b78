//! Every `--json` shape of `aico-ams`, pinned by insta snapshots (`tests/snapshots/`), on SQLite:
//! the shapes are the same on every backend (the end-to-end tests check the values there).
//! Volatile values (paths, times, durations) are redacted; review a change with `cargo insta review`.

use std::process::Output;

use aico_tests::{TestDb, command, exec, fill_facts, json_of};
use insta::assert_json_snapshot;

fn run(db: &TestDb, args: &[&str]) -> Output {
    command("aico-ams").args(args).env("DATABASE_URL", &db.url).output().expect("run aico")
}

#[tokio::test]
async fn migrate_json_shapes() {
    let db = TestDb::sqlite();
    let status = json_of(&run(&db, &["migrate", "--status", "--json"]));
    assert_json_snapshot!("migrate_status", status, {".target" => "[target]"});

    let dry = json_of(&run(&db, &["migrate", "--dry-run", "--json"]));
    assert!(!dry["statements"].as_array().expect("list").is_empty());
    assert_json_snapshot!("migrate_dry_run", dry, {".target" => "[target]", ".statements" => "[the SQL statements]"});

    let applied = json_of(&run(&db, &["migrate", "--json"]));
    assert_json_snapshot!("migrate_apply", applied, {".target" => "[target]", ".migrations[].applied_at" => "[time]"});

    let back = json_of(&run(&db, &["migrate", "--rollback", "--json"]));
    assert_json_snapshot!("migrate_rollback", back, {".target" => "[target]", ".migrations[].applied_at" => "[time]"});
}

#[tokio::test]
async fn backfill_verify_and_health_json_shapes() {
    let db = TestDb::sqlite();
    let conn = db.connect().await;
    fill_facts(&conn, 3, false).await;
    exec(&conn, "INSERT INTO semantic_facts (id, user_id, content, created_at) VALUES ('z-bad', 'u', 'c', 'someday')")
        .await;
    assert!(run(&db, &["migrate"]).status.success());

    let backfill = json_of(&run(&db, &["backfill", "--json"]));
    assert_json_snapshot!("backfill", backfill, {".target" => "[target]", ".seconds" => "[seconds]"});

    let verify = json_of(&run(&db, &["verify", "--json"]));
    assert_json_snapshot!("verify", verify, {".target" => "[target]"});

    let health = json_of(&run(&db, &["health", "--json"]));
    assert_json_snapshot!("health", health, {".target" => "[target]"});
}

#[tokio::test]
async fn every_store_json_shapes_when_stores_are_missing() {
    let db = TestDb::sqlite();
    assert!(run(&db, &["migrate"]).status.success());
    let memory = tempfile::tempdir().expect("dir");
    let memory = memory.path().to_string_lossy().into_owned();
    let stores = ["--store", "all", "--memory-dir", &memory, "--chroma-url", "http://127.0.0.1:1", "--json"];
    let redact = |detail: &str| format!("[{detail}]");
    for cmd in ["backfill", "verify", "health"] {
        let out = run(&db, &[&[cmd][..], &stores[..]].concat());
        assert_eq!(out.status.code(), Some(1), "{cmd}: a missing store is never passed");
        let report = json_of(&out);
        insta::with_settings!({snapshot_suffix => cmd}, {
            assert_json_snapshot!("all_stores", report, {
                ".target" => "[target]",
                ".seconds" => "[seconds]",
                ".stores.*.detail" => redact("detail"),
                ".checks[].details" => redact("details"),
            });
        });
    }
}

#[test]
fn error_json_shape() {
    let out = command("aico-ams")
        .args(["verify", "--json", "--database-url", "postgres://u:pw@127.0.0.1:1/nowhere"])
        .output()
        .expect("run aico");
    assert_eq!(out.status.code(), Some(2));
    assert_json_snapshot!("error", json_of(&out), {".error.message" => "[message]"});
}

#[tokio::test]
async fn every_store_json_shapes_when_the_sql_database_is_unreachable() {
    let memory = tempfile::tempdir().expect("dir");
    let memory = memory.path().to_string_lossy().into_owned();
    let url = "postgres://u:pw@127.0.0.1:1/nowhere";
    let stores = ["--store", "all", "--memory-dir", &memory, "--chroma-url", "http://127.0.0.1:1", "--json"];
    for cmd in ["backfill", "verify", "health"] {
        let out = command("aico-ams").arg(cmd).args(stores).env("DATABASE_URL", url).output().expect("run aico");
        assert_eq!(out.status.code(), Some(1), "{cmd}: an unreachable store is never passed");
        let report = json_of(&out);
        insta::with_settings!({snapshot_suffix => cmd}, {
            assert_json_snapshot!("all_stores_sql_unreachable", report, {
                ".seconds" => "[seconds]",
                ".stores.*.detail" => "[detail]",
                ".checks[].details" => "[details]",
            });
        });
    }
}
