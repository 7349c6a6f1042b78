//! The `aico-ams` command end to end, on every backend: `migrate` and its flags, `backfill` on
//! mixed data, killed half-way, and beside a live writer; `verify` and `health`, with --json.

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aico_tests::{
    Backend, TestDb, applied, column_of, command, exec, fill_facts, fingerprint, json_of, kill_after, schema, settle,
};
use rstest::rstest;
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::{Value, json};

fn aico(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = command("aico-ams");
    cmd.args(args).env("DATABASE_URL", &db.url);
    cmd
}

fn run(db: &TestDb, args: &[&str]) -> Output {
    aico(db, args).output().expect("run aico")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn migrate_status_dry_run_apply_and_rollback(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    let out = run(&db, &["migrate", "--status", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status = json_of(&out);
    assert_eq!(keys(&status), set(&["target", "action", "migrations", "steps", "statements", "aico"]));
    assert_eq!(status["aico"], Value::Null, "not AICO's database");
    assert_eq!(status["action"], "status");
    assert_eq!(status["migrations"].as_array().expect("list").len(), 4);
    assert!(status["migrations"].as_array().expect("list").iter().all(|m| m["status"] == "pending"));

    let before = schema(&conn).await;
    let out = run(&db, &["migrate", "--dry-run", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dry = json_of(&out);
    assert_eq!(dry["action"], "dry-run");
    let sql: Vec<String> =
        dry["statements"].as_array().expect("list").iter().map(|s| s.as_str().expect("sql").to_owned()).collect();
    assert!(
        sql.iter().any(|s| s.contains("CREATE INDEX IF NOT EXISTS idx_semantic_facts_temporal")),
        "{}: {sql:#?}",
        db.name
    );
    assert!(sql.iter().any(|s| s.contains("CREATE TABLE IF NOT EXISTS \"skills\"")), "{}: {sql:#?}", db.name);
    assert_eq!(schema(&conn).await, before, "{}: the dry run changed the schema", db.name);
    assert!(applied(&conn).await.is_empty());

    let out = run(&db, &["migrate"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let target_line = text.lines().next().unwrap_or_default();
    assert_eq!(target_line, format!("target: {}", db.target), "the target comes first");
    assert!(text.find("plan:").expect("plan printed") < text.find("done: apply").expect("steps printed"), "{text}");
    assert_eq!(applied(&conn).await.len(), 4);

    // A dry-run rollback of tables holding rows rehearses it: no backup file, nothing changed.
    exec(&conn, "INSERT INTO skills (skill_id, skill_name, skill_type, trigger_context, procedure_template, dimensions) VALUES ('s1', 'greet', 'base', '{}', 'say hi', '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]')").await;
    let before = schema(&conn).await;
    let out = run(&db, &["migrate", "--rollback", "--dry-run", "--force"]);
    assert!(out.status.success(), "{}: {}", db.name, String::from_utf8_lossy(&out.stderr));
    assert_eq!(schema(&conn).await, before, "{}: the dry run changed the schema", db.name);
    if let Some(dir) = db.dir() {
        let backups: Vec<_> = std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".backup-"))
            .collect();
        assert!(backups.is_empty(), "a dry run wrote a backup: {:?}", backups[0].path());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not in a dry run"));
    }
    exec(&conn, "DELETE FROM skills").await;

    let out = run(&db, &["migrate", "--rollback", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let back = json_of(&out);
    assert_eq!(back["steps"], json!(["roll back m0003_behavioral_learning"]));
    assert_eq!(back["migrations"][3]["status"], "pending");
    assert_eq!(applied(&conn).await.len(), 3, "{}", db.name);
}

#[tokio::test]
async fn every_command_gives_exit_2_on_a_bad_url() {
    let db = TestDb::sqlite();
    for args in [&["migrate"][..], &["backfill"], &["verify"], &["health"]] {
        let out = command("aico-ams")
            .args(args)
            .args(["--database-url", "postgres://u:pw@127.0.0.1:1/nowhere"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot connect to PostgreSQL database postgres://u:***@127.0.0.1:1/nowhere"), "{err}");
    }
    drop(db);
}

/// An AICO-like table on this backend with `created_at` as text in every format AICO has written,
/// one row that already has metadata, and rows without a usable time.
async fn mixed_facts(conn: &sea_orm::DatabaseConnection) {
    exec(
        conn,
        "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, content TEXT NOT NULL, \
                created_at TEXT, updated_at TEXT, extra_notes TEXT)",
    )
    .await;
    exec(
        conn,
        "INSERT INTO semantic_facts (id, user_id, content, created_at, extra_notes) VALUES \
        ('a-sqlite', 'u', 'one', '2025-11-07 18:00:00', 'x'), \
        ('b-zulu', 'u', 'two', '2025-11-07T18:00:00Z', NULL), \
        ('c-offset', 'u', 'three', '2025-11-07T20:00:00+02:00', 'ü'), \
        ('d-naive', 'u', 'four', '2025-11-07T18:00:00.5', ''), \
        ('e-bad', 'u', 'five', 'last tuesday', 'keep'), \
        ('f-null', 'u', 'six', NULL, 'keep'), \
        ('g-has', 'u', 'seven', '2025-01-01 00:00:00', 'keep')",
    )
    .await;
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn backfill_fills_mixed_data_reports_bad_rows_and_touches_nothing_else(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    mixed_facts(&conn).await;
    assert!(run(&db, &["migrate"]).status.success());
    let existing = r#"{"created_at": "2020-01-01T00:00:00Z", "last_updated": "2020-01-01T00:00:00Z", "last_accessed": "2021-01-01T00:00:00Z", "access_count": 9, "confidence": 0.4, "version": 3, "superseded_by": null, "custom": [1]}"#;
    exec(&conn, &format!("UPDATE semantic_facts SET temporal_metadata = '{existing}' WHERE id = 'g-has'")).await;
    let others = ["id", "user_id", "content", "created_at", "updated_at", "extra_notes"];
    let before = fingerprint(&conn, "semantic_facts", &others, "id").await;
    let has_before = fingerprint(&conn, "semantic_facts", &["temporal_metadata"], "id").await;

    let dry = run(&db, &["backfill", "--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(1), "bad rows make it incomplete");
    let dry = json_of(&dry);
    assert_eq!(
        (dry["dry_run"].clone(), dry["stores"]["sql"]["filled"].clone()),
        (json!(true), json!(4)),
        "{}",
        db.name
    );
    assert_eq!(fingerprint(&conn, "semantic_facts", &["temporal_metadata"], "id").await, has_before, "dry run wrote");

    let out = run(&db, &["backfill", "--batch-size", "2", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}: {}", db.name, String::from_utf8_lossy(&out.stderr));
    let all = json_of(&out);
    assert_eq!(keys(&all), set(&["target", "dry_run", "batch_size", "complete", "seconds", "stores"]));
    assert_eq!(all["target"], db.target.to_string());
    assert_eq!(all["complete"], false);
    let report = &all["stores"]["sql"];
    assert_eq!(keys(report), set(&["status", "without_temporal", "filled", "batches", "bad_count", "bad_items"]));
    assert_eq!(report["status"], "done");
    assert_eq!(report["without_temporal"], 6);
    assert_eq!(report["filled"], 4);
    assert_eq!(report["bad_count"], 2);
    let bad: Vec<&str> =
        report["bad_items"].as_array().expect("list").iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(bad, ["e-bad", "f-null"]);
    assert!(report["bad_items"][0]["reason"].as_str().expect("reason").contains("last tuesday"));

    let meta = |id: &str, at: &str| {
        format!(
            r#"{{"created_at":"{at}","last_updated":"{at}","last_accessed":"{at}","access_count":0,"confidence":1.0,"version":1,"superseded_by":null}}"#
        ) + &format!("#{id}")
    };
    let got = column_of(&conn, "SELECT CAST(temporal_metadata AS TEXT) || '#' || id FROM semantic_facts WHERE temporal_metadata IS NOT NULL AND id <> 'g-has' ORDER BY id").await;
    assert_eq!(
        got,
        [
            meta("a-sqlite", "2025-11-07T18:00:00Z"),
            meta("b-zulu", "2025-11-07T18:00:00Z"),
            meta("c-offset", "2025-11-07T18:00:00Z"),
            meta("d-naive", "2025-11-07T18:00:00.500Z"),
        ],
        "{}",
        db.name
    );
    assert_eq!(
        column_of(&conn, "SELECT CAST(temporal_metadata AS TEXT) FROM semantic_facts WHERE id = 'g-has'").await,
        [existing]
    );
    assert_eq!(fingerprint(&conn, "semantic_facts", &others, "id").await, before, "{}: other columns changed", db.name);

    // Fix the bad rows; the next run finishes the job and exits 0.
    exec(&conn, "UPDATE semantic_facts SET created_at = '2025-02-02T02:02:02Z' WHERE id IN ('e-bad', 'f-null')").await;
    let out = run(&db, &["backfill"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        column_of(&conn, "SELECT CAST(COUNT(*) AS TEXT) FROM semantic_facts WHERE temporal_metadata IS NULL").await,
        ["0"]
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn backfill_on_the_created_baseline_reads_typed_timestamps(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    assert!(run(&db, &["migrate"]).status.success());
    exec(
        &conn,
        "INSERT INTO semantic_facts (id, user_id, content, created_at, updated_at) VALUES \
        ('t1', 'u', 'c', '2025-11-07T20:00:00+02:00', '2025-11-07T20:00:00+02:00')",
    )
    .await;
    let out = run(&db, &["backfill"]);
    assert!(out.status.success(), "{}: {}", db.name, String::from_utf8_lossy(&out.stderr));
    let tm = column_of(&conn, "SELECT CAST(temporal_metadata AS TEXT) FROM semantic_facts").await;
    let v: Value = serde_json::from_str(&tm[0]).expect("json");
    assert_eq!(v["created_at"], "2025-11-07T18:00:00Z", "{}", db.name);
}

/// PostgreSQL only (SQLite has no typed dates): a typed date before year 1 is not read as a year
/// AD: it is listed, untouched.
#[tokio::test]
async fn backfill_lists_typed_dates_before_year_one_on_postgres() {
    let Some(db) = TestDb::of(Backend::Postgres).await else { return };
    let conn = db.connect().await;
    assert!(run(&db, &["migrate"]).status.success());
    exec(&conn, "INSERT INTO semantic_facts (id, user_id, content, created_at) VALUES ('t2', 'u', 'c', '0044-03-15 12:00:00+00 BC')").await;
    let out = run(&db, &["backfill", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let sql = json_of(&out)["stores"]["sql"].clone();
    assert_eq!(sql["bad_items"][0]["id"], "t2", "{sql:#}");
    assert!(sql["bad_items"][0]["created_at"].as_str().expect("text").ends_with(" BC"), "{sql:#}");
}

/// The SQL that counts facts whose metadata is not exactly what the backfill writes for them
/// (`fill_facts` stores created_at already as RFC 3339 `Z`).
fn wrong_metadata(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "SELECT CAST(COUNT(*) AS TEXT) FROM semantic_facts WHERE temporal_metadata IS NOT NULL AND \
            CAST(temporal_metadata AS TEXT) <> '{\"created_at\":\"' || created_at || '\",\"last_updated\":\"' || created_at || \
            '\",\"last_accessed\":\"' || created_at || '\",\"access_count\":0,\"confidence\":1.0,\"version\":1,\"superseded_by\":null}'"
        }
        _ => {
            "SELECT CAST(COUNT(*) AS TEXT) FROM semantic_facts WHERE temporal_metadata IS NOT NULL AND \
            temporal_metadata <> '{\"created_at\":\"' || created_at || '\",\"last_updated\":\"' || created_at || \
            '\",\"last_accessed\":\"' || created_at || '\",\"access_count\":0,\"confidence\":1.0,\"version\":1,\"superseded_by\":null}'"
        }
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn backfill_killed_at_any_moment_is_finished_by_the_next_run(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    fill_facts(&conn, 100_000, false).await;
    assert!(run(&db, &["migrate"]).status.success());
    let others = "SELECT CAST(COUNT(*) AS TEXT) || ':' || CAST(SUM(LENGTH(content)) AS TEXT) || ':' || MAX(extra_notes) FROM semantic_facts";
    let before = column_of(&conn, others).await;
    let mut killed_mid_run = 0;
    for delay_ms in [150u64, 400, 700] {
        killed_mid_run += u32::from(kill_after(
            &mut aico(&db, &["backfill", "--batch-size", "500"]),
            Duration::from_millis(delay_ms),
        ));
        assert_eq!(
            column_of(&conn, wrong_metadata(conn.get_database_backend())).await,
            ["0"],
            "{}: a half-written row",
            db.name
        );
    }
    // A server may still commit the statement a killed client sent last: wait for it.
    settle(&conn).await;
    let filled = column_of(&conn, "SELECT CAST(COUNT(temporal_metadata) AS TEXT) FROM semantic_facts").await;
    assert!(killed_mid_run > 0, "{}: no kill landed mid-run ({filled:?} filled)", db.name);
    let out = run(&db, &["backfill", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let filled_before: u64 = filled[0].parse().expect("count");
    assert_eq!(
        report["stores"]["sql"]["filled"].as_u64().expect("n") + filled_before,
        100_000,
        "{}: each row filled exactly once",
        db.name
    );
    assert_eq!(
        column_of(&conn, "SELECT CAST(COUNT(*) AS TEXT) FROM semantic_facts WHERE temporal_metadata IS NULL").await,
        ["0"]
    );
    assert_eq!(column_of(&conn, wrong_metadata(conn.get_database_backend())).await, ["0"]);
    assert_eq!(column_of(&conn, others).await, before, "{}: other columns changed", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn backfill_beside_a_live_writer_neither_fails(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    fill_facts(&conn, 60_000, false).await;
    assert!(run(&db, &["migrate"]).status.success());
    let child = aico(&db, &["backfill", "--batch-size", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The "live AICO": its own connection, inserting new facts and editing old ones meanwhile.
    let writer = db.connect().await;
    let mut writes = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        writes += 1;
        writer
            .execute_unprepared(&format!(
                "INSERT INTO semantic_facts (id, user_id, content, created_at, updated_at) VALUES \
                 ('live-{writes:05}', 'u', 'new', '2025-06-01T00:00:00Z', '2025-06-01T00:00:00Z')"
            ))
            .await
            .unwrap_or_else(|e| panic!("{}: the live writer failed: {e}", db.name));
        writer
            .execute_unprepared(&format!(
                "UPDATE semantic_facts SET content = 'edited {writes}' WHERE id = 'fact-{}'",
                writes * 97 % 60_000 + 1
            ))
            .await
            .unwrap_or_else(|e| panic!("{}: the live writer failed: {e}", db.name));
    }
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}: {}", db.name, String::from_utf8_lossy(&out.stderr));
    assert!(writes > 20, "{}: the writer barely ran ({writes})", db.name);
    // Facts present before the run are all filled; new ones are filled or left for the next run.
    assert_eq!(
        column_of(
            &conn,
            "SELECT CAST(COUNT(*) AS TEXT) FROM semantic_facts WHERE id LIKE 'fact-%' AND temporal_metadata IS NULL"
        )
        .await,
        ["0"]
    );
    assert_eq!(column_of(&conn, wrong_metadata(conn.get_database_backend())).await, ["0"], "{}", db.name);
    // The writer's edits survived (the backfill writes only temporal_metadata).
    let edited =
        column_of(&conn, &format!("SELECT content FROM semantic_facts WHERE id = 'fact-{}'", writes * 97 % 60_000 + 1))
            .await;
    assert_eq!(edited, [format!("edited {writes}")]);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn verify_passes_then_fails_on_a_broken_index_or_bad_metadata(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    fill_facts(&conn, 50, true).await;
    assert!(run(&db, &["migrate"]).status.success());
    let out = run(&db, &["verify", "--json"]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{}: {report:#}", db.name);
    assert_eq!(keys(&report), set(&["target", "passed", "checks"]));
    assert!(report["checks"].as_array().expect("list").iter().all(|c| keys(c) == set(&["name", "status", "details"])));

    exec(
        &conn,
        "INSERT INTO semantic_facts (id, user_id, content, created_at, temporal_metadata) VALUES \
        ('zz-bad', 'u', 'c', '2025-01-01T00:00:00Z', '{\"confidence\": 0.5}')",
    )
    .await;
    let out = run(&db, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}: {text}", db.name);
    assert!(text.contains("FAIL  temporal metadata is valid") && text.contains("zz-bad"), "{text}");
    exec(&conn, "DELETE FROM semantic_facts WHERE id = 'zz-bad'").await;
    assert_eq!(run(&db, &["verify"]).status.code(), Some(0));

    exec(&conn, "DROP INDEX idx_semantic_facts_temporal").await;
    let out = run(&db, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}: {text}", db.name);
    assert!(text.contains("FAIL  temporal query uses idx_semantic_facts_temporal"), "{text}");
    assert!(text.contains("index idx_semantic_facts_temporal on semantic_facts is missing"), "{text}");
}

/// The drift check covers every table the migrations made, read from the database itself: in each
/// (but the runner's bookkeeping) one column is swapped for a binary column of the same name (so
/// `verify`'s own queries still run), and `verify` names each as drift. A table left out of the
/// check's list fails this test.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn verify_checks_every_table_the_migrations_made(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    assert!(run(&db, &["migrate"]).status.success());
    let bookkeeping = ["seaql_migrations", migration::fingerprint::TABLE];
    // The last column of each table, as the database lists them (`column T.C TYPE ...`).
    let mut swapped = std::collections::BTreeMap::new();
    for line in schema(&conn).await {
        let Some((table, column)) = line.strip_prefix("column ").and_then(|l| l.split(' ').next()?.split_once('.'))
        else {
            continue;
        };
        if !bookkeeping.contains(&table) {
            swapped.insert(table.to_owned(), column.to_owned());
        }
    }
    assert!(swapped.len() >= 8, "{}: the tables the migrations made: {swapped:?}", db.name);
    let binary = if backend == Backend::Sqlite { "BLOB" } else { "bytea" };
    for (table, column) in &swapped {
        exec(&conn, &format!("ALTER TABLE {table} RENAME COLUMN {column} TO {column}_was")).await;
        exec(&conn, &format!("ALTER TABLE {table} ADD COLUMN {column} {binary}")).await;
    }
    let out = run(&db, &["verify", "--json"]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{}: {report:#}", db.name);
    let drift = drift_check(&report);
    assert_eq!(drift["status"], "fail", "{drift:#}");
    let details: Vec<&str> = drift["details"].as_array().expect("list").iter().filter_map(Value::as_str).collect();
    for (table, column) in &swapped {
        let found = format!("column {table}.{column} is {binary}");
        assert!(
            details.iter().any(|d| d.to_lowercase().starts_with(&found.to_lowercase())),
            "{}: {found} in {details:#?}",
            db.name
        );
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn health_reports_coverage_confidence_and_consolidation(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    fill_facts(&conn, 200, true).await;
    assert!(run(&db, &["migrate"]).status.success());
    exec(&conn, "INSERT INTO semantic_facts (id, user_id, content, created_at) VALUES ('none-1', 'u', 'c', '2025-01-01T00:00:00Z'), ('none-2', 'u', 'c', '2025-01-01T00:00:00Z')").await;
    exec(&conn, "INSERT INTO consolidation_state (id, state_json, updated_at) VALUES \
        ('r1', '{\"status\": \"completed\", \"last_run\": \"2025-11-06T02:45:00Z\", \"progress\": {\"completed_users\": 90, \"failed_users\": 10, \"processed_experiences\": 4000}}', '2025-11-06T02:45:00Z'), \
        ('r2', '{\"status\": \"completed\", \"last_run\": \"2025-11-07T02:45:00Z\", \"progress\": {\"completed_users\": 100, \"failed_users\": 0, \"processed_experiences\": 5000}}', '2025-11-07T02:45:00Z')").await;
    let out = run(&db, &["health", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let all = json_of(&out);
    assert_eq!(keys(&all), set(&["target", "reachable", "stores"]));
    assert_eq!(all["target"], db.target.to_string());
    let h = &all["stores"]["sql"];
    assert_eq!(
        keys(h),
        set(&[
            "status",
            "total",
            "with_temporal",
            "coverage_percent",
            "confidence",
            "consolidation",
            "readable_by_others"
        ])
    );
    // The test's database was made by the tool, its owner's alone: nothing to warn about.
    assert_eq!(h["readable_by_others"], json!([]), "{}", db.name);
    assert_eq!((h["total"].clone(), h["with_temporal"].clone()), (json!(202), json!(200)), "{}", db.name);
    assert_eq!(h["coverage_percent"], json!(99.01));
    // fill_facts: confidence = (i % 100) / 100 for i in 1..=200.
    assert_eq!(h["confidence"], json!({"high": 40, "medium": 60, "low": 100}), "{}", db.name);
    assert_eq!(h["consolidation"][0]["last_run"], "2025-11-07T02:45:00Z");
    assert_eq!(h["consolidation"][0]["completed_users"], json!(100.0));
    assert_eq!(h["consolidation"][1]["failed_users"], json!(10.0));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn verify_finds_a_column_whose_type_drifted(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    assert!(run(&db, &["migrate"]).status.success());
    assert_eq!(run(&db, &["verify"]).status.code(), Some(0), "{}", db.name);
    // The same column, now text: present by name, wrong by type.
    exec(&conn, "ALTER TABLE user_skill_confidence DROP COLUMN usage_count").await;
    exec(&conn, "ALTER TABLE user_skill_confidence ADD COLUMN usage_count TEXT").await;
    let out = run(&db, &["verify", "--json"]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{}: {report:#}", db.name);
    let drift = drift_check(&report);
    assert_eq!(drift["status"], "fail", "{drift:#}");
    assert_eq!(
        drift["details"],
        json!(["column user_skill_confidence.usage_count is text, the model expects an integer"]),
        "{}",
        db.name
    );
}

/// `verify` compares NOT NULL too: a column that allows NULL where the model cannot read one is
/// named. The tables of the seed's layout are adopted as found, so their models allow NULL in
/// every column but the key, and a live NOT NULL there (as our own migrations make them, or here
/// added by hand) is no drift. (The other direction, on AICO's tables: `aico_schema.rs`.)
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn verify_finds_a_column_whose_nullability_drifted(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    fill_facts(&conn, 10, false).await;
    assert!(run(&db, &["migrate"]).status.success());
    assert!(run(&db, &["backfill"]).status.success());
    let out = run(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}: {}", db.name, String::from_utf8_lossy(&out.stdout));
    // The same columns with the same types: a key that allows NULL, and a column that no longer does.
    exec(&conn, "CREATE TABLE skills_was AS SELECT * FROM skills").await;
    exec(&conn, "DROP TABLE skills").await;
    exec(
        &conn,
        "CREATE TABLE skills (skill_id TEXT, skill_name TEXT NOT NULL, skill_type TEXT, trigger_context json, \
         procedure_template TEXT, dimensions json, created_at TEXT, updated_at TEXT)",
    )
    .await;
    let out = run(&db, &["verify", "--json"]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{}: {report:#}", db.name);
    let drift = drift_check(&report);
    assert_eq!(drift["status"], "fail", "{drift:#}");
    assert_eq!(
        drift["details"],
        json!([
            "column skills.skill_id allows NULL, the model expects NOT NULL (a row holding NULL there cannot be read)"
        ]),
        "{}",
        db.name
    );
}

/// A SQL database that cannot be opened, and the status `--store all` gives it.
#[derive(Clone, Copy, Debug)]
enum BadSql {
    /// A PostgreSQL server that does not answer: `unreachable`.
    PostgresDown,
    /// A SQLite file of random bytes (it looks encrypted, and no key opens it): `failed`.
    SqliteGarbage,
}

#[rstest]
#[case::postgres_down(BadSql::PostgresDown)]
#[case::sqlite_garbage(BadSql::SqliteGarbage)]
fn with_store_all_an_unopenable_sql_database_is_that_stores_status_and_the_others_run(#[case] bad: BadSql) {
    let dir = tempfile::tempdir().expect("dir");
    let (url, status, named) = match bad {
        BadSql::PostgresDown => (
            "postgres://u:s3cret@127.0.0.1:1/nowhere".to_owned(),
            "unreachable",
            "postgres://u:***@127.0.0.1:1/nowhere".to_owned(),
        ),
        BadSql::SqliteGarbage => {
            let path = dir.path().join("aico.db");
            let garbage: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
            std::fs::write(&path, garbage).expect("write");
            (format!("sqlite://{}", path.display()), "failed", path.display().to_string())
        }
    };
    let memory = dir.path().join("memory");
    let message =
        |i: u32| (format!("conv-1:2025-11-07T18:00:0{i}Z"), format!(r#"{{"timestamp": "2025-11-07T18:00:0{i}Z"}}"#));
    aico_tests::stores::lmdb_working_memory(&memory.join("working"), 1, (0..3).map(message));
    let memory = memory.to_string_lossy().into_owned();
    let all = ["--store", "all", "--memory-dir", &memory, "--chroma-url", "http://127.0.0.1:1", "--json"];
    let job = |name: &str, stores: &[&str]| {
        let out = command("aico-ams").arg(name).args(stores).env("DATABASE_URL", &url).output().expect("run");
        assert!(!aico_tests::text(&out).contains("s3cret"), "the password leaked: {}", aico_tests::text(&out));
        out
    };

    let out = job("backfill", &all);
    assert_eq!(out.status.code(), Some(1), "incomplete: {}", aico_tests::text(&out));
    let report = json_of(&out);
    let sql = &report["stores"]["sql"];
    assert_eq!(sql["status"], status, "{report:#}");
    assert!(sql["detail"].as_str().expect("detail").contains(&named), "{report:#}");
    assert_eq!(report["stores"]["lmdb"]["status"], "done", "{report:#}");
    assert_eq!(report["stores"]["lmdb"]["filled"], 3, "LMDB ran: {report:#}");
    assert_eq!(report["stores"]["chroma"]["status"], "unreachable", "{report:#}");
    assert_eq!(report["complete"], false);

    let out = job("verify", &all);
    assert_eq!(out.status.code(), Some(1), "{}", aico_tests::text(&out));
    let report = json_of(&out);
    let checks = report["checks"].as_array().expect("checks");
    let sql = checks.iter().find(|c| c["name"] == "SQL database").expect("the SQL store's check");
    assert_eq!(sql["status"], "fail", "{report:#}");
    assert!(sql["details"][0].as_str().expect("detail").starts_with(&format!("{status}: ")), "{report:#}");
    assert!(checks.iter().any(|c| c["name"] == "working memory (LMDB)" && c["status"] == "pass"), "{report:#}");

    let out = job("health", &all);
    assert_eq!(out.status.code(), Some(1), "{}", aico_tests::text(&out));
    let report = json_of(&out);
    assert_eq!(report["stores"]["sql"]["status"], status, "{report:#}");
    assert_eq!(report["stores"]["lmdb"]["with_temporal"], 3, "{report:#}");
    assert_eq!(report["reachable"], false);

    // In text, the SQL store's line, then the others'.
    let out = job("health", &all[..all.len() - 1]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("sql: {status}: ")) && text.contains("working memory (LMDB): 3 of 3"), "{text}");

    // Chosen alone, the SQL database's error ends the command, as before.
    for name in ["backfill", "verify", "health"] {
        let out = job(name, &["--store", "sql"]);
        let (code, line) = aico_tests::failed(&out);
        assert_eq!(code, 2, "{name}: {}", aico_tests::text(&out));
        assert!(line.contains(&named), "{name}: {line}");
    }
}

/// The drift check ("schema matches the migrations") of a `verify --json` report.
fn drift_check(report: &Value) -> Value {
    let checks = report["checks"].as_array().unwrap_or_else(|| panic!("no checks in {report:#}"));
    checks.iter().find(|c| c["name"] == "schema matches the migrations").expect("the drift check").clone()
}
