//! The generated models against real databases: no drift from the migrated schema on either
//! backend, every model and typed value round-trips, CHECK violations are matchable.

use rstest::rstest;
use std::collections::BTreeSet;

use aico_tests::{Backend, TestDb, exec, schema};
use chrono::DateTime;
use entity::values::{
    ClassifiedCategories, ConsolidationState, ConsolidationStatus, FromJson, PreferenceVector, Reward, SkillType,
    StoredJson, StoredTimestamp, TemporalMetadata, Timestamp, TriggerContext, ValueError,
};
use entity::{
    CheckViolation, consolidation_state, context_preference_vectors, context_skill_stats, feedback_events,
    semantic_facts, skills, trajectories, user_skill_confidence,
};
use migration::runner::{self, Command};
use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, QueryOrder,
};
use serde_json::json;

async fn migrated(db: &TestDb) -> DatabaseConnection {
    let conn = db.connect().await;
    runner::run(&conn, &db.target, Command::Up { steps: None }, &Default::default(), |_| {}).await.expect("up");
    conn
}

/// The column type the backend reports for a generated column type.
fn backend_type(backend: DbBackend, ty: &ColumnType) -> &'static str {
    let sqlite = backend == DbBackend::Sqlite;
    match ty {
        ColumnType::Text | ColumnType::String(_) => "text",
        ColumnType::Json => {
            if sqlite {
                "json_text"
            } else {
                "json"
            }
        }
        ColumnType::TimestampWithTimeZone => {
            if sqlite {
                "timestamp_with_timezone_text"
            } else {
                "timestamp with time zone"
            }
        }
        ColumnType::BigInteger | ColumnType::Integer => {
            if sqlite {
                "integer"
            } else {
                "bigint"
            }
        }
        ColumnType::Double => {
            if sqlite {
                "double"
            } else {
                "double precision"
            }
        }
        ColumnType::Boolean => "boolean",
        other => panic!("the schema uses no {other:?}"),
    }
}

/// `column T.C TYPE [not null]` lines (pk left out) of one entity's columns.
fn model_lines<E: EntityTrait>(backend: DbBackend) -> BTreeSet<String> {
    let table = E::default().table_name().to_owned();
    E::Column::iter()
        .map(|c| {
            let def = c.def();
            let null = if def.is_null() { "" } else { " not null" };
            format!("column {table}.{} {}{null}", c.as_str(), backend_type(backend, def.get_column_type()))
        })
        .collect()
}

/// The migrated database's `column T.C ...` lines, pk left out, of every table but the runner's
/// bookkeeping (`seaql_migrations`, the fingerprints).
async fn live_columns(conn: &DatabaseConnection) -> BTreeSet<String> {
    let bookkeeping = ["seaql_migrations", migration::fingerprint::TABLE].map(|t| format!("column {t}."));
    schema(conn)
        .await
        .into_iter()
        .filter(|l| l.starts_with("column ") && !bookkeeping.iter().any(|b| l.starts_with(b.as_str())))
        .map(|l| l.trim_end_matches(" pk").to_owned())
        .collect()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn generated_models_match_the_migrated_schema_on_every_backend(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = migrated(&db).await;
    let backend = db.name_backend();
    let mut models = BTreeSet::new();
    models.extend(model_lines::<semantic_facts::Entity>(backend));
    models.extend(model_lines::<consolidation_state::Entity>(backend));
    models.extend(model_lines::<skills::Entity>(backend));
    models.extend(model_lines::<user_skill_confidence::Entity>(backend));
    models.extend(model_lines::<context_skill_stats::Entity>(backend));
    models.extend(model_lines::<context_preference_vectors::Entity>(backend));
    models.extend(model_lines::<feedback_events::Entity>(backend));
    models.extend(model_lines::<trajectories::Entity>(backend));
    // A table the migrations adopt as found has a model that allows NULL in every column but its
    // key (it reads every row such a table can hold): what our own migration declares NOT NULL
    // there is stricter than the model, and the only difference allowed.
    let keys: BTreeSet<String> = schema(&conn)
        .await
        .into_iter()
        .filter_map(|l| Some(l.strip_suffix(" pk")?.split(' ').nth(1)?.to_owned()))
        .collect();
    let adopted_column = |line: &str| {
        let column = line.split(' ').nth(1).unwrap_or_default();
        let table = column.split('.').next().unwrap_or_default();
        entity::ADOPTED_AS_FOUND.contains(&table) && !keys.contains(column)
    };
    let strict: Vec<_> = models.iter().filter(|l| adopted_column(l) && l.ends_with(" not null")).collect();
    assert!(strict.is_empty(), "{}: NOT NULL in a model of an adopted table: {strict:#?}", db.name);
    assert_eq!(
        entity::ADOPTED_AS_FOUND.iter().copied().collect::<BTreeSet<_>>(),
        [
            "semantic_facts",
            "consolidation_state",
            "skills",
            "user_skill_confidence",
            "context_skill_stats",
            "context_preference_vectors",
            "feedback_events",
            "trajectories"
        ]
        .into(),
        "every table the migrations make is one they adopt when it exists"
    );
    let live: BTreeSet<String> = live_columns(&conn)
        .await
        .into_iter()
        .map(|l| if adopted_column(&l) { l.trim_end_matches(" not null").to_owned() } else { l })
        .collect();
    assert_eq!(models.len(), 54, "{}: every column of the eight tables", db.name);
    let only_db: Vec<_> = live.difference(&models).collect();
    let only_model: Vec<_> = models.difference(&live).collect();
    assert!(
        only_db.is_empty() && only_model.is_empty(),
        "{}: drift\n in the database only: {only_db:#?}\n in the models only: {only_model:#?}",
        db.name
    );
}

/// `entity::all_columns`, the list `verify`'s drift check compares with the live schema, is
/// generated: it holds every column of every table the migrations make, read back from a migrated
/// database (not from any list), so a table a new migration adds is in it, and checked.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn all_columns_lists_every_table_the_migrations_make(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = migrated(&db).await;
    let listed: BTreeSet<(String, String)> =
        entity::all_columns().iter().map(|c| (c.table.to_owned(), c.name.to_owned())).collect();
    let live: BTreeSet<(String, String)> = live_columns(&conn)
        .await
        .iter()
        .filter_map(|l| l.strip_prefix("column ")?.split(' ').next()?.split_once('.'))
        .map(|(t, c)| (t.to_owned(), c.to_owned()))
        .collect();
    assert_eq!(listed, live, "{}: every table and column the migrations make, and nothing else", db.name);
}

fn at(s: &str) -> StoredTimestamp {
    DateTime::parse_from_rfc3339(s).expect("timestamp").into()
}

fn vector(seed: f64) -> PreferenceVector {
    let v: Vec<f64> = (0..16).map(|i| seed + f64::from(i) / 32.0).collect();
    PreferenceVector::try_from(v).expect("16 dimensions")
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn every_model_and_typed_value_round_trips(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = migrated(&db).await;
    let name = db.name;

    // semantic_facts, with metadata carrying a key from another AICO version.
    let created = Timestamp::parse("2025-11-07T18:00:00+02:00").expect("ts");
    let mut meta = TemporalMetadata::initial(created);
    meta.confidence = 0.85;
    meta.superseded_by = Some("fact-9".into());
    meta.extra.insert("decay_rate".into(), json!(0.125));
    let mut fact = semantic_facts::ActiveModel {
        id: Set("fact-1".into()),
        user_id: Set(Some("user-1".into())),
        content: Set(Some("likes ☕ at 7".into())),
        created_at: Set(Some(at("2025-11-07T18:00:00+02:00"))),
        updated_at: Set(Some(at("2025-11-08T01:02:03.250Z"))),
        temporal_metadata: Set(None),
    };
    fact.set_temporal(&meta);
    let inserted = fact.insert(&conn).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    let read = semantic_facts::Entity::find_by_id("fact-1").one(&conn).await.expect("select").expect("row");
    assert_eq!(read, inserted, "{name}");
    let back = read.temporal().expect("typed").expect("some");
    assert_eq!(back, meta, "{name}");
    assert_eq!(back.created_at.to_string(), "2025-11-07T16:00:00Z");
    assert_eq!(back.extra.get("decay_rate"), Some(&json!(0.125)), "{name}: unknown key lost");
    // A fact without metadata reads as None (NULL, not JSON null).
    let bare = semantic_facts::ActiveModel {
        id: Set("fact-2".into()),
        user_id: Set(Some("user-1".into())),
        content: Set(Some(String::new())),
        created_at: Set(Some(at("2025-01-01T00:00:00Z"))),
        updated_at: Set(Some(at("2025-01-01T00:00:00Z"))),
        temporal_metadata: Set(None),
    }
    .insert(&conn)
    .await
    .expect("insert bare");
    assert_eq!(bare.temporal().expect("typed"), None);

    // consolidation_state: the seed's example.
    let seed_state = json!({
        "status": "completed",
        "progress": {"total_users": 100, "completed_users": 100, "failed_users": 0, "total_experiences": 5000,
                     "processed_experiences": 5000, "started_at": "2025-11-07T02:00:00Z", "estimated_completion": null},
        "last_run": "2025-11-07T02:45:00Z", "next_scheduled": "2025-11-08T02:00:00Z", "errors": [], "metadata": {}
    });
    let state = ConsolidationState::from_json(&seed_state).expect("seed state");
    let mut row =
        consolidation_state::ActiveModel { id: Set("c1".into()), updated_at: Set(None), ..Default::default() };
    row.set_state(&state);
    let row = row.insert(&conn).await.expect("insert state");
    let read = consolidation_state::Entity::find_by_id("c1").one(&conn).await.expect("select").expect("row");
    assert_eq!(read, row);
    assert_eq!(read.state_json, Some(StoredJson::Parsed(seed_state)), "{name}: state_json changed");
    assert_eq!(read.state().expect("typed").expect("some").status, ConsolidationStatus::Completed);

    // skills and preference vectors.
    let trigger = TriggerContext::from_json(&json!({"intent": ["greet"], "time_of_day": "morning", "mood": "calm"}))
        .expect("trigger");
    let mut skill = skills::ActiveModel {
        skill_id: Set("s1".into()),
        skill_name: Set(Some("greet".into())),
        procedure_template: Set(Some("say hello to {name}".into())),
        created_at: Set(Some(at("2025-11-07T18:00:00Z"))),
        updated_at: Set(None),
        ..Default::default()
    };
    skill.set_kind(SkillType::UserCreated);
    skill.set_trigger(&trigger);
    skill.set_vector(&vector(0.25));
    let skill = skill.insert(&conn).await.expect("insert skill");
    let read = skills::Entity::find_by_id("s1").one(&conn).await.expect("select").expect("row");
    assert_eq!(read, skill);
    assert_eq!(read.kind().expect("kind"), Some(SkillType::UserCreated));
    assert_eq!(read.trigger().expect("trigger"), Some(trigger));
    assert_eq!(read.vector().expect("vector"), Some(vector(0.25)));

    let mut prefs = context_preference_vectors::ActiveModel {
        user_id: Set("user-1".into()),
        context_bucket: Set(42),
        last_updated_at: Set(None),
        ..Default::default()
    };
    prefs.set_vector(&vector(0.5));
    let prefs = prefs.insert(&conn).await.expect("insert prefs");
    let read = context_preference_vectors::Entity::find_by_id(("user-1".to_owned(), 42))
        .one(&conn)
        .await
        .expect("select")
        .expect("row");
    assert_eq!(read, prefs);
    assert_eq!(read.vector().expect("vector"), Some(vector(0.5)));

    // Thompson-sampling statistics and confidence.
    let stats = context_skill_stats::Model {
        user_id: "user-1".into(),
        context_bucket: 99,
        skill_id: "s1".into(),
        alpha: Some(3.5),
        beta: Some(1.25),
        last_updated_at: Some(at("2025-11-07T18:00:00Z")),
    };
    stats.clone().into_active_model().insert(&conn).await.expect("insert stats");
    let read = context_skill_stats::Entity::find_by_id(("user-1".to_owned(), 99, "s1".to_owned()))
        .one(&conn)
        .await
        .expect("select")
        .expect("row");
    assert_eq!(read, stats);
    let confidence = user_skill_confidence::Model {
        user_id: "user-1".into(),
        skill_id: "s1".into(),
        confidence_score: Some(0.75),
        usage_count: Some(i64::from(u32::MAX) + 7),
        positive_count: Some(3),
        negative_count: None,
        last_used_at: None,
    };
    confidence.clone().into_active_model().insert(&conn).await.expect("insert confidence");
    let read = user_skill_confidence::Entity::find_by_id(("user-1".to_owned(), "s1".to_owned()))
        .one(&conn)
        .await
        .expect("select")
        .expect("row");
    assert_eq!(read, confidence, "{name}: 64-bit counters and NULLs");

    // feedback and trajectories.
    let categories =
        ClassifiedCategories::from_json(&json!({"too_verbose": 0.85, "off_topic": 0.1})).expect("categories");
    let mut event = feedback_events::ActiveModel {
        event_id: Set("e1".into()),
        user_id: Set(Some("user-1".into())),
        message_id: Set(Some("m1".into())),
        skill_id: Set(Some("s1".into())),
        reason: Set(Some("too long".into())),
        free_text: Set(Some("é".repeat(300))),
        timestamp: Set(Some(at("2025-11-07T18:00:00Z"))),
        processed: Set(Some(true)),
        ..Default::default()
    };
    event.set_reward(Reward::Negative);
    event.set_categories(Some(&categories));
    let event = event.insert(&conn).await.expect("insert event");
    let read = feedback_events::Entity::find_by_id("e1").one(&conn).await.expect("select").expect("row");
    assert_eq!(read, event);
    assert_eq!(read.reward_value().expect("reward"), Some(Reward::Negative));
    assert_eq!(read.categories().expect("categories"), Some(categories));

    let mut turn = trajectories::ActiveModel {
        trajectory_id: Set("t1".into()),
        user_id: Set(Some("user-1".into())),
        conversation_id: Set(Some("conv-1".into())),
        turn_number: Set(Some(7)),
        user_input: Set(Some("hi".into())),
        selected_skill_id: Set(None),
        ai_response: Set(Some("hello".into())),
        timestamp: Set(None),
        archived: Set(Some(false)),
        ..Default::default()
    };
    turn.set_reward(None);
    let turn = turn.insert(&conn).await.expect("insert turn");
    let read = trajectories::Entity::find_by_id("t1").one(&conn).await.expect("select").expect("row");
    assert_eq!(read, turn);
    assert_eq!(read.reward_value().expect("reward"), None);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn metadata_written_in_any_timestamp_format_reads_and_rewrites_as_utc_z(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = migrated(&db).await;
    for (i, ts) in [
        "2025-11-07T18:00:00Z",
        "2025-11-07T20:00:00+02:00",
        "2025-11-07T18:00:00",
        "2025-11-07T18:00:00.000",
        "2025-11-07 18:00:00",
        "2025-11-07 18:00:00+00:00",
    ]
    .iter()
    .enumerate()
    {
        exec(&conn, &format!(
            "INSERT INTO semantic_facts (id, user_id, content, created_at, updated_at, temporal_metadata) VALUES \
             ('f{i}', 'u', 'c', '2025-11-07T18:00:00Z', '2025-11-07T18:00:00Z', \
              '{{\"created_at\": \"{ts}\", \"last_updated\": \"{ts}\", \"last_accessed\": \"{ts}\", \"access_count\": 2, \
                \"confidence\": 0.5, \"version\": 1, \"superseded_by\": null, \"origin\": \"v0.9\"}}')"
        )).await;
        let fact = semantic_facts::Entity::find_by_id(format!("f{i}")).one(&conn).await.expect("select").expect("row");
        let mut meta = fact.temporal().unwrap_or_else(|e| panic!("{}: {ts}: {e}", db.name)).expect("some");
        assert_eq!(meta.last_accessed.to_string(), "2025-11-07T18:00:00Z", "{}: {ts}", db.name);
        meta.access_count += 1;
        let mut active = fact.into_active_model();
        active.set_temporal(&meta);
        let saved = active.update(&conn).await.expect("update");
        let written = saved.temporal_metadata.as_ref().and_then(StoredJson::json).expect("json").clone();
        assert_eq!(written["created_at"], json!("2025-11-07T18:00:00Z"));
        assert_eq!(written["access_count"], json!(3));
        assert_eq!(written["origin"], json!("v0.9"), "{}: unknown key lost on rewrite", db.name);
    }
    // A timestamp that cannot be read is a typed error naming it.
    exec(&conn, "INSERT INTO semantic_facts (id, user_id, content, created_at, updated_at, temporal_metadata) VALUES \
         ('bad', 'u', 'c', '2025-11-07T18:00:00Z', '2025-11-07T18:00:00Z', \
          '{\"created_at\": \"last tuesday\", \"last_updated\": \"2025-11-07T18:00:00Z\", \"last_accessed\": \"2025-11-07T18:00:00Z\", \
            \"access_count\": 0, \"confidence\": 1.0, \"version\": 1, \"superseded_by\": null}')").await;
    let fact = semantic_facts::Entity::find_by_id("bad").one(&conn).await.expect("select").expect("row");
    let err = fact.temporal().expect_err("unparseable").to_string();
    assert!(err.contains("last tuesday"), "{}: {err}", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn check_violations_name_the_broken_rule(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = migrated(&db).await;
    let cases: [(feedback_events::ActiveModel, &str); 2] = [
        (
            feedback_events::ActiveModel {
                event_id: Set("e1".into()),
                user_id: Set(Some("u".into())),
                message_id: Set(Some("m".into())),
                reward: Set(Some(2)),
                ..Default::default()
            },
            "ck_feedback_events_reward",
        ),
        (
            feedback_events::ActiveModel {
                event_id: Set("e2".into()),
                user_id: Set(Some("u".into())),
                message_id: Set(Some("m".into())),
                reward: Set(Some(1)),
                free_text: Set(Some("x".repeat(301))),
                ..Default::default()
            },
            "ck_feedback_events_free_text",
        ),
    ];
    for (row, rule) in cases {
        let err = row.insert(&conn).await.expect_err("must be rejected");
        assert_eq!(
            CheckViolation::of(&err),
            Some(CheckViolation { constraint: rule.to_owned() }),
            "{}: {err}",
            db.name
        );
    }
    let bucket = context_skill_stats::Model {
        user_id: "u".into(),
        context_bucket: 100,
        skill_id: "s".into(),
        alpha: Some(1.0),
        beta: Some(1.0),
        last_updated_at: None,
    };
    let err = bucket.into_active_model().insert(&conn).await.expect_err("bucket 100");
    assert_eq!(
        CheckViolation::of(&err).map(|v| v.constraint),
        Some("ck_context_skill_stats_bucket".into()),
        "{}",
        db.name
    );
    // Not every error is a CHECK violation: a duplicate key is not.
    let ok = feedback_events::ActiveModel {
        event_id: Set("e3".into()),
        user_id: Set(Some("u".into())),
        message_id: Set(Some("m".into())),
        reward: Set(Some(0)),
        ..Default::default()
    };
    ok.clone().insert(&conn).await.expect("a good row");
    let err = ok.insert(&conn).await.expect_err("duplicate key");
    assert_eq!(CheckViolation::of(&err), None, "{}: {err}", db.name);
}

/// A `created_at` of the model as the outside crate prints it: `parsed <RFC 3339 Z>`,
/// `unreadable <the text>` or `null`.
fn shown(created: Option<&StoredTimestamp>) -> String {
    match created {
        Some(StoredTimestamp::Parsed(ts)) => format!("parsed {ts}"),
        Some(StoredTimestamp::Unreadable(text)) => format!("unreadable {text}"),
        None => "null".into(),
    }
}

/// What a seed-layout `semantic_facts` holds in `created_at` (its SQL literal) and what the model
/// reads: every real form, NULL, and text no timestamp parser reads.
const FREE_TEXT_CREATED: [(&str, &str); 14] = [
    ("NULL", "null"),
    ("'2025-13-45T99:00:00'", "unreadable 2025-13-45T99:00:00"),
    ("'yesterday'", "unreadable yesterday"),
    ("''", "unreadable "),
    ("'2025-02-30 10:00:00'", "unreadable 2025-02-30 10:00:00"),
    ("'2016-12-31T23:59:60Z'", "unreadable 2016-12-31T23:59:60Z"),
    ("1762538400", "unreadable 1762538400"),
    ("'2025-11-07T18:00:00'", "parsed 2025-11-07T18:00:00Z"),
    ("'2025-11-07T18:00:00Z'", "parsed 2025-11-07T18:00:00Z"),
    ("'2025-11-07T18:00:00+00:00'", "parsed 2025-11-07T18:00:00Z"),
    ("'2025-11-07T20:00:00+02:00'", "parsed 2025-11-07T18:00:00Z"),
    ("'2025-11-07 18:00:00'", "parsed 2025-11-07T18:00:00Z"),
    ("'2025-11-07T18:00:00.123456'", "parsed 2025-11-07T18:00:00.123456Z"),
    ("'2025-11-07 18:00:00.5+00:00'", "parsed 2025-11-07T18:00:00.500Z"),
];

/// The same on a PostgreSQL `timestamp with time zone` column (only instants; one beyond the
/// years AICO reads), and on a `timestamp` column (naive, taken as UTC).
const TIMESTAMPTZ_CREATED: [(&str, &str); 5] = [
    ("NULL", "null"),
    ("'2025-11-07T18:00:00Z'", "parsed 2025-11-07T18:00:00Z"),
    ("'2025-11-07T20:00:00.123456+02:00'", "parsed 2025-11-07T18:00:00.123456Z"),
    ("'2025-11-07 18:00:00+00:00'", "parsed 2025-11-07T18:00:00Z"),
    ("'10000-01-01 00:00:00+00'", "unreadable +10000-01-01T00:00:00Z"),
];
const TIMESTAMP_CREATED: [(&str, &str); 4] = [
    ("NULL", "null"),
    ("'2025-11-07T18:00:00'", "parsed 2025-11-07T18:00:00Z"),
    ("'2025-11-07 18:00:00'", "parsed 2025-11-07T18:00:00Z"),
    ("'2025-11-07 18:00:00.123456'", "parsed 2025-11-07T18:00:00.123456Z"),
];

/// Issue 33: `find().all()` reads every row of an adopted seed-layout `semantic_facts`, whatever
/// its `created_at` holds (and with NULL in every column but the key): each unreadable value is
/// kept as its text, each NULL is `None`, the rest are their instants.
#[rstest]
#[case::sqlite_text(Backend::Sqlite, "TEXT", &FREE_TEXT_CREATED)]
#[case::postgres_text(Backend::Postgres, "TEXT", &FREE_TEXT_CREATED)]
#[case::postgres_timestamptz(Backend::Postgres, "timestamp with time zone", &TIMESTAMPTZ_CREATED)]
#[case::postgres_timestamp(Backend::Postgres, "timestamp", &TIMESTAMP_CREATED)]
#[tokio::test]
async fn every_row_of_an_adopted_table_reads_whatever_its_timestamps_hold(
    #[case] backend: Backend,
    #[case] created_type: &str,
    #[case] created: &[(&str, &str)],
) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    exec(
        &conn,
        &format!(
            "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT, content TEXT, \
             created_at {created_type}, updated_at {created_type}, extra_notes TEXT)"
        ),
    )
    .await;
    for (i, (literal, _)) in created.iter().enumerate() {
        exec(
            &conn,
            &format!(
                "INSERT INTO semantic_facts (id, user_id, content, created_at, updated_at) \
                 VALUES ('f{i:02}', 'u', 'c', {literal}, {literal})"
            ),
        )
        .await;
    }
    exec(&conn, "INSERT INTO semantic_facts (id) VALUES ('f99')").await;
    runner::run(&conn, &db.target, Command::Up { steps: None }, &Default::default(), |_| {})
        .await
        .expect("up adopts the table");

    let facts = semantic_facts::Entity::find()
        .order_by_asc(semantic_facts::Column::Id)
        .all(&conn)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db.name));
    let read: Vec<(String, String, String)> =
        facts.iter().map(|f| (f.id.clone(), shown(f.created_at.as_ref()), shown(f.updated_at.as_ref()))).collect();
    let mut want: Vec<(String, String, String)> = created
        .iter()
        .enumerate()
        .map(|(i, (_, shown))| (format!("f{i:02}"), (*shown).to_owned(), (*shown).to_owned()))
        .collect();
    want.push(("f99".into(), "null".into(), "null".into()));
    assert_eq!(read, want, "{} ({created_type})", db.name);
    let bare = facts.last().expect("f99");
    assert_eq!((&bare.user_id, &bare.content, &bare.temporal_metadata), (&None, &None, &None));
    // An unreadable value says why, and a parsed one is the instant a `Timestamp` holds.
    for fact in &facts {
        match &fact.created_at {
            Some(StoredTimestamp::Unreadable(text)) => {
                assert!(fact.created_at.as_ref().and_then(StoredTimestamp::instant).is_none());
                let why = StoredTimestamp::Unreadable(text.clone()).to_timestamp().expect_err("unreadable");
                assert!(why.to_string().contains(&format!("{text:?}")), "{why}");
            }
            Some(StoredTimestamp::Parsed(ts)) => assert_eq!(Timestamp::parse(&ts.to_string()), Ok(*ts)),
            None => {}
        }
    }
}

/// Issue 33: the Phase 2 and Phase 3 tables are adopted as found too. Every row of an adopted
/// `consolidation_state` and `skills` reads, with NULLs and text that is not JSON in their JSON
/// columns: such text is kept, and the typed accessor says, for that row alone, what is wrong.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn adopted_json_columns_keep_text_that_is_not_json(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    exec(&conn, "CREATE TABLE consolidation_state (id TEXT PRIMARY KEY, state_json TEXT, updated_at TEXT)").await;
    exec(
        &conn,
        "INSERT INTO consolidation_state (id, state_json, updated_at) VALUES \
         ('c1', '{\"status\": \"paused\"}', '2025-11-07 18:00:00'), ('c2', '{\"status\": ', 'soon'), \
         ('c3', NULL, NULL)",
    )
    .await;
    exec(
        &conn,
        "CREATE TABLE skills (skill_id TEXT PRIMARY KEY, skill_name TEXT, skill_type TEXT, trigger_context TEXT, \
         procedure_template TEXT, dimensions TEXT, created_at TEXT, updated_at TEXT)",
    )
    .await;
    exec(
        &conn,
        "INSERT INTO skills (skill_id, skill_type, trigger_context, dimensions) VALUES \
         ('s1', 'improvised', 'when asked', NULL), ('s2', NULL, NULL, '[1, 2]')",
    )
    .await;
    runner::run(&conn, &db.target, Command::Up { steps: None }, &Default::default(), |_| {})
        .await
        .expect("up adopts the tables");

    let states = consolidation_state::Entity::find()
        .order_by_asc(consolidation_state::Column::Id)
        .all(&conn)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db.name));
    let read: Vec<_> =
        states.iter().map(|s| (s.id.as_str(), s.state_json.clone(), shown(s.updated_at.as_ref()))).collect();
    assert_eq!(
        read,
        [
            ("c1", Some(StoredJson::Parsed(json!({"status": "paused"}))), "parsed 2025-11-07T18:00:00Z".to_owned()),
            ("c2", Some(StoredJson::Unreadable("{\"status\": ".into())), "unreadable soon".to_owned()),
            ("c3", None, "null".to_owned()),
        ],
        "{}",
        db.name
    );
    assert_eq!(states[0].state().expect("typed").map(|s| s.status), Some(ConsolidationStatus::Paused));
    let err = states[1].state().expect_err("not JSON");
    assert!(err.to_string().contains("invalid consolidation state JSON"), "{err}");
    assert_eq!(states[2].state(), Ok(None));

    let skills = skills::Entity::find()
        .order_by_asc(skills::Column::SkillId)
        .all(&conn)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db.name));
    assert_eq!(skills.len(), 2, "{}", db.name);
    assert_eq!(skills[0].trigger_context, Some(StoredJson::Unreadable("when asked".into())));
    assert!(skills[0].trigger().is_err());
    assert!(matches!(skills[0].kind(), Err(ValueError::SkillType { .. })));
    assert_eq!(skills[0].vector(), Ok(None));
    assert_eq!((skills[1].kind(), skills[1].trigger()), (Ok(None), Ok(None)));
    assert!(matches!(skills[1].vector(), Err(ValueError::Dimensions { len: 2 })), "{:?}", skills[1].vector());
}

/// Issue 33 on AICO's own database: every row of `user_memories` as AICO writes it
/// (`CURRENT_TIMESTAMP` and naive `isoformat()` texts) reads through `entity::aico`, and so do rows
/// whose `created_at` is NULL, unreadable, or a number (AICO's `TIMESTAMP` columns have numeric
/// affinity: SQLite keeps `1762538400` as an integer there).
#[tokio::test]
async fn every_row_of_aicos_user_memories_reads_whatever_its_timestamps_hold() {
    use aico_tests::aico::{self, AicoVersion};
    use entity::aico::user_memories;
    let db = TestDb::sqlite();
    let conn = db.connect().await;
    aico::build(&conn, AicoVersion::V13, 20).await;
    runner::run(&conn, &db.target, Command::Up { steps: None }, &Default::default(), |_| {}).await.expect("up");
    let odd = [
        (0, "NULL", "null"),
        (1, "'2025-13-45T99:00:00'", "unreadable 2025-13-45T99:00:00"),
        (2, "1762538400", "unreadable 1762538400"),
    ];
    for (i, literal, _) in odd {
        exec(&conn, &format!("UPDATE user_memories SET created_at = {literal} WHERE fact_id = '{}'", aico::uuid4(i)))
            .await;
    }
    let stored = column_of_types(&conn).await;
    assert!(stored.contains(&"integer".to_owned()), "the number is kept as an integer: {stored:?}");

    let facts = user_memories::Entity::find().all(&conn).await.expect("every row reads");
    assert_eq!(facts.len(), 20);
    for fact in &facts {
        let i = (0..20).find(|&i| aico::uuid4(i) == fact.fact_id).expect("a fixture fact") as usize;
        let want = match odd.iter().find(|(n, _, _)| *n as usize == i) {
            Some((_, _, shown)) => (*shown).to_owned(),
            None => format!("parsed {}", Timestamp::parse(&aico::created_at(i)).expect("AICO's text")),
        };
        assert_eq!(shown(fact.created_at.as_ref()), want, "fact {i}");
    }
}

/// The storage classes of `user_memories.created_at` (`typeof`).
async fn column_of_types(conn: &DatabaseConnection) -> Vec<String> {
    aico_tests::column_of(conn, "SELECT DISTINCT typeof(created_at) FROM user_memories").await
}
