//! AICO's own databases, and tables of another shape: the migrations never adopt a table that
//! lacks a column they need (on SQLite and PostgreSQL), recognise a database AICO manages
//! (`_aico_schema_metadata`), adopt the AMS versions AICO applied itself, and the jobs work on
//! `user_memories`. The AICO databases are built with AICO's schema SQL (`aico_tests::aico`).

use std::collections::BTreeSet;
use std::process::Output;

use aico_tests::aico::{self, AicoVersion};
use aico_tests::{Backend, TestDb, applied, column_of, exec, failed, fingerprint, run_migrator, schema, text};
use rstest::rstest;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, IdenStatic, Iterable};

fn aico(db: &TestDb, args: &[&str]) -> Output {
    aico_tests::command("aico-ams").args(args).env("DATABASE_URL", &db.url).output().expect("run aico")
}

/// A table of the AMS's name but another shape, as another tool (or AICO's Memory Album) made it,
/// and the columns the migration that would adopt it finds missing.
const OTHER_SHAPES: [(&str, &str, &str); 3] = [
    (
        "semantic_facts",
        "CREATE TABLE semantic_facts (fact_id TEXT PRIMARY KEY, content TEXT)",
        "table semantic_facts exists without the column(s) id, created_at that the AMS needs",
    ),
    (
        "consolidation_state",
        "CREATE TABLE consolidation_state (user_id TEXT PRIMARY KEY, status TEXT, updated_at TEXT)",
        "table consolidation_state exists without the column(s) id, state_json that the AMS needs",
    ),
    (
        "feedback_events",
        "CREATE TABLE feedback_events (id TEXT PRIMARY KEY, user_uuid TEXT NOT NULL, conversation_id TEXT NOT NULL, \
         message_id TEXT, event_type TEXT NOT NULL, event_category TEXT NOT NULL, payload TEXT NOT NULL, \
         timestamp BIGINT NOT NULL)",
        "table feedback_events exists without the column(s) event_id, user_id, skill_id, reward, reason, free_text, \
         classified_categories, processed that the AMS needs",
    ),
];

#[rstest]
#[case::semantic_facts_sqlite(Backend::Sqlite, 0)]
#[case::semantic_facts_postgres(Backend::Postgres, 0)]
#[case::consolidation_state_sqlite(Backend::Sqlite, 1)]
#[case::consolidation_state_postgres(Backend::Postgres, 1)]
#[case::feedback_events_sqlite(Backend::Sqlite, 2)]
#[case::feedback_events_postgres(Backend::Postgres, 2)]
#[tokio::test]
async fn a_table_of_another_shape_is_never_adopted(#[case] backend: Backend, #[case] which: usize) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    let (table, ddl, message) = OTHER_SHAPES[which];
    exec(&conn, ddl).await;
    let before = schema(&conn).await;

    let out = run_migrator(&db.url, &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 1, "{}: {}", db.name, text(&out));
    assert!(line.contains(message), "{}: {line}", db.name);
    assert!(line.ends_with("nothing was changed"), "{}: {line}", db.name);
    assert_eq!(line.lines().count(), 1);
    assert_eq!(schema(&conn).await, before, "{}: {table} of another shape: the schema changed", db.name);
    assert!(applied(&conn).await.is_empty(), "{}", db.name);
}

/// A fresh SQLite file holding AICO's database at `at`, with `facts` facts.
async fn aico_db(at: AicoVersion, facts: usize) -> (TestDb, DatabaseConnection) {
    let db = TestDb::sqlite();
    let conn = db.connect().await;
    aico::build(&conn, at, facts).await;
    (db, conn)
}

#[tokio::test]
async fn below_version_12_the_migrator_stops_and_changes_nothing() {
    let (db, conn) = aico_db(AicoVersion::V11, 20).await;
    let before = schema(&conn).await;
    let versions = aico::version_tables(&conn).await;

    let out = run_migrator(&db.url, &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 1, "{}", text(&out));
    assert!(
        line.contains("AICO's database at its schema version 11")
            && line.contains("start AICO once to bring the database to version 13, then rerun"),
        "{line}"
    );
    let out = aico(&db, &["migrate"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("start AICO once to bring the database to version 13"), "{}", text(&out));

    assert_eq!(schema(&conn).await, before, "the schema changed");
    assert_eq!(aico::version_tables(&conn).await, versions, "AICO's version tables changed");
    assert!(applied(&conn).await.is_empty());
}

/// `up` on `db` stops (exit 1) with an error line saying each of `says`, and changes nothing.
async fn up_stops(db: &TestDb, conn: &DatabaseConnection, says: &[&str]) {
    let before = schema(conn).await;
    let out = run_migrator(&db.url, &["up"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 1, "{}", text(&out));
    for part in says {
        assert!(line.contains(part), "{line}");
    }
    assert_eq!(schema(conn).await, before, "the schema changed");
    assert!(applied(conn).await.is_empty(), "the failed run is rolled back whole");
}

/// Every table and index of AICO's Phase 3, as SQLite keeps them: type, name, table and SQL.
async fn phase3_objects(conn: &DatabaseConnection) -> Vec<String> {
    let tables: Vec<String> = migration::aico_phase3::TABLES.iter().map(|t| format!("'{t}'")).collect();
    let objects = column_of(
        conn,
        &format!(
            "SELECT type || ' ' || name || ' on ' || tbl_name || ': ' || coalesce(sql, '') FROM sqlite_master \
             WHERE tbl_name IN ({}) ORDER BY type, name",
            tables.join(", ")
        ),
    )
    .await;
    assert_eq!(objects.iter().filter(|o| o.starts_with("table ")).count(), 6, "{objects:#?}");
    objects
}

/// No index names a non-column: every indexed expression is a JSON path of `temporal_metadata`
/// (SQLite's double-quoted-string fallback would index a string constant, an expression too).
async fn index_columns_exist(conn: &DatabaseConnection) {
    let bad = column_of(
        conn,
        "SELECT i.name || ' on ' || i.tbl_name || ': ' || coalesce(c.name, '<expr>') FROM sqlite_master i, \
         pragma_index_xinfo(i.name) c WHERE i.type = 'index' AND c.key = 1 AND c.cid = -2 \
         AND i.sql NOT LIKE '%json_extract%'",
    )
    .await;
    assert!(bad.is_empty(), "indexes on expressions that are not AICO's: {bad:?}");
}

#[rstest]
#[case::v13(AicoVersion::V13)]
#[case::v18_hand_repaired(AicoVersion::V18)]
#[tokio::test]
async fn up_adopts_what_aico_applied_and_never_touches_the_memory_album(#[case] at: AicoVersion) {
    let (db, conn) = aico_db(at, 40).await;
    let before = schema(&conn).await;
    let versions = aico::version_tables(&conn).await;
    let album = fingerprint(&conn, "feedback_events", &["id", "user_uuid", "payload", "timestamp"], "id").await;

    let out = run_migrator(&db.url, &["status"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("AICO's schema version {}", at.number())), "{}", text(&out));

    let out = run_migrator(&db.url, &["up"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        applied(&conn).await,
        [
            "m0000_semantic_facts_baseline",
            "m0001_temporal_metadata",
            "m0002_consolidation_state",
            "m0003_behavioral_learning"
        ]
    );
    let after = schema(&conn).await;
    let added: Vec<&String> = after
        .difference(&before)
        .filter(|l| !l.contains("seaql_migrations") && !l.contains(migration::fingerprint::TABLE))
        .collect();
    let removed: Vec<&String> = before.difference(&after).collect();
    assert!(removed.is_empty(), "{removed:?}");
    assert!(!after.contains("table semantic_facts"), "no semantic_facts on AICO's database");
    match at {
        AicoVersion::V18 => assert!(added.is_empty(), "AICO applied every phase; added {added:?}"),
        _ => {
            // AICO's failed version 14 left these two; up adopts them and makes the other four.
            assert!(before.contains("table skills") && before.contains("table user_skill_confidence"));
            for table in
                ["trajectories", "context_skill_stats", "context_preference_vectors", "ams_behavioral_feedback"]
            {
                assert!(added.contains(&&format!("table {table}")), "{table} missing: {added:?}");
            }
            assert!(added.iter().all(|l| !l.contains(" on feedback_events") && !l.contains("feedback_events.")));
            assert!(!added.iter().any(|l| l.contains("classified_categories")), "{added:?}");
            // Exactly what AICO's own versions 14, 15 and 18 make, down to the SQL SQLite keeps.
            let (_v18, v18) = aico_db(AicoVersion::V18, 0).await;
            assert_eq!(phase3_objects(&conn).await, phase3_objects(&v18).await);
        }
    }
    index_columns_exist(&conn).await;
    assert_eq!(aico::version_tables(&conn).await, versions, "AICO's version tables changed");
    let album_after = fingerprint(&conn, "feedback_events", &["id", "user_uuid", "payload", "timestamp"], "id").await;
    assert_eq!(album_after, album, "the Memory Album's feedback_events changed");

    let out = aico(&db, &["migrate", "--status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["aico"]["schema_version"], at.number());
    let by_aico: Vec<&str> =
        status["aico"]["applied_by_aico"].as_array().expect("list").iter().filter_map(|v| v.as_str()).collect();
    match at {
        AicoVersion::V18 => assert_eq!(by_aico.len(), 4, "{by_aico:?}"),
        _ => assert_eq!(
            by_aico,
            ["m0000_semantic_facts_baseline", "m0001_temporal_metadata", "m0002_consolidation_state"]
        ),
    }
    // The phases AICO made are recorded as found; the Phase 3 we made is held to what the
    // migration makes, as on the seed's layout.
    for m in status["migrations"].as_array().expect("list") {
        let ours = m["name"] == "m0003_behavioral_learning" && at != AicoVersion::V18;
        let expected = if ours { "matches" } else { "not compared" };
        assert_eq!(m["fingerprint"], expected, "{at:?}: {m}");
    }
}

/// The seed's initial metadata for a fact created at `created` (as AICO stored it), worked out
/// here by hand: RFC 3339 with `Z`, a fraction of 3 or 6 digits when it is not zero.
fn expected_metadata(created: &str) -> String {
    let (base, fraction) = created.split_once('.').unwrap_or((created, ""));
    let fraction = match fraction.trim_end_matches('0') {
        "" => String::new(),
        f if f.len() <= 3 => format!(".{}", &fraction[..3]),
        _ => format!(".{fraction}"),
    };
    let t = format!("{}{fraction}Z", base.replace(' ', "T"));
    format!(
        r#"{{"created_at":"{t}","last_updated":"{t}","last_accessed":"{t}","access_count":0,"confidence":1.0,"version":1,"superseded_by":null}}"#
    )
}

#[test]
fn expected_metadata_writes_both_of_aicos_forms_in_rfc3339_with_z() {
    assert!(expected_metadata("2025-09-01 10:00:00").contains(r#""created_at":"2025-09-01T10:00:00Z""#));
    assert!(
        expected_metadata("2025-09-01T10:00:00.123456").contains(r#""last_accessed":"2025-09-01T10:00:00.123456Z""#)
    );
    assert!(expected_metadata("2025-09-01T10:00:00.120000").contains(r#""last_updated":"2025-09-01T10:00:00.120Z""#));
}

#[rstest]
#[case::v13(AicoVersion::V13)]
#[case::v18_hand_repaired(AicoVersion::V18)]
#[tokio::test]
async fn migrate_backfill_verify_and_health_work_on_user_memories(#[case] at: AicoVersion) {
    let facts = 1_200;
    let (db, conn) = aico_db(at, facts).await;
    exec(
        &conn,
        &format!(
            "INSERT INTO consolidation_state (user_id, last_consolidation_at, messages_consolidated, memories_created, \
             status) VALUES ('{}', '2025-11-07 02:45:00', 42, 7, 'completed')",
            aico::USER
        ),
    )
    .await;
    let versions = aico::version_tables(&conn).await;
    let others = fingerprint(&conn, "user_memories", aico::FACT_COLUMNS, "fact_id").await;
    let album = fingerprint(&conn, "feedback_events", &["id", "user_uuid", "payload", "timestamp"], "id").await;
    let consolidation =
        fingerprint(&conn, "consolidation_state", &["user_id", "status", "updated_at"], "user_id").await;
    let missing = column_of(&conn, "SELECT CAST(COUNT(*) AS TEXT) FROM user_memories WHERE temporal_metadata IS NULL");
    assert_eq!(missing.await, [facts.to_string()], "AICO never fills the facts it had before version 12");

    let out = run_migrator(&db.url, &["up"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = aico(&db, &["backfill", "--batch-size", "500", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["stores"]["sql"]["without_temporal"], facts, "{report}");
    assert_eq!(report["stores"]["sql"]["filled"], facts, "{report}");
    assert_eq!(report["stores"]["sql"]["batches"], 3, "{report}");

    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT fact_id, created_at, temporal_metadata FROM user_memories ORDER BY fact_id",
        ))
        .await
        .expect("facts");
    assert_eq!(rows.len(), facts);
    let by_id: std::collections::HashMap<String, usize> = (0..facts).map(|i| (aico::uuid4(i as u64), i)).collect();
    for row in rows {
        let id: String = row.try_get("", "fact_id").expect("fact_id");
        let created: String = row.try_get("", "created_at").expect("created_at");
        let meta: Option<String> = row.try_get("", "temporal_metadata").expect("metadata");
        let i = by_id.get(&id).unwrap_or_else(|| panic!("unknown fact {id}"));
        assert_eq!(created, aico::created_at(*i), "fact {id}: created_at changed");
        assert_eq!(meta.as_deref(), Some(expected_metadata(&created).as_str()), "fact {id}");
    }
    assert_eq!(fingerprint(&conn, "user_memories", aico::FACT_COLUMNS, "fact_id").await, others, "a column changed");

    let out = aico(&db, &["backfill", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(again["stores"]["sql"]["filled"], 0, "a second run writes nothing: {again}");

    let out = aico(&db, &["verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("idx_user_memories_temporal"), "{}", text(&out));

    let out = aico(&db, &["health", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let health = &json["stores"]["sql"];
    assert_eq!(health["total"], facts, "{health}");
    assert_eq!(health["with_temporal"], facts, "{health}");
    assert_eq!(health["confidence"]["high"], facts, "{health}");
    assert_eq!(health["consolidation"][0]["user_id"], aico::USER, "{health}");
    assert_eq!(health["consolidation"][0]["status"], "completed", "{health}");
    assert_eq!(health["consolidation"][0]["processed_experiences"], 42.0, "{health}");

    index_columns_exist(&conn).await;
    assert_eq!(aico::version_tables(&conn).await, versions, "AICO's version tables changed");
    let album_after = fingerprint(&conn, "feedback_events", &["id", "user_uuid", "payload", "timestamp"], "id").await;
    assert_eq!(album_after, album, "the Memory Album's feedback_events changed");
    let consolidation_after =
        fingerprint(&conn, "consolidation_state", &["user_id", "status", "updated_at"], "user_id").await;
    assert_eq!(consolidation_after, consolidation, "AICO's consolidation_state changed");
}

/// The column names of entity `E`.
fn model_columns<E: EntityTrait>() -> BTreeSet<String> {
    E::Column::iter().map(|c| c.as_str().to_owned()).collect()
}

#[rstest]
#[case::v13(AicoVersion::V13)]
#[case::v18_hand_repaired(AicoVersion::V18)]
#[tokio::test]
async fn generated_aico_models_match_a_database_built_the_way_aico_builds_it(#[case] at: AicoVersion) {
    let (db, conn) = aico_db(at, 3).await;
    let out = run_migrator(&db.url, &["up"]);
    assert!(out.status.success(), "{}", text(&out));
    for (table, model) in [
        ("user_memories", model_columns::<entity::aico::user_memories::Entity>()),
        ("consolidation_state", model_columns::<entity::aico::consolidation_state::Entity>()),
        ("skills", model_columns::<entity::aico::skills::Entity>()),
        ("user_skill_confidence", model_columns::<entity::aico::user_skill_confidence::Entity>()),
        ("trajectories", model_columns::<entity::aico::trajectories::Entity>()),
        ("context_skill_stats", model_columns::<entity::aico::context_skill_stats::Entity>()),
        ("context_preference_vectors", model_columns::<entity::aico::context_preference_vectors::Entity>()),
        ("ams_behavioral_feedback", model_columns::<entity::aico::ams_behavioral_feedback::Entity>()),
    ] {
        let live: BTreeSet<String> =
            column_of(&conn, &format!("SELECT name FROM pragma_table_info('{table}')")).await.into_iter().collect();
        assert_eq!(model, live, "{table}: the generated model and AICO's table differ");
    }
    let out = aico(&db, &["verify"]);
    assert!(out.status.success(), "{}", text(&out));

    // The same check in `aico-ams verify` finds a column AICO's table lacks.
    exec(&conn, "ALTER TABLE consolidation_state RENAME COLUMN messages_consolidated TO messages_done").await;
    let out = aico(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Said once: the column is one of AICO's, named as such.
    assert!(
        text(&out).contains("column consolidation_state.messages_consolidated (AICO's) is missing"),
        "{}",
        text(&out)
    );
    // And a Phase 3 table in the seed's shape instead of AICO's.
    exec(&conn, "ALTER TABLE skills RENAME COLUMN dimension_vector TO dimensions").await;
    let out = aico(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out)
            .lines()
            .filter(|l| l.contains("column skills.dimension_vector ") && l.ends_with("is missing"))
            .count()
            == 1,
        "{}",
        text(&out)
    );
    // And NOT NULL where AICO's model, which follows AICO's own statements, allows NULL.
    assert!(!text(&out).contains("error_message"), "{}", text(&out));
    exec(&conn, "ALTER TABLE consolidation_state DROP COLUMN error_message").await;
    exec(&conn, "ALTER TABLE consolidation_state ADD COLUMN error_message TEXT NOT NULL DEFAULT ''").await;
    let out = aico(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("column consolidation_state.error_message is NOT NULL, the model allows NULL"),
        "{}",
        text(&out)
    );
}

/// At version 13, a Phase 3 table of another shape where AICO's is expected (here the seed's
/// `skills`, with `dimensions`), and what `up` says.
const OTHER_PHASE3_SHAPES: [(&str, &str); 2] = [
    (
        "CREATE TABLE skills (skill_id TEXT PRIMARY KEY, skill_name TEXT NOT NULL, skill_type TEXT NOT NULL, \
         trigger_context TEXT NOT NULL, procedure_template TEXT NOT NULL, dimensions TEXT NOT NULL, \
         created_at TIMESTAMP, updated_at TIMESTAMP)",
        "table skills exists without the column(s) dimension_vector that the AMS needs",
    ),
    (
        "CREATE TABLE ams_behavioral_feedback (id TEXT PRIMARY KEY, payload TEXT)",
        "table ams_behavioral_feedback exists without the column(s) event_id, user_id, message_id, skill_id, reward, \
         reason, free_text, timestamp, processed that the AMS needs",
    ),
];

#[rstest]
#[case::seed_shaped_skills(0)]
#[case::another_ams_behavioral_feedback(1)]
#[tokio::test]
async fn at_version_13_a_phase3_table_of_another_shape_is_never_adopted(#[case] which: usize) {
    let (db, conn) = aico_db(AicoVersion::V13, 5).await;
    let (ddl, message) = OTHER_PHASE3_SHAPES[which];
    exec(&conn, "DROP TABLE user_skill_confidence").await;
    exec(&conn, "DROP TABLE skills").await;
    exec(&conn, ddl).await;
    up_stops(&db, &conn, &[message]).await;
}

#[tokio::test]
async fn at_version_13_a_trajectories_of_aicos_version_14_is_adopted_and_gains_message_id() {
    let (db, conn) = aico_db(AicoVersion::V13, 5).await;
    let v14 = migration::aico_phase3::V14;
    let (_, trajectories) =
        v14.iter().find(|(t, sql)| *t == "trajectories" && sql.starts_with("CREATE TABLE")).expect("v14");
    exec(&conn, trajectories).await;
    exec(
        &conn,
        &format!(
            "INSERT INTO trajectories (trajectory_id, user_id, conversation_id, turn_number, user_input, ai_response) \
             VALUES ('t1', '{}', 'conv-1', 1, 'hello', 'hi')",
            aico::USER
        ),
    )
    .await;
    let row = ["trajectory_id", "user_id", "conversation_id", "turn_number", "user_input", "ai_response", "timestamp"];
    let rows = fingerprint(&conn, "trajectories", &row, "trajectory_id").await;

    let out = run_migrator(&db.url, &["up"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fingerprint(&conn, "trajectories", &row, "trajectory_id").await, rows, "the row changed");
    let s = schema(&conn).await;
    assert!(s.contains("column trajectories.message_id text"), "{s:#?}");
    assert!(s.contains("index idx_trajectories_message on trajectories"), "{s:#?}");
    assert!(s.contains("index idx_trajectories_user_feedback on trajectories"), "{s:#?}");
}

#[tokio::test]
async fn at_version_13_rollback_drops_our_phase3_with_a_backup_and_never_the_memory_album() {
    let (db, conn) = aico_db(AicoVersion::V13, 5).await;
    let album = fingerprint(&conn, "feedback_events", &["id", "user_uuid", "payload", "timestamp"], "id").await;
    let versions = aico::version_tables(&conn).await;
    let out = run_migrator(&db.url, &["up"]);
    assert!(out.status.success(), "{}", text(&out));
    exec(
        &conn,
        "INSERT INTO skills (skill_id, skill_name, skill_type, trigger_context, procedure_template, dimension_vector) \
         VALUES ('casual_chat', 'Casual Chat', 'base', '{}', 'Be friendly.', '[0.5]')",
    )
    .await;

    let out = run_migrator(&db.url, &["down"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(".m0003.backup-"), "{}", text(&out));
    let s = schema(&conn).await;
    for table in migration::aico_phase3::TABLES {
        assert!(!s.contains(&format!("table {table}")), "{table} is still there");
    }
    assert!(s.contains("table feedback_events"), "the Memory Album's table was dropped");
    assert_eq!(
        fingerprint(&conn, "feedback_events", &["id", "user_uuid", "payload", "timestamp"], "id").await,
        album,
        "the Memory Album's feedback_events changed"
    );
    assert_eq!(aico::version_tables(&conn).await, versions, "AICO's version tables changed");
    assert_eq!(applied(&conn).await.len(), 3);

    // And up again makes it once more, as AICO's statements make it.
    let out = run_migrator(&db.url, &["up"]);
    assert!(out.status.success(), "{}", text(&out));
    let (_v18, v18) = aico_db(AicoVersion::V18, 0).await;
    assert_eq!(phase3_objects(&conn).await, phase3_objects(&v18).await);
}

#[tokio::test]
async fn at_version_12_phase_1_is_adopted_and_phase_2_waits_for_aico() {
    let (db, conn) = aico_db(AicoVersion::V12, 20).await;
    let before = schema(&conn).await;
    let versions = aico::version_tables(&conn).await;

    // Phase 2 would create a consolidation_state that AICO's own version 13 cannot use: stop.
    let says = ["m0002_consolidation_state", "start AICO once to bring the database to version 13, then rerun"];
    up_stops(&db, &conn, &says).await;

    // Phase 1 alone is AICO's version 12: recorded as applied, nothing of AICO's changed.
    let out = run_migrator(&db.url, &["up", "-n", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(applied(&conn).await, ["m0000_semantic_facts_baseline", "m0001_temporal_metadata"]);
    let after: BTreeSet<String> = schema(&conn)
        .await
        .into_iter()
        .filter(|l| !l.contains("seaql_migrations") && !l.contains(migration::fingerprint::TABLE))
        .collect();
    assert_eq!(after, before, "adopting AICO's Phase 1 changed the schema");
    assert_eq!(aico::version_tables(&conn).await, versions, "AICO's version tables changed");
}

#[tokio::test]
async fn between_versions_14_and_17_phase_3_waits_for_aico() {
    let (db, conn) = aico_db(AicoVersion::V13, 5).await;
    for sql in aico::repaired_version_14() {
        exec(&conn, sql).await;
    }
    exec(&conn, "UPDATE _aico_schema_metadata SET value = '14' WHERE key = 'schema_version'").await;
    let says = [
        "AICO's database at its schema version 14, with only part of AICO's Phase 3",
        "start AICO once to bring the database to version 18, then rerun",
    ];
    up_stops(&db, &conn, &says).await;
}

#[tokio::test]
async fn fresh_is_refused_on_aicos_database() {
    let (db, conn) = aico_db(AicoVersion::V13, 5).await;
    let before = schema(&conn).await;
    let out = run_migrator(&db.url, &["fresh"]);
    let (code, line) = failed(&out);
    assert_eq!(code, 1, "{}", text(&out));
    assert!(line.contains("fresh would drop every table of AICO's"), "{line}");
    assert_eq!(schema(&conn).await, before, "the schema changed");
}

#[tokio::test]
async fn a_fact_whose_created_at_is_unreadable_is_listed_by_its_fact_id() {
    let (db, conn) = aico_db(AicoVersion::V13, 10).await;
    let bad = aico::uuid4(3);
    exec(&conn, &format!("UPDATE user_memories SET created_at = 'sometime' WHERE fact_id = '{bad}'")).await;
    let out = run_migrator(&db.url, &["up"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = aico(&db, &["backfill", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let sql = &report["stores"]["sql"];
    assert_eq!(sql["filled"], 9, "{report}");
    assert_eq!(sql["bad_count"], 1, "{report}");
    assert_eq!(sql["bad_items"][0]["id"], bad, "{report}");
    let query = format!("SELECT coalesce(temporal_metadata, 'NULL') FROM user_memories WHERE fact_id = '{bad}'");
    assert_eq!(column_of(&conn, &query).await, ["NULL"], "a bad row is left as it was");
}
