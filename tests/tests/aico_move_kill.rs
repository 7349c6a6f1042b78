//! `aico-ams move` stopped with `kill -9` at random moments (issue 30): a 2025 install's encrypted
//! `aico.db` (written by python `libsql` 0.1.8 with `PRAGMA key`, as AICO writes it) with a few
//! hundred users, a few thousand facts and AICO's behavioural tables, moved in small batches into
//! AICO's `aico_core` on PostgreSQL 18. One target gets an uninterrupted run; a second one gets
//! several runs killed at random (seeded) moments: the first during its start, the others once the
//! target holds a random number of rows, so that each lands mid-write; then a run that finishes. The
//! seed is printed in every failure and replayed with `AICO_TEST_KILL_SEED`. Both targets must
//! then hold the same rows, every table of `aico_core` compared row for row as text; the finishing
//! run must exit 0 with every source row verified or already there, the same; and the source
//! directory must be byte-identical after all the kills. The install has its LMDB working memory
//! and its Chroma store too (written by python `lmdb` and AICO's chromadb 1.0.20), enough segments
//! that the move sets AICO's HNSW index aside: kills land in those steps as well (and among the
//! facts, whose indexes and foreign key the move sets aside too), and every index and constraint of `aico_core`
//! must be back, valid, with its definition, in both targets.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aico_tests::aico::{USER_MEMORIES_V13, USERS_2025};
use aico_tests::{
    AicoPg, TestDb, aico_chromadb_python, aico_pg18, column_of, command, json_of, python_with_libsql, run_python,
};
use sea_orm::DatabaseConnection;
use serde_json::Value;

/// Users and facts in the source.
const USERS: usize = 300;
const FACTS: usize = 6000;

/// LMDB messages and Chroma segments in the source: enough segments that the move sets AICO's HNSW
/// index aside (`PARK_MIN_ROWS`).
const MESSAGES: usize = 600;
const SEGMENTS: usize = 2100;

/// AICO's working memory as its LMDB store writes it. Arguments: the directory, the messages.
const MAKE_LMDB: &str = r#"
import json, lmdb, sys
env = lmdb.open(sys.argv[1], max_dbs=4, map_size=64 << 20)
sm = env.open_db(b"session_memory")
with env.begin(write=True) as t:
    for i in range(int(sys.argv[2])):
        ts = f"2025-11-07T18:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}"
        m = {"message_id": f"m-{i}", "user_id": "u", "conversation_id": f"conv-{i % 7}", "content": f"message {i}",
             "role": ["user", "assistant"][i % 2], "timestamp": ts, "_stored_at": ts, "_expires_at": None}
        t.put(f"conv-{i % 7}:{ts}Z".encode(), json.dumps(m).encode(), db=sm)
"#;

/// AICO's Chroma store as chromadb 1.0.20 writes it: segments as `semantic.py` stores them, with
/// 768-d float32 vectors. Arguments: the directory, the segments.
const MAKE_CHROMA: &str = r#"
import sys
import numpy as np
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = client.get_or_create_collection("conversation_segments", metadata={"hnsw:space": "cosine"},
                                      embedding_function=None)
n = int(sys.argv[2])
v = np.random.default_rng(7).standard_normal((n, 768)).astype(np.float32)
for s in range(0, n, 1000):
    ids = [f"seg-{i:05d}" for i in range(s, min(n, s + 1000))]
    col.add(ids=ids, embeddings=v[s:s + len(ids)], documents=[f"segment {i}" for i in range(s, s + len(ids))],
            metadatas=[{"user_id": "u", "conversation_id": f"conv-{i % 7}", "role": "user",
                        "timestamp": f"2025-11-{1 + i % 28:02d}T10:00:00.{i:06d}"} for i in range(s, s + len(ids))])
"#;

/// Rows per batch: small, so that a run has many batches to be killed between (or in).
const BATCH: &str = "50";

/// Killed runs before the one that finishes.
const TRIALS: usize = 5;

/// Writes `users`, `user_memories` (AICO's version 13 tables) and AICO's behavioural tables (the
/// statements of its versions 14, 15 and 18, passed as JSON), encrypted as AICO does, with rows
/// for every user. Arguments: the file, the key, users, facts, the statements.
const MAKE_SOURCE: &str = r#"
import json, libsql, random, sys, uuid
path, key_hex, n_users, n_facts = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
statements = json.loads(sys.argv[5])
users_sql, memories_sql = sys.argv[6], sys.argv[7]
rnd = random.Random(20261206)
def uid():
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))
c = libsql.connect(path)
c.execute(f"PRAGMA key = 'x\"{key_hex}\"'")
c.execute(users_sql)
users = [uid() for _ in range(n_users)]
c.executemany("INSERT INTO users (uuid, full_name, nickname, is_active, created_at, updated_at) "
              "VALUES (?, ?, ?, ?, ?, ?)",
              [(u, f"User {i} \u00e9", None if i % 3 else f"u{i}", i % 5 != 0,
                "2025-10-01 09:30:00", f"2025-10-0{1 + i % 9}T10:00:00.{i:06d}+02:00")
               for i, u in enumerate(users)])
c.execute(memories_sql)
rows = []
for i in range(n_facts):
    created = [None, "2025-10-05 12:00:00", "2025-10-06T13:14:15Z", "2025-10-07T08:09:10.123456",
               "2025-10-08T23:30:00+05:30"][i % 5]
    valid = ["2025-09-01 08:00:00", "2025-09-02T08:00:00Z", "2025-09-03T08:00:00.654321+02:00"][i % 3]
    meta = None
    if i % 7 == 3:
        meta = ('{"created_at": "2025-10-01T00:00:00Z", "last_updated": "2025-10-02T00:00:00Z", '
                '"last_accessed": "2025-10-03T00:00:00Z", "access_count": 3, "confidence": 0.8, '
                '"version": 2, "superseded_by": null}')
    content = f"fact {i}: tea, not coffee \u00e9\u2603 " * (1 + i % 5)
    rows.append((uid(), users[i % n_users], "preference", "preferences", (i % 100) / 100, i % 2, valid,
                 "2026-01-01 00:00:00" if i % 4 == 0 else None, content,
                 '[{"text": "tea", "label": "preference", "score": 0.25}]' if i % 2 else None, "llm",
                 f"conv-{i % 31}", created, created, '["a", "b"]' if i % 3 == 0 else None, i % 2, i % 4, meta))
c.executemany("INSERT INTO user_memories (fact_id, user_id, fact_type, category, confidence, is_immutable, "
              "valid_from, valid_until, content, entities_json, extraction_method, source_conversation_id, "
              "created_at, updated_at, tags_json, is_favorite, revisit_count, temporal_metadata) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
for sql in statements:
    c.execute(sql)
T0, T1, T2 = "2025-11-07T18:00:00.123456", "2025-11-07T18:05:00.500000", "2025-11-07T18:10:00"
skills = [f"skill_{k}" for k in range(8)]
c.executemany("INSERT INTO skills (skill_id, skill_name, skill_type, trigger_context, procedure_template, "
              "dimension_vector, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
              [(s, f"Skill {k}", "base" if k % 2 else "user_created", json.dumps({"intent": ["question"]}),
                "Provide brief answers.", json.dumps([k / 10] * 16), T0, T1) for k, s in enumerate(skills)])
c.executemany("INSERT INTO user_skill_confidence (user_id, skill_id, confidence_score, usage_count, positive_count, "
              "negative_count, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
              [(u, s, 0.5, k, k, 0, T2 if k % 2 else None)
               for u in users for k, s in enumerate(skills[:2])])
c.executemany("INSERT INTO trajectories (trajectory_id, user_id, conversation_id, turn_number, user_input, "
              "selected_skill_id, ai_response, feedback_reward, timestamp, archived, message_id) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              [(f"traj-{i}", u, f"conv-{i}", i % 9, "green tea?", skills[i % 8] if i % 3 else None, "80 \u00b0C.",
                None if i % 2 else -1, T1, i % 2 == 0, f"msg-{i}" if i % 2 else None)
               for i, u in enumerate(users)])
c.executemany("INSERT INTO context_skill_stats (user_id, context_bucket, skill_id, alpha, beta, last_updated_at) "
              "VALUES (?, ?, ?, ?, ?, ?)",
              [(u, b, skills[b % 8], 2.0, 1.5, T2) for u in users for b in (7, 42)])
c.executemany("INSERT INTO context_preference_vectors (user_id, context_bucket, dimensions, last_updated_at) "
              "VALUES (?, ?, ?, ?)",
              [(u, b, json.dumps([0.25] * 8 + [0.75] * 8), T2) for u in users for b in (0, 42)])
c.executemany("INSERT INTO ams_behavioral_feedback (event_id, user_id, message_id, skill_id, reward, reason, "
              "free_text, timestamp, processed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              [(f"event-{i}", u, f"msg-{i}", skills[i % 8] if i % 2 else None, 1 - 2 * (i % 2), "helpful",
                None, T2, i % 2) for i, u in enumerate(users)])
c.commit()
"#;

/// The encrypted source in a directory of its own, and its key; AICO's memory directory (LMDB and
/// Chroma) in `memory/` beside it.
struct Source {
    dir: tempfile::TempDir,
    key_hex: String,
    /// AICO's own `chroma` (chromadb 1.0.20).
    chroma: PathBuf,
}

impl Source {
    /// Written by python `libsql`; `None` (a skip outside CI) without it.
    fn new() -> Option<Self> {
        let python = python_with_libsql()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let key_hex: String = (0..32).map(|i| format!("{:02x}", (i * 53 + 7) % 256)).collect();
        let statements: Vec<&str> = migration::aico_phase3::phase3().map(|(_, sql)| sql).collect();
        let statements = serde_json::to_string(&statements).expect("json");
        let path = dir.path().join("aico.db");
        let (users, facts) = (USERS.to_string(), FACTS.to_string());
        let args =
            [path.to_str().expect("utf-8"), &key_hex, &users, &facts, &statements, USERS_2025, USER_MEMORIES_V13];
        run_python(&python, MAKE_SOURCE, &args);
        let (working, semantic) = (dir.path().join("memory/working"), dir.path().join("memory/semantic"));
        std::fs::create_dir_all(&working).expect("mkdir");
        std::fs::create_dir_all(&semantic).expect("mkdir");
        run_python(&python, MAKE_LMDB, &[working.to_str().expect("utf-8"), &MESSAGES.to_string()]);
        let chroma_python = aico_chromadb_python()?;
        run_python(&chroma_python, MAKE_CHROMA, &[semantic.to_str().expect("utf-8"), &SEGMENTS.to_string()]);
        let chroma = chroma_python.parent().expect("bin dir").join("chroma");
        Some(Self { dir, key_hex, chroma })
    }

    /// Every file of the directory with its bytes, but LMDB's table of readers (`lock.mdb`), which
    /// every reader writes.
    fn files(&self) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        let mut files = aico_tests::files_of(self.dir.path());
        files.remove(&PathBuf::from("memory/working/lock.mdb"));
        files
    }

    /// `aico-ams move --json` from this source to `db` in batches of [`BATCH`].
    fn command(&self, db: &TestDb) -> std::process::Command {
        let url = format!("sqlite://{}", self.dir.path().join("aico.db").display());
        let mut cmd = command("aico-ams");
        cmd.args(["move", "--database-url", &url, "--to", &db.url, "--batch-size", BATCH, "--json"])
            .arg("--memory-dir")
            .arg(self.dir.path().join("memory"))
            .arg("--chroma-bin")
            .arg(&self.chroma)
            .env("AICO_DB_KEY", &self.key_hex)
            .env("ANONYMIZED_TELEMETRY", "False")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-test-bus");
        cmd
    }
}

/// Every row of every table of `aico_core`, as text, per table in a canonical order (by the row's
/// text: the keys are unique, so this is the key order's set, independent of the physical order).
async fn dump(conn: &DatabaseConnection) -> Vec<(String, Vec<String>)> {
    let tables = column_of(
        conn,
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'aico_core' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .await;
    let mut out = Vec::new();
    for table in tables {
        // Names from the catalog, quoted as identifiers; no value is pasted.
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        // The working memory's `id` is a sequence's: a killed batch uses numbers up, so ids differ.
        let row = if table == "working_memory_messages" { "(to_jsonb(t) - 'id')" } else { "t" };
        let rows = column_of(conn, &format!("SELECT {row}::text FROM aico_core.{quoted} t ORDER BY 1")).await;
        out.push((table, rows));
    }
    out
}

/// A query counting the rows of every table of `aico_core` (names from the catalog, quoted).
async fn count_sql(conn: &DatabaseConnection) -> String {
    let tables = column_of(
        conn,
        "SELECT quote_ident(table_name::text) FROM information_schema.tables \
         WHERE table_schema = 'aico_core' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .await;
    let counts: Vec<String> = tables.iter().map(|t| format!("(SELECT count(*) FROM aico_core.{t})")).collect();
    format!("SELECT ({})::text", counts.join(" + "))
}

/// Rows in all the tables of `aico_core`, counted by `count` ([`count_sql`]).
async fn rows(conn: &DatabaseConnection, count: &str) -> u64 {
    column_of(conn, count).await.remove(0).parse().expect("a count")
}

/// Waits until no other session works in `conn`'s database: a killed client's server process may
/// still finish its statement (and a `COMMIT` already sent) before it notices the client is gone.
async fn settled(conn: &DatabaseConnection) {
    let started = Instant::now();
    let busy = "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() \
                AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'";
    while column_of(conn, busy).await.remove(0) != "0" {
        assert!(started.elapsed() < Duration::from_secs(30), "the killed run's session stayed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A deterministic generator (xorshift64*), seeded and printed so that a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The report's per-table figures that say every source row is in the target, the same.
fn assert_complete(report: &Value, context: &str) {
    assert_eq!(report["ok"], true, "{context}: not ok: {report:#}");
    assert!(report["stopped"].as_array().is_some_and(Vec::is_empty), "{context}: {report:#}");
    // The tables this source holds (the report also lists the target's tables it has no source for).
    let tables: Vec<&Value> =
        report["tables"].as_array().expect("tables").iter().filter(|t| !t["source_table"].is_null()).collect();
    assert_eq!(tables.len(), 9, "{context}: {report:#}");
    for t in tables {
        let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("{k} in {t:#}"));
        let count = |k: &str| t[k]["count"].as_u64().unwrap_or_else(|| panic!("{k} in {t:#}"));
        assert!(n("in_source") > 0, "{context}: {t:#}");
        assert_eq!(n("verified"), n("moved"), "{context}: {t:#}");
        assert_eq!(n("moved") + n("already_same"), n("in_source"), "{context}: {t:#}");
        for k in ["already_different", "refused", "mismatched"] {
            assert_eq!(count(k), 0, "{context}: {k}: {t:#}");
        }
    }
    let w = &report["working_memory"];
    assert_eq!(w["skipped"], Value::Null, "{context}: {report:#}");
    assert_eq!(w["in_source"], MESSAGES, "{context}: {report:#}");
    let (moved, before) = (w["moved"].as_u64().expect("moved"), w["already_moved"].as_u64().expect("before"));
    assert_eq!(moved + before, MESSAGES as u64, "{context}: {report:#}");
    assert_eq!(w["refused"]["count"], 0, "{context}: {report:#}");
}

/// Every index of AICO's tables, then every constraint: its definition and whether it is valid.
async fn aicos_indexes(conn: &DatabaseConnection) -> Vec<String> {
    let mut all = column_of(
        conn,
        "SELECT pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid::text FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'aico_core' ORDER BY c.relname",
    )
    .await;
    all.extend(
        column_of(
            conn,
            "SELECT k.conrelid::regclass::text || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid) \
             || ' valid=' || k.convalidated::text FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace \
             WHERE n.nspname = 'aico_core' ORDER BY 1",
        )
        .await,
    );
    all
}

#[tokio::test]
async fn a_move_killed_at_random_moments_resumes_to_the_uninterrupted_end_row_for_row() {
    let Some(source) = Source::new() else { return };
    let Some(whole) = aico_pg18(AicoPg::AsFile).await else { return };
    let Some(killed) = aico_pg18(AicoPg::AsFile).await else { return };
    let before = source.files();
    let index_before = aicos_indexes(&whole.connect().await).await;
    for name in [
        "INDEX idx_conversation_segments_embedding ON",
        "INDEX idx_facts_user_type ON",
        "INDEX idx_user_memories_temporal ON",
        " fk_ams_user_memories_user_id_user_profiles FOREIGN KEY (user_id) REFERENCES ",
    ] {
        let found: Vec<_> = index_before.iter().filter(|d| d.contains(name)).collect();
        assert!(found.len() == 1 && found[0].ends_with(" valid=true"), "{name}: {index_before:?}");
    }

    // The uninterrupted run, timed: the kills fall within its duration.
    let started = Instant::now();
    let out = source.command(&whole).output().expect("run aico-ams move");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", aico_tests::text(&out));
    let report = json_of(&out);
    assert_complete(&report, "uninterrupted");
    let facts = report["tables"].as_array().and_then(|t| t.iter().find(|t| t["target_table"] == "ams_user_memories"));
    assert_eq!(facts.map(|t| t["moved"].clone()), Some(Value::from(FACTS)), "{report:#}");
    // As many facts as the move sets AICO's indexes on them aside for (`PARK_MIN_ROWS`).
    assert_eq!(facts.map(|t| t["indexes"].clone()), Some(Value::from("rebuilt")), "{report:#}");
    assert_eq!(facts.map(|t| t["foreign_keys"].clone()), Some(Value::from("rebuilt")), "{report:#}");

    let seed = std::env::var("AICO_TEST_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    let mut rng = Rng(seed);
    let span = took.as_millis().max(1) as u64;
    let conn = killed.connect().await;
    let count = count_sql(&conn).await;
    let whole_rows = rows(&whole.connect().await, &count).await;
    assert!(whole_rows > 1000, "{whole_rows} rows");
    // The first kill after a random delay within the uninterrupted run's start; the others once the
    // target holds a random number of rows between what it held and half of what is missing (the
    // count polled every few milliseconds, then a random wait of up to 20 ms): each lands
    // mid-write, in a batch or between two; the last one among the segments.
    let mut trials = Vec::new();
    let mut held = 0;
    for trial in 0..TRIALS {
        let mut child = source.command(&killed).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        let at = if trial == 0 {
            std::thread::sleep(Duration::from_millis(rng.next() % (span / 4).max(1)));
            String::from("start")
        } else {
            // The second kill lands among the facts, written after the users while AICO's indexes
            // on them are set aside; the last among the segments, written last, while AICO's HNSW
            // index is set aside.
            let threshold = match trial {
                1 => (USERS as u64 + 1 + rng.next() % (FACTS as u64 / 2)).max(held + 1),
                _ if trial == TRIALS - 1 => {
                    (whole_rows - SEGMENTS as u64 + 1 + rng.next() % (SEGMENTS as u64 / 2)).max(held + 1)
                }
                _ => held + 1 + rng.next() % ((whole_rows - held) / 2).max(1),
            };
            let started = Instant::now();
            while rows(&conn, &count).await < threshold && child.try_wait().expect("poll").is_none() {
                assert!(started.elapsed() < Duration::from_secs(60), "no progress to {threshold} rows");
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.next() % 20)).await;
            format!("{threshold} rows")
        };
        let running = child.try_wait().expect("poll").is_none();
        child.kill().ok(); // SIGKILL
        child.wait().expect("reap");
        settled(&conn).await;
        held = rows(&conn, &count).await;
        trials.push(format!("at {at}: {held} rows{}", if running { "" } else { " (had ended)" }));
        assert!(running || trial == 0, "trial {trial} ended before its kill: {trials:?}");
    }
    let trials =
        format!("seed {seed} (AICO_TEST_KILL_SEED), uninterrupted run {span} ms, {whole_rows} rows; kills {trials:?}");
    eprintln!("{trials}");
    assert!(held < whole_rows, "the kills left nothing to resume: {trials}");

    let out = source.command(&killed).output().expect("run aico-ams move");
    assert_eq!(out.status.code(), Some(0), "{trials}: exit code: {}", aico_tests::text(&out));
    let report = json_of(&out);
    assert_complete(&report, &trials);
    // Every row the killed runs left is one the move would write, the same.
    let same: u64 =
        report["tables"].as_array().expect("tables").iter().filter_map(|t| t["already_same"].as_u64()).sum();
    let messages = report["working_memory"]["already_moved"].as_u64().expect("already moved");
    assert_eq!(same + messages, held, "{trials}: already there (same) vs rows left: {report:#}");
    // AICO's indexes and constraints are back in both, valid, as AICO's file makes them.
    assert_eq!(aicos_indexes(&whole.connect().await).await, index_before, "{trials}");
    assert_eq!(aicos_indexes(&conn).await, index_before, "{trials}");

    let (a, b) = (dump(&whole.connect().await).await, dump(&killed.connect().await).await);
    assert_eq!(a.len(), b.len(), "{trials}");
    for ((table, rows), (_, resumed)) in a.iter().zip(&b) {
        assert_eq!(rows.len(), resumed.len(), "{trials}: {table}: row counts");
        if let Some((x, y)) = rows.iter().zip(resumed).find(|(x, y)| x != y) {
            panic!("{trials}: {table} differs:\n uninterrupted: {x}\n resumed:       {y}");
        }
    }
    assert_eq!(source.files(), before, "the source directory changed");
}
