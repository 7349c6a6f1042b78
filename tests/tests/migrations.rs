//! The AMS migrations on every backend, through the library: the schema they build, read back
//! from the database; idempotence; adoption of hand-run seed SQL; CHECK constraints; rollbacks.

use aico_tests::{Backend, TestDb, applied, column_of, exec, fingerprint, schema};
use migration::runner::{self, Command};
use migration::{Migrator, MigratorTrait};
use rstest::rstest;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};

/// Every AMS migration, in order, as the one list in `migration/src/lib.rs` has them.
fn all() -> Vec<String> {
    Migrator::migrations().iter().map(|m| m.name().to_owned()).collect()
}

async fn migrate(db: &TestDb, conn: &DatabaseConnection, command: Command) -> Result<(), String> {
    runner::run(conn, &db.target, command, &Default::default(), |_| {}).await.map(|_| ()).map_err(|e| e.to_string())
}

async fn up(db: &TestDb, conn: &DatabaseConnection) {
    migrate(db, conn, Command::Up { steps: None }).await.unwrap_or_else(|e| panic!("{}: up: {e}", db.name));
}

/// What every backend must have after `up`, by name.
const EXPECTED: &[&str] = &[
    "table semantic_facts",
    "table consolidation_state",
    "table skills",
    "table user_skill_confidence",
    "table context_skill_stats",
    "table context_preference_vectors",
    "table feedback_events",
    "table trajectories",
    "index idx_semantic_facts_temporal on semantic_facts",
    "index idx_semantic_facts_superseded on semantic_facts",
    "index idx_consolidation_state_updated on consolidation_state",
    "index idx_skill_type on skills",
    "index idx_user_confidence on user_skill_confidence",
    "index idx_user_context on context_skill_stats",
    "index idx_user_prefs on context_preference_vectors",
    "index idx_feedback_user on feedback_events",
    "index idx_feedback_skill on feedback_events",
    "index idx_feedback_processed on feedback_events",
    "index idx_trajectory_user_feedback on trajectories",
    "index idx_trajectory_timestamp on trajectories",
    "check ck_skills_skill_type on skills",
    "check ck_skills_dimensions on skills",
    "check ck_user_skill_confidence_score on user_skill_confidence",
    "check ck_context_skill_stats_bucket on context_skill_stats",
    "check ck_context_skill_stats_alpha on context_skill_stats",
    "check ck_context_skill_stats_beta on context_skill_stats",
    "check ck_context_preference_vectors_bucket on context_preference_vectors",
    "check ck_context_preference_vectors_dimensions on context_preference_vectors",
    "check ck_feedback_events_reward on feedback_events",
    "check ck_feedback_events_free_text on feedback_events",
    "check ck_feedback_events_classified_categories on feedback_events",
    "check ck_trajectories_feedback_reward on trajectories",
];

/// Columns with their types, per backend: (sqlite line, postgres line).
const COLUMNS: &[(&str, &str)] = &[
    ("column semantic_facts.id text not null pk", "column semantic_facts.id text not null pk"),
    ("column semantic_facts.temporal_metadata json_text", "column semantic_facts.temporal_metadata json"),
    (
        "column semantic_facts.created_at timestamp_with_timezone_text not null",
        "column semantic_facts.created_at timestamp with time zone not null",
    ),
    ("column consolidation_state.id text not null pk", "column consolidation_state.id text not null pk"),
    ("column consolidation_state.state_json json_text not null", "column consolidation_state.state_json json not null"),
    (
        "column consolidation_state.updated_at timestamp_with_timezone_text",
        "column consolidation_state.updated_at timestamp with time zone",
    ),
    ("column skills.skill_id text not null pk", "column skills.skill_id text not null pk"),
    ("column skills.dimensions json_text not null", "column skills.dimensions json not null"),
    ("column skills.trigger_context json_text not null", "column skills.trigger_context json not null"),
    ("column user_skill_confidence.user_id text not null pk", "column user_skill_confidence.user_id text not null pk"),
    (
        "column user_skill_confidence.skill_id text not null pk",
        "column user_skill_confidence.skill_id text not null pk",
    ),
    (
        "column user_skill_confidence.confidence_score double",
        "column user_skill_confidence.confidence_score double precision",
    ),
    ("column user_skill_confidence.usage_count integer", "column user_skill_confidence.usage_count bigint"),
    (
        "column context_skill_stats.context_bucket integer not null pk",
        "column context_skill_stats.context_bucket bigint not null pk",
    ),
    ("column context_skill_stats.alpha double", "column context_skill_stats.alpha double precision"),
    ("column context_skill_stats.beta double", "column context_skill_stats.beta double precision"),
    (
        "column context_preference_vectors.dimensions json_text not null",
        "column context_preference_vectors.dimensions json not null",
    ),
    ("column feedback_events.reward integer not null", "column feedback_events.reward bigint not null"),
    ("column feedback_events.processed boolean", "column feedback_events.processed boolean"),
    ("column feedback_events.classified_categories json_text", "column feedback_events.classified_categories json"),
    ("column trajectories.turn_number integer not null", "column trajectories.turn_number bigint not null"),
    ("column trajectories.feedback_reward integer", "column trajectories.feedback_reward bigint"),
    ("column trajectories.archived boolean", "column trajectories.archived boolean"),
    (
        "column trajectories.timestamp timestamp_with_timezone_text",
        "column trajectories.timestamp timestamp with time zone",
    ),
];

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn fresh_up_builds_every_table_column_index_and_check(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up(&db, &conn).await;
    let s = schema(&conn).await;
    for line in EXPECTED {
        assert!(s.contains(*line), "{}: missing `{line}` in {s:#?}", db.name);
    }
    for (sqlite, postgres) in COLUMNS {
        let line = if db.name == "sqlite" { sqlite } else { postgres };
        assert!(s.contains(*line), "{}: missing `{line}` in {s:#?}", db.name);
    }
    assert_eq!(applied(&conn).await, all(), "{}", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn the_seed_query_uses_the_temporal_index(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up(&db, &conn).await;
    let dialect = aico_connect::dialect::Dialect::of_conn(&conn).expect("dialect");
    let query = format!(
        "SELECT * FROM semantic_facts WHERE {} > 0.5 ORDER BY {} DESC LIMIT 10",
        dialect.json_number("temporal_metadata", "confidence"),
        dialect.json_text("temporal_metadata", "last_accessed"),
    );
    let plan = match conn.get_database_backend() {
        DbBackend::Sqlite => {
            // The seed's query, verbatim.
            assert_eq!(
                query,
                "SELECT * FROM semantic_facts WHERE json_extract(temporal_metadata, '$.confidence') > 0.5 \
                 ORDER BY json_extract(temporal_metadata, '$.last_accessed') DESC LIMIT 10"
            );
            let rows = conn
                .query_all_raw(sea_orm::Statement::from_string(
                    DbBackend::Sqlite,
                    format!("EXPLAIN QUERY PLAN {query}"),
                ))
                .await
                .expect("explain");
            rows.iter().map(|r| r.try_get::<String>("", "detail").expect("detail")).collect::<Vec<_>>().join("\n")
        }
        _ => {
            let txn = conn.begin().await.expect("begin");
            txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.expect("set");
            let rows = txn
                .query_all_raw(sea_orm::Statement::from_string(DbBackend::Postgres, format!("EXPLAIN {query}")))
                .await
                .expect("explain");
            rows.iter().map(|r| r.try_get_by_index::<String>(0).expect("plan line")).collect::<Vec<_>>().join("\n")
        }
    };
    assert!(plan.contains("idx_semantic_facts_temporal"), "{}: plan does not use the index:\n{plan}", db.name);
    if db.name == "sqlite" {
        // The seed expects SEARCH; SQLite really scans the index in order (no range on its
        // first column), which is what makes ORDER BY ... LIMIT cheap.
        assert!(plan.contains("SCAN semantic_facts USING INDEX idx_semantic_facts_temporal"), "{plan}");
    }
}

/// An AICO-like `semantic_facts` with a column no migration knows, and rows in it.
async fn aico_facts(conn: &DatabaseConnection) {
    exec(
        conn,
        "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, content TEXT NOT NULL, \
         fact_type TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
         extra_notes TEXT)",
    )
    .await;
    exec(
        conn,
        "INSERT INTO semantic_facts (id, user_id, content, fact_type, created_at, extra_notes) VALUES \
         ('f1', 'u1', 'likes tea  ☕', 'preference', '2025-11-07 18:00:00', 'kept\ttabs'), \
         ('f2', 'u1', 'lives in Bern', NULL, '2025-11-07T18:00:00Z', NULL), \
         ('f3', 'u2', '', 'fact', '2025-01-01 00:00:00', 'ünïcödé')",
    )
    .await;
}

const FACT_COLUMNS: [&str; 7] = ["id", "user_id", "content", "fact_type", "created_at", "updated_at", "extra_notes"];

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn up_twice_changes_nothing_and_down_up_restores_the_schema_with_rows_intact(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    aico_facts(&conn).await;
    up(&db, &conn).await;
    exec(&conn, "UPDATE semantic_facts SET temporal_metadata = '{\"confidence\": 0.9, \"z\":[1,2]}' WHERE id = 'f1'")
        .await;
    let mut cols = FACT_COLUMNS.to_vec();
    cols.push("temporal_metadata");
    let rows = fingerprint(&conn, "semantic_facts", &cols, "id").await;
    let migrated = schema(&conn).await;
    let recorded = column_of(&conn, "SELECT version || '@' || applied_at FROM seaql_migrations ORDER BY version").await;

    up(&db, &conn).await;
    assert_eq!(schema(&conn).await, migrated, "{}: second up changed the schema", db.name);
    assert_eq!(
        column_of(&conn, "SELECT version || '@' || applied_at FROM seaql_migrations ORDER BY version").await,
        recorded,
        "{}",
        db.name
    );

    migrate(&db, &conn, Command::Down { steps: 4 }).await.expect("all down");
    assert_eq!(applied(&conn).await, Vec::<String>::new(), "{}", db.name);
    let down = schema(&conn).await;
    assert!(down.contains("table semantic_facts"), "{}: down dropped AICO's table", db.name);
    assert!(!down.contains("table skills") && !down.contains("table consolidation_state"), "{}", db.name);
    assert!(!down.iter().any(|l| l.contains("idx_semantic_facts")), "{}: {down:#?}", db.name);
    // Phase 1's rollback keeps the column and its data, as the seed says.
    assert_eq!(fingerprint(&conn, "semantic_facts", &cols, "id").await, rows, "{}", db.name);

    up(&db, &conn).await;
    assert_eq!(schema(&conn).await, migrated, "{}: down+up differs", db.name);
    assert_eq!(fingerprint(&conn, "semantic_facts", &cols, "id").await, rows, "{}", db.name);
    assert_eq!(applied(&conn).await, all());
}

/// The seed's SQL as a user would have run it by hand (Phase 3 written as valid SQL).
fn seed_sql(backend: DbBackend) -> Vec<String> {
    let (json, phase1) = match backend {
        DbBackend::Sqlite => (
            "TEXT",
            vec![
                "ALTER TABLE semantic_facts ADD COLUMN temporal_metadata TEXT DEFAULT NULL".to_owned(),
                "CREATE INDEX IF NOT EXISTS idx_semantic_facts_temporal ON semantic_facts(\n    \
                 json_extract(temporal_metadata, '$.last_accessed'),\n    json_extract(temporal_metadata, '$.confidence')\n)"
                    .to_owned(),
                "CREATE INDEX IF NOT EXISTS idx_semantic_facts_superseded ON semantic_facts(\n    \
                 json_extract(temporal_metadata, '$.superseded_by')\n)"
                    .to_owned(),
            ],
        ),
        _ => (
            "TEXT",
            vec![
                "ALTER TABLE semantic_facts ADD COLUMN temporal_metadata TEXT DEFAULT NULL".to_owned(),
                "CREATE INDEX IF NOT EXISTS idx_semantic_facts_temporal ON semantic_facts(\
                 (temporal_metadata::json ->> 'last_accessed'), (temporal_metadata::json ->> 'confidence'))"
                    .to_owned(),
                "CREATE INDEX IF NOT EXISTS idx_semantic_facts_superseded ON semantic_facts(\
                 (temporal_metadata::json ->> 'superseded_by'))"
                    .to_owned(),
            ],
        ),
    };
    let datetime = if backend == DbBackend::Sqlite { "DATETIME" } else { "TIMESTAMP" };
    let mut sql = phase1;
    sql.extend([
        format!("CREATE TABLE IF NOT EXISTS consolidation_state (id TEXT PRIMARY KEY, state_json {json} NOT NULL, updated_at {datetime} DEFAULT CURRENT_TIMESTAMP)"),
        "CREATE INDEX IF NOT EXISTS idx_consolidation_state_updated ON consolidation_state(updated_at DESC)".into(),
        format!("CREATE TABLE IF NOT EXISTS skills (skill_id TEXT PRIMARY KEY, skill_name TEXT NOT NULL, skill_type TEXT NOT NULL, trigger_context TEXT NOT NULL, procedure_template TEXT NOT NULL, dimensions TEXT NOT NULL, created_at {datetime} DEFAULT CURRENT_TIMESTAMP, updated_at {datetime} DEFAULT CURRENT_TIMESTAMP)"),
        "CREATE INDEX IF NOT EXISTS idx_skill_type ON skills(skill_type)".into(),
        format!("CREATE TABLE IF NOT EXISTS user_skill_confidence (user_id TEXT NOT NULL, skill_id TEXT NOT NULL, confidence_score REAL DEFAULT 0.5, usage_count INTEGER DEFAULT 0, positive_count INTEGER DEFAULT 0, negative_count INTEGER DEFAULT 0, last_used_at {datetime}, PRIMARY KEY (user_id, skill_id))"),
        "CREATE INDEX IF NOT EXISTS idx_user_confidence ON user_skill_confidence(user_id, confidence_score DESC)".into(),
        format!("CREATE TABLE IF NOT EXISTS context_skill_stats (user_id TEXT NOT NULL, context_bucket INTEGER NOT NULL, skill_id TEXT NOT NULL, alpha REAL DEFAULT 1.0, beta REAL DEFAULT 1.0, last_updated_at {datetime} DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, context_bucket, skill_id))"),
        "CREATE INDEX IF NOT EXISTS idx_user_context ON context_skill_stats(user_id, context_bucket)".into(),
        format!("CREATE TABLE IF NOT EXISTS context_preference_vectors (user_id TEXT NOT NULL, context_bucket INTEGER NOT NULL, dimensions TEXT NOT NULL, last_updated_at {datetime} DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, context_bucket))"),
        "CREATE INDEX IF NOT EXISTS idx_user_prefs ON context_preference_vectors(user_id)".into(),
        format!("CREATE TABLE IF NOT EXISTS feedback_events (event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, message_id TEXT NOT NULL, skill_id TEXT, reward INTEGER NOT NULL, reason TEXT, free_text TEXT, classified_categories TEXT, timestamp {datetime} DEFAULT CURRENT_TIMESTAMP, processed BOOLEAN DEFAULT FALSE)"),
        "CREATE INDEX IF NOT EXISTS idx_feedback_user ON feedback_events(user_id)".into(),
        "CREATE INDEX IF NOT EXISTS idx_feedback_skill ON feedback_events(skill_id)".into(),
        "CREATE INDEX IF NOT EXISTS idx_feedback_processed ON feedback_events(processed)".into(),
        format!("CREATE TABLE IF NOT EXISTS trajectories (trajectory_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, turn_number INTEGER NOT NULL, user_input TEXT NOT NULL, selected_skill_id TEXT, ai_response TEXT NOT NULL, feedback_reward INTEGER, timestamp {datetime} DEFAULT CURRENT_TIMESTAMP, archived BOOLEAN DEFAULT FALSE)"),
        "CREATE INDEX IF NOT EXISTS idx_trajectory_user_feedback ON trajectories(user_id, feedback_reward)".into(),
        "CREATE INDEX IF NOT EXISTS idx_trajectory_timestamp ON trajectories(timestamp)".into(),
    ]);
    sql
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn adopts_a_database_where_the_seed_sql_was_run_by_hand(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    aico_facts(&conn).await;
    for sql in seed_sql(conn.get_database_backend()) {
        exec(&conn, &sql).await;
    }
    exec(&conn, "UPDATE semantic_facts SET temporal_metadata = '{ \"created_at\": \"2025-11-07T18:00:00Z\",  \"confidence\": 0.85, \"superseded_by\": null }' WHERE id = 'f2'").await;
    exec(&conn, "INSERT INTO consolidation_state (id, state_json) VALUES ('c1', '{\"status\": \"completed\"}')").await;
    exec(&conn, "INSERT INTO skills (skill_id, skill_name, skill_type, trigger_context, procedure_template, dimensions) VALUES ('s1', 'greet', 'base', '{}', 'say hi', '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]')").await;
    let mut cols = FACT_COLUMNS.to_vec();
    cols.push("temporal_metadata");
    let facts = fingerprint(&conn, "semantic_facts", &cols, "id").await;
    let states = fingerprint(&conn, "consolidation_state", &["id", "state_json", "updated_at"], "id").await;
    let skills =
        fingerprint(&conn, "skills", &["skill_id", "trigger_context", "dimensions", "created_at"], "skill_id").await;

    up(&db, &conn).await;
    assert_eq!(applied(&conn).await, all(), "{}", db.name);
    assert_eq!(fingerprint(&conn, "semantic_facts", &cols, "id").await, facts, "{}", db.name);
    assert_eq!(fingerprint(&conn, "consolidation_state", &["id", "state_json", "updated_at"], "id").await, states);
    assert_eq!(
        fingerprint(&conn, "skills", &["skill_id", "trigger_context", "dimensions", "created_at"], "skill_id").await,
        skills
    );
    let s = schema(&conn).await;
    for line in EXPECTED.iter().filter(|l| !l.starts_with("check")) {
        assert!(s.contains(*line), "{}: missing `{line}`", db.name);
    }
    if db.name == "postgres" {
        // A text column became json, which keeps its bytes (checked above).
        assert!(s.contains("column semantic_facts.temporal_metadata json"), "{s:#?}");
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn adopts_a_database_where_only_the_column_exists(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    aico_facts(&conn).await;
    exec(&conn, "ALTER TABLE semantic_facts ADD COLUMN temporal_metadata TEXT DEFAULT NULL").await;
    exec(&conn, "UPDATE semantic_facts SET temporal_metadata = '{\"version\":2,   \"last_accessed\":\"2025-11-07T19:00:00Z\"}' WHERE id = 'f3'").await;
    let mut cols = FACT_COLUMNS.to_vec();
    cols.push("temporal_metadata");
    let facts = fingerprint(&conn, "semantic_facts", &cols, "id").await;
    up(&db, &conn).await;
    assert_eq!(fingerprint(&conn, "semantic_facts", &cols, "id").await, facts, "{}", db.name);
    let s = schema(&conn).await;
    assert!(s.contains("index idx_semantic_facts_temporal on semantic_facts"), "{}", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn invalid_json_in_an_existing_column_fails_naming_the_rows_and_changes_nothing(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    aico_facts(&conn).await;
    exec(&conn, "ALTER TABLE semantic_facts ADD COLUMN temporal_metadata TEXT DEFAULT NULL").await;
    exec(&conn, "UPDATE semantic_facts SET temporal_metadata = 'not json {' WHERE id = 'f2'").await;
    let before = schema(&conn).await;
    let err = migrate(&db, &conn, Command::Up { steps: None }).await.expect_err("must fail");
    assert!(err.contains("m0001_temporal_metadata") && err.contains("not valid JSON"), "{}: {err}", db.name);
    if db.name == "sqlite" {
        assert!(err.contains("f2"), "{err}");
    }
    assert_eq!(schema(&conn).await, before, "{}: a failed run changed the schema", db.name);
}

/// Insert `sql`; Ok when the database accepted it.
async fn insert(conn: &DatabaseConnection, sql: &str) -> Result<(), String> {
    conn.execute_unprepared(sql).await.map(|_| ()).map_err(|e| e.to_string())
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn check_constraints_reject_bad_rows(#[case] backend: Backend) {
    let v16 = "[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]";
    let v15 = "[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]";
    let ok_300 = "é".repeat(300);
    let bad_301 = "é".repeat(301);
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up(&db, &conn).await;
    let skill = |id: &str, ty: &str, dims: &str| {
        format!(
            "INSERT INTO skills (skill_id, skill_name, skill_type, trigger_context, procedure_template, dimensions) VALUES ('{id}', 'n', '{ty}', '{{\"intent\": [\"greet\"]}}', 'p', '{dims}')"
        )
    };
    let feedback = |id: &str, reward: i32, text: &str| {
        format!(
            "INSERT INTO feedback_events (event_id, user_id, message_id, reward, free_text) VALUES ('{id}', 'u', 'm', {reward}, '{text}')"
        )
    };
    let stats = |bucket: i32, alpha: f64| {
        format!(
            "INSERT INTO context_skill_stats (user_id, context_bucket, skill_id, alpha, beta) VALUES ('u', {bucket}, 's', {alpha}, 1.0)"
        )
    };
    let good = [
        skill("s1", "base", v16),
        skill("s2", "user_created", v16),
        feedback("e1", -1, &ok_300),
        feedback("e2", 0, ""),
        feedback("e3", 1, "fine"),
        stats(0, 0.5),
        stats(99, 3.0),
        "INSERT INTO user_skill_confidence (user_id, skill_id, confidence_score) VALUES ('u', 's', 1.0)".into(),
        format!("INSERT INTO context_preference_vectors (user_id, context_bucket, dimensions) VALUES ('u', 5, '{v16}')"),
        "INSERT INTO trajectories (trajectory_id, user_id, conversation_id, turn_number, user_input, ai_response, feedback_reward) VALUES ('t1', 'u', 'c', 1, 'hi', 'hello', NULL)".into(),
        "INSERT INTO feedback_events (event_id, user_id, message_id, reward, classified_categories) VALUES ('e4', 'u', 'm', 1, '{\"too_verbose\": 0.85}')".into(),
    ];
    for sql in &good {
        insert(&conn, sql).await.unwrap_or_else(|e| panic!("{}: rejected a good row: {sql}: {e}", db.name));
    }
    let bad = [
        (skill("b1", "other", v16), "ck_skills_skill_type"),
        (skill("b2", "base", v15), "ck_skills_dimensions"),
        (skill("b3", "base", "{\"a\": 1}"), "ck_skills_dimensions"),
        (feedback("b4", 2, "x"), "ck_feedback_events_reward"),
        (feedback("b5", 1, &bad_301), "ck_feedback_events_free_text"),
        (stats(100, 1.0), "ck_context_skill_stats_bucket"),
        (stats(-1, 1.0), "ck_context_skill_stats_bucket"),
        (stats(7, 0.0), "ck_context_skill_stats_alpha"),
        ("INSERT INTO context_skill_stats (user_id, context_bucket, skill_id, beta) VALUES ('u', 8, 's', -1)".into(), "ck_context_skill_stats_beta"),
        ("INSERT INTO user_skill_confidence (user_id, skill_id, confidence_score) VALUES ('u', 'b', 1.5)".into(), "ck_user_skill_confidence_score"),
        ("INSERT INTO user_skill_confidence (user_id, skill_id, confidence_score) VALUES ('u', 'c', -0.1)".into(), "ck_user_skill_confidence_score"),
        (format!("INSERT INTO context_preference_vectors (user_id, context_bucket, dimensions) VALUES ('u', 6, '{v15}')"), "ck_context_preference_vectors_dimensions"),
        ("INSERT INTO trajectories (trajectory_id, user_id, conversation_id, turn_number, user_input, ai_response, feedback_reward) VALUES ('t2', 'u', 'c', 1, 'hi', 'hello', -2)".into(), "ck_trajectories_feedback_reward"),
        ("INSERT INTO feedback_events (event_id, user_id, message_id, reward, classified_categories) VALUES ('b6', 'u', 'm', 1, '[1]')".into(), "ck_feedback_events_classified_categories"),
    ];
    for (sql, constraint) in &bad {
        let err = insert(&conn, sql).await.expect_err(&format!("{}: accepted {sql}", db.name));
        assert!(err.contains(constraint), "{}: {sql}: error does not name {constraint}: {err}", db.name);
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn down_of_phase_3_with_rows_writes_a_backup_on_sqlite_and_refuses_on_postgres(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up(&db, &conn).await;
    exec(&conn, "INSERT INTO skills (skill_id, skill_name, skill_type, trigger_context, procedure_template, dimensions) VALUES ('keep-me', 'n', 'base', '{}', 'p', '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]')").await;
    let result = migrate(&db, &conn, Command::Down { steps: 1 }).await;
    match db.sqlite_path() {
        Some(path) => {
            result.expect("down with a backup");
            assert!(!aico_tests::has_table(&conn, "skills").await);
            let dir = db.dir().expect("dir");
            let backups: Vec<_> = std::fs::read_dir(dir)
                .expect("read dir")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().contains(".m0003.backup-"))
                .collect();
            assert_eq!(backups.len(), 1, "one backup beside {}: {backups:?}", path.display());
            let restored = aico_connect::target::Target::from_url(&format!("sqlite://{}", backups[0].display()))
                .expect("url")
                .connect(None)
                .await
                .expect("open backup");
            assert_eq!(column_of(&restored, "SELECT skill_id FROM skills").await, ["keep-me"]);
            assert_eq!(applied(&restored).await, all(), "the backup is the state before the rollback");
        }
        None => {
            let err = result.expect_err("postgres must refuse");
            assert!(err.contains("refusing") && err.contains("skills: 1 row"), "{err}");
            assert_eq!(column_of(&conn, "SELECT skill_id FROM skills").await, ["keep-me"]);
            assert_eq!(applied(&conn).await, all());
        }
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_baseline_without_required_columns_fails_clearly_and_changes_nothing(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    exec(&conn, "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, content TEXT)").await;
    let before = schema(&conn).await;
    let err = migrate(&db, &conn, Command::Up { steps: None }).await.expect_err("must fail");
    assert!(
        err.contains("m0000_semantic_facts_baseline")
            && err.contains("created_at")
            && err.contains("nothing was changed"),
        "{}: {err}",
        db.name
    );
    assert_eq!(schema(&conn).await, before, "{}", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn the_catalog_lists_exactly_what_the_migrations_build(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up(&db, &conn).await;
    let live = schema(&conn).await;
    let mut listed = std::collections::BTreeSet::new();
    for entry in migration::catalog::seed() {
        assert!(all().iter().any(|m| m == entry.migration), "unknown migration {}", entry.migration);
        listed.extend(entry.tables.iter().map(|t| format!("table {t}")));
        listed.extend(entry.indexes.iter().map(|(i, t)| format!("index {i} on {t}")));
    }
    let built: std::collections::BTreeSet<String> = live
        .into_iter()
        .filter(|l| (l.starts_with("table ") || l.starts_with("index ")) && !l.contains("seaql_migrations"))
        // The runner's bookkeeping, beside SeaORM's: no migration's.
        .filter(|l| *l != format!("table {}", migration::fingerprint::TABLE))
        .collect();
    assert_eq!(built, listed, "{}", db.name);
}
