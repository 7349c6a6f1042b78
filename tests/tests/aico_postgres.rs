//! AICO's own PostgreSQL database (2026: schema `aico_core`, facts in `ams_user_memories`) is
//! recognised by its facts table alone (issue 28); the rest, on AICO's schema file itself, is in
//! `aico_pg18.rs`.

use aico_tests::{TestDb, column_of, command, exec, json_of, migrator, text};

/// Every object outside PostgreSQL's own schemas, `schema.name kind`, in order.
const OBJECTS: &str = "SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c \
                       JOIN pg_namespace n ON n.oid = c.relnamespace \
                       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
                       AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%' ORDER BY 1";

#[tokio::test]
async fn on_aicos_postgres_database_another_schema_is_refused_before_anything_runs() {
    let Some(db) = TestDb::postgres().await else { return };
    // The part of AICO's schema that marks it (the whole of it needs pgvector: see aico_pg18.rs).
    let conn = sea_orm::Database::connect(db.url.as_str()).await.expect("connect");
    exec(
        &conn,
        "CREATE SCHEMA aico_core; CREATE SCHEMA other; \
         CREATE TABLE aico_core.ams_user_memories (fact_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
         created_at TIMESTAMPTZ, valid_from TIMESTAMPTZ NOT NULL, temporal_metadata TEXT DEFAULT NULL)",
    )
    .await;
    let before = column_of(&conn, OBJECTS).await;
    for (bin, args) in [
        ("migration", &["--database-schema", "other", "up"][..]),
        ("aico-ams", &["backfill", "--database-schema", "other"]),
    ] {
        let out = if bin == "migration" {
            migrator(&db.url, args).output().expect("run")
        } else {
            command(bin).args(args).env("DATABASE_URL", &db.url).output().expect("run")
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {}", text(&out));
        assert!(stderr.contains("is AICO's own PostgreSQL database") && stderr.contains("\"other\""), "{stderr}");
    }
    let out = command("aico-ams")
        .args(["verify", "--json", "--database-schema", "other"])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run");
    assert_eq!(json_of(&out)["error"]["kind"], "aico_postgres_schema", "{}", text(&out));
    assert_eq!(column_of(&conn, OBJECTS).await, before, "something was made");
    assert_eq!(column_of(&conn, "SELECT (to_regnamespace('aico_ams') IS NULL)::text").await, ["true"], "our schema");
    conn.close().await.ok();
}

#[tokio::test]
async fn a_postgres_database_without_aico_core_keeps_the_seeds_layout() {
    let Some(db) = TestDb::postgres().await else { return };
    let conn = sea_orm::Database::connect(db.url.as_str()).await.expect("connect");
    // A schema of that name alone, without AICO's facts table, is not AICO's database.
    exec(&conn, "CREATE SCHEMA aico_core").await;
    let out = migrator(&db.url, &["up"]).output().expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        column_of(&conn, "SELECT to_regclass('public.semantic_facts')::text").await,
        ["semantic_facts"],
        "the seed's layout in public"
    );
    conn.close().await.ok();
}
