//! `entity::aico_pg`, the models of AICO's PostgreSQL facts, segments and working memory (issue
//! 28), on PostgreSQL 18 with pgvector: `entity/aico_pg.sql` is AICO's own statements; the models
//! read every row as AICO writes it (a NULL `created_at`, a 768-d embedding, NULL metadata); and
//! `verify`'s drift check holds a live `aico_core` to them, naming each column that differs.

use std::collections::BTreeMap;

use aico_tests::pg18::{AICO_SCHEMA_FILE, AicoPg, aico_pg18, embedding, fact_created_at, insert_aico_rows, psql};
use aico_tests::{column_of, command, json_of, migrator, text};
use entity::aico_pg::{ams_user_memories, conversation_segments, working_memory_messages};
use entity::values::{StoredJson, StoredTimestamp};
use sea_orm::sea_query::ColumnType;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

/// AICO's statements in `entity/aico_pg.sql`: each block from `CREATE TABLE` to `);`.
fn statements() -> Vec<String> {
    let sql = include_str!("../../entity/aico_pg.sql");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in sql.lines() {
        if line.starts_with("CREATE TABLE") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if line.trim_end().ends_with(");") {
                blocks.extend(current.take());
            }
        }
    }
    blocks
}

/// The models are generated from AICO's own statements, unchanged: each statement of
/// `entity/aico_pg.sql` is in AICO's schema file as it is there (the fixture applies that file).
#[test]
fn aico_pg_sql_holds_aicos_own_statements() {
    let file = std::fs::read_to_string(AICO_SCHEMA_FILE).expect("AICO's schema file");
    let statements = statements();
    let names: Vec<&str> =
        statements.iter().filter_map(|s| s.split_whitespace().nth(5)).map(|n| n.trim_matches('"')).collect();
    assert_eq!(names, ["ams_user_memories", "working_memory_messages", "conversation_segments"]);
    for statement in &statements {
        assert!(file.contains(statement.trim_end()), "not in AICO's schema file as it is:\n{statement}");
    }
}

/// The instant of a timestamptz column, row by row (key → microseconds since the epoch, or
/// `null`), as PostgreSQL reads it.
async fn instants(
    conn: &sea_orm::DatabaseConnection,
    table: &str,
    key: &str,
    column: &str,
) -> BTreeMap<String, String> {
    column_of(
        conn,
        &format!(
            "SELECT {key}::text || ' ' || coalesce((extract(epoch FROM {column}) * 1000000)::bigint::text, 'null') \
             FROM aico_core.{table}"
        ),
    )
    .await
    .into_iter()
    .filter_map(|line| line.split_once(' ').map(|(k, v)| (k.to_owned(), v.to_owned())))
    .collect()
}

/// A model's timestamp as [`instants`] writes it.
fn micros(value: Option<&StoredTimestamp>) -> String {
    match value {
        Some(StoredTimestamp::Parsed(ts)) => ts.as_datetime().timestamp_micros().to_string(),
        Some(StoredTimestamp::Unreadable(text)) => format!("unreadable {text}"),
        None => "null".to_owned(),
    }
}

#[tokio::test]
async fn the_models_read_every_row_as_aico_writes_it() {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    // Connected as the tool connects (`aico_connect`'s target: the search_path reaches `aico_core`,
    // where AICO's file puts the `vector` type, which the driver must name as `vector`).
    let conn = db.connect().await;
    let n = 40;
    let rows = insert_aico_rows(&conn, n).await;
    assert_eq!(rows.dims, 768);

    let facts = ams_user_memories::Entity::find()
        .order_by_asc(ams_user_memories::Column::FactId)
        .all(&conn)
        .await
        .expect("every fact reads");
    assert_eq!(facts.len(), n);
    let created = instants(&conn, "ams_user_memories", "fact_id", "created_at").await;
    let valid = instants(&conn, "ams_user_memories", "fact_id", "valid_from").await;
    for fact in &facts {
        let i = rows.fact_ids.iter().position(|id| *id == fact.fact_id).expect("a fact inserted");
        assert_eq!(fact.content, format!("fact number {i}: it's tea, not coffee"));
        assert_eq!(fact.created_at.is_none(), fact_created_at(i).is_none(), "fact {i}");
        assert_eq!(micros(fact.created_at.as_ref()), created[&fact.fact_id], "fact {i}");
        assert_eq!(micros(Some(&fact.valid_from)), valid[&fact.fact_id], "fact {i}");
        assert_eq!(fact.entities_json, Some(StoredJson::Parsed(json!([{"text": "tea", "label": "preference"}]))));
        assert_eq!(fact.language.as_deref(), i.is_multiple_of(2).then_some("en"));
        assert_eq!(fact.temporal_metadata, None, "no AICO code of 2026 writes it");
        assert_eq!(fact.is_favorite, Some(false));
    }
    assert_eq!(facts.iter().filter(|f| f.created_at.is_none()).count(), n / 5);

    let segments = conversation_segments::Entity::find().all(&conn).await.expect("every segment reads");
    assert_eq!(segments.len(), n);
    let stamps = instants(&conn, "conversation_segments", "id", "timestamp").await;
    for segment in &segments {
        let i = rows.segment_ids.iter().position(|id| *id == segment.id).expect("a segment inserted");
        assert_eq!(segment.embedding.as_slice(), embedding(i, 768).as_slice(), "segment {i}'s embedding");
        assert_eq!(micros(Some(&segment.timestamp)), stamps[&segment.id]);
        assert_eq!(segment.content, format!("segment {i}: we talked about tea"));
        let metadata = segment.metadata.as_ref().and_then(StoredJson::json);
        match i % 4 {
            0 => assert_eq!(metadata, Some(&json!({"language": "en"}))),
            1 => assert_eq!(metadata.and_then(|m| m.get("version")), Some(&json!(1))),
            2 => assert_eq!(metadata.and_then(|m| m.get("role")).and_then(Value::as_str), Some(segment.role.as_str())),
            _ => assert_eq!(segment.metadata, None, "segment {i}"),
        }
        assert!(segment.created_at.as_ref().is_some_and(|c| c.instant().is_some()), "the column's default");
    }

    let messages = working_memory_messages::Entity::find()
        .order_by_asc(working_memory_messages::Column::Id)
        .all(&conn)
        .await
        .expect("every message reads");
    assert_eq!(messages.len(), n);
    for (i, message) in messages.iter().enumerate() {
        assert_eq!(message.message_id.as_ref(), Some(&rows.message_ids[i]));
        assert_eq!(message.access_count, (i % 3) as i32);
        let payload = message.payload_json.as_ref().and_then(StoredJson::json).expect("a payload");
        assert_eq!(payload["message_id"], json!(rows.message_ids[i]));
        assert_eq!(payload.get("temporal_metadata").is_some(), i % 5 == 4);
        let (stored, expires) = (message.stored_at.instant(), message.expires_at.as_ref().and_then(|e| e.instant()));
        let days = expires.zip(stored).map(|(e, s)| (e.as_datetime() - s.as_datetime()).num_days());
        assert_eq!(days, Some(30));
    }
    conn.close().await.ok();
}

/// `verify --json`'s drift check ("schema matches the migrations") on `db` after `up`: its status
/// and details.
fn drift_check(url: &str) -> (String, Vec<String>) {
    let up = migrator(url, &["up"]).output().expect("run migration up");
    assert!(up.status.success(), "{}", text(&up));
    let out = command("aico-ams").args(["verify", "--json"]).env("DATABASE_URL", url).output().expect("run verify");
    let report = json_of(&out);
    let check = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "schema matches the migrations")
        .unwrap_or_else(|| panic!("no drift check: {report:#}"))
        .clone();
    let details = check["details"].as_array().expect("details").iter().filter_map(Value::as_str).map(str::to_owned);
    (check["status"].as_str().unwrap_or_default().to_owned(), details.collect())
}

#[tokio::test]
async fn verify_holds_aicos_tables_to_the_models() {
    // As AICO's file makes them: every modelled column checked, nothing differs.
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let (status, details) = drift_check(&db.url);
    assert_eq!(status, "pass", "{details:#?}");
    let columns = entity::aico_pg::all_columns();
    let embedding = columns.iter().find(|c| c.table == "conversation_segments" && c.name == "embedding");
    assert_eq!(embedding.map(|c| c.column_type.clone()), Some(ColumnType::Vector(Some(768))));
    let columns = columns.len();
    assert_eq!(columns, 29 + 9 + 13);
    assert!(details[0].starts_with(&format!("{columns} columns checked")), "{details:#?}");
    assert_eq!(details.len(), 1, "{details:#?}");
}

#[tokio::test]
async fn verify_notes_an_embedding_of_another_width() {
    let Some(db) = aico_pg18(AicoPg::Vector384).await else { return };
    let (status, details) = drift_check(&db.url);
    // The model's PgVector reads any width: noted, not failed.
    assert_eq!(status, "pass", "{details:#?}");
    assert!(
        details.iter().any(|d| d.starts_with("column conversation_segments.embedding is vector(384), the model")
            && d.contains("vector(768)")),
        "{details:#?}"
    );
}

#[rstest::rstest]
#[case::missing_column(
    "ALTER TABLE aico_core.working_memory_messages DROP COLUMN language",
    "column working_memory_messages.language is missing"
)]
#[case::changed_type(
    "ALTER TABLE aico_core.ams_user_memories ALTER COLUMN confidence TYPE text",
    "column ams_user_memories.confidence is text, the model expects a floating-point number"
)]
#[case::embedding_as_text(
    "DROP INDEX aico_core.idx_conversation_segments_embedding; \
     ALTER TABLE aico_core.conversation_segments ALTER COLUMN embedding TYPE text",
    "column conversation_segments.embedding is text, the model expects a vector"
)]
#[case::null_allowed(
    "ALTER TABLE aico_core.conversation_segments ALTER COLUMN role DROP NOT NULL",
    "column conversation_segments.role allows NULL, the model expects NOT NULL"
)]
#[tokio::test]
async fn verify_names_a_column_that_drifted_from_the_models(#[case] change: &str, #[case] named: &str) {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let changed = psql(&db, change);
    assert!(changed.success, "{}", changed.stderr);
    let (status, details) = drift_check(&db.url);
    assert_eq!(status, "fail", "{details:#?}");
    assert!(details.iter().any(|d| d.starts_with(named)), "{named}: {details:#?}");
}
