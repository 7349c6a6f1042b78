//! AICO's segments and working memory on its PostgreSQL 18 database (`aico_tests::pg18`), filled by
//! `aico-ams backfill` run as a user runs it: each memory as specified (the flat keys from the
//! row's `timestamp` with `Z`; LMDB's `temporal_metadata` from the row's columns), every other
//! column and key byte-identical, a second run filling nothing, AICO's HNSW index back, valid and
//! with the same definition, AICO's nearest-neighbour query answering the same ids; a run killed
//! with `kill -9` (the index set aside) resumed to the same end as an uninterrupted run, AICO's
//! query answering exactly meanwhile; the drifted `vector(384)` database alike.

use std::collections::BTreeMap;
use std::time::Duration;

use aico_tests::{
    AicoPg, AicoRows, TestDb, aico_pg18, column_of, command, embedding, insert_aico_rows, json_of, kill_after, text,
    vector_text,
};
use entity::values::{TemporalMetadata, Timestamp};
use rstest::rstest;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::{self, Row};
use serde_json::{Map, Value, json};

/// The seed's flat temporal keys.
const FLAT: [&str; 5] = ["created_at", "confidence", "version", "last_accessed", "access_count"];
/// AICO's index.
const INDEX: &str = "idx_conversation_segments_embedding";

/// `aico-ams ARGS` on `db`, as a user runs it (`DATABASE_URL`).
fn aico(db: &TestDb, args: &[&str]) -> std::process::Command {
    let mut cmd = command("aico-ams");
    cmd.args(args).env("DATABASE_URL", &db.url);
    cmd
}

/// Run `aico-ams ARGS --json` on `db`; its JSON, asserting exit 0.
fn aico_json(db: &TestDb, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = aico(db, &all).output().expect("run aico-ams");
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    json_of(&out)
}

/// A segment as stored: every column but `metadata` as text, `metadata` as JSON, and the
/// `timestamp` as the UTC text to the microsecond.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    others: String,
    metadata: Option<Value>,
    utc: String,
}

async fn segments(conn: &DatabaseConnection) -> BTreeMap<String, Segment> {
    let pool = conn.get_postgres_connection_pool();
    let rows = sqlx::query(
        "SELECT id, concat_ws('|', user_id, conversation_id, role, content, embedding::text, timestamp::text, \
         created_at::text, (SELECT string_agg(k || '=' || v::text, ',' ORDER BY k) FROM jsonb_each(s.metadata) \
         AS e(k, v) WHERE k NOT IN ('created_at', 'confidence', 'version', 'last_accessed', 'access_count'))) AS others, \
         metadata::text AS metadata, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS utc \
         FROM aico_core.conversation_segments s",
    )
    .fetch_all(pool)
    .await
    .expect("read segments");
    rows.iter()
        .map(|r| {
            let metadata: Option<String> = r.get("metadata");
            (
                r.get("id"),
                Segment {
                    others: r.get("others"),
                    metadata: metadata.map(|m| serde_json::from_str(&m).expect("jsonb text")),
                    utc: r.get("utc"),
                },
            )
        })
        .collect()
}

/// A message as stored: every column but `payload_json` as text, the payload as JSON, and its
/// times as UTC text.
#[derive(Debug, Clone, PartialEq)]
struct Message {
    others: String,
    payload: Value,
    stored: String,
    accessed: Option<String>,
    count: i32,
}

async fn messages(conn: &DatabaseConnection) -> BTreeMap<i64, Message> {
    let pool = conn.get_postgres_connection_pool();
    const UTC: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.US'";
    // Our own constant text.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, concat_ws('|', conversation_id, user_id, message_id, role, content, language, message_type, \
         stored_at::text, expires_at::text, last_accessed_at::text, access_count::text) AS others, \
         payload_json::text AS payload, to_char(stored_at AT TIME ZONE 'UTC', {UTC}) AS stored, \
         to_char(last_accessed_at AT TIME ZONE 'UTC', {UTC}) AS accessed, access_count \
         FROM aico_core.working_memory_messages"
    )))
    .fetch_all(pool)
    .await
    .expect("read messages");
    rows.iter()
        .map(|r| {
            let payload: String = r.get("payload");
            (
                r.get("id"),
                Message {
                    others: r.get("others"),
                    payload: serde_json::from_str(&payload).expect("jsonb text"),
                    stored: r.get("stored"),
                    accessed: r.get("accessed"),
                    count: r.get("access_count"),
                },
            )
        })
        .collect()
}

/// `utc` (UTC, to the microsecond, no zone) as the canonical text with `Z`.
fn canonical(utc: &str) -> String {
    Timestamp::parse(&format!("{utc}Z")).expect("a timestamp").to_rfc3339()
}

/// What a segment's metadata must be after the backfill, from what it was.
fn expected_segment(before: &Segment) -> Value {
    let at = canonical(&before.utc);
    let added = json!({"created_at": at, "last_accessed": at, "access_count": 0, "confidence": 1.0, "version": 1});
    let mut meta = match &before.metadata {
        Some(Value::Object(m)) => m.clone(),
        None => Map::new(),
        Some(other) => panic!("the fixture has only objects: {other}"),
    };
    for k in FLAT {
        meta.entry(k).or_insert_with(|| added[k].clone());
    }
    Value::Object(meta)
}

/// What a message's payload must be after the backfill, from what it was.
fn expected_message(before: &Message) -> Value {
    let mut payload = before.payload.clone();
    let map = payload.as_object_mut().expect("the fixture has only objects");
    if !map.contains_key("temporal_metadata") {
        let stored = Timestamp::parse(&canonical(&before.stored)).expect("stored_at");
        let accessed =
            before.accessed.as_deref().map_or(stored, |a| Timestamp::parse(&canonical(a)).expect("accessed"));
        let meta = TemporalMetadata {
            last_accessed: accessed,
            access_count: u64::try_from(before.count).expect("a count"),
            ..TemporalMetadata::initial(stored)
        };
        map.insert("temporal_metadata".into(), meta.to_json());
    }
    payload
}

/// Assert that every segment and message is what the backfill must make of `before`.
async fn assert_filled(conn: &DatabaseConnection, before: &(BTreeMap<String, Segment>, BTreeMap<i64, Message>)) {
    assert_filled_segments(conn, &before.0).await;
    let after = messages(conn).await;
    assert_eq!(after.len(), before.1.len());
    for (id, was) in &before.1 {
        let now = &after[id];
        assert_eq!(now.others, was.others, "message {id}: another column changed");
        assert_eq!(now.payload, expected_message(was), "message {id}");
    }
}

/// Assert that every segment is what the backfill must make of `before`.
async fn assert_filled_segments(conn: &DatabaseConnection, before: &BTreeMap<String, Segment>) {
    let after = segments(conn).await;
    assert_eq!(after.len(), before.len());
    for (id, was) in before {
        let now = &after[id];
        assert_eq!(now.others, was.others, "{id}: another column or key changed");
        assert_eq!(now.metadata.as_ref(), Some(&expected_segment(was)), "{id}");
        for k in ["created_at", "last_accessed"] {
            let v = now.metadata.as_ref().and_then(|m| m[k].as_str()).unwrap_or_default().to_owned();
            let written = was.metadata.as_ref().is_none_or(|m| m.get(k).is_none());
            assert!(!written || v.ends_with('Z') && !v.contains("+00:00"), "{id}.{k} = {v}");
        }
    }
}

/// AICO's index as the catalog has it: (definition, valid).
async fn index(conn: &DatabaseConnection) -> Option<(String, bool)> {
    let rows = column_of(
        conn,
        &format!(
            "SELECT pg_get_indexdef(i.indexrelid) || '|' || i.indisvalid FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = '{INDEX}'"
        ),
    )
    .await;
    rows.first().and_then(|r| r.rsplit_once('|')).map(|(d, v)| (d.to_owned(), v == "true"))
}

/// AICO's index's definition as `pg_get_indexdef` prints it with only `pg_catalog` on the search
/// path (every name qualified): as the tool records it.
async fn qualified_definition(conn: &DatabaseConnection) -> String {
    let pool = conn.get_postgres_connection_pool();
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL search_path TO pg_catalog").execute(&mut *tx).await.expect("search_path");
    let def = sqlx::query_scalar::<_, String>(
        "SELECT pg_get_indexdef(c.oid) FROM pg_class c WHERE c.relname = 'idx_conversation_segments_embedding'",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("AICO's index");
    tx.rollback().await.ok();
    def
}

/// AICO's nearest-neighbour query for segment `i`'s embedding: the `k` nearest ids.
async fn nearest(conn: &DatabaseConnection, rows: &AicoRows, i: usize, k: i64) -> Vec<String> {
    let pool = conn.get_postgres_connection_pool();
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL search_path TO aico_core, public").execute(&mut *tx).await.expect("search_path");
    let ids = sqlx::query_scalar::<_, String>(
        "SELECT id FROM conversation_segments ORDER BY embedding <=> CAST($1 AS vector) LIMIT $2",
    )
    .bind(vector_text(&embedding(i, rows.dims)))
    .bind(k)
    .fetch_all(&mut *tx)
    .await
    .expect("AICO's nearest-neighbour query");
    tx.rollback().await.ok();
    ids
}

/// The exact `k` nearest ids to segment `i` by cosine distance, computed here.
fn exact_nearest(rows: &AicoRows, i: usize, k: usize) -> Vec<String> {
    let cos = |a: &[f32], b: &[f32]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        1.0 - dot / (norm(a) * norm(b))
    };
    let q = embedding(i, rows.dims);
    let mut d: Vec<(f64, &String)> =
        rows.segment_ids.iter().enumerate().map(|(j, id)| (cos(&q, &embedding(j, rows.dims)), id)).collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    d.into_iter().take(k).map(|(_, id)| id.clone()).collect()
}

/// AICO's database as `variant` has it, migrated by the tool, with `n` rows in each memory.
async fn aico_db(variant: AicoPg, n: usize) -> Option<(TestDb, DatabaseConnection, AicoRows)> {
    let db = aico_pg18(variant).await?;
    let conn = db.connect().await;
    let rows = insert_aico_rows(&conn, n).await;
    let up = aico_tests::run_migrator(&db.url, &["up"]);
    assert!(up.status.success(), "migration up: {}", text(&up));
    Some((db, conn, rows))
}

#[rstest]
#[case::as_file(AicoPg::AsFile)]
#[case::vector384(AicoPg::Vector384)]
#[case::vector_in_public(AicoPg::VectorInPublic)]
#[tokio::test]
async fn backfill_fills_segments_and_working_memory_as_specified(#[case] variant: AicoPg) {
    let Some((db, conn, rows)) = aico_db(variant, 400).await else { return };
    let before = (segments(&conn).await, messages(&conn).await);
    let index_before = index(&conn).await.expect("AICO's index");
    let nn_before = nearest(&conn, &rows, 7, 5).await;
    assert_eq!(nn_before.first(), Some(&rows.segment_ids[7]));

    // A dry run counts and changes nothing.
    let dry = aico_json(&db, &["backfill", "--store", "all", "--dry-run"]);
    let lacking_segments =
        before.0.values().filter(|s| s.metadata.as_ref().is_none_or(|m| m.get("version").is_none())).count();
    assert_eq!(dry["stores"]["segments"]["filled"], lacking_segments as u64, "{dry}");
    assert_eq!(dry["stores"]["working_memory"]["filled"], 320, "every fifth has it: {dry}");
    assert_eq!(segments(&conn).await, before.0);

    let out = aico_json(&db, &["backfill", "--store", "all", "--segments-index", "rebuild", "--batch-size", "100"]);
    assert_eq!(out["complete"], true, "{out}");
    let seg = &out["stores"]["segments"];
    assert_eq!(seg["status"], "done", "{out}");
    assert_eq!(seg["filled"], lacking_segments as u64);
    assert_eq!(seg["index"], "rebuilt");
    assert_eq!(out["stores"]["working_memory"]["filled"], 320);
    assert_eq!(out["stores"]["sql"]["status"], "done", "the facts too: {out}");
    assert!(out["stores"].get("chroma").is_none() && out["stores"].get("lmdb").is_none(), "{out}");
    assert_filled(&conn, &before).await;
    assert_eq!(index(&conn).await, Some(index_before), "AICO's index is back, valid, as it was");
    assert_eq!(nearest(&conn, &rows, 7, 5).await, nn_before);
    assert_eq!(column_of(&conn, "SELECT count(*)::text FROM aico_ams.parked_indexes").await, ["0"]);

    // A second run fills nothing and leaves the index alone.
    let again = aico_json(&db, &["backfill", "--store", "segments"]);
    assert_eq!(again["stores"]["segments"]["filled"], 0, "{again}");
    assert_eq!(again["stores"]["segments"]["index"], "kept");
    let again = aico_json(&db, &["backfill", "--store", "working-memory"]);
    assert_eq!(again["stores"]["working_memory"]["filled"], 0, "{again}");

    // verify and health report all three memories.
    let verify = aico_json(&db, &["verify", "--store", "all"]);
    assert_eq!(verify["passed"], true, "{verify}");
    assert_eq!(verify["segments"]["embedding_width"], rows.dims as u64);
    assert_eq!(verify["segments"]["with_temporal"], 400);
    assert_eq!(verify["segments"]["index_valid"], true);
    // AICO's semantic.py writes naive instants: every fourth segment keeps its own.
    assert_eq!(verify["segments"]["without_offset"], 100);
    assert_eq!(verify["working_memory"]["with_temporal"], 400);
    assert_eq!(verify["working_memory"]["without_offset"], 0);
    let health = aico_json(&db, &["health", "--store", "all"]);
    assert_eq!(health["stores"]["segments"]["coverage_percent"], 100.0, "{health}");
    assert_eq!(health["stores"]["working_memory"]["coverage_percent"], 100.0, "{health}");
}

#[tokio::test]
async fn kill_9_mid_run_resumes_to_the_uninterrupted_end_with_aicos_index_whole() {
    let n = 1200;
    let Some((killed, conn, rows)) = aico_db(AicoPg::AsFile, n).await else { return };
    let Some((whole, whole_conn, _)) = aico_db(AicoPg::AsFile, n).await else { return };
    let before = (segments(&conn).await, messages(&conn).await);
    let index_before = index(&conn).await.expect("AICO's index");
    let recorded_as = qualified_definition(&conn).await;
    let nn_before = nearest(&conn, &rows, 11, 5).await;
    let exact = exact_nearest(&rows, 11, 5);

    let args = ["backfill", "--store", "segments", "--segments-index", "rebuild", "--batch-size", "20"];
    let mut landed = 0;
    let mut saw_parked = false;
    for delay_ms in [150, 400, 900, 1500, 2500] {
        if kill_after(&mut aico(&killed, &args), Duration::from_millis(delay_ms)) {
            landed += 1;
        }
        let state = index(&conn).await;
        let recorded = column_of(
            &conn,
            "SELECT CASE WHEN to_regclass('aico_ams.parked_indexes') IS NULL THEN '' \
             ELSE (SELECT coalesce(string_agg(definition, ';'), '') FROM aico_ams.parked_indexes) END",
        )
        .await;
        match state {
            // Whole, or built again: exactly as it was.
            Some((def, true)) => assert_eq!(def, index_before.0),
            // Set aside (or half-built): its definition is recorded, and AICO's query answers
            // exactly, by a scan.
            _ => {
                saw_parked = true;
                assert_eq!(recorded, std::slice::from_ref(&recorded_as), "the record of AICO's index");
                assert_eq!(nearest(&conn, &rows, 11, 5).await, exact, "AICO's query while the index is aside");
            }
        }
    }
    assert!(landed >= 2, "the kills must land mid-run ({landed} did)");
    assert!(saw_parked, "one kill must land while the index is aside");

    let resumed = aico_json(&killed, &["backfill", "--store", "segments"]);
    assert_eq!(resumed["complete"], true, "{resumed}");
    let uninterrupted = aico_json(&whole, &["backfill", "--store", "segments", "--segments-index", "rebuild"]);
    assert_eq!(uninterrupted["complete"], true);
    // The same metadata as the uninterrupted run's (the rows' `created_at` are the insertion's own).
    let metadata = |segments: BTreeMap<String, Segment>| -> BTreeMap<String, Option<Value>> {
        segments.into_iter().map(|(id, s)| (id, s.metadata)).collect()
    };
    let (got, want) = (metadata(segments(&conn).await), metadata(segments(&whole_conn).await));
    let differ = got.iter().filter(|(id, m)| want.get(*id) != Some(m)).count();
    assert!(got.len() == n && differ == 0, "{differ} segments differ from the uninterrupted run's");
    assert_filled_segments(&conn, &before.0).await;
    assert_eq!(index(&conn).await, Some(index_before.clone()));
    assert_eq!(index(&whole_conn).await, Some(index_before));
    assert_eq!(nearest(&conn, &rows, 11, 5).await, nn_before);
    assert_eq!(column_of(&conn, "SELECT count(*)::text FROM aico_ams.parked_indexes").await, ["0"]);
}

#[tokio::test]
async fn few_segments_to_fill_keep_the_index_in_place() {
    let Some((db, conn, _rows)) = aico_db(AicoPg::AsFile, 200).await else { return };
    let before = (segments(&conn).await, messages(&conn).await);
    let oid = |conn: &DatabaseConnection| {
        let conn = conn.clone();
        async move { column_of(&conn, &format!("SELECT to_regclass('aico_core.{INDEX}')::oid::text")).await }
    };
    let was = oid(&conn).await;
    let out = aico_json(&db, &["backfill", "--store", "segments"]);
    assert_eq!(out["stores"]["segments"]["index"], "kept", "{out}");
    assert_eq!(oid(&conn).await, was, "the same index, never dropped");
    let out = aico_json(&db, &["backfill", "--store", "lmdb"]);
    assert_eq!(out["stores"]["working_memory"]["filled"], 160, "`lmdb` is the working memory: {out}");
    assert_filled(&conn, &before).await;
}
