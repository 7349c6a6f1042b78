//! No value of a flag or environment variable runs as SQL: `--database-schema` / `DATABASE_SCHEMA`
//! (and the `migration` binary's `-s`) name one PostgreSQL schema, quoted as an identifier. Each
//! hostile value is its own case, on a fresh PostgreSQL database holding a sentinel table
//! `public.victim`: while no schema has that name, every command stops with one line naming it
//! (exit 2) and runs nothing; once a schema of exactly that name exists, the migrations, backfill
//! and verify work inside it. The sentinel survives every run.

use std::process::Output;

use aico_tests::{TestDb, column_of, command, exec, failed, migrator, text};
use rstest::rstest;

/// A table beside ours that no statement of ours may touch.
const SENTINEL: &str = "CREATE TABLE public.victim (id integer); INSERT INTO public.victim VALUES (1)";

/// `value` as a SQL string literal (for the test's own queries).
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

async fn victim_rows(conn: &sea_orm::DatabaseConnection) -> Vec<String> {
    column_of(conn, "SELECT CAST(count(*) AS TEXT) FROM public.victim").await
}

/// Tables in the schema `schema`, by name.
async fn tables_in(conn: &sea_orm::DatabaseConnection, schema: &str) -> Vec<String> {
    let sql = format!("SELECT tablename::text FROM pg_tables WHERE schemaname = {} ORDER BY 1", literal(schema));
    column_of(conn, &sql).await
}

/// Every way the schema reaches the tools: `aico-ams` by flag and by environment, `migration -s`.
fn runs(db: &TestDb, schema: &str, args: &[&str]) -> Vec<(String, Output)> {
    let by_flag = command("aico-ams")
        .args(args)
        .args(["--database-schema", schema])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run aico-ams");
    let by_env = command("aico-ams")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("DATABASE_SCHEMA", schema)
        .output()
        .expect("run");
    let migrator_up = migrator(&db.url, &["-s", schema, "up"]).output().expect("run migration");
    vec![
        (format!("aico-ams {args:?} --database-schema"), by_flag),
        (format!("aico-ams {args:?} with DATABASE_SCHEMA"), by_env),
        ("migration -s .. up".to_owned(), migrator_up),
    ]
}

#[rstest]
#[case::double_quote("\"")]
#[case::semicolon(";")]
#[case::quote_and_statement("x\"; DROP TABLE public.victim; --")]
#[case::name_holding_a_quote("odd\"name")]
#[tokio::test]
async fn a_hostile_schema_name_is_one_quoted_identifier_on_postgres(#[case] schema: &str) {
    let Some(db) = TestDb::postgres().await else { return };
    let conn = db.connect().await;
    exec(&conn, SENTINEL).await;

    // No schema of that name: one line naming it, exit 2, nothing run.
    for (what, out) in runs(&db, schema, &["migrate"]) {
        let (code, line) = failed(&out);
        assert_eq!(code, 2, "{what}: {}", text(&out));
        assert!(line.contains(&format!("has no schema {schema:?}")), "{what}: {line}");
        assert_eq!(victim_rows(&conn).await, ["1"], "{what}: the sentinel is gone");
    }
    assert!(tables_in(&conn, schema).await.is_empty());
    let before = column_of(&conn, "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").await;
    assert_eq!(before, ["victim"], "nothing was created in public");

    // The schema exists: every tool works inside it, and only there.
    let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
    exec(&conn, &format!("CREATE SCHEMA {quoted}")).await;
    for (what, out) in runs(&db, schema, &["migrate"]) {
        assert!(out.status.success(), "{what}: {}", text(&out));
    }
    let tables = tables_in(&conn, schema).await;
    for table in ["seaql_migrations", "semantic_facts", "consolidation_state", "skills"] {
        assert!(tables.contains(&table.to_owned()), "{table} in {schema:?}: {tables:?}");
    }
    exec(
        &conn,
        &format!(
            "INSERT INTO {quoted}.semantic_facts (id, user_id, content, created_at) \
             VALUES ('f1', 'u', 'c', '2025-11-07T18:00:00Z')"
        ),
    )
    .await;
    for args in [&["backfill"][..], &["verify"], &["health"]] {
        for (what, out) in runs(&db, schema, args) {
            assert!(out.status.success(), "{what}: {}", text(&out));
        }
    }
    let filled = column_of(&conn, &format!("SELECT temporal_metadata::text FROM {quoted}.semantic_facts")).await;
    assert!(filled[0].contains("\"created_at\":\"2025-11-07T18:00:00Z\""), "{filled:?}");
    assert_eq!(victim_rows(&conn).await, ["1"], "the sentinel is gone");
    let public = column_of(&conn, "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").await;
    assert_eq!(public, ["victim"], "nothing was created in public");
}
