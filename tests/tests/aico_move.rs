//! `aico-ams move`, end to end: a 2025 install's encrypted `aico.db`, written by python `libsql`
//! 0.1.8 with `PRAGMA key` as AICO writes it (users, facts, the Memory Album's feedback, skills),
//! moved into AICO's `aico_core` on PostgreSQL 18 as `aico pg init` makes it. Covered: the mapping
//! of users and facts (0/1 to boolean, timestamps through the backfill's parser, JSON text to
//! jsonb, every fact with the temporal metadata the backfill itself writes); refused rows listed
//! with table, key and reason and never written; a missing target table and a drifted `NOT NULL`
//! column stopping the move before anything is written; a dry run and a rerun writing nothing;
//! the source file byte-identical afterwards.

use std::path::PathBuf;

use aico_tests::aico::{USER_MEMORIES_V13, USERS_2025};
use aico_tests::{
    AicoPg, TestDb, aico_core_catalog, aico_pg18, column_of, command, exec, json_of, migrator, python_with_libsql,
    run_python, text,
};
use sea_orm::DatabaseConnection;
use serde_json::Value;

/// The two users of the source.
const ADA: &str = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10";
const BOB: &str = "7c2e1d63-0a4f-4f9b-87b2-1d0b8e3f5a21";

/// Facts in the source (before the messy ones).
const FACTS: usize = 40;

/// Writes AICO's 2025 tables as its migrator leaves them at version 13 (the ones the move reads,
/// and two it does not move), encrypted with `PRAGMA key = 'x"<hex>"'` as AICO does. With `messy`,
/// three facts that cannot go: an unreadable `valid_from`, a user that exists nowhere, broken JSON.
const MAKE_SOURCE: &str = r#"
import libsql, random, sys, uuid
path, key_hex, n, messy = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "messy"
users_sql, memories_sql = sys.argv[5], sys.argv[6]
ada, bob = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10", "7c2e1d63-0a4f-4f9b-87b2-1d0b8e3f5a21"
c = libsql.connect(path)
c.execute(f"PRAGMA key = 'x\"{key_hex}\"'")
# A fact whose user is gone exists where a user was deleted by hand (foreign keys off, SQLite's default).
c.execute("PRAGMA foreign_keys = OFF")
c.execute(users_sql)
c.execute("INSERT INTO users (uuid, full_name, nickname, created_at, updated_at) "
          "VALUES (?, 'Ada Example', 'Ada', '2025-10-01 09:30:00', '2025-10-01 09:30:00')", (ada,))
c.execute("INSERT INTO users (uuid, full_name, is_active, created_at, updated_at) "
          "VALUES (?, 'Bob Example', 0, '2025-10-02T10:00:00Z', '2025-10-03T11:00:00.5+02:00')", (bob,))
c.execute(memories_sql)
rnd = random.Random(20261206)
rows = []
for i in range(n):
    fid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    created = [None, "2025-10-05 12:00:00", "2025-10-06T13:14:15Z", "2025-10-07T08:09:10.123456",
               "2025-10-08T23:30:00+05:30"][i % 5]
    valid = ["2025-09-01 08:00:00", "2025-09-02T08:00:00Z", "2025-09-03T08:00:00.654321+02:00"][i % 3]
    meta = None
    if i % 7 == 3:
        meta = ('{"created_at": "2025-10-01T00:00:00Z", "last_updated": "2025-10-02T00:00:00Z", '
                '"last_accessed": "2025-10-03T00:00:00Z", "access_count": 3, "confidence": 0.8, '
                '"version": 2, "superseded_by": null}')
    rows.append((fid, [ada, bob][i % 2], "preference", "preferences", 0.5 + i / 100, i % 2, valid,
                 "2026-01-01 00:00:00" if i % 4 == 0 else None, f"fact {i}: tea, not coffee \u00e9\u2603",
                 '[{"text": "tea", "label": "preference", "score": 0.25}]' if i % 2 else None, "llm",
                 f"conv-{i % 3}", created, created, '["a", "b"]' if i % 3 == 0 else None, i % 2, i % 4, meta))
if messy:
    for fid, user, valid, entities in [("bad-valid-from", ada, "not a time", None),
                                       ("ghost-user-fact", "ghost-user", "2025-09-01 08:00:00", None),
                                       ("broken-json", ada, "2025-09-01 08:00:00", "{broken")]:
        rows.append((fid, user, "identity", "personal_info", 0.9, 0, valid, None, "messy", entities, "llm",
                     "conv-x", "2025-10-05 12:00:00", "2025-10-05 12:00:00", None, 0, 0, None))
c.executemany("INSERT INTO user_memories (fact_id, user_id, fact_type, category, confidence, is_immutable, "
              "valid_from, valid_until, content, entities_json, extraction_method, source_conversation_id, "
              "created_at, updated_at, tags_json, is_favorite, revisit_count, temporal_metadata) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
c.execute("CREATE TABLE feedback_events (id TEXT PRIMARY KEY, user_uuid TEXT NOT NULL, conversation_id TEXT NOT NULL, "
          "message_id TEXT, event_type TEXT NOT NULL, event_category TEXT NOT NULL, payload TEXT NOT NULL, "
          "timestamp INTEGER NOT NULL, is_sensitive INTEGER DEFAULT 0, federated_at INTEGER)")
for i in range(3):
    c.execute("INSERT INTO feedback_events VALUES (?, ?, 'conv-0', NULL, 'thumbs', 'explicit', '{}', ?, 0, NULL)",
              (f"album-{i}", ada, 1759300000 + i))
c.execute("CREATE TABLE consolidation_state (user_id TEXT NOT NULL, last_consolidation_at TIMESTAMP, "
          "messages_consolidated INTEGER DEFAULT 0, memories_created INTEGER DEFAULT 0, status TEXT DEFAULT 'pending', "
          "error_message TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, "
          "updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id))")
c.execute("INSERT INTO consolidation_state VALUES (?, '2025-10-09 22:00:00', 12, 3, 'completed', NULL, "
          "'2025-10-01 09:30:00', '2025-10-09T22:00:05Z')", (ada,))
c.execute("INSERT INTO consolidation_state VALUES (?, NULL, 0, 0, 'failed', 'model offline', "
          "'2025-10-02 10:00:00', NULL)", (bob,))
# AICO's version 9 (the property graph) and 10 (its temporal columns, added by ALTER TABLE).
c.execute("CREATE TABLE kg_nodes (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, label TEXT NOT NULL, "
          "properties JSON NOT NULL, confidence REAL NOT NULL, source_text TEXT NOT NULL, created_at TEXT NOT NULL, "
          "updated_at TEXT NOT NULL, FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE)")
c.execute("CREATE TABLE kg_edges (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, source_id TEXT NOT NULL, "
          "target_id TEXT NOT NULL, relation_type TEXT NOT NULL, properties JSON NOT NULL, confidence REAL NOT NULL, "
          "source_text TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
          "FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, "
          "FOREIGN KEY (source_id) REFERENCES kg_nodes(id) ON DELETE CASCADE, "
          "FOREIGN KEY (target_id) REFERENCES kg_nodes(id) ON DELETE CASCADE)")
for t in ("kg_nodes", "kg_edges"):
    for col in ("valid_from TEXT", "valid_until TEXT", "is_current INTEGER DEFAULT 1"):
        c.execute(f"ALTER TABLE {t} ADD COLUMN {col}")
c.execute("ALTER TABLE kg_nodes ADD COLUMN canonical_id TEXT")
c.execute("ALTER TABLE kg_nodes ADD COLUMN aliases_json TEXT")
c.execute("INSERT INTO kg_nodes VALUES ('node-ada', ?, 'PERSON', '{\"name\": \"Ada\", \"age\": 36}', 0.9, "
          "'I am Ada', '2025-10-01T09:30:00Z', '2025-10-01T09:30:00Z', '2025-10-01 09:30:00', NULL, 1, NULL, "
          "'[\"Ada L.\"]')", (ada,))
c.execute("INSERT INTO kg_nodes VALUES ('node-tea', ?, 'PREFERENCE', '{\"item\": \"tea\"}', 0.75, 'tea please', "
          "'2025-10-02 08:00:00', '2025-10-03 08:00:00', NULL, '2026-01-01T00:00:00+01:00', 0, 'node-ada', NULL)",
          (ada,))
# AICO's triggers fill this index from kg_nodes.properties; written here by hand (no target).
c.execute("CREATE TABLE kg_node_properties (node_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
          "PRIMARY KEY (node_id, key, value))")
c.executemany("INSERT INTO kg_node_properties VALUES (?, ?, ?)",
              [("node-ada", "name", "Ada"), ("node-ada", "age", "36"), ("node-tea", "item", "tea")])
edges = [("edge-likes", "node-tea")] + ([("ghost-edge", "no-such-node")] if messy else [])
for eid, target in edges:
    c.execute("INSERT INTO kg_edges VALUES (?, ?, 'node-ada', ?, 'LIKES', '{\"since\": 2020}', 0.8, 'I like tea', "
              "'2025-10-02 08:00:00', '2025-10-02 08:00:00', '2020-01-01 00:00:00', NULL, 1)", (eid, ada, target))
c.commit()
"#;

/// An encrypted 2025 `aico.db` in a directory of its own, and its key.
struct Source {
    dir: tempfile::TempDir,
    key_hex: String,
}

impl Source {
    /// Written by python `libsql`; `None` (a skip outside CI) without it.
    fn new(messy: bool) -> Option<Self> {
        let python = python_with_libsql()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let key_hex: String = (0..32).map(|i| format!("{:02x}", (i * 37 + 11) % 256)).collect();
        let path = dir.path().join("aico.db");
        let kind = if messy { "messy" } else { "clean" };
        let args = [path.to_str().expect("utf-8"), &key_hex, &FACTS.to_string(), kind, USERS_2025, USER_MEMORIES_V13];
        run_python(&python, MAKE_SOURCE, &args);
        Some(Self { dir, key_hex })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("aico.db")
    }

    /// Every file of the directory with its bytes: the source is never written.
    fn files(&self) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        aico_tests::files_of(self.dir.path())
    }

    /// `aico-ams move` from this source to `db`, the key in `AICO_DB_KEY`.
    fn run(&self, db: &TestDb, args: &[&str]) -> std::process::Output {
        self.run_from(&format!("sqlite://{}", self.path().display()), db, args)
    }

    /// `aico-ams move` from the source URL `url` to `db`.
    fn run_from(&self, url: &str, db: &TestDb, args: &[&str]) -> std::process::Output {
        command("aico-ams")
            .args(["move", "--database-url", url, "--to", &db.url])
            .args(args)
            .env("AICO_DB_KEY", &self.key_hex)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-test-bus")
            .output()
            .expect("run aico-ams move")
    }
}

/// The report's entry for the target table `name`.
fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"].as_array().and_then(|t| t.iter().find(|t| t["target_table"] == name)).unwrap_or_else(|| {
        panic!("no table {name} in {report:#}");
    })
}

/// Figures of a table's entry: in source, moved, already same, already different, refused, verified.
fn figures(t: &Value) -> [u64; 6] {
    [
        t["in_source"].as_u64().expect("in_source"),
        t["moved"].as_u64().expect("moved"),
        t["already_same"].as_u64().expect("same"),
        t["already_different"]["count"].as_u64().expect("different"),
        t["refused"]["count"].as_u64().expect("refused"),
        t["verified"].as_u64().expect("verified"),
    ]
}

/// Rows of the tables this source fills, with `xmin` (a row written again gets a new one).
async fn written(conn: &DatabaseConnection) -> Vec<String> {
    let mut rows =
        column_of(conn, "SELECT xmin::text || ' ' || t::text FROM aico_core.user_profiles t ORDER BY uuid").await;
    for (table, key) in
        [("ams_user_memories", "fact_id"), ("ams_consolidation_state", "id"), ("kg_nodes", "id"), ("kg_edges", "id")]
    {
        let sql = format!("SELECT xmin::text || ' ' || t::text FROM aico_core.{table} t ORDER BY {key}");
        rows.extend(column_of(conn, &sql).await);
    }
    rows
}

/// AICO's per-user `consolidation_state` arrived as one JSON object per user (every column but
/// the key and `updated_at`, typed), and the property graph column by column (JSON text to jsonb,
/// 0/1 to boolean, timestamps the instants they name).
async fn assert_consolidation_and_graph(conn: &DatabaseConnection) {
    let states = column_of(
        conn,
        "SELECT id || ' ' || coalesce(to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS'), 'NULL') \
         || ' ' || state_json::text FROM aico_core.ams_consolidation_state ORDER BY id",
    )
    .await;
    let parsed: Vec<(String, Value)> = states
        .iter()
        .map(|s| {
            let mut parts = s.splitn(3, ' ');
            let head = format!("{} {}", parts.next().expect("id"), parts.next().expect("updated_at"));
            (head, serde_json::from_str(parts.next().expect("state_json")).expect("JSON"))
        })
        .collect();
    assert_eq!(
        parsed,
        [
            (
                format!("{ADA} 2025-10-09T22:00:05"),
                serde_json::json!({"last_consolidation_at": "2025-10-09 22:00:00", "messages_consolidated": 12,
                    "memories_created": 3, "status": "completed", "error_message": null,
                    "created_at": "2025-10-01 09:30:00"}),
            ),
            (
                format!("{BOB} NULL"),
                serde_json::json!({"last_consolidation_at": null, "messages_consolidated": 0,
                    "memories_created": 0, "status": "failed", "error_message": "model offline",
                    "created_at": "2025-10-02 10:00:00"}),
            ),
        ]
    );
    let nodes = column_of(
        conn,
        "SELECT id || ' ' || user_id || ' ' || label || ' ' || (properties = CASE id WHEN 'node-ada' \
         THEN '{\"name\": \"Ada\", \"age\": 36}'::jsonb ELSE '{\"item\": \"tea\"}'::jsonb END)::text || ' ' || \
         confidence::text || ' ' || source_text || ' ' || \
         to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || ' ' || \
         to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || ' ' || \
         coalesce(to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS'), 'NULL') || ' ' || \
         coalesce(to_char(valid_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS'), 'NULL') || ' ' || \
         is_current::text || ' ' || coalesce(canonical_id, 'NULL') || ' ' || coalesce(aliases_json::text, 'NULL') \
         || ' ' || jsonb_typeof(coalesce(aliases_json, 'null')) || ' ' || coalesce(language, 'NULL') || ' ' || \
         coalesce(reason, 'NULL') FROM aico_core.kg_nodes ORDER BY id",
    )
    .await;
    assert_eq!(
        nodes,
        [
            format!(
                "node-ada {ADA} PERSON true 0.9 I am Ada 2025-10-01T09:30:00 2025-10-01T09:30:00 \
                 2025-10-01T09:30:00 NULL true NULL [\"Ada L.\"] array NULL NULL"
            ),
            format!(
                "node-tea {ADA} PREFERENCE true 0.75 tea please 2025-10-02T08:00:00 2025-10-03T08:00:00 NULL \
                 2025-12-31T23:00:00 false node-ada NULL null NULL NULL"
            ),
        ]
    );
    let edges = column_of(
        conn,
        "SELECT id || ' ' || user_id || ' ' || source_id || ' ' || target_id || ' ' || relation_type || ' ' || \
         properties::text || ' ' || confidence::text || ' ' || source_text || ' ' || \
         to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || ' ' || \
         coalesce(to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS'), 'NULL') || ' ' || \
         is_current::text || ' ' || coalesce(reason, 'NULL') FROM aico_core.kg_edges ORDER BY id",
    )
    .await;
    assert_eq!(
        edges,
        [format!(
            "edge-likes {ADA} node-ada node-tea LIKES {{\"since\": 2020}} 0.8 I like tea 2025-10-02T08:00:00 \
             2020-01-01T00:00:00 true NULL"
        )]
    );
}

async fn count(conn: &DatabaseConnection, table: &str) -> String {
    column_of(conn, &format!("SELECT count(*)::text FROM aico_core.{table}")).await.remove(0)
}

#[tokio::test]
async fn a_2025_install_moves_its_users_and_facts_verified_and_a_rerun_writes_nothing() {
    let Some(source) = Source::new(false) else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    let before = source.files();

    let out = source.run(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json_of(&out);
    assert!(report["stopped"].as_array().is_some_and(Vec::is_empty), "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(figures(table(&report, "user_profiles")), [2, 2, 0, 0, 0, 2], "{report:#}");
    let facts = FACTS as u64;
    assert_eq!(figures(table(&report, "ams_user_memories")), [facts, facts, 0, 0, 0, facts], "{report:#}");
    let with_metadata = (0..FACTS).filter(|i| i % 7 == 3).count() as u64;
    assert_eq!(table(&report, "ams_user_memories")["metadata_filled"], facts - with_metadata);
    assert_eq!(table(&report, "user_profiles")["source_table"], "users");
    assert_eq!(table(&report, "ams_user_memories")["source_table"], "user_memories");
    let no_target: Vec<String> =
        report["no_target"].as_array().expect("list").iter().map(|u| format!("{} {}", u["table"], u["rows"])).collect();
    assert_eq!(no_target, ["\"feedback_events\" 3", "\"kg_node_properties\" 3"], "{report:#}");
    assert!(report["not_moved_yet"].as_array().is_some_and(Vec::is_empty), "{report:#}");
    assert_eq!(figures(table(&report, "ams_consolidation_state")), [2, 2, 0, 0, 0, 2], "{report:#}");
    assert_eq!(figures(table(&report, "kg_nodes")), [2, 2, 0, 0, 0, 2], "{report:#}");
    assert_eq!(figures(table(&report, "kg_edges")), [1, 1, 0, 0, 0, 1], "{report:#}");
    assert_consolidation_and_graph(&conn).await;

    // The users: 0/1 became boolean, every timestamp the instant it names.
    let users = column_of(
        &conn,
        "SELECT uuid || ' ' || full_name || ' ' || coalesce(nickname, '-') || ' ' || user_type || ' ' || \
         is_active::text || ' ' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || ' ' || \
         to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') \
         FROM aico_core.user_profiles ORDER BY uuid",
    )
    .await;
    assert_eq!(
        users,
        [
            format!("{ADA} Ada Example Ada person true 2025-10-01T09:30:00.000000 2025-10-01T09:30:00.000000"),
            format!("{BOB} Bob Example - person false 2025-10-02T10:00:00.000000 2025-10-03T09:00:00.500000"),
        ]
    );
    // The facts: timestamps, booleans, JSON, and the columns AICO's 2026 table adds left to it.
    let sample = column_of(
        &conn,
        "SELECT content || ' | ' || is_immutable::text || ' ' || is_favorite::text || ' ' || \
         revisit_count::text || ' | ' || \
         to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || ' | ' || \
         coalesce(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), 'NULL') || ' | ' || \
         coalesce(entities_json::text, 'NULL') || ' ' || jsonb_typeof(coalesce(entities_json, 'null')) || ' | ' || \
         coalesce(tags_json::text, 'NULL') || ' | ' || coalesce(language, 'NULL') \
         FROM aico_core.ams_user_memories \
         WHERE content LIKE 'fact 3:%' OR content LIKE 'fact 4:%' OR content LIKE 'fact 5:%' \
         ORDER BY content",
    )
    .await;
    assert_eq!(
        sample,
        [
            "fact 3: tea, not coffee é☃ | true true 3 | 2025-09-01T08:00:00.000000 | 2025-10-07T08:09:10.123456 | \
             [{\"text\": \"tea\", \"label\": \"preference\", \"score\": 0.25}] array | [\"a\", \"b\"] | NULL"
                .to_owned(),
            "fact 4: tea, not coffee é☃ | false false 0 | 2025-09-02T08:00:00.000000 | 2025-10-08T18:00:00.000000 | \
             NULL null | NULL | NULL"
                .to_owned(),
            "fact 5: tea, not coffee é☃ | true true 1 | 2025-09-03T06:00:00.654321 | NULL | \
             [{\"text\": \"tea\", \"label\": \"preference\", \"score\": 0.25}] array | NULL | NULL"
                .to_owned(),
        ]
    );
    // A fact that had its metadata keeps it, byte for byte.
    let kept =
        column_of(&conn, "SELECT temporal_metadata FROM aico_core.ams_user_memories WHERE content LIKE 'fact 3:%'")
            .await;
    assert!(kept[0].starts_with("{\"created_at\": \"2025-10-01T00:00:00Z\""), "{kept:?}");
    assert_eq!(count(&conn, "ams_user_memories WHERE temporal_metadata IS NULL").await, "0");
    assert_eq!(source.files(), before, "the source directory changed");

    // A second run writes nothing: every row is there already, the same, and keeps its xmin.
    let rows = written(&conn).await;
    let again = source.run(&db, &["--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let report = json_of(&again);
    assert_eq!(figures(table(&report, "user_profiles")), [2, 0, 2, 0, 0, 0], "{report:#}");
    assert_eq!(figures(table(&report, "ams_user_memories")), [facts, 0, facts, 0, 0, 0], "{report:#}");
    assert_eq!(table(&report, "ams_user_memories")["metadata_filled"], 0, "{report:#}");
    assert_eq!(figures(table(&report, "ams_consolidation_state")), [2, 0, 2, 0, 0, 0], "{report:#}");
    assert_eq!(figures(table(&report, "kg_nodes")), [2, 0, 2, 0, 0, 0], "{report:#}");
    assert_eq!(figures(table(&report, "kg_edges")), [1, 0, 1, 0, 0, 0], "{report:#}");
    assert_eq!(written(&conn).await, rows, "a rerun wrote rows");
    assert_eq!(source.files(), before, "the source directory changed");

    // The metadata that arrived is what the backfill itself writes on AICO's PostgreSQL.
    let arrived = column_of(
        &conn,
        "SELECT fact_id || ' ' || temporal_metadata FROM aico_core.ams_user_memories ORDER BY fact_id",
    )
    .await;
    // The ones the source had (access_count 3) stay; the backfill fills the others again.
    let unfill = "UPDATE aico_core.ams_user_memories SET temporal_metadata = NULL \
                  WHERE temporal_metadata::jsonb ->> 'access_count' = '0'";
    exec(&conn, unfill).await;
    assert!(migrator(&db.url, &["up"]).status().expect("up").success());
    let backfill = command("aico-ams").args(["backfill", "--json"]).env("DATABASE_URL", &db.url).output().expect("run");
    assert_eq!(backfill.status.code(), Some(0), "{}", text(&backfill));
    assert_eq!(json_of(&backfill)["stores"]["sql"]["filled"], facts - with_metadata, "{}", text(&backfill));
    let backfilled = column_of(
        &conn,
        "SELECT fact_id || ' ' || temporal_metadata FROM aico_core.ams_user_memories ORDER BY fact_id",
    )
    .await;
    assert_eq!(arrived, backfilled, "the move's metadata differs from the backfill's");
    conn.close().await.ok();
}

#[tokio::test]
async fn rows_that_cannot_go_are_refused_with_table_key_and_reason_and_never_written() {
    let Some(source) = Source::new(true) else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    let out = source.run(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_of(&out);
    assert_eq!(report["ok"], false);
    let facts = FACTS as u64;
    assert_eq!(figures(table(&report, "ams_user_memories")), [facts + 3, facts, 0, 0, 3, facts], "{report:#}");
    let refused: Vec<String> = table(&report, "ams_user_memories")["refused"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| format!("{}: {}", r["key"].as_str().expect("key"), r["reason"].as_str().expect("reason")))
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    let has = |key: &str, words: &[&str]| {
        refused.iter().any(|r| r.starts_with(&format!("{key}: ")) && words.iter().all(|w| r.contains(w)))
    };
    assert!(has("bad-valid-from", &["valid_from", "not a time"]), "{refused:?}");
    assert!(has("ghost-user-fact", &["user_id", "ghost-user", "aico_core.user_profiles"]), "{refused:?}");
    assert!(has("broken-json", &["entities_json", "not JSON"]), "{refused:?}");
    // An edge naming a node that exists nowhere.
    assert_eq!(figures(table(&report, "kg_edges")), [2, 1, 0, 0, 1, 1], "{report:#}");
    let edge = &table(&report, "kg_edges")["refused"]["rows"][0];
    assert_eq!(edge["key"], "ghost-edge", "{report:#}");
    let reason = edge["reason"].as_str().expect("reason");
    assert!(reason.contains("target_id no-such-node") && reason.contains("aico_core.kg_nodes"), "{reason}");
    assert_eq!(count(&conn, "kg_edges WHERE id = 'ghost-edge'").await, "0");
    let there = column_of(
        &conn,
        "SELECT count(*)::text FROM aico_core.ams_user_memories \
         WHERE fact_id IN ('bad-valid-from', 'ghost-user-fact', 'broken-json')",
    )
    .await;
    assert_eq!(there, ["0"]);
    // The text report names them too.
    let out = source.run(&db, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("refused: user_memories ghost-user-fact: its user_id ghost-user"), "{shown}");
    conn.close().await.ok();
}

/// The move stopped before writing (exit 2) for one reason: that problem of its report.
fn the_one_stop(out: &std::process::Output) -> Value {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    let report = json_of(out);
    let stopped = report["stopped"].as_array().expect("stopped");
    assert_eq!(stopped.len(), 1, "{report:#}");
    stopped[0].clone()
}

#[tokio::test]
async fn a_missing_target_table_stops_the_move_before_anything_is_written() {
    let Some(source) = Source::new(false) else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    exec(&conn, "DROP TABLE aico_core.ams_user_memories CASCADE").await;
    let stop = the_one_stop(&source.run(&db, &["--json"]));
    let message = stop["message"].as_str().expect("message");
    assert!(message.contains("aico_core.ams_user_memories") && message.contains("aico pg init"), "{message}");
    assert_eq!(count(&conn, "user_profiles").await, "0", "users were written before the check");
    conn.close().await.ok();
}

#[tokio::test]
async fn a_drifted_not_null_column_without_a_default_stops_the_move_naming_it() {
    let Some(source) = Source::new(false) else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    exec(&conn, "ALTER TABLE aico_core.ams_user_memories ADD COLUMN tenant_id TEXT NOT NULL").await;
    let out = source.run(&db, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("aico_core.ams_user_memories.tenant_id is NOT NULL without a default"), "{shown}");
    assert!(shown.contains("stopped: nothing was written"), "{shown}");
    assert_eq!(count(&conn, "user_profiles").await, "0");
    assert_eq!(count(&conn, "ams_user_memories").await, "0");
    conn.close().await.ok();
}

#[tokio::test]
async fn a_row_stored_other_than_it_was_sent_is_listed_as_mismatched_naming_the_column() {
    let Some(source) = Source::new(false) else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    // A trigger in the target (AICO's, or another tool's) that rewrites what it is given.
    exec(
        &conn,
        "CREATE FUNCTION aico_core.shout() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN NEW.content := upper(NEW.content); RETURN NEW; END $$",
    )
    .await;
    exec(
        &conn,
        "CREATE TRIGGER shout BEFORE INSERT ON aico_core.ams_user_memories \
         FOR EACH ROW EXECUTE FUNCTION aico_core.shout()",
    )
    .await;
    let out = source.run(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_of(&out);
    let facts = table(&report, "ams_user_memories");
    let n = FACTS as u64;
    assert_eq!(figures(facts), [n, n, 0, 0, 0, 0], "{report:#}");
    assert_eq!(facts["mismatched"]["count"], n, "{report:#}");
    let reason = facts["mismatched"]["rows"][0]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("content differs: the source's 'fact ") && reason.contains("against the target's 'FACT "),
        "{reason}"
    );
    // The users went as they were.
    assert_eq!(figures(table(&report, "user_profiles")), [2, 2, 0, 0, 0, 2], "{report:#}");
    conn.close().await.ok();
}

#[tokio::test]
async fn a_target_table_with_a_rule_stops_the_move_before_anything_is_written_naming_it() {
    let Some(source) = Source::new(false) else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    // A rule on the facts (another tool's audit log, say): PostgreSQL refuses `INSERT ... ON
    // CONFLICT` on such a table, and a `COPY` into it would skip the rule.
    exec(&conn, "CREATE TABLE aico_core.fact_log (fact_id TEXT)").await;
    exec(
        &conn,
        "CREATE RULE log_fact AS ON INSERT TO aico_core.ams_user_memories \
         DO ALSO INSERT INTO aico_core.fact_log VALUES (NEW.fact_id)",
    )
    .await;
    let stop = the_one_stop(&source.run(&db, &["--json"]));
    assert_eq!(stop["table"], "aico_core.ams_user_memories", "{stop:#}");
    let message = stop["message"].as_str().expect("message");
    assert!(message.contains("has rules (log_fact)"), "{message}");
    for table in ["user_profiles", "ams_user_memories", "fact_log"] {
        assert_eq!(count(&conn, table).await, "0", "nothing written to {table}");
    }
    conn.close().await.ok();
}

/// AICO's foreign key from the facts to their users.
const FACTS_USER_KEY: &str = "fk_ams_user_memories_user_id_user_profiles";

#[tokio::test]
async fn a_foreign_key_left_aside_that_no_longer_holds_is_named_and_kept_in_its_record_until_it_holds() {
    let Some(source) = Source::new(false) else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    let out = source.run(&db, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let key = format!(
        "SELECT pg_get_constraintdef(oid) || ' valid=' || convalidated::text FROM pg_constraint \
         WHERE conname = '{FACTS_USER_KEY}'"
    );
    let before = column_of(&conn, &key).await;
    // (aico_core is on the test connection's search path.)
    assert_eq!(before, ["FOREIGN KEY (user_id) REFERENCES user_profiles(uuid) ON DELETE CASCADE valid=true"]);
    let record = "SELECT count(*)::text FROM aico_ams.parked_foreign_keys";
    // What a move killed during a large write leaves (the key recorded, then dropped), and a fact
    // AICO wrote meanwhile for a user it does not have.
    exec(&conn, "CREATE SCHEMA IF NOT EXISTS aico_ams").await;
    exec(
        &conn,
        "CREATE TABLE aico_ams.parked_foreign_keys (table_schema TEXT NOT NULL, table_name TEXT NOT NULL, \
         name TEXT NOT NULL, definition TEXT NOT NULL, parked_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         PRIMARY KEY (table_schema, table_name, name))",
    )
    .await;
    exec(
        &conn,
        &format!(
            "INSERT INTO aico_ams.parked_foreign_keys (table_schema, table_name, name, definition) VALUES \
             ('aico_core', 'ams_user_memories', '{FACTS_USER_KEY}', \
             'FOREIGN KEY (user_id) REFERENCES aico_core.user_profiles(uuid) ON DELETE CASCADE')"
        ),
    )
    .await;
    exec(&conn, &format!("ALTER TABLE aico_core.ams_user_memories DROP CONSTRAINT {FACTS_USER_KEY}")).await;
    exec(
        &conn,
        "INSERT INTO aico_core.ams_user_memories SELECT (jsonb_populate_record(NULL::aico_core.ams_user_memories, \
         to_jsonb(m) || '{\"fact_id\": \"orphan\", \"user_id\": \"gone-user\"}')).* \
         FROM aico_core.ams_user_memories m LIMIT 1",
    )
    .await;
    let out = source.run(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(json_of(&out)["error"]["kind"], "move_aico_index_failed", "{}", text(&out));
    let shown = text(&out);
    let named = format!("foreign key {FACTS_USER_KEY} of aico_core.ams_user_memories could not be validated");
    for words in [named.as_str(), "(user_id)=(gone-user)", "aico_ams.parked_foreign_keys", "run the same command again"]
    {
        assert!(shown.contains(words), "{words:?} not in {shown}");
    }
    assert_eq!(column_of(&conn, record).await, ["1"], "the record went before the key was back");
    let unvalidated = column_of(&conn, &key).await;
    assert_eq!(unvalidated, [before[0].replace(" valid=true", " NOT VALID valid=false")]);
    // Once the orphan is gone (AICO stopped, its row removed), the next run puts the key back.
    exec(&conn, "DELETE FROM aico_core.ams_user_memories WHERE fact_id = 'orphan'").await;
    let out = source.run(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(table(&json_of(&out), "ams_user_memories")["foreign_keys"], "rebuilt", "{}", text(&out));
    assert_eq!(column_of(&conn, &key).await, before);
    assert_eq!(column_of(&conn, record).await, ["0"]);
    conn.close().await.ok();
}

#[tokio::test]
async fn a_dry_run_shows_the_plan_and_writes_nothing() {
    let Some(source) = Source::new(true) else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    let catalog = aico_core_catalog(&conn).await;
    let schemas = column_of(&conn, "SELECT nspname::text FROM pg_namespace ORDER BY 1").await;
    let before = source.files();

    let out = source.run(&db, &["--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(1), "three facts would be refused: {}", text(&out));
    let report = json_of(&out);
    assert_eq!(report["dry_run"], true);
    let facts = FACTS as u64;
    assert_eq!(figures(table(&report, "user_profiles")), [2, 2, 0, 0, 0, 0], "{report:#}");
    assert_eq!(figures(table(&report, "ams_user_memories")), [facts + 3, facts, 0, 0, 3, 0], "{report:#}");
    assert_eq!(report["no_target"][0]["rows"], 3);

    let out = source.run(&db, &["--dry-run"]);
    let shown = text(&out);
    assert!(shown.contains("users -> user_profiles: 2 in source, 2 would move"), "{shown}");
    assert!(shown.contains("no target: feedback_events (3 rows)"), "{shown}");
    assert!(shown.contains("consolidation_state -> ams_consolidation_state: 2 in source, 2 would move"), "{shown}");
    assert!(!shown.contains("not moved yet"), "{shown}");

    assert_eq!(count(&conn, "user_profiles").await, "0");
    assert_eq!(count(&conn, "ams_user_memories").await, "0");
    // A mode in the source's URL does not make it writable.
    let rwc = format!("sqlite://{}?mode=rwc", source.path().display());
    let out = source.run_from(&rwc, &db, &["--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    assert_eq!(aico_core_catalog(&conn).await, catalog, "the dry run changed aico_core");
    let after = column_of(&conn, "SELECT nspname::text FROM pg_namespace ORDER BY 1").await;
    assert_eq!(after, schemas, "the dry run made a schema");
    assert_eq!(source.files(), before, "the source directory changed");
    conn.close().await.ok();
}

#[test]
fn a_source_that_is_not_sqlite_or_a_target_that_is_not_postgres_is_a_usage_error() {
    let cases = [
        (
            ["--database-url", "postgres://me@127.0.0.1:1/aico", "--to", "postgres://me@127.0.0.1:1/aico"],
            "move_source_not_sqlite",
        ),
        (["--database-url", "sqlite:///nonexistent/aico.db", "--to", "sqlite:///tmp/x.db"], "move_target_not_postgres"),
    ];
    for (args, kind) in cases {
        let out = command("aico-ams").arg("move").args(args).arg("--json").output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert_eq!(json_of(&out)["error"]["kind"], kind, "{}", text(&out));
    }
}

/// Adds AICO's behavioural tables (Phase 3) to a source [`MAKE_SOURCE`] wrote, with rows as AICO's
/// code writes them (`datetime.utcnow().isoformat()`). Arguments: the file, the key, the mode,
/// AICO's statements as JSON. `new`: the statements of AICO's versions 14, 15 and 18 on its six
/// tables (the AMS feedback is `ams_behavioral_feedback`; the Memory Album keeps
/// `feedback_events`). `old`: version 14 and 15 where no Album table holds `feedback_events` (the
/// AMS feedback is `feedback_events`, with `classified_categories`), and `context_skill_stats`
/// with the TEXT `context_bucket` AICO's libSQL v22 gave it, holding two buckets that cannot go and
/// a row naming a skill that exists nowhere.
const MAKE_PHASE3: &str = r#"
import json, libsql, sys
path, key_hex, mode, statements = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
ada, bob = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10", "7c2e1d63-0a4f-4f9b-87b2-1d0b8e3f5a21"
T0, T1, T2 = "2025-11-07T18:00:00.123456", "2025-11-07T18:05:00.500000", "2025-11-07T18:10:00"
c = libsql.connect(path)
c.execute(f"PRAGMA key = 'x\"{key_hex}\"'")
if mode == "old":
    c.execute("DROP TABLE feedback_events")
for sql in statements:
    c.execute(sql)
if mode == "old":
    c.execute("CREATE TABLE context_skill_stats (user_id TEXT NOT NULL, context_bucket TEXT NOT NULL, "
              "skill_id TEXT NOT NULL, alpha REAL DEFAULT 1.0, beta REAL DEFAULT 1.0, "
              "last_updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, context_bucket, skill_id))")
DIMS = [0.2, 0.5, 0.5, 0.5, 0.3, 0.8, 0.3, 0.3, 0.5, 0.5, 0.7, 0.5, 0.6, 0.4, 0.5, 0.5]
c.executemany("INSERT INTO skills (skill_id, skill_name, skill_type, trigger_context, procedure_template, "
              "dimension_vector, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
              [("concise_response", "Concise Response", "base", json.dumps({"intent": ["question"]}),
                "Provide brief answers.", json.dumps(DIMS), T0, T0),
               ("warm_story", "Warm Story", "user_created", json.dumps({"time_of_day": "evening"}),
                "Tell it warmly.", json.dumps([0.5] * 16), T0, T1)])
c.executemany("INSERT INTO user_skill_confidence (user_id, skill_id, confidence_score, usage_count, positive_count, "
              "negative_count, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
              [(ada, "concise_response", 0.8, 1, 1, 0, T2), (bob, "warm_story", 0.5, 0, 0, 0, None)])
c.executemany("INSERT INTO trajectories (trajectory_id, user_id, conversation_id, turn_number, user_input, "
              "selected_skill_id, ai_response, feedback_reward, timestamp, archived, message_id) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              [("traj-1", ada, "conv-1", 1, "green tea?", "concise_response", "80 \u00b0C.", None, T1, False, "msg-1"),
               ("traj-2", bob, "conv-2", 3, "a story", None, "Once...", -1, T2, True, None)])
c.executemany("INSERT INTO context_skill_stats (user_id, context_bucket, skill_id, alpha, beta, last_updated_at) "
              "VALUES (?, ?, ?, ?, ?, ?)",
              [(ada, 42, "concise_response", 2.0, 2.0, T2), (bob, 7, "warm_story", 1.0, 3.5, T1)]
              + ([(ada, "137", "warm_story", 1.0, 1.0, T1), (bob, "morning", "warm_story", 1.0, 1.0, T1),
                  (ada, "5", "ghost_skill", 1.0, 1.0, T1)]
                 if mode == "old" else []))
c.executemany("INSERT INTO context_preference_vectors (user_id, context_bucket, dimensions, last_updated_at) "
              "VALUES (?, ?, ?, ?)",
              [(ada, 42, json.dumps([0.25] * 8 + [0.75] * 8), T2), (bob, 0, json.dumps([0.5] * 16), T1)])
if mode == "old":
    c.executemany("INSERT INTO feedback_events (event_id, user_id, message_id, skill_id, reward, reason, free_text, "
                  "classified_categories, timestamp, processed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [("event-1", ada, "msg-1", "concise_response", 1, "helpful", "short and right",
                    json.dumps({"tone": ["warm"]}), T2, False),
                   ("event-2", bob, "msg-2", None, -1, None, None, None, T1, True)])
else:
    c.executemany("INSERT INTO ams_behavioral_feedback (event_id, user_id, message_id, skill_id, reward, reason, "
                  "free_text, timestamp, processed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [("event-1", ada, "msg-1", "concise_response", 1, "helpful", "short and right", T2, 0),
                   ("event-2", bob, "msg-2", None, -1, None, None, T1, 1)])
c.commit()
"#;

impl Source {
    /// With AICO's behavioural tables, in the name set `mode` (`new` or `old`, see [`MAKE_PHASE3`]).
    fn with_phase3(mode: &str) -> Option<Self> {
        let source = Self::new(false)?;
        let python = python_with_libsql()?;
        let statements: Vec<&str> = match mode {
            "new" => migration::aico_phase3::phase3().map(|(_, sql)| sql).collect(),
            _ => migration::aico_phase3::V14
                .iter()
                .chain(migration::aico_phase3::V15)
                .filter(|(table, _)| *table != "context_skill_stats")
                .map(|(_, sql)| *sql)
                .collect(),
        };
        let statements = serde_json::to_string(&statements).expect("json");
        let path = source.path();
        run_python(&python, MAKE_PHASE3, &[path.to_str().expect("utf-8"), &source.key_hex, mode, &statements]);
        Some(source)
    }
}

/// Every row of `aico_core.<table>`'s `columns` as text (`t`: timestamps as UTC microseconds),
/// one line per row in `order`.
async fn rows_of(conn: &DatabaseConnection, table: &str, columns: &[&str], order: &str) -> Vec<String> {
    let shown: Vec<String> = columns
        .iter()
        .map(|c| match c.strip_prefix("t:") {
            Some(c) => format!("coalesce(to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), 'NULL')"),
            None => format!("coalesce({c}::text, 'NULL')"),
        })
        .collect();
    let sql = format!("SELECT {} FROM aico_core.{table} ORDER BY {order}", shown.join(" || ' | ' || "));
    column_of(conn, &sql).await
}

/// The behavioural rows both name sets move, as the target must hold them.
async fn assert_phase3_rows(conn: &DatabaseConnection) {
    let dims = "[0.2, 0.5, 0.5, 0.5, 0.3, 0.8, 0.3, 0.3, 0.5, 0.5, 0.7, 0.5, 0.6, 0.4, 0.5, 0.5]";
    let half = format!("[{}]", ["0.5"; 16].join(", "));
    let skills = rows_of(
        conn,
        "ams_behavioral_skills",
        &[
            "skill_id",
            "skill_name",
            "skill_type",
            "trigger_context",
            "procedure_template",
            "dimension_vector",
            "supported_languages",
            "t:created_at",
            "t:updated_at",
            "status",
        ],
        "skill_id",
    )
    .await;
    assert_eq!(
        skills,
        [
            format!(
                "concise_response | Concise Response | base | {{\"intent\": [\"question\"]}} | Provide brief answers. | \
                 {dims} | NULL | 2025-11-07T18:00:00.123456 | 2025-11-07T18:00:00.123456 | active"
            ),
            format!(
                "warm_story | Warm Story | user_created | {{\"time_of_day\": \"evening\"}} | Tell it warmly. | {half} | \
                 NULL | 2025-11-07T18:00:00.123456 | 2025-11-07T18:05:00.500000 | active"
            ),
        ]
    );
    let confidence = rows_of(
        conn,
        "user_skill_confidence",
        &[
            "user_id",
            "skill_id",
            "confidence_score",
            "usage_count",
            "positive_count",
            "negative_count",
            "t:last_used_at",
        ],
        "user_id",
    )
    .await;
    assert_eq!(
        confidence,
        [
            format!("{ADA} | concise_response | 0.8 | 1 | 1 | 0 | 2025-11-07T18:10:00.000000"),
            format!("{BOB} | warm_story | 0.5 | 0 | 0 | 0 | NULL"),
        ]
    );
    let trajectories = rows_of(
        conn,
        "ams_trajectories",
        &[
            "trajectory_id",
            "user_id",
            "conversation_id",
            "turn_number",
            "user_input",
            "selected_skill_id",
            "ai_response",
            "feedback_reward",
            "t:timestamp",
            "archived",
            "message_id",
            "context_bucket",
            "agency_context",
        ],
        "trajectory_id",
    )
    .await;
    assert_eq!(
        trajectories,
        [
            format!(
                "traj-1 | {ADA} | conv-1 | 1 | green tea? | concise_response | 80 °C. | NULL | \
                 2025-11-07T18:05:00.500000 | false | msg-1 | NULL | NULL"
            ),
            format!(
                "traj-2 | {BOB} | conv-2 | 3 | a story | NULL | Once... | -1 | 2025-11-07T18:10:00.000000 | true | NULL | \
                 NULL | NULL"
            ),
        ]
    );
    let stats = rows_of(
        conn,
        "ams_context_skill_stats",
        &["user_id", "context_bucket", "skill_id", "alpha", "beta", "t:last_updated_at"],
        "user_id, context_bucket",
    )
    .await;
    assert_eq!(
        stats,
        [
            format!("{ADA} | 42 | concise_response | 2 | 2 | 2025-11-07T18:10:00.000000"),
            format!("{BOB} | 7 | warm_story | 1 | 3.5 | 2025-11-07T18:05:00.500000"),
        ]
    );
    let prefs = rows_of(
        conn,
        "ams_context_preference_vectors",
        &["user_id", "context_bucket", "dimensions", "t:last_updated_at"],
        "user_id",
    )
    .await;
    let moved = format!("[{}, {}]", ["0.25"; 8].join(", "), ["0.75"; 8].join(", "));
    assert_eq!(
        prefs,
        [
            format!("{ADA} | 42 | {moved} | 2025-11-07T18:10:00.000000"),
            format!("{BOB} | 0 | {half} | 2025-11-07T18:05:00.500000"),
        ]
    );
}

/// The feedback rows (`context_json` apart).
async fn feedback_rows(conn: &DatabaseConnection) -> Vec<String> {
    rows_of(
        conn,
        "ams_behavioral_feedback",
        &[
            "feedback_id",
            "user_id",
            "message_id",
            "skill_id",
            "reward",
            "reason",
            "free_text",
            "t:timestamp",
            "processed",
            "outcome",
            "execution_time_ms",
            "user_satisfaction",
            "context_json",
        ],
        "feedback_id",
    )
    .await
}

/// Rows of every behavioural table with `xmin` (a row written again gets a new one).
async fn phase3_written(conn: &DatabaseConnection) -> Vec<String> {
    let mut rows = Vec::new();
    for table in [
        "ams_behavioral_skills",
        "user_skill_confidence",
        "ams_context_skill_stats",
        "ams_context_preference_vectors",
        "ams_behavioral_feedback",
        "ams_trajectories",
    ] {
        rows.extend(
            column_of(conn, &format!("SELECT xmin::text || ' ' || t::text FROM aico_core.{table} t ORDER BY 1")).await,
        );
    }
    rows
}

#[tokio::test]
async fn aicos_behavioural_tables_move_row_for_row_and_a_rerun_writes_nothing() {
    let Some(source) = Source::with_phase3("new") else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    let out = source.run(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json_of(&out);
    assert_eq!(report["ok"], true, "{report:#}");
    for (target, from) in [
        ("ams_behavioral_skills", "skills"),
        ("user_skill_confidence", "user_skill_confidence"),
        ("ams_context_skill_stats", "context_skill_stats"),
        ("ams_context_preference_vectors", "context_preference_vectors"),
        ("ams_behavioral_feedback", "ams_behavioral_feedback"),
        ("ams_trajectories", "trajectories"),
    ] {
        assert_eq!(table(&report, target)["source_table"], from, "{report:#}");
        assert_eq!(figures(table(&report, target)), [2, 2, 0, 0, 0, 2], "{target}: {report:#}");
    }
    // The Memory Album's table stays behind, listed.
    assert_eq!(report["no_target"][0]["table"], "feedback_events", "{report:#}");
    assert_phase3_rows(&conn).await;
    assert_eq!(
        feedback_rows(&conn).await,
        [
            format!(
                "event-1 | {ADA} | msg-1 | concise_response | 1 | helpful | short and right | \
                 2025-11-07T18:10:00.000000 | 0 | NULL | NULL | NULL | NULL"
            ),
            format!(
                "event-2 | {BOB} | msg-2 | NULL | -1 | NULL | NULL | 2025-11-07T18:05:00.500000 | 1 | NULL | NULL | NULL | NULL"
            ),
        ]
    );

    let rows = phase3_written(&conn).await;
    let again = source.run(&db, &["--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let report = json_of(&again);
    for target in [
        "ams_behavioral_skills",
        "user_skill_confidence",
        "ams_context_skill_stats",
        "ams_context_preference_vectors",
        "ams_behavioral_feedback",
        "ams_trajectories",
    ] {
        assert_eq!(figures(table(&report, target)), [2, 0, 2, 0, 0, 0], "{target}: {report:#}");
    }
    assert_eq!(phase3_written(&conn).await, rows, "a rerun wrote rows");
    conn.close().await.ok();
}

#[tokio::test]
async fn the_older_names_move_too_a_bucket_out_of_range_is_refused_and_categories_stay_in_context_json() {
    let Some(source) = Source::with_phase3("old") else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    let out = source.run(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "two buckets and a skill are refused: {}", text(&out));
    let report = json_of(&out);
    assert_eq!(table(&report, "ams_behavioral_feedback")["source_table"], "feedback_events", "{report:#}");
    // No Memory Album table here: only the graph's derived index has no target.
    let no_target: Vec<&str> =
        report["no_target"].as_array().expect("list").iter().filter_map(|u| u["table"].as_str()).collect();
    assert_eq!(no_target, ["kg_node_properties"], "{report:#}");
    assert_eq!(figures(table(&report, "ams_context_skill_stats")), [5, 2, 0, 0, 3, 2], "{report:#}");
    // A composite key is read in rowid order (the order the rows were written).
    let refused: Vec<String> = table(&report, "ams_context_skill_stats")["refused"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| format!("{}: {}", r["key"].as_str().expect("key"), r["reason"].as_str().expect("reason")))
        .collect();
    assert_eq!(
        refused,
        [
            format!("{ADA} / 137 / warm_story: context_bucket: 137 is not an integer from 0 to 99"),
            format!("{BOB} / morning / warm_story: context_bucket: 'morning' is not an integer"),
            format!(
                "{ADA} / 5 / ghost_skill: its skill_id ghost_skill is in neither the source nor \
                 aico_core.ams_behavioral_skills"
            ),
        ]
    );
    assert_eq!(count(&conn, "ams_context_skill_stats").await, "2");
    assert_phase3_rows(&conn).await;
    assert_eq!(
        feedback_rows(&conn).await,
        [
            format!(
                "event-1 | {ADA} | msg-1 | concise_response | 1 | helpful | short and right | \
                 2025-11-07T18:10:00.000000 | 0 | NULL | NULL | NULL | {{\"classified_categories\": {{\"tone\": [\"warm\"]}}}}"
            ),
            format!(
                "event-2 | {BOB} | msg-2 | NULL | -1 | NULL | NULL | 2025-11-07T18:05:00.500000 | 1 | NULL | NULL | NULL | NULL"
            ),
        ]
    );
    // The text report names the refused rows with their table.
    let shown = text(&source.run(&db, &[]));
    assert!(shown.contains(&format!("refused: context_skill_stats {ADA} / 137 / warm_story")), "{shown}");

    let rows = phase3_written(&conn).await;
    let again = source.run(&db, &["--json"]);
    let report = json_of(&again);
    assert_eq!(figures(table(&report, "ams_context_skill_stats")), [5, 0, 2, 0, 3, 0], "{report:#}");
    assert_eq!(figures(table(&report, "ams_behavioral_feedback")), [2, 0, 2, 0, 0, 0], "{report:#}");
    assert_eq!(phase3_written(&conn).await, rows, "a rerun wrote rows");
    conn.close().await.ok();
}

/// Replaces the source's `consolidation_state` by the shape AICO's 2025 code writes it in
/// (`id`, `state_json`, `updated_at`: the scheduler's `consolidation_<user>` rows, JSON text) and
/// adds a row as `ConsolidationStateManager.persist_state` writes it: `str(dict)`, not JSON.
const MAKE_STATE_JSON: &str = r#"
import json, libsql, sys
path, key_hex = sys.argv[1], sys.argv[2]
ada = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10"
c = libsql.connect(path)
c.execute(f"PRAGMA key = 'x\"{key_hex}\"'")
c.execute("DROP TABLE consolidation_state")
c.execute("CREATE TABLE consolidation_state (id TEXT PRIMARY KEY, state_json TEXT NOT NULL, "
          "updated_at DATETIME DEFAULT CURRENT_TIMESTAMP)")
state = {"user_id": ada, "last_consolidated_at": "2025-11-07T18:10:00+00:00", "messages_processed": 4,
         "status": "completed", "duration_seconds": 1.5}
c.execute("INSERT INTO consolidation_state VALUES (?, ?, ?)",
          (f"consolidation_{ada}", json.dumps(state), "2025-11-07T18:10:00+00:00"))
c.execute("INSERT INTO consolidation_state VALUES ('current', ?, '2025-11-07T18:11:00')", (str({"status": "idle"}),))
c.commit()
"#;

#[tokio::test]
async fn a_consolidation_state_that_already_has_state_json_moves_as_it_is_and_python_dicts_are_refused() {
    let Some(source) = Source::new(false) else { return };
    let Some(python) = python_with_libsql() else { return };
    run_python(&python, MAKE_STATE_JSON, &[source.path().to_str().expect("utf-8"), &source.key_hex]);
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let conn = db.connect().await;
    let out = source.run(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "one row is refused: {}", text(&out));
    let report = json_of(&out);
    let state = table(&report, "ams_consolidation_state");
    assert_eq!(figures(state), [2, 1, 0, 0, 1, 1], "{report:#}");
    assert_eq!(state["refused"]["rows"][0]["key"], "current", "{report:#}");
    let reason = state["refused"]["rows"][0]["reason"].as_str().expect("reason");
    assert!(reason.contains("state_json") && reason.contains("not JSON"), "{reason}");
    let rows = column_of(
        &conn,
        "SELECT id || ' ' || to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || ' ' || \
         (state_json ->> 'messages_processed') || ' ' || (state_json ->> 'status') || ' ' || \
         (state_json ->> 'duration_seconds') || ' ' || (state_json ->> 'user_id') \
         FROM aico_core.ams_consolidation_state ORDER BY id",
    )
    .await;
    assert_eq!(rows, [format!("consolidation_{ADA} 2025-11-07T18:10:00 4 completed 1.5 {ADA}")]);
    let again = source.run(&db, &["--json"]);
    assert_eq!(figures(table(&json_of(&again), "ams_consolidation_state")), [2, 0, 1, 0, 1, 0]);
    conn.close().await.ok();
}
