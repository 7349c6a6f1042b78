//! AICO's 2026 database on a real PostgreSQL 18 with pgvector (`aico_tests::pg18`): `aico_core`
//! builds from AICO's own schema file as `aico pg init` builds it, re-applies unchanged, each
//! drifted variant builds and shows its drift in the catalog, and AICO-shaped rows read back.

use aico_tests::{
    AicoPg, aico_core_catalog, aico_pg18, apply_aico_schema, column_of, embedding, insert_aico_rows, vector_text,
};
use rstest::rstest;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx;

/// The first column of the single row of `sql`.
async fn one(db: &DatabaseConnection, sql: &str) -> String {
    let rows = column_of(db, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows.into_iter().next().unwrap_or_default()
}

#[tokio::test]
async fn aico_core_builds_from_the_file_and_re_applies_unchanged() {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    // A plain session (the default search path), as AICO's file sees the database; not the tool's.
    let conn = sea_orm::Database::connect(db.url.as_str()).await.expect("connect");

    let tables = column_of(
        &conn,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'aico_core' AND tablename IN \
         ('ams_user_memories', 'conversation_segments', 'working_memory_messages', 'user_profiles') ORDER BY 1",
    )
    .await;
    assert_eq!(tables, ["ams_user_memories", "conversation_segments", "user_profiles", "working_memory_messages"]);
    assert_eq!(
        one(&conn, "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_conversation_segments_embedding'").await,
        "CREATE INDEX idx_conversation_segments_embedding ON aico_core.conversation_segments \
         USING hnsw (embedding aico_core.vector_cosine_ops)"
    );
    assert_eq!(
        one(
            &conn,
            "SELECT extnamespace::regnamespace::text || ' ' || extversion FROM pg_extension WHERE extname = 'vector'"
        )
        .await,
        "aico_core 0.8.6"
    );
    assert_eq!(one(&conn, "SELECT current_setting('server_version_num')").await.get(..2), Some("18"));
    // Nothing of AICO's in public.
    assert_eq!(
        one(&conn, "SELECT count(*)::text FROM pg_class WHERE relnamespace = 'public'::regnamespace").await,
        "0"
    );

    let before = aico_core_catalog(&conn).await;
    assert!(before.len() > 1000, "{}", before.len());
    let functions: Vec<&String> = before.iter().filter(|l| l.starts_with("function ")).collect();
    assert_eq!(functions.len(), 3, "AICO's three jsonb_extract_*_immutable: {functions:?}");
    assert!(before.contains(&"extension vector 0.8.6 in aico_core".to_owned()), "{before:?}");
    let again = apply_aico_schema(&db);
    assert!(again.success, "re-applying AICO's schema file failed:\n{}", again.stderr);
    assert!(again.stderr.contains("already exists, skipping"), "{}", again.stderr);
    assert_eq!(aico_core_catalog(&conn).await, before);
}

/// What the catalog shows of a variant's drift.
struct Drift {
    /// Where `vector` lives.
    vector_schema: &'static str,
    /// `conversation_segments.embedding`'s type, as the default search_path (`public`) names it.
    embedding: &'static str,
    /// The HNSW index's operator class, so named.
    opclass: &'static str,
    /// `table type nullability` of each `tenant_id` column of AICO's memories (the file itself
    /// gives `tenant_id` to other tables: `conversations`, `tenants`, ...).
    tenant_id: &'static [&'static str],
    /// `ams_behavioral_feedback.timestamp`'s type.
    feedback_timestamp: &'static str,
}

#[rstest]
#[case::as_file(AicoPg::AsFile, Drift {
    vector_schema: "aico_core", embedding: "aico_core.vector(768)", opclass: "aico_core.vector_cosine_ops",
    tenant_id: &[], feedback_timestamp: "timestamp with time zone" })]
#[case::tenant_id(AicoPg::TenantId, Drift {
    vector_schema: "aico_core", embedding: "aico_core.vector(768)", opclass: "aico_core.vector_cosine_ops",
    tenant_id: &["ams_user_memories text NO", "conversation_segments text NO"],
    feedback_timestamp: "timestamp with time zone" })]
#[case::text_timestamp(AicoPg::TextTimestamp, Drift {
    vector_schema: "aico_core", embedding: "aico_core.vector(768)", opclass: "aico_core.vector_cosine_ops",
    tenant_id: &[], feedback_timestamp: "text" })]
#[case::vector_384(AicoPg::Vector384, Drift {
    vector_schema: "aico_core", embedding: "aico_core.vector(384)", opclass: "aico_core.vector_cosine_ops",
    tenant_id: &[], feedback_timestamp: "timestamp with time zone" })]
#[case::vector_in_public(AicoPg::VectorInPublic, Drift {
    vector_schema: "public", embedding: "vector(768)", opclass: "vector_cosine_ops",
    tenant_id: &[], feedback_timestamp: "timestamp with time zone" })]
#[tokio::test]
async fn each_variant_builds_and_shows_its_drift(#[case] variant: AicoPg, #[case] drift: Drift) {
    let Some(db) = aico_pg18(variant).await else { return };
    // A plain session (the default search path), as AICO's file sees the database; not the tool's.
    let conn = sea_orm::Database::connect(db.url.as_str()).await.expect("connect");

    let vector_schema = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'";
    assert_eq!(one(&conn, vector_schema).await, drift.vector_schema);
    let embedding_type = "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
                          WHERE attrelid = 'aico_core.conversation_segments'::regclass AND attname = 'embedding'";
    assert_eq!(one(&conn, embedding_type).await, drift.embedding);
    assert_eq!(
        one(&conn, "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_conversation_segments_embedding'").await,
        format!(
            "CREATE INDEX idx_conversation_segments_embedding ON aico_core.conversation_segments \
             USING hnsw (embedding {})",
            drift.opclass
        )
    );
    let tenant = column_of(
        &conn,
        "SELECT table_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns \
         WHERE table_schema = 'aico_core' AND column_name = 'tenant_id' AND (table_name LIKE 'ams\\_%' \
         OR table_name IN ('conversation_segments', 'working_memory_messages', 'user_profiles')) ORDER BY 1",
    )
    .await;
    assert_eq!(tenant, drift.tenant_id);
    let feedback = "SELECT data_type FROM information_schema.columns WHERE table_schema = 'aico_core' \
                    AND table_name = 'ams_behavioral_feedback' AND column_name = 'timestamp'";
    assert_eq!(one(&conn, feedback).await, drift.feedback_timestamp);

    // AICO re-runs its file on a drifted database too, and the drift stays.
    let before = aico_core_catalog(&conn).await;
    let again = apply_aico_schema(&db);
    assert!(again.success, "{variant:?}: re-applying failed:\n{}", again.stderr);
    assert_eq!(aico_core_catalog(&conn).await, before, "{variant:?}");
}

#[rstest]
#[case::as_file(AicoPg::AsFile, 768)]
#[case::vector_384(AicoPg::Vector384, 384)]
#[case::vector_in_public(AicoPg::VectorInPublic, 768)]
#[tokio::test]
async fn aico_rows_read_back(#[case] variant: AicoPg, #[case] dims: usize) {
    let Some(db) = aico_pg18(variant).await else { return };
    // A plain session (the default search path), as AICO's file sees the database; not the tool's.
    let conn = sea_orm::Database::connect(db.url.as_str()).await.expect("connect");
    let n = 600; // three batches
    let rows = insert_aico_rows(&conn, n).await;
    assert_eq!((rows.fact_ids.len(), rows.segment_ids.len(), rows.message_ids.len(), rows.dims), (n, n, n, dims));

    let count = |table: &str| format!("SELECT count(*)::text FROM aico_core.{table}");
    assert_eq!(one(&conn, &count("user_profiles")).await, "1");
    for table in ["ams_user_memories", "conversation_segments", "working_memory_messages"] {
        assert_eq!(one(&conn, &count(table)).await, n.to_string(), "{table}");
    }

    // Facts: uuid4 keys, every fifth created_at NULL with valid_from set, no temporal_metadata.
    let facts = one(
        &conn,
        "SELECT count(*) FILTER (WHERE fact_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$') \
         || ' ' || count(*) FILTER (WHERE created_at IS NULL AND valid_from IS NOT NULL) \
         || ' ' || count(*) FILTER (WHERE temporal_metadata IS NULL) \
         || ' ' || count(*) FILTER (WHERE extract(microseconds FROM created_at)::int % 1000000 <> 0) \
         || ' ' || count(DISTINCT user_id) FROM aico_core.ams_user_memories",
    )
    .await;
    assert_eq!(facts, format!("{n} {} {n} {} 1", n / 5, 2 * n / 5));
    let fact_3 = format!(
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM aico_core.ams_user_memories \
         WHERE fact_id = '{}'",
        rows.fact_ids[3]
    );
    assert_eq!(one(&conn, &fact_3).await, "2026-01-03 21:51:59"); // written 2026-01-04T03:21:59+05:30

    // Segments: the metadata's four shapes, and the nearest neighbour of embedding 7 is segment 7.
    let shapes = one(
        &conn,
        "SELECT count(*) FILTER (WHERE metadata = '{\"language\": \"en\"}') \
         || ' ' || count(*) FILTER (WHERE metadata ? 'last_accessed' AND metadata ? 'language') \
         || ' ' || count(*) FILTER (WHERE metadata ? 'timestamp' AND NOT metadata ? 'language') \
         || ' ' || count(*) FILTER (WHERE metadata IS NULL) FROM aico_core.conversation_segments",
    )
    .await;
    assert_eq!(shapes, format!("{0} {0} {0} {0}", n / 4));
    let mut pg = conn.get_postgres_connection_pool().acquire().await.expect("a connection");
    sqlx::query("SET search_path TO aico_core, public").execute(&mut *pg).await.expect("search_path");
    let nearest: String =
        sqlx::query_scalar("SELECT id FROM conversation_segments ORDER BY embedding <=> $1::vector LIMIT 1")
            .bind(vector_text(&embedding(7, dims)))
            .fetch_one(&mut *pg)
            .await
            .expect("nearest neighbour");
    assert_eq!(nearest, rows.segment_ids[7]);
    sqlx::query("RESET search_path").execute(&mut *pg).await.expect("reset");

    // Working memory: the payload is the message with its conversation_id; every fifth already has
    // LMDB's temporal_metadata; expires_at is 30 days after stored_at.
    let messages = one(
        &conn,
        "SELECT count(*) FILTER (WHERE payload_json->>'conversation_id' = conversation_id \
                                 AND payload_json->>'message_id' = message_id) \
         || ' ' || count(*) FILTER (WHERE payload_json ? 'temporal_metadata') \
         || ' ' || count(*) FILTER (WHERE expires_at = stored_at + interval '30 days') \
         FROM aico_core.working_memory_messages",
    )
    .await;
    assert_eq!(messages, format!("{n} {} {n}", n / 5));
}
