//! AICO's Chroma store read from its files (`aico_ams::chroma::StoreFiles`), against what
//! chromadb 1.0.20 (AICO's pin) itself returns for the same store: records flushed to its HNSW
//! files and records still in its log, updated, upserted and deleted on both sides of the flush,
//! in a `cosine` and an `l2` collection. A store in a format not read there is served instead.

use std::path::Path;

use aico_ams::chroma::{ChromaConfig, ChromaError, Endpoint, Reader, Record, StoreFiles};
use aico_tests::{aico_chromadb_python, files_of, run_python};
use serde_json::Value;

/// Writes a store with chromadb 1.0.20 (argv: directory, then `name:space:dim:n` per collection),
/// in adds of 500 (Chroma flushes its HNSW files every 1000; a delete and an update before the
/// first flush), then updates, an upsert, deletes and a metadata-only update on both sides of the
/// last flush. Prints, per collection and id, what
/// Chroma's `get` returns (vector bits as hex of little-endian float32, document, metadata), the
/// newest vector AICO gave (`raw`), and whether that one is still in the log (`tail`).
const MAKE_STORE: &str = r#"
import json, sqlite3, sys
import numpy as np, chromadb
from chromadb.config import Settings
path = sys.argv[1]
client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
rng = np.random.default_rng(20261207)
out = {}
for spec in sys.argv[2:]:
    name, space, dim, n = spec.split(":"); dim, n = int(dim), int(n)
    col = client.get_or_create_collection(name, metadata={"hnsw:space": space}, embedding_function=None)
    raw = {}
    def put(ids, how, docs=None, metas=None):
        vs = (rng.standard_normal((len(ids), dim)) * 3).astype(np.float32)
        getattr(col, how)(ids=ids, embeddings=vs, documents=docs, metadatas=metas)
        raw.update({i: v for i, v in zip(ids, vs)})
    ids = [f"r{i:05d}" for i in range(n)]
    for s in range(0, n, 500):
        part = ids[s:s + 500]
        docs = None if s == 500 else [f"record {i}: tea \u00e9\u2603" for i in part]
        metas = [{"user_id": "u1", "i": k, "f": k / 8, "b": k % 2 == 0, "t": "x"} for k in range(s, s + len(part))]
        put(part, "add", docs, metas)
        if s == 500:  # before a flush: a delete and an update that are flushed with the rest
            col.delete(ids=[ids[5]])
            put([ids[6]], "update")
    put([ids[1], ids[n - 2]], "update")
    put([ids[2], "new-1"], "upsert", ["upserted", "new"], [{"u": 1}, {"u": 2}])
    col.delete(ids=[ids[3], ids[n - 3]])
    col.update(ids=[ids[4]], metadatas=[{"only": "metadata"}])
    got = col.get(include=["embeddings", "documents", "metadatas"])
    db = sqlite3.connect(f"file:{path}/chroma.sqlite3?mode=ro", uri=True)
    cid = db.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()[0]
    flushed = db.execute("SELECT coalesce(max(m.seq_id), 0) FROM segments s LEFT JOIN max_seq_id m ON m.segment_id = s.id "
                         "WHERE s.collection = ? AND s.scope = 'VECTOR'", (cid,)).fetchone()[0]
    tail = {r[0] for r in db.execute("SELECT id FROM embeddings_queue WHERE seq_id > ? AND vector IS NOT NULL "
                                     "AND topic LIKE ?", (flushed, "%" + cid))}
    db.close()
    out[name] = {i: {"get": np.asarray(e, dtype=np.float32).tobytes().hex(), "raw": raw[i].tobytes().hex(),
                     "tail": i in tail, "document": d, "metadata": m}
                 for i, e, d, m in zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"])}
print(json.dumps(out))
"#;

/// A store written by chromadb 1.0.20, and what it returns for each record.
fn store(dir: &Path, collections: &[&str]) -> Option<serde_json::Map<String, Value>> {
    let python = aico_chromadb_python()?;
    let mut args = vec![dir.to_str().expect("utf-8")];
    args.extend(collections);
    Some(serde_json::from_str(run_python(&python, MAKE_STORE, &args).trim()).expect("the store's records"))
}

/// A vector's bits as the fixture prints them.
fn hex(v: &[f32]) -> String {
    v.iter().flat_map(|x| x.to_le_bytes()).map(|b| format!("{b:02x}")).collect()
}

/// Every record of `collection`, paged as the move pages.
async fn all(collection: &aico_ams::chroma::Collection) -> Vec<Record> {
    let mut records = Vec::new();
    loop {
        let page = collection.records(records.len() as u64, 700).await.expect("a page of records");
        if page.is_empty() {
            return records;
        }
        records.extend(page);
    }
}

/// Each record as Chroma returns it; its vector as AICO gave it when that is still in the log.
fn check(name: &str, records: &[Record], expected: &serde_json::Map<String, Value>) -> (usize, usize) {
    assert_eq!(records.len(), expected.len(), "{name}: the records");
    let (mut flushed, mut logged) = (0, 0);
    for r in records {
        let want = &expected[&r.id];
        let bits = hex(r.embedding.as_deref().expect("a vector"));
        if want["tail"] == Value::Bool(true) {
            logged += 1;
            assert_eq!(bits, want["raw"].as_str().expect("hex"), "{name}/{}: the log's vector", r.id);
        } else {
            flushed += 1;
            assert_eq!(bits, want["get"].as_str().expect("hex"), "{name}/{}: Chroma's vector", r.id);
        }
        assert_eq!(r.document.as_ref().map(|d| Value::String(d.clone())).unwrap_or(Value::Null), want["document"]);
        let metadata = if r.metadata.is_empty() { Value::Null } else { Value::Object(r.metadata.clone()) };
        assert_eq!(metadata, want["metadata"], "{name}/{}: the metadata", r.id);
    }
    (flushed, logged)
}

#[tokio::test]
async fn the_files_give_what_chroma_gives_for_flushed_and_logged_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(expected) = store(dir.path(), &["conversation_segments:cosine:768:2300", "kg_nodes:l2:16:1200"]) else {
        return;
    };
    let before = files_of(dir.path());
    let files = StoreFiles::open(dir.path(), "default_tenant", "default_database").await.expect("read from its files");
    for (name, want) in &expected {
        let want = want.as_object().expect("records");
        let collection = aico_ams::chroma::Collection::Files(files.collection(name).expect("the collection"));
        assert_eq!(collection.count().await.expect("count"), want.len() as u64);
        let (flushed, logged) = check(name, &all(&collection).await, want);
        // Both kinds are there: 2000 (segments) or 1000 (nodes) flushed, less those updated or
        // deleted since; the rest in the log.
        assert!(flushed >= 990 && logged >= 3, "{name}: {flushed} flushed, {logged} logged");
    }
    assert!(files.collection("kg_edges").is_none());
    drop(files);
    assert!(files_of(dir.path()) == before, "the store changed");
}

#[tokio::test]
async fn a_space_not_read_from_the_files_is_served_instead() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(expected) = store(dir.path(), &["conversation_segments:ip:8:30"]) else { return };
    let err = StoreFiles::open(dir.path(), "default_tenant", "default_database").await.err().expect("not read");
    assert!(
        matches!(&err, ChromaError::StoreFormat { detail, .. } if detail.contains("\"ip\"")),
        "the error names the space: {err}"
    );
    let program = aico_chromadb_python().expect("python").parent().expect("bin").join("chroma");
    let config = ChromaConfig {
        endpoint: Endpoint::Serve { path: dir.path().to_owned(), program: Some(program) },
        token: None,
        ca_cert: None,
        tenant: "default_tenant".into(),
        database: "default_database".into(),
        collection: "conversation_segments".into(),
    };
    let reader = Reader::open(config).await.expect("served");
    assert!(reader.at().contains("private copy"), "{}", reader.at());
    let collection = reader.collection("conversation_segments").await.expect("reached").expect("there");
    let want = expected["conversation_segments"].as_object().expect("records");
    for r in all(&collection).await {
        assert_eq!(hex(r.embedding.as_deref().expect("a vector")), want[&r.id]["get"].as_str().expect("hex"));
    }
}
