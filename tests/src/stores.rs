//! AICO's other two stores as test fixtures: LMDB working memory written with heed, and a Chroma
//! collection written by the Python `chromadb` client.

use std::path::Path;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, EnvOpenOptions};
use serde_json::Value;

use crate::run_python;

/// A fresh LMDB environment in `working` (created) with a map of `map_mib` MiB, holding `entries`
/// (key, value) in its named database `session_memory`, as AICO's `WorkingMemoryStore` keeps them.
pub fn lmdb_working_memory(working: &Path, map_mib: usize, entries: impl IntoIterator<Item = (String, String)>) {
    std::fs::create_dir_all(working).expect("mkdir");
    // SAFETY: heed requires that an environment is opened once per process and its files are not
    // truncated while mapped: this fresh directory is opened here only, and closed when `env` drops.
    let env = unsafe { EnvOpenOptions::new().map_size(map_mib << 20).max_dbs(4).open(working) }.expect("env");
    let wtxn = env.write_txn().expect("txn");
    let db: Database<Bytes, Bytes> = env
        .create_databases_and_commit(wtxn, |wdo, wtxn| {
            wdo.create_database(wtxn, Some("session_memory")).map(CommitOrAbort::<_, ()>::Commit)
        })
        .expect("create")
        .unwrap_commit();
    let mut wtxn = env.write_txn().expect("txn");
    for (key, value) in entries {
        db.put(&mut wtxn, key.as_bytes(), value.as_bytes()).expect("put");
    }
    wtxn.commit().expect("commit");
}

/// Adds the records of a JSON file to AICO's collection, in batches of 5000.
const CHROMA_WRITER: &str = r#"
import json, sys, chromadb
from chromadb.config import Settings
c = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = c.get_or_create_collection("conversation_segments", metadata={"hnsw:space": "cosine"}, embedding_function=None)
with open(sys.argv[2]) as f:
    records = json.load(f)
for s in range(0, len(records), 5000):
    batch = records[s:s + 5000]
    col.add(ids=[r["id"] for r in batch], embeddings=[r["embedding"] for r in batch],
            documents=[r["document"] for r in batch], metadatas=[r["metadata"] for r in batch])
"#;

/// Chroma's persistent store in `path` with AICO's collection `conversation_segments`, holding
/// `records` (`{"id", "embedding", "document", "metadata"}` each: explicit embeddings, so nothing
/// downloads a model), written by the Python `chromadb` client as AICO writes them.
pub fn chroma_collection(python: &Path, path: &Path, records: &[Value]) {
    let file = path.with_extension("records.json");
    std::fs::write(&file, Value::from(records).to_string()).expect("write the records");
    run_python(python, CHROMA_WRITER, &[&path.to_string_lossy(), &file.to_string_lossy()]);
}
