//! `aico-ams move` of a whole 2025 install, Chroma included: an encrypted `aico.db` (python
//! `libsql`: the user, facts, the knowledge graph), LMDB working memory (python `lmdb`) and the
//! embedded Chroma store (`<memory dir>/semantic`, written by AICO's pinned chromadb 1.0.20:
//! `PersistentClient`, explicit 768-d float32 vectors, the metadata as AICO's `semantic.py` and
//! its knowledge graph write it), moved into `aico_core` on PostgreSQL 18 with pgvector as `aico
//! pg init` makes it. Covered: every vector bit for bit as float32 (`conversation_segments`,
//! `kg_node_embeddings`, `kg_edge_embeddings`); each segment's columns from its metadata;
//! refusals (a segment without its user, a graph vector whose node exists nowhere) listed and
//! never written; AICO's own reads on what arrived (`semantic_pgvector.py`'s segment query,
//! `working_postgres.py`'s history, the facts through AICO's index functions); `aico-ams verify`
//! passing on the target; a rerun writing nothing; a dry run; the width check stopping a move into
//! a `vector(384)` column before anything is written; the store byte for byte as it was.

use std::path::{Path, PathBuf};

use aico_tests::{AicoPg, TestDb, aico_chromadb_python, aico_pg18, column_of, command, python_with_libsql, run_python};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::Value;

/// The user of the source.
const ADA: &str = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10";

/// Segments in the store (one more lacks its user).
const SEGMENTS: usize = 30;

/// A 2025 `aico.db`, encrypted as AICO does: the user and the knowledge graph (AICO's versions 9
/// and 10) that the graph's vectors belong to.
const MAKE_SOURCE: &str = r#"
import libsql, sys
c = libsql.connect(sys.argv[1])
c.execute(f"PRAGMA key = 'x\"{sys.argv[2]}\"'")
ada = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10"
c.execute("CREATE TABLE users (uuid TEXT PRIMARY KEY, full_name TEXT NOT NULL, nickname TEXT, "
          "user_type TEXT DEFAULT 'person', is_active BOOLEAN DEFAULT TRUE, "
          "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")
c.execute("INSERT INTO users (uuid, full_name, created_at, updated_at) "
          "VALUES (?, 'Ada Example', '2025-10-01 09:30:00', '2025-10-01 09:30:00')", (ada,))
c.execute("CREATE TABLE user_memories (fact_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, fact_type TEXT NOT NULL, "
          "category TEXT NOT NULL, confidence REAL NOT NULL, is_immutable BOOLEAN NOT NULL DEFAULT FALSE, "
          "valid_from TIMESTAMP NOT NULL, valid_until TIMESTAMP, content TEXT NOT NULL, entities_json TEXT, "
          "extraction_method TEXT NOT NULL, source_conversation_id TEXT NOT NULL, source_message_id TEXT, "
          "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, "
          "temporal_metadata TEXT DEFAULT NULL)")
for i in range(5):
    c.execute("INSERT INTO user_memories (fact_id, user_id, fact_type, category, confidence, valid_from, content, "
              "extraction_method, source_conversation_id, created_at, updated_at) "
              "VALUES (?, ?, 'preference', 'preferences', 0.9, '2025-09-01 08:00:00', ?, 'llm', 'conv-0', ?, ?)",
              (f"fact-{i}", ada, f"fact {i}", f"2025-10-0{i + 1} 12:00:00", f"2025-10-0{i + 1} 12:00:00"))
c.execute("CREATE TABLE kg_nodes (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, label TEXT NOT NULL, "
          "properties JSON NOT NULL, confidence REAL NOT NULL, source_text TEXT NOT NULL, created_at TEXT NOT NULL, "
          "updated_at TEXT NOT NULL, valid_from TEXT, valid_until TEXT, is_current INTEGER DEFAULT 1, "
          "canonical_id TEXT, aliases_json TEXT)")
c.execute("CREATE TABLE kg_edges (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, source_id TEXT NOT NULL, "
          "target_id TEXT NOT NULL, relation_type TEXT NOT NULL, properties JSON NOT NULL, confidence REAL NOT NULL, "
          "source_text TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, valid_from TEXT, "
          "valid_until TEXT, is_current INTEGER DEFAULT 1)")
# node-dup is node-ada again under another id: AICO's PostgreSQL holds one current node per user, label
# and properties (a unique constraint), so it cannot go, and neither can the edge that names it.
for node, label in (("node-ada", "PERSON"), ("node-dup", "PERSON"), ("node-tea", "PREFERENCE")):
    c.execute("INSERT INTO kg_nodes (id, user_id, label, properties, confidence, source_text, created_at, "
              "updated_at) VALUES (?, ?, ?, '{}', 0.9, 'text', '2025-10-01T09:30:00', '2025-10-01T09:30:00')",
              (node, ada, label))
for edge, target in (("edge-likes", "node-tea"), ("edge-dup", "node-dup")):
    c.execute("INSERT INTO kg_edges (id, user_id, source_id, target_id, relation_type, properties, confidence, "
              "source_text, created_at, updated_at) VALUES (?, ?, 'node-ada', ?, 'LIKES', '{}', "
              "0.8, 'I like tea', '2025-10-02 08:00:00', '2025-10-02 08:00:00')", (edge, ada, target))
c.commit()
"#;

/// AICO's Chroma store as chromadb 1.0.20 writes it: segments as `semantic.py` stores them (its
/// temporal fields for every other one), the graph's nodes and edges as its storage upserts them
/// (and a node vector whose node exists nowhere); float32 vectors from a seeded generator. Prints
/// every record's id and its vector's bits (hex of little-endian float32), as the store holds them:
/// fewer than Chroma's 1000 a flush, they are all still in its log, as AICO gave them
/// (`tests/tests/chroma_files.rs` covers flushed ones).
const MAKE_CHROMA: &str = r#"
import json, struct, sys
import numpy as np
import chromadb
from chromadb.config import Settings
path, n, ada = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
rng = np.random.default_rng(20261206)
def vectors(k):
    v = rng.standard_normal((k, 768)).astype(np.float32)
    v[0, 0] = np.float32(1e-40)   # a subnormal
    v[0, 1] = np.float32(-0.0)
    return v
out = {}
def add(name, ids, docs, metas):
    col = client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
    vs = vectors(len(ids))
    col.add(ids=ids, embeddings=vs, documents=docs, metadatas=metas)
    for i, e in zip(ids, vs):
        out[f"{name}/{i}"] = e.tobytes().hex()
ids, docs, metas = [], [], []
for i in range(n):
    ts = f"2025-11-{1 + i % 28:02d}T{i % 24:02d}:15:30.{i:06d}"
    m = {"user_id": ada, "conversation_id": f"conv-{i % 3}", "role": ["user", "assistant"][i % 2], "timestamp": ts}
    if i % 2 == 0:
        m.update({"created_at": ts, "confidence": 1.0, "version": 1, "last_accessed": ts, "access_count": 0})
    ids.append(f"seg-{i:03d}"); docs.append(f"segment {i}: tea \u00e9\u2603"); metas.append(m)
ids.append("seg-nouser"); docs.append("no user"); metas.append({"conversation_id": "conv-0", "role": "user",
                                                               "timestamp": "2025-11-01T00:00:00"})
add("conversation_segments", ids, docs, metas)
add("kg_nodes", ["node-ada", "node-tea", "node-ghost"], ["PERSON: {} | Ada", "PREFERENCE: {} | tea", "ghost"],
    [{"user_id": ada, "label": "PERSON", "confidence": 0.9, "created_at": "2025-10-01T09:30:00", "is_current": 1,
      "canonical_id": "node-ada"}] * 3)
add("kg_edges", ["edge-likes"], ["LIKES: {} | I like tea"],
    [{"user_id": ada, "source_id": "node-ada", "target_id": "node-tea", "relation_type": "LIKES",
      "confidence": 0.8, "created_at": "2025-10-02T08:00:00", "is_current": 1}])
print(json.dumps(out))
"#;

/// AICO's LMDB working memory as its `WorkingMemoryStore` writes it (`session_memory`, key
/// `{conversation_id}:{iso}Z`, the message with `_stored_at`/`_expires_at`).
const MAKE_LMDB: &str = r#"
import json, lmdb, sys
env = lmdb.open(sys.argv[1], max_dbs=4, map_size=64 << 20)
sm = env.open_db(b"session_memory")
with env.begin(write=True) as t:
    for i in range(4):
        m = {"message_id": f"m-{i}", "user_id": sys.argv[2], "conversation_id": "conv-0", "content": f"message {i}",
             "role": ["user", "assistant"][i % 2], "timestamp": f"2025-11-07T18:00:0{i}",
             "_stored_at": f"2025-11-07T18:00:0{i}.250000", "_expires_at": f"2025-12-07T18:00:0{i}.250000"}
        t.put(f"conv-0:{m['timestamp']}Z".encode(), json.dumps(m).encode(), db=sm)
"#;

/// A 2025 install: its encrypted `aico.db` and its memory directory with the Chroma store.
struct Install {
    dir: tempfile::TempDir,
    key_hex: String,
    /// AICO's own `chroma` (chromadb 1.0.20).
    chroma: PathBuf,
    /// `collection/id` -> the vector's bytes as the store holds them (hex).
    vectors: serde_json::Map<String, Value>,
}

impl Install {
    fn new() -> Option<Self> {
        let libsql = python_with_libsql()?;
        let chroma_python = aico_chromadb_python()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let key_hex: String = (0..32).map(|i| format!("{:02x}", (i * 37 + 11) % 256)).collect();
        run_python(&libsql, MAKE_SOURCE, &[dir.path().join("aico.db").to_str().expect("utf-8"), &key_hex]);
        let working = dir.path().join("memory").join("working");
        std::fs::create_dir_all(&working).expect("mkdir");
        run_python(&libsql, MAKE_LMDB, &[working.to_str().expect("utf-8"), ADA]);
        let semantic = dir.path().join("memory").join("semantic");
        std::fs::create_dir_all(&semantic).expect("mkdir");
        let printed =
            run_python(&chroma_python, MAKE_CHROMA, &[semantic.to_str().expect("utf-8"), &SEGMENTS.to_string(), ADA]);
        let vectors = serde_json::from_str(printed.trim()).expect("the vectors");
        let chroma = chroma_python.parent().expect("bin dir").join("chroma");
        Some(Self { dir, key_hex, chroma, vectors })
    }

    fn memory(&self) -> PathBuf {
        self.dir.path().join("memory")
    }

    /// `aico-ams move --json` into `db`: the exit code and the report.
    fn run(&self, db: &TestDb, args: &[&str]) -> (Option<i32>, Value) {
        let out = command("aico-ams")
            .args(["move", "--json", "--to", &db.url])
            .arg("--database-url")
            .arg(format!("sqlite://{}", self.dir.path().join("aico.db").display()))
            .arg("--memory-dir")
            .arg(self.memory())
            .arg("--chroma-bin")
            .arg(&self.chroma)
            .args(args)
            .env("AICO_DB_KEY", &self.key_hex)
            .env("ANONYMIZED_TELEMETRY", "False")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-test-bus")
            .output()
            .expect("run aico-ams move");
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        });
        (out.status.code(), report)
    }
}

/// The report's entry for the target table `name`.
fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    let tables = report["tables"].as_array().unwrap_or_else(|| panic!("no tables in {report:#}"));
    tables.iter().find(|t| t["target_table"] == name).unwrap_or_else(|| panic!("{name} in {report:#}"))
}

/// in source, moved, already same, already different, refused, verified.
fn figures(t: &Value) -> [u64; 6] {
    let n = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("a count in {t:#}"));
    [
        n(&t["in_source"]),
        n(&t["moved"]),
        n(&t["already_same"]),
        n(&t["already_different"]["count"]),
        n(&t["refused"]["count"]),
        n(&t["verified"]),
    ]
}

/// pgvector's text form of a vector as little-endian float32 bytes (hex), as the store's.
fn bytes_of(text: &str) -> String {
    let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
    let mut hex = String::new();
    for x in inner.split(',') {
        let x: f32 = x.trim().parse().unwrap_or_else(|_| panic!("{x} in {text}"));
        for b in x.to_le_bytes() {
            hex.push_str(&format!("{b:02x}"));
        }
    }
    hex
}

/// `collection/id` -> the bytes of each vector `sql` reads (`key`, `embedding::text`).
async fn vectors_in(db: &TestDb, collection: &str, sql: &str) -> Vec<(String, String)> {
    let conn = db.connect().await;
    let rows = column_of(&conn, sql).await;
    rows.iter()
        .map(|row| {
            let (key, vector) = row.split_once(' ').expect("key and vector");
            (format!("{collection}/{key}"), bytes_of(vector))
        })
        .collect()
}

/// The first column of `sql`'s rows, run as AICO's sessions run (search path `aico_core, public`),
/// with `values` bound.
async fn aico_read(conn: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> Vec<String> {
    let txn = conn.begin().await.expect("begin");
    txn.execute_unprepared("SET LOCAL search_path TO aico_core, public").await.expect("search path");
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    txn.commit().await.expect("commit");
    rows.iter().map(|r| r.try_get_by_index::<String>(0).expect("text")).collect()
}

/// The vector whose bytes (little-endian float32, hex) are `hex`, in pgvector's text form.
fn vector_of(hex: &str) -> String {
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
    let parts: Vec<String> =
        bytes.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_string()).collect();
    format!("[{}]", parts.join(","))
}

fn files_of(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    aico_tests::files_of(dir)
}

#[tokio::test]
async fn chromas_segments_and_graph_vectors_arrive_bit_exact_and_a_rerun_writes_nothing() {
    let Some(install) = Install::new() else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let store_before = files_of(&install.memory());

    // A dry run: the plan, the width check, nothing written.
    let (code, report) = install.run(&db, &["--dry-run"]);
    assert_eq!(code, Some(1), "a dry run with rows that would be refused: {report:#}");
    assert_eq!(figures(table(&report, "conversation_segments")), [31, 30, 0, 0, 1, 0], "{report:#}");
    let widths = report["vector_width"].as_array().expect("widths");
    assert_eq!(widths.len(), 3, "{report:#}");
    for w in widths {
        assert_eq!((w["source"].as_u64(), w["target"].as_u64(), w["ok"].as_bool()), (Some(768), Some(768), Some(true)));
    }
    let conn = db.connect().await;
    assert_eq!(column_of(&conn, "SELECT count(*)::text FROM aico_core.conversation_segments").await, ["0"]);

    let (code, report) = install.run(&db, &[]);
    assert_eq!(code, Some(1), "two records are refused: {report:#}");
    assert_eq!(figures(table(&report, "conversation_segments")), [31, 30, 0, 0, 1, 30], "{report:#}");
    assert_eq!(figures(table(&report, "kg_node_embeddings")), [3, 2, 0, 0, 1, 2], "{report:#}");
    assert_eq!(figures(table(&report, "kg_edge_embeddings")), [1, 1, 0, 0, 0, 1], "{report:#}");
    // A node refused by the target's unique constraint, and the edge that names it: both refused,
    // listed, and the move goes on (no foreign key error).
    assert_eq!(figures(table(&report, "kg_nodes")), [3, 2, 0, 0, 1, 2], "{report:#}");
    assert_eq!(figures(table(&report, "kg_edges")), [2, 1, 0, 0, 1, 1], "{report:#}");
    assert_eq!(table(&report, "kg_edges")["refused"]["rows"][0]["key"], "edge-dup");
    let refused = &table(&report, "conversation_segments")["refused"]["rows"][0];
    assert_eq!(refused["key"], "seg-nouser");
    let reason = refused["reason"].as_str().expect("reason");
    assert!(reason.contains("user_id") && reason.contains("NULL"), "{reason}");
    let ghost = &table(&report, "kg_node_embeddings")["refused"]["rows"][0];
    assert_eq!(ghost["key"], "node-ghost");
    assert!(ghost["reason"].as_str().expect("reason").contains("aico_core.kg_nodes"), "{ghost}");
    // chromadb 1.0.20's store is read from its files, without a server.
    assert!(report["chroma"]["at"].as_str().expect("where read").ends_with("(read from its files)"), "{report:#}");

    // Every vector, bit for bit as the store holds it.
    let mut arrived = vectors_in(
        &db,
        "conversation_segments",
        "SELECT id || ' ' || embedding::text FROM aico_core.conversation_segments",
    )
    .await;
    arrived.extend(
        vectors_in(&db, "kg_nodes", "SELECT node_id || ' ' || embedding::text FROM aico_core.kg_node_embeddings").await,
    );
    arrived.extend(
        vectors_in(&db, "kg_edges", "SELECT edge_id || ' ' || embedding::text FROM aico_core.kg_edge_embeddings").await,
    );
    assert_eq!(arrived.len(), 33);
    for (key, bytes) in &arrived {
        assert_eq!(install.vectors[key].as_str(), Some(bytes.as_str()), "{key}: not the store's float32 bits");
    }
    // The first vector of each collection begins with a subnormal and -0.0, and they came through.
    for key in ["conversation_segments/seg-000", "kg_nodes/node-ada", "kg_edges/edge-likes"] {
        let bytes = &arrived.iter().find(|(k, _)| k == key).expect(key).1;
        let first = u32::from_str_radix(&bytes[..8], 16).expect("hex").swap_bytes();
        assert!(first != 0 && first & 0x7f80_0000 == 0, "{key}: {first:#x} is a subnormal");
        assert_eq!(&bytes[8..16], "00000080", "{key}: -0.0");
    }

    // Each segment's columns from its metadata; the whole metadata kept.
    let rows = column_of(
        &conn,
        "SELECT id || '|' || user_id || '|' || conversation_id || '|' || role || '|' || content || '|' || \
         to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '|' || \
         to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '|' || metadata::text \
         FROM aico_core.conversation_segments WHERE id IN ('seg-000', 'seg-001') ORDER BY id",
    )
    .await;
    let parts: Vec<Vec<&str>> = rows.iter().map(|r| r.splitn(8, '|').collect()).collect();
    assert_eq!(
        parts[0][..7],
        [
            "seg-000",
            ADA,
            "conv-0",
            "user",
            "segment 0: tea \u{e9}\u{2603}",
            "2025-11-01T00:15:30.000000",
            "2025-11-01T00:15:30.000000"
        ]
    );
    let meta: Value = serde_json::from_str(parts[0][7]).expect("metadata");
    assert_eq!(meta["timestamp"], "2025-11-01T00:15:30.000000");
    assert_eq!(meta["access_count"], 0);
    assert_eq!(parts[1][..4], ["seg-001", ADA, "conv-1", "assistant"]);
    let meta: Value = serde_json::from_str(parts[1][7]).expect("metadata");
    assert!(meta.get("created_at").is_none(), "seg-001 had no temporal fields: {meta}");

    // AICO's own reads on what arrived. Segments: `semantic_pgvector.py`'s `query_segments` (cosine
    // distance, the user's segments), asked with seg-007's vector: seg-007 first, similarity 1.
    let query = vector_of(install.vectors["conversation_segments/seg-007"].as_str().expect("hex"));
    let found = aico_read(
        &conn,
        "SELECT id || ' ' || round((1 - (embedding <=> CAST($1 AS vector)))::numeric, 4)::text AS similarity \
         FROM aico_core.conversation_segments WHERE 1=1 AND user_id = $2 \
         ORDER BY embedding <=> CAST($1 AS vector) LIMIT $3",
        vec![query.into(), ADA.into(), 30i64.into()],
    )
    .await;
    assert_eq!(found.len(), 30, "{found:?}");
    assert_eq!(found[0], "seg-007 1.0000");
    // Working memory: `working_postgres.py`'s `retrieve_conversation_history` (unexpired at its
    // `now`: the moved messages expire 30 days after they were stored, as in LMDB), newest first,
    // handing back `payload_json`: the messages as LMDB held them.
    let history = aico_read(
        &conn,
        "SELECT payload_json::text FROM working_memory_messages WHERE conversation_id = $1 \
         AND (expires_at IS NULL OR expires_at > CAST($2 AS timestamptz)) ORDER BY stored_at DESC LIMIT $3",
        vec!["conv-0".into(), "2025-11-20T00:00:00Z".into(), 50i64.into()],
    )
    .await;
    let ids: Vec<Value> =
        history.iter().map(|p| serde_json::from_str::<Value>(p).expect("JSON")["message_id"].clone()).collect();
    assert_eq!(ids, ["m-3", "m-2", "m-1", "m-0"]);
    // Facts: through AICO's own index functions on the metadata the move filled.
    let facts = aico_read(
        &conn,
        "SELECT fact_id || ' ' || jsonb_extract_double_immutable(temporal_metadata, 'confidence')::text \
         FROM ams_user_memories WHERE user_id = $1 AND temporal_metadata IS NOT NULL \
         ORDER BY jsonb_extract_timestamptz_immutable(temporal_metadata, 'last_accessed') DESC",
        vec![ADA.into()],
    )
    .await;
    assert_eq!(facts, ["fact-4 1", "fact-3 1", "fact-2 1", "fact-1 1", "fact-0 1"]);
    // And the tool's own checks pass on the target.
    let verify = command("aico-ams").args(["verify", "--json", "--database-url", &db.url]).output().expect("verify");
    assert!(
        verify.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    // A rerun writes nothing: every row there already, the same.
    let before =
        column_of(&conn, "SELECT id || ' ' || xmin::text FROM aico_core.conversation_segments ORDER BY id").await;
    let (code, report) = install.run(&db, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(figures(table(&report, "conversation_segments")), [31, 0, 30, 0, 1, 0], "{report:#}");
    assert_eq!(figures(table(&report, "kg_node_embeddings")), [3, 0, 2, 0, 1, 0], "{report:#}");
    let after =
        column_of(&conn, "SELECT id || ' ' || xmin::text FROM aico_core.conversation_segments ORDER BY id").await;
    assert_eq!(before, after);

    // LMDB's `lock.mdb` is its table of readers, which every reader writes (AICO's own too): the
    // data file and every file of the Chroma store must be as they were.
    let after = files_of(&install.memory());
    let lock = Path::new("working").join("lock.mdb");
    let changed: Vec<&PathBuf> =
        after.keys().filter(|k| **k != lock && store_before.get(*k) != after.get(*k)).collect();
    let gone: Vec<&PathBuf> = store_before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert!(changed.is_empty() && gone.is_empty(), "the memory directory changed: {changed:?}, gone {gone:?}");
}

#[tokio::test]
async fn a_vector_width_that_differs_stops_the_move_naming_both_widths() {
    let Some(install) = Install::new() else { return };
    let Some(db) = aico_pg18(AicoPg::Vector384).await else { return };
    let (code, report) = install.run(&db, &[]);
    assert_eq!(code, Some(2), "{report:#}");
    let stopped = report["stopped"].as_array().expect("stopped");
    let width = stopped
        .iter()
        .find(|p| p["table"] == "aico_core.conversation_segments")
        .unwrap_or_else(|| panic!("the width in {report:#}"));
    let message = width["message"].as_str().expect("message");
    assert!(message.contains("384") && message.contains("768"), "{message}");
    let conn = db.connect().await;
    for t in ["user_profiles", "kg_nodes", "conversation_segments", "kg_node_embeddings"] {
        let n = column_of(&conn, &format!("SELECT count(*)::text FROM aico_core.{t}")).await;
        assert_eq!(n, ["0"], "{t}: nothing is written when a check fails");
    }
}
