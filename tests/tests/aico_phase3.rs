//! AICO's own Phase 3 beside us, on AICO's own database (SQLite only: AICO's database is a file).
//!
//! - Every SQL statement AICO's behavioural code runs (`SkillStore`, `ThompsonSamplingSelector`,
//!   `PreferenceManager`, the conversation engine's trajectory log and the feedback endpoint),
//!   written here as literal SQL in AICO's order, runs through Python's `sqlite3` on the plain file
//!   and through python `libsql` 0.1.8 on the encrypted one, on what `migration up` leaves at AICO's
//!   versions 13 and 18; what it wrote is read back, by Python and by the `entity::aico` models.
//! - AICO's migrator (`SchemaManager.migrate_to_latest`), replayed as it runs, reaches the same
//!   version with the same stop after our `up` as without it; a later AICO that repairs its
//!   version 14 stops at its version 15, on the `trajectories.message_id` we made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aico_connect::key::KeySources;
use aico_connect::target::Target;
use aico_tests::aico::{self, AicoVersion};
use aico_tests::{python_with_libsql, run_python, text};
use rstest::rstest;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement};
use serde_json::{Value, json};

/// The database key of the encrypted cases (AICO's form: 64 hex digits).
const KEY_HEX: &str = "4f1c2a9d0b7e6358a1f2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";

/// The statements AICO's behavioural code runs, in the order a conversation turn and its
/// feedback run them, with literal values; prints what it read back, as JSON.
/// Arguments: `sqlite3|libsql`, the database, the key (libsql), the user, three times.
const AICOS_PHASE3_SQL: &str = r#"
import json, sys
from datetime import datetime
driver, path, key, user, T0, T1, T2 = sys.argv[1:8]
if driver == "libsql":
    import libsql
    c = libsql.connect(path)
    c.execute(f"PRAGMA key = 'x\"{key}\"'")
else:
    import sqlite3
    c = sqlite3.connect(path)
DIMS = [0.2, 0.5, 0.5, 0.5, 0.3, 0.8, 0.3, 0.3, 0.5, 0.5, 0.7, 0.5, 0.6, 0.4, 0.5, 0.5]
SKILL = "concise_response"
out = {}

def skill(row):
    # SkillStore reads a skill by position (SELECT *).
    return [row[0], row[1], row[2], json.loads(row[3]), row[4], json.loads(row[5]),
            datetime.fromisoformat(row[6]).isoformat(), datetime.fromisoformat(row[7]).isoformat()]

# SkillStore.initialize_base_skills: get_skill, create_skill; then list_skills.
assert c.execute("SELECT * FROM skills WHERE skill_id = ?", (SKILL,)).fetchone() is None
c.execute("""INSERT INTO skills (
    skill_id, skill_name, skill_type, trigger_context,
    procedure_template, dimension_vector, created_at, updated_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
    (SKILL, "Concise Response", "base", json.dumps({"intent": ["question", "request"], "time_of_day": "any"}),
     "Provide brief, bullet-point answers.", json.dumps(DIMS), T0, T0))
c.commit()
out["get_skill"] = skill(c.execute("SELECT * FROM skills WHERE skill_id = ?", (SKILL,)).fetchone())
out["list_skills_of_type"] = [skill(r) for r in c.execute("SELECT * FROM skills WHERE skill_type = ? LIMIT ?", ("base", 100)).fetchall()]
out["list_skills"] = [r[0] for r in c.execute("SELECT * FROM skills LIMIT ?", (100,)).fetchall()]

# The conversation engine logs the turn, with the message's id.
turn = c.execute("SELECT COUNT(*) FROM trajectories WHERE user_id = ? AND conversation_id = ?",
                 (user, "conv-1")).fetchone()[0] + 1
c.execute("""INSERT INTO trajectories (
    trajectory_id, user_id, conversation_id, turn_number,
    user_input, selected_skill_id, ai_response, message_id, timestamp
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
    ("traj-1", user, "conv-1", turn, "how do I brew green tea?", SKILL, "80 \u00b0C, two minutes.", "msg-1", T1))
c.commit()

# The feedback endpoint: the message's skill, then the event.
found = c.execute("SELECT selected_skill_id FROM trajectories WHERE message_id = ? LIMIT 1", ("msg-1",)).fetchone()
out["skill_of_message"] = found[0]
c.execute("""INSERT INTO ams_behavioral_feedback (
    event_id, user_id, message_id, skill_id, reward,
    reason, free_text, timestamp, processed
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
    ("event-1", user, "msg-1", found[0], 1, "helpful", "short and right", T2, False))
c.commit()

# SkillStore.update_confidence: the row (made when missing), then its update.
CONF = "SELECT * FROM user_skill_confidence WHERE user_id = ? AND skill_id = ?"
assert c.execute(CONF, (user, SKILL)).fetchone() is None
c.execute("""INSERT INTO user_skill_confidence (
    user_id, skill_id, confidence_score, usage_count,
    positive_count, negative_count, last_used_at
) VALUES (?, ?, 0.5, 0, 0, 0, ?)""", (user, SKILL, T1))
c.commit()
row = c.execute(CONF, (user, SKILL)).fetchone()
out["confidence_made"] = list(row[:6]) + [datetime.fromisoformat(row[6]).isoformat()]
c.execute("""UPDATE user_skill_confidence
   SET confidence_score = ?,
       usage_count = usage_count + 1,
       positive_count = positive_count + ?,
       negative_count = negative_count + ?,
       last_used_at = ?
   WHERE user_id = ? AND skill_id = ?""", (0.8, 1, 0, T2, user, SKILL))
c.commit()

# ThompsonSamplingSelector: the statistics of (user, context bucket, skill), upserted twice.
STATS = """SELECT alpha, beta FROM context_skill_stats
   WHERE user_id = ? AND context_bucket = ? AND skill_id = ?"""
SAVE_STATS = """INSERT INTO context_skill_stats (
    user_id, context_bucket, skill_id, alpha, beta, last_updated_at
) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(user_id, context_bucket, skill_id)
DO UPDATE SET
    alpha = excluded.alpha,
    beta = excluded.beta,
    last_updated_at = excluded.last_updated_at"""
assert c.execute(STATS, (user, 42, SKILL)).fetchone() is None
c.execute(SAVE_STATS, (user, 42, SKILL, 2.0, 1.0, T1))
c.commit()
c.execute(SAVE_STATS, (user, 42, SKILL, 2.0, 2.0, T2))
c.commit()
out["stats"] = list(c.execute(STATS, (user, 42, SKILL)).fetchone())

# PreferenceManager: the neutral vector made on first read, then the moved one.
PREFS = """SELECT dimensions, last_updated_at FROM context_preference_vectors
   WHERE user_id = ? AND context_bucket = ?"""
SAVE_PREFS = """INSERT INTO context_preference_vectors (
    user_id, context_bucket, dimensions, last_updated_at
) VALUES (?, ?, ?, ?)
ON CONFLICT(user_id, context_bucket)
DO UPDATE SET
    dimensions = excluded.dimensions,
    last_updated_at = excluded.last_updated_at"""
assert c.execute(PREFS, (user, 42)).fetchone() is None
c.execute(SAVE_PREFS, (user, 42, json.dumps([0.5] * 16), T1))
c.commit()
row = c.execute(PREFS, (user, 42)).fetchone()
out["prefs_made"] = [json.loads(row[0]), datetime.fromisoformat(row[1]).isoformat()]
c.execute(SAVE_PREFS, (user, 42, json.dumps([0.25] * 8 + [0.75] * 8), T2))
c.commit()

# Every row, read back.
def rows(sql):
    return [list(r) for r in c.execute(sql).fetchall()]
out["rows"] = {
    "skills": rows("SELECT skill_id, skill_type, dimension_vector, created_at FROM skills"),
    "trajectories": rows("SELECT trajectory_id, turn_number, selected_skill_id, feedback_reward, timestamp, "
                         "archived, message_id FROM trajectories"),
    "ams_behavioral_feedback": rows("SELECT event_id, message_id, skill_id, reward, reason, free_text, timestamp, "
                                    "processed FROM ams_behavioral_feedback"),
    "user_skill_confidence": rows("SELECT skill_id, confidence_score, usage_count, positive_count, negative_count, "
                                  "last_used_at FROM user_skill_confidence"),
    "context_skill_stats": rows("SELECT context_bucket, skill_id, alpha, beta, last_updated_at FROM context_skill_stats"),
    "context_preference_vectors": rows("SELECT context_bucket, dimensions, last_updated_at "
                                       "FROM context_preference_vectors"),
}
print(json.dumps(out))
"#;

/// The times the script writes, as AICO writes them (`datetime.utcnow().isoformat()`).
const T0: &str = "2025-11-07T18:00:00.123456";
const T1: &str = "2025-11-07T18:05:00.500000";
const T2: &str = "2025-11-07T18:10:00";

/// A list of numbers as Python's `json.dumps` writes it (`[0.5, 0.25]`).
fn python_json(values: &[f64]) -> String {
    format!("[{}]", values.iter().map(f64::to_string).collect::<Vec<_>>().join(", "))
}

/// The skill's 16 dimensions (AICO's base skill `concise_response`).
const DIMS: [f64; 16] = [0.2, 0.5, 0.5, 0.5, 0.3, 0.8, 0.3, 0.3, 0.5, 0.5, 0.7, 0.5, 0.6, 0.4, 0.5, 0.5];

/// The preference vector the script moves to.
fn moved() -> Vec<f64> {
    [[0.25; 8], [0.75; 8]].concat()
}

/// What [`AICOS_PHASE3_SQL`] must read back.
fn expected_reads() -> Value {
    let dims = json!(DIMS);
    let skill = json!([
        "concise_response",
        "Concise Response",
        "base",
        {"intent": ["question", "request"], "time_of_day": "any"},
        "Provide brief, bullet-point answers.",
        dims,
        T0,
        T0
    ]);
    json!({
        "get_skill": skill,
        "list_skills_of_type": [skill],
        "list_skills": ["concise_response"],
        "skill_of_message": "concise_response",
        "confidence_made": [aico::USER, "concise_response", 0.5, 0, 0, 0, T1],
        "stats": [2.0, 2.0],
        "prefs_made": [vec![0.5; 16], T1],
        "rows": {
            "skills": [["concise_response", "base", python_json(&DIMS), T0]],
            "trajectories": [["traj-1", 1, "concise_response", null, T1, 0, "msg-1"]],
            "ams_behavioral_feedback": [["event-1", "msg-1", "concise_response", 1, "helpful", "short and right", T2, 0]],
            "user_skill_confidence": [["concise_response", 0.8, 1, 1, 0, T2]],
            "context_skill_stats": [[42, "concise_response", 2.0, 2.0, T2]],
            "context_preference_vectors": [[42, python_json(&moved()), T2]],
        }
    })
}

/// The key sources that open the fixture: the key when `encrypted`, none otherwise.
fn keys(encrypted: bool) -> KeySources {
    if encrypted { KeySources::from_env(Some(KEY_HEX)) } else { KeySources::none() }
}

/// The URL of the SQLite file `path`, created when missing.
fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A connection to the fixture, with its key when `encrypted`.
async fn open(path: &Path, encrypted: bool) -> DatabaseConnection {
    let target = Target::from_url(&sqlite_url(path)).expect("url");
    target.connect_with(None, &keys(encrypted)).await.expect("open the fixture")
}

/// AICO's database at `at` in `dir` (encrypted with [`KEY_HEX`] when `encrypted`), closed with
/// its WAL checkpointed.
async fn aicos_database(dir: &Path, at: AicoVersion, encrypted: bool) -> PathBuf {
    let path = dir.join("aico.db");
    let conn = open(&path, encrypted).await;
    aico::build(&conn, at, 5).await;
    conn.execute_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(TRUNCATE)"))
        .await
        .expect("checkpoint");
    conn.close().await.expect("close");
    path
}

/// `migration up` on `path`, with the key when `encrypted`.
fn up(path: &Path, encrypted: bool) {
    let mut cmd = aico_tests::migrator(&sqlite_url(path), &["up"]);
    cmd.env_remove("AICO_DB_KEY").env_remove("AICO_MASTER_KEY");
    if encrypted {
        cmd.env("AICO_DB_KEY", KEY_HEX);
    }
    let out = cmd.output().expect("run the migrator");
    assert!(out.status.success(), "{}", text(&out));
}

/// Whether the file's pages are encrypted.
fn is_encrypted(path: &Path) -> bool {
    aico_connect::key::is_encrypted(path).expect("read the file's header")
}

#[rstest]
#[case::v13_plain(AicoVersion::V13, false)]
#[case::v13_encrypted(AicoVersion::V13, true)]
#[case::v18_plain(AicoVersion::V18, false)]
#[case::v18_encrypted(AicoVersion::V18, true)]
#[tokio::test]
async fn aicos_phase3_statements_work_on_what_up_leaves(#[case] at: AicoVersion, #[case] encrypted: bool) {
    let Some(python) = python_with_libsql() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let path = aicos_database(dir.path(), at, encrypted).await;
    up(&path, encrypted);
    assert_eq!(is_encrypted(&path), encrypted, "the file's encryption changed");

    let driver = if encrypted { "libsql" } else { "sqlite3" };
    let out = run_python(
        &python,
        AICOS_PHASE3_SQL,
        &[driver, path.to_str().expect("utf-8"), KEY_HEX, aico::USER, T0, T1, T2],
    );
    let read: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    assert_eq!(read, expected_reads());
    assert_eq!(is_encrypted(&path), encrypted, "the file's encryption changed");

    let db = open(&path, encrypted).await;
    models_read_what_aico_wrote(&db).await;
    db.close().await.expect("close");

    // `verify` holds the database, AICO's rows in it, to AICO's models.
    let mut verify = aico_tests::command("aico-ams");
    verify.args(["verify"]).env("DATABASE_URL", sqlite_url(&path)).env_remove("AICO_MASTER_KEY");
    if encrypted {
        verify.env("AICO_DB_KEY", KEY_HEX);
    }
    let out = verify.output().expect("run aico-ams");
    assert!(out.status.success(), "{}", text(&out));
}

/// The `entity::aico` models read every row AICO's statements wrote, each column as AICO wrote it.
async fn models_read_what_aico_wrote(db: &DatabaseConnection) {
    use entity::aico::{
        ams_behavioral_feedback, context_preference_vectors, context_skill_stats, skills, trajectories,
        user_skill_confidence,
    };
    use sea_orm::ModelTrait;
    let at = |t: &str| {
        let naive = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").expect("time");
        entity::values::StoredTimestamp::from(naive.and_utc())
    };
    let (user, skill_id) = (aico::USER.to_owned(), "concise_response".to_owned());

    let skill = skills::Entity::find_by_id(&skill_id).one(db).await.expect("read skills").expect("the skill");
    assert_eq!((skill.skill_type.as_str(), skill.skill_name.as_str()), ("base", "Concise Response"));
    assert_eq!(skill.dimension_vector, python_json(&DIMS));
    assert_eq!((&skill.created_at, &skill.updated_at), (&Some(at(T0)), &Some(at(T0))));

    let turn = trajectories::Entity::find_by_id("traj-1").one(db).await.expect("read trajectories").expect("turn");
    assert_eq!(turn.message_id.as_deref(), Some("msg-1"));
    assert_eq!((turn.turn_number, turn.archived, &turn.timestamp), (1, Some(false), &Some(at(T1))));
    assert_eq!(skill.find_related(trajectories::Entity).all(db).await.expect("related"), [turn]);

    let event = ams_behavioral_feedback::Entity::find_by_id("event-1").one(db).await.expect("read").expect("event");
    assert_eq!((event.reward, event.processed, event.timestamp.as_str()), (1, Some(0), T2));
    assert_eq!(event.skill_id.as_deref(), Some("concise_response"));

    let confidence = user_skill_confidence::Entity::find_by_id((user.clone(), skill_id.clone()))
        .one(db)
        .await
        .expect("read user_skill_confidence")
        .expect("confidence");
    assert_eq!(confidence.confidence_score, Some(0.8));
    assert_eq!(
        (confidence.usage_count, confidence.positive_count, confidence.negative_count),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(confidence.last_used_at, Some(at(T2)));

    let stats = context_skill_stats::Entity::find_by_id((user.clone(), 42, skill_id))
        .one(db)
        .await
        .expect("read context_skill_stats")
        .expect("stats");
    assert_eq!((stats.alpha, stats.beta, stats.last_updated_at), (Some(2.0), Some(2.0), Some(at(T2))));

    let prefs = context_preference_vectors::Entity::find_by_id((user, 42))
        .one(db)
        .await
        .expect("read context_preference_vectors")
        .expect("prefs");
    assert_eq!((prefs.dimensions, prefs.last_updated_at), (python_json(&moved()), Some(at(T2))));
}

/// AICO's `SchemaManager.migrate_to_latest` as it runs, through python `libsql` (AICO's library,
/// whose DDL runs outside the version's transaction): its two tables if missing, then versions
/// current+1..latest, each in one transaction (its statements, a history row with AICO's
/// checksum, `schema_version` and `last_migration`), stopping at the first failure. Arguments:
/// the database, a JSON object of each version's statements. Prints the version reached, the
/// version recorded and the error, as JSON.
const AICOS_MIGRATOR: &str = r#"
import hashlib, json, sys
from datetime import datetime
import libsql
path, versions = sys.argv[1], {int(k): v for k, v in json.loads(sys.argv[2]).items()}
c = libsql.connect(path)
c.execute("PRAGMA busy_timeout=10000")
c.execute("""CREATE TABLE IF NOT EXISTS _aico_schema_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)""")
c.execute("""CREATE TABLE IF NOT EXISTS _aico_migration_history (id INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL, name TEXT NOT NULL, description TEXT, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    rollback_sql TEXT, checksum TEXT)""")
SET = "INSERT OR REPLACE INTO _aico_schema_metadata (key, value, updated_at) VALUES (?, ?, CURRENT_TIMESTAMP)"
VERSION = "SELECT value FROM _aico_schema_metadata WHERE key = ?"
current = int(c.execute(VERSION, ("schema_version",)).fetchone()[0])
c.commit()
reached, error = current, None
for version in range(current + 1, max(versions) + 1):
    statements = versions[version]
    try:
        for sql in statements:
            if sql.strip():
                c.execute(sql)
        checksum = hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]
        c.execute("INSERT INTO _aico_migration_history (version, name, description, rollback_sql, checksum) "
                  "VALUES (?, ?, ?, ?, ?)", (version, f"version {version}", f"AICO schema version {version}", None, checksum))
        c.execute(SET, ("schema_version", str(version)))
        c.execute(SET, ("last_migration", datetime.now().isoformat()))
        c.commit()
        reached = version
    except Exception as e:
        c.rollback()
        error = str(e)
        break
recorded = int(c.execute(VERSION, ("schema_version",)).fetchone()[0])
print(json.dumps({"reached": reached, "recorded": recorded, "error": error}))
"#;

/// AICO's versions 14–18 as its migrator would run them, version 14 as AICO ships it or
/// `repaired` (without its statements on the Memory Album's `feedback_events`).
fn aicos_versions(repaired: bool) -> String {
    let versions: BTreeMap<String, Vec<&str>> = (14..=18)
        .map(|n| {
            let sql = if n == 14 && repaired { aico::repaired_version_14() } else { aico::aicos_statements(n) };
            (n.to_string(), sql)
        })
        .collect();
    serde_json::to_string(&versions).expect("json")
}

/// AICO's migrator on `path`: the version reached, the version recorded, the error.
fn aicos_migrator(python: &Path, path: &Path, repaired: bool) -> Value {
    let out = run_python(python, AICOS_MIGRATOR, &[path.to_str().expect("utf-8"), &aicos_versions(repaired)]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// AICO's database at version 13 twice, the same file: `(with_us, without_us)`, `migration up`
/// run on the first. Asserts that our `up` left AICO's version tables byte-identical.
async fn twins(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir.join("with")).expect("dir");
    std::fs::create_dir_all(dir.join("without")).expect("dir");
    let with = aicos_database(&dir.join("with"), AicoVersion::V13, false).await;
    let without = dir.join("without").join("aico.db");
    std::fs::copy(&with, &without).expect("copy");

    let conn = open(&with, false).await;
    let versions = aico::version_tables(&conn).await;
    up(&with, false);
    assert_eq!(aico::version_tables(&conn).await, versions, "our up changed AICO's version tables");
    conn.close().await.expect("close");
    (with, without)
}

#[tokio::test]
async fn aicos_migrator_reaches_the_same_version_with_the_same_stop_as_without_us() {
    let Some(python) = python_with_libsql() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let (with, without) = twins(dir.path()).await;

    let stop = json!({"reached": 13, "recorded": 13, "error": "no such column: user_id"});
    assert_eq!(aicos_migrator(&python, &without, false), stop, "AICO's own version 14 on its own database");
    assert_eq!(aicos_migrator(&python, &with, false), stop, "AICO's own version 14 after our up");
}

#[tokio::test]
async fn a_later_aico_that_repairs_version_14_stops_at_its_version_15_on_our_message_id() {
    let Some(python) = python_with_libsql() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let (with, without) = twins(dir.path()).await;

    assert_eq!(aicos_migrator(&python, &without, true), json!({"reached": 18, "recorded": 18, "error": null}));
    assert_eq!(
        aicos_migrator(&python, &with, true),
        json!({"reached": 14, "recorded": 14, "error": "duplicate column name: message_id"}),
        "its version 14 runs (every table and index is there), its version 15 adds a column we made"
    );
    // AICO's behavioural code still finds everything it needs there.
    let conn = open(&with, false).await;
    let columns = aico_tests::column_of(&conn, "SELECT name FROM pragma_table_info('trajectories')").await;
    assert!(columns.iter().any(|c| c == "message_id"), "{columns:?}");
    conn.close().await.expect("close");
}
