//! AICO's own PostgreSQL database (2026) as AICO's schema file builds it, on PostgreSQL 18 with
//! pgvector (issue 28): the migrations adopt AICO's AMS in `aico_core` and make nothing but our
//! bookkeeping in `aico_ams`; AICO's file runs again cleanly afterwards; missing objects are made
//! exactly as AICO's file makes them; a same-named object of another shape is refused; the facts
//! backfill fills `ams_user_memories` so that AICO's index functions read the same instant in any
//! session time zone.

use aico_tests::pg18::{AicoPg, aico_core_catalog, aico_pg18, apply_aico_schema, insert_aico_rows, psql};
use aico_tests::{TestDb, column_of, command, json_of, migrator, text};
use sea_orm::DatabaseConnection;

/// Every relation outside PostgreSQL's own schemas, `schema.name kind`, in order.
const RELATIONS: &str = "SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c \
                         JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
                         AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%' ORDER BY 1";

/// The relations outside our own schema `aico_ams`.
async fn not_ours(conn: &DatabaseConnection) -> Vec<String> {
    column_of(conn, RELATIONS).await.into_iter().filter(|r| !r.starts_with("aico_ams.")).collect()
}

async fn connect(db: &TestDb) -> DatabaseConnection {
    sea_orm::Database::connect(db.url.as_str()).await.expect("connect")
}

/// Every column of AICO's facts but `temporal_metadata`, row by row, as text (NULL spelled `∅`),
/// in key order.
async fn facts_but_metadata(conn: &DatabaseConnection) -> Vec<String> {
    let parts: Vec<String> = column_of(
        conn,
        "SELECT format('coalesce(%I::text, ''∅'')', attname) FROM pg_attribute \
         WHERE attrelid = 'aico_core.ams_user_memories'::regclass AND attnum > 0 AND NOT attisdropped \
         AND attname <> 'temporal_metadata' ORDER BY attnum",
    )
    .await;
    column_of(conn, &format!("SELECT {} FROM aico_core.ams_user_memories ORDER BY fact_id", parts.join(" || '|' || ")))
        .await
}

#[tokio::test]
async fn up_on_aicos_own_schema_makes_only_our_bookkeeping_and_aico_reapplies_its_file() {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = connect(&db).await;
    insert_aico_rows(&conn, 50).await;
    let (catalog, relations) = (aico_core_catalog(&conn).await, not_ours(&conn).await);

    let out = migrator(&db.url, &["up"]).output().expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("AICO's own PostgreSQL database"), "the target line says so: {}", text(&out));
    assert_eq!(not_ours(&conn).await, relations, "up made something outside aico_ams");
    assert_eq!(aico_core_catalog(&conn).await, catalog, "up changed aico_core");
    assert_eq!(
        column_of(&conn, "SELECT relname::text FROM pg_class WHERE relnamespace = 'aico_ams'::regnamespace AND relkind = 'r' ORDER BY 1").await,
        ["ams_migration_fingerprints", "seaql_migrations"]
    );
    let status = migrator(&db.url, &["status"]).output().expect("run");
    assert_eq!(text(&status).matches("adopted  m000").count(), 4, "{}", text(&status));

    // AICO re-applies its file (`aico pg init`): nothing fails, nothing changes.
    let again = apply_aico_schema(&db);
    assert!(again.success, "{}", again.stderr);
    assert_eq!(aico_core_catalog(&conn).await, catalog);

    // Rolling back drops nothing of AICO's; fresh is refused.
    let out = migrator(&db.url, &["down", "--num", "4"]).output().expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(aico_core_catalog(&conn).await, catalog, "the rollback changed aico_core");
    let out = migrator(&db.url, &["--force", "fresh"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("AICO's own database"), "{}", text(&out));
    assert_eq!(aico_core_catalog(&conn).await, catalog, "fresh changed aico_core");
    assert_eq!(column_of(&conn, "SELECT count(*)::text FROM aico_core.ams_user_memories").await, ["50"]);
    conn.close().await.ok();
}

#[tokio::test]
async fn backfill_dates_every_fact_so_that_aicos_index_functions_read_the_same_instant_in_any_time_zone() {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = connect(&db).await;
    let n = 600;
    insert_aico_rows(&conn, n).await;
    let others = facts_but_metadata(&conn).await;
    assert!(migrator(&db.url, &["up"]).status().expect("up").success());

    let args = ["backfill", "--batch-size", "100", "--json"];
    let out = command("aico-ams").args(args).env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sql = &json_of(&out)["stores"]["sql"];
    assert_eq!((sql["without_temporal"].as_u64(), sql["filled"].as_u64()), (Some(n as u64), Some(n as u64)), "{sql:#}");

    assert_eq!(facts_but_metadata(&conn).await, others, "another column changed");
    // The instant AICO's index function reads is the fact's date, whatever the session's zone.
    for zone in ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"] {
        // One connection, so that the session's zone is the one the query runs in.
        let mut one = sea_orm::ConnectOptions::new(db.url.as_str());
        one.max_connections(1).sqlx_logging(false);
        let session = sea_orm::Database::connect(one).await.expect("connect");
        aico_tests::exec(&session, &format!("SET TimeZone = '{zone}'")).await;
        let wrong = column_of(
            &session,
            "SELECT count(*)::text FROM aico_core.ams_user_memories WHERE \
                 aico_core.jsonb_extract_timestamptz_immutable(temporal_metadata, 'last_accessed') \
                 IS DISTINCT FROM coalesce(created_at, valid_from) \
                 OR aico_core.jsonb_extract_timestamptz_immutable(temporal_metadata, 'created_at') \
                 IS DISTINCT FROM coalesce(created_at, valid_from)",
        )
        .await;
        assert_eq!(wrong, ["0"], "in {zone}");
        session.close().await.ok();
    }
    let shapes = column_of(
        &conn,
        "SELECT DISTINCT (temporal_metadata::jsonb ->> 'created_at' LIKE '%Z')::text || ' ' || \
         (temporal_metadata::jsonb ->> 'confidence') || ' ' || (temporal_metadata::jsonb ->> 'access_count') \
         FROM aico_core.ams_user_memories",
    )
    .await;
    assert_eq!(shapes, ["true 1.0 0"], "every instant written with Z; AICO's starting values");

    let again = command("aico-ams").args(["backfill", "--json"]).env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(json_of(&again)["stores"]["sql"]["filled"], 0, "{}", text(&again));
    let verify = command("aico-ams").arg("verify").env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    assert!(text(&verify).contains("Index Scan Backward using idx_user_memories_temporal"), "{}", text(&verify));
    let health = command("aico-ams").args(["health", "--json"]).env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(json_of(&health)["stores"]["sql"]["coverage_percent"], 100.0, "{}", text(&health));
    conn.close().await.ok();
}

/// The facts whose metadata holds an instant without an offset (AICO's index functions cast it to
/// `timestamptz` in the session's TimeZone) are counted by `verify` and `health`, as the segments'
/// and the working memory's are; an offset written as `+00:00` or `+0530` is one.
#[tokio::test]
async fn verify_and_health_count_the_facts_whose_instants_lack_an_offset() {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = connect(&db).await;
    insert_aico_rows(&conn, 40).await;
    assert!(migrator(&db.url, &["up"]).status().expect("up").success());
    let out = command("aico-ams").args(["backfill", "--json"]).env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let naive = |db: &TestDb| {
        let verify = command("aico-ams").args(["verify", "--json"]).env("DATABASE_URL", &db.url).output().expect("run");
        let verify = json_of(&verify);
        let check = verify["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["name"] == "facts with temporal metadata")
            .cloned()
            .expect("the coverage check");
        let health = command("aico-ams").args(["health", "--json"]).env("DATABASE_URL", &db.url).output().expect("run");
        (check, json_of(&health)["stores"]["sql"]["without_offset"].clone(), verify["passed"].clone())
    };
    let (check, health, passed) = naive(&db);
    assert_eq!(check["details"][1], "0 facts have a created_at or last_accessed without an offset", "{check}");
    assert_eq!((health, passed), (serde_json::json!(0), serde_json::json!(true)));

    // Five facts as AICO's naive `isoformat()` writes every instant, three with only a naive
    // `last_accessed`, two with an offset other than `Z`.
    let some = |offset: u32, limit: u32| {
        format!(
            "fact_id IN (SELECT fact_id FROM aico_core.ams_user_memories ORDER BY fact_id OFFSET {offset} LIMIT {limit})"
        )
    };
    let set = |key: &str, value: &str, rows: String| {
        format!(
            "UPDATE aico_core.ams_user_memories SET temporal_metadata = \
             jsonb_set(CAST(temporal_metadata AS jsonb), '{{{key}}}', '\"{value}\"')::text WHERE {rows}"
        )
    };
    aico_tests::exec(
        &conn,
        &format!(
            "UPDATE aico_core.ams_user_memories SET temporal_metadata = replace(temporal_metadata, 'Z\"', '\"') WHERE {}",
            some(0, 5)
        ),
    )
    .await;
    aico_tests::exec(&conn, &set("last_accessed", "2025-11-07T18:00:00.250", some(5, 3))).await;
    aico_tests::exec(&conn, &set("created_at", "2025-11-07T18:00:00+00:00", some(8, 1))).await;
    aico_tests::exec(&conn, &set("last_accessed", "2025-11-07T23:30:00+0530", some(9, 1))).await;
    let (check, health, passed) = naive(&db);
    assert_eq!(check["details"][1], "8 facts have a created_at or last_accessed without an offset", "{check}");
    assert_eq!(check["status"], "pass", "counted, as the segments' are, not failed");
    assert_eq!((health, passed), (serde_json::json!(8), serde_json::json!(true)));
    conn.close().await.ok();
}

#[tokio::test]
async fn missing_objects_are_made_exactly_as_aicos_file_makes_them() {
    let Some(reference) = aico_pg18(AicoPg::AsFile).await else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let (reference_conn, conn) = (connect(&reference).await, connect(&db).await);
    let removed = psql(
        &db,
        "SET search_path TO aico_core, public; DROP INDEX idx_user_memories_temporal; \
         DROP FUNCTION jsonb_extract_double_immutable(text, text); DROP TABLE ams_consolidation_state; \
         DROP TABLE ams_trajectories; ALTER TABLE ams_user_memories DROP COLUMN temporal_metadata CASCADE",
    );
    assert!(removed.success, "{}", removed.stderr);
    assert_ne!(aico_core_catalog(&conn).await, aico_core_catalog(&reference_conn).await);

    let out = migrator(&db.url, &["up"]).output().expect("run");
    assert!(out.status.success(), "{}", text(&out));
    // The dropped column comes back last, where AICO's file has it before `language`.
    let column_order = |lines: Vec<String>| {
        lines.into_iter().filter(|l| !l.starts_with("column ams_user_memories.")).collect::<Vec<_>>()
    };
    assert_eq!(
        column_order(aico_core_catalog(&conn).await),
        column_order(aico_core_catalog(&reference_conn).await),
        "not made as AICO's file makes them"
    );
    let again = apply_aico_schema(&db);
    assert!(again.success, "AICO's file after our up: {}", again.stderr);
    let mut ours = aico_core_catalog(&conn).await;
    let mut theirs = aico_core_catalog(&reference_conn).await;
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    reference_conn.close().await.ok();
    conn.close().await.ok();
}

#[rstest::rstest]
#[case::index_of_another_definition(
    "DROP INDEX aico_core.idx_user_memories_superseded; \
     CREATE INDEX idx_user_memories_superseded ON aico_core.ams_user_memories (fact_id)",
    "index aico_core.idx_user_memories_superseded is `CREATE INDEX idx_user_memories_superseded ON ams_user_memories USING btree (fact_id)`"
)]
#[case::function_of_another_body(
    "CREATE OR REPLACE FUNCTION aico_core.jsonb_extract_text_immutable(data TEXT, path TEXT) RETURNS TEXT AS \
     $$ BEGIN RETURN 'x'; END; $$ LANGUAGE plpgsql IMMUTABLE",
    "function aico_core.jsonb_extract_text_immutable returns text (immutable) with the body `BEGIN RETURN 'x'; END;`"
)]
#[case::timestamp_as_text(
    "ALTER TABLE aico_core.ams_behavioral_feedback ALTER COLUMN timestamp TYPE TEXT USING timestamp::text",
    "table aico_core.ams_behavioral_feedback has timestamp as text where AICO's schema says timestamp with time zone"
)]
#[tokio::test]
async fn a_same_named_object_of_another_shape_is_refused_naming_it(#[case] drift: &str, #[case] message: &str) {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let drifted = psql(&db, drift);
    assert!(drifted.success, "{}", drifted.stderr);
    let conn = connect(&db).await;
    let (catalog, relations) = (aico_core_catalog(&conn).await, not_ours(&conn).await);

    let out = migrator(&db.url, &["up"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(message), "{message:?} missing from: {}", text(&out));
    assert!(text(&out).contains("it is not AICO's, and is left as it is"), "{}", text(&out));
    assert_eq!(aico_core_catalog(&conn).await, catalog);
    assert_eq!(not_ours(&conn).await, relations);
    assert_eq!(
        column_of(&conn, "SELECT (to_regclass('aico_ams.seaql_migrations') IS NULL)::text").await,
        ["true"],
        "the run was not rolled back whole"
    );
    conn.close().await.ok();
}

#[rstest::rstest]
#[case::tenant_id(AicoPg::TenantId)]
#[case::vector_384(AicoPg::Vector384)]
#[case::vector_in_public(AicoPg::VectorInPublic)]
#[tokio::test]
async fn drifted_databases_that_keep_aicos_ams_are_migrated_and_backfilled(#[case] variant: AicoPg) {
    let Some(db) = aico_pg18(variant).await else { return };
    let conn = connect(&db).await;
    insert_aico_rows(&conn, 40).await;
    let others = facts_but_metadata(&conn).await;
    let out = migrator(&db.url, &["up"]).output().expect("run");
    assert!(out.status.success(), "{variant:?}: {}", text(&out));
    let out = command("aico-ams").args(["backfill", "--json"]).env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{variant:?}: {}", text(&out));
    assert_eq!(json_of(&out)["stores"]["sql"]["filled"], 40);
    assert_eq!(facts_but_metadata(&conn).await, others);
    let verify = command("aico-ams").arg("verify").env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(verify.status.code(), Some(0), "{variant:?}: {}", text(&verify));
    conn.close().await.ok();
}

#[tokio::test]
async fn a_backfill_killed_at_random_moments_ends_as_an_uninterrupted_one() {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = connect(&db).await;
    // 20,000 facts (AICO's function indexes make each write slow enough to be killed mid-run).
    let made = psql(
        &db,
        "SET search_path TO aico_core, public; INSERT INTO user_profiles (uuid, full_name) VALUES ('u1', 'Ada'); \
         INSERT INTO ams_user_memories (fact_id, user_id, fact_type, category, confidence, valid_from, content, \
         extraction_method, source_conversation_id, created_at) SELECT gen_random_uuid()::text, 'u1', 'identity', \
         'personal_info', 0.9, timestamptz '2025-01-01' + i * interval '17 minutes', 'fact ' || i, 'llm', 'c1', \
         CASE WHEN i % 7 = 0 THEN NULL ELSE timestamptz '2025-06-01 12:00:00.5+02' + i * interval '1 hour' END \
         FROM generate_series(1, 20000) i",
    );
    assert!(made.success, "{}", made.stderr);
    let others = facts_but_metadata(&conn).await;
    assert!(migrator(&db.url, &["up"]).status().expect("up").success());
    let mut landed = 0;
    for delay_ms in [350u64, 900, 1600] {
        let mut run = command("aico-ams");
        run.args(["backfill", "--batch-size", "500"]).env("DATABASE_URL", &db.url);
        landed += u32::from(aico_tests::kill_after(&mut run, std::time::Duration::from_millis(delay_ms)));
    }
    assert!(landed > 0, "no kill landed while the backfill ran");
    let out = command("aico-ams").args(["backfill", "--json"]).env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // What an uninterrupted run writes: every fact, each dated by its own created_at or valid_from.
    let wrong = column_of(
        &conn,
        "SELECT count(*)::text FROM (SELECT temporal_metadata AS m, \
         to_char(coalesce(created_at, valid_from) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || \
         CASE WHEN extract(microseconds FROM coalesce(created_at, valid_from))::bigint % 1000000 = 0 THEN '' \
         ELSE '.' || to_char(coalesce(created_at, valid_from) AT TIME ZONE 'UTC', 'MS') END || 'Z' AS d \
         FROM aico_core.ams_user_memories) AS t WHERE m IS NULL OR m::jsonb <> jsonb_build_object('created_at', d, \
         'last_updated', d, 'last_accessed', d, 'access_count', 0, 'confidence', 1.0, 'version', 1, \
         'superseded_by', NULL)",
    )
    .await;
    assert_eq!(wrong, ["0"]);
    assert_eq!(facts_but_metadata(&conn).await, others, "another column changed");
    conn.close().await.ok();
}
