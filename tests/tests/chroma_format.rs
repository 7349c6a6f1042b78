//! AICO's Chroma store keeps AICO's format (issue 32): a store written by the chromadb that AICO
//! pins (1.0.20, `PersistentClient`, as AICO writes it) is never served by a `chroma` that would
//! migrate it; AICO's own `chroma` is found before the PATH's, and 1.0.20 opens the store after
//! every backfill.

use std::path::{Path, PathBuf};
use std::process::Command;

use aico_tests::stores::chroma_collection;
use aico_tests::{
    AICO_CHROMADB, aico_chromadb_python, chroma_program, command, files_of, json_of, python, run_python, text,
};
use serde_json::{Value, json};

/// What a store written by chromadb 1.0.20 says in its `migrations` table.
const AICO_FORMAT: &str = "embeddings_queue 2, metadb 5, sysdb 9";

/// Reads every record with its metadata, document and embedding; and the store's format.
const READER: &str = r#"
import sys, json, sqlite3, chromadb
from chromadb.config import Settings
c = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = c.get_collection("conversation_segments", embedding_function=None)
got = col.get(include=["metadatas", "documents", "embeddings"])
records = {i: {"m": m, "d": d, "e": [float(x) for x in e]} for i, m, d, e in zip(got["ids"], got["metadatas"], got["documents"], got["embeddings"])}
db = sqlite3.connect("file:" + sys.argv[1] + "/chroma.sqlite3?mode=ro", uri=True)
rows = db.execute("select dir, max(version) from migrations group by dir order by dir").fetchall()
print(json.dumps({"records": records, "format": ", ".join(f"{d} {v}" for d, v in rows)}))
"#;

/// `n` records as AICO writes them; seg-00002 has no usable time.
fn records(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let metadata = match i {
                2 => json!({"user_id": "u1", "timestamp": "soon"}),
                _ => json!({"user_id": "u1", "conversation_id": format!("c{}", i % 3), "timestamp": "2025-11-07T18:00:00"}),
            };
            json!({"id": format!("seg-{i:05}"), "embedding": [(i % 7) as f64 / 7.0, (i % 11) as f64, 0.25],
                   "document": format!("segment {i}"), "metadata": metadata})
        })
        .collect()
}

/// AICO's store, written by chromadb 1.0.20 with `n` records, and the Python that wrote it.
struct AicoStore {
    _dir: tempfile::TempDir,
    semantic: PathBuf,
    python: PathBuf,
    /// The records and format as 1.0.20 read them before any run of the tool.
    before: Value,
}

impl AicoStore {
    fn new(n: usize) -> Option<Self> {
        let python = aico_chromadb_python()?;
        let dir = tempfile::tempdir().expect("dir");
        let semantic = dir.path().join("semantic");
        chroma_collection(&python, &semantic, &records(n));
        let mut store = Self { _dir: dir, semantic, python, before: Value::Null };
        store.before = store.read();
        assert_eq!(store.before["format"], AICO_FORMAT, "chromadb {AICO_CHROMADB} writes this format");
        Some(store)
    }

    /// The records and the format, as AICO's chromadb reads them (it panics on a newer format).
    fn read(&self) -> Value {
        serde_json::from_str(&run_python(&self.python, READER, &[&self.semantic.to_string_lossy()])).expect("json")
    }

    /// AICO's own `chroma`, beside its Python.
    fn aico_chroma(&self) -> PathBuf {
        self.python.parent().expect("bin dir").join("chroma")
    }

    fn path(&self) -> String {
        self.semantic.to_string_lossy().into_owned()
    }
}

/// A directory to be the PATH, holding `chroma`, a link to chromadb 1.5's.
fn path_with_newer_chroma() -> Option<tempfile::TempDir> {
    let newer = chroma_program()?;
    python()?;
    let dir = tempfile::tempdir().expect("dir");
    std::os::unix::fs::symlink(newer, dir.path().join("chroma")).expect("symlink");
    Some(dir)
}

fn aico(args: &[&str], path: &Path) -> Command {
    let mut cmd = command("aico-ams");
    cmd.args(args).env("PATH", path).env_remove("AICO_CHROMA_BIN");
    cmd
}

#[test]
fn a_newer_chroma_on_the_path_is_refused_and_aicos_store_is_left_byte_identical() {
    let Some(store) = AicoStore::new(50) else { return };
    let Some(path) = path_with_newer_chroma() else { return };
    let bytes = files_of(&store.semantic);

    let out =
        aico(&["backfill", "--store", "chroma", "--chroma-path", &store.path()], path.path()).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for part in [AICO_FORMAT, "chromadb 1.5.", "--chroma-bin", &store.path(), "nothing was changed"] {
        assert!(stderr.contains(part), "{part:?} missing from: {stderr}");
    }
    let db = aico_tests::TestDb::sqlite();
    assert!(command("aico-ams").arg("migrate").env("DATABASE_URL", &db.url).status().expect("migrate").success());
    let memory = tempfile::tempdir().expect("dir");
    let all = ["backfill", "--store", "all", "--memory-dir", &memory.path().to_string_lossy(), "--json"];
    let out = aico(&all, path.path())
        .args(["--chroma-path", &store.path()])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "a refusal is no store status under --store all: {}", text(&out));
    assert_eq!(json_of(&out)["error"]["kind"], "chroma_store_would_upgrade", "{}", text(&out));

    assert!(files_of(&store.semantic) == bytes, "the store's files changed");
    assert_eq!(store.read(), store.before, "AICO's chromadb reads the store as before");
}

#[test]
fn aicos_own_chroma_named_with_chroma_bin_fills_every_record_and_aico_reads_them() {
    let n = 300;
    let Some(store) = AicoStore::new(n) else { return };
    let Some(path) = path_with_newer_chroma() else { return };
    let own = store.aico_chroma();

    let args = ["backfill", "--store", "chroma", "--chroma-path", &store.path(), "--json"];
    let out = aico(&args, path.path()).arg("--chroma-bin").arg(&own).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "seg-00002 has no usable time: {}", text(&out));
    let c = json_of(&out)["stores"]["chroma"].clone();
    assert_eq!((c["status"].clone(), c["filled"].clone()), (json!("done"), json!(n - 1)), "{c:#}");
    let at = c["at"].as_str().expect("at");
    let served = format!("served by {} (chromadb {AICO_CHROMADB}, named with --chroma-bin", own.display());
    assert!(at.starts_with(&store.path()) && at.contains(&served), "{at}");

    let after = store.read();
    assert_eq!(after["format"], AICO_FORMAT);
    let (old, new) = (store.before["records"].as_object().expect("records"), after["records"].as_object().expect("r"));
    assert_eq!(old.keys().collect::<Vec<_>>(), new.keys().collect::<Vec<_>>());
    for (id, was) in old {
        let is = &new[id];
        assert_eq!((&is["d"], &is["e"]), (&was["d"], &was["e"]), "{id}: document or embedding changed");
        let (was_m, is_m) = (was["m"].as_object().expect("m"), is["m"].as_object().expect("m"));
        assert!(was_m.iter().all(|(k, v)| is_m.get(k) == Some(v)), "{id}: a key changed: {is_m:?}");
        if id != "seg-00002" {
            let added = json!({"created_at": is_m["created_at"], "last_accessed": is_m["last_accessed"],
                               "access_count": is_m["access_count"], "confidence": is_m["confidence"], "version": is_m["version"]});
            let at = "2025-11-07T18:00:00Z";
            assert_eq!(
                added,
                json!({"created_at": at, "last_accessed": at, "access_count": 0, "confidence": 1.0, "version": 1}),
                "{id}"
            );
        }
    }
}

#[test]
fn aicos_own_chroma_is_found_beside_the_interpreter_of_its_aico_command_before_the_path() {
    let Some(store) = AicoStore::new(20) else { return };
    let Some(path) = path_with_newer_chroma() else { return };
    // AICO's console script, first on the PATH: its first line names the interpreter of AICO's
    // environment, as pip and uv write it.
    let aico_bin = tempfile::tempdir().expect("dir");
    let script = format!("#!{}\nimport sys\nsys.exit(0)\n", store.python.display());
    let aico_script = aico_bin.path().join("aico");
    std::fs::write(&aico_script, script).expect("write");
    let executable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&aico_script, executable).expect("chmod");
    let search = std::env::join_paths([aico_bin.path(), path.path()]).expect("PATH");

    let args = ["backfill", "--store", "chroma", "--chroma-path", &store.path(), "--json"];
    let out = command("aico-ams").args(args).env("PATH", &search).env_remove("AICO_CHROMA_BIN").output().expect("run");
    assert_eq!(out.status.code(), Some(1), "seg-00002 has no usable time: {}", text(&out));
    let c = json_of(&out)["stores"]["chroma"].clone();
    assert_eq!(c["filled"], json!(19), "{c:#}");
    let served = format!(
        "served by {} (chromadb {AICO_CHROMADB}, AICO's own, beside the interpreter of {})",
        store.aico_chroma().display(),
        aico_script.display()
    );
    assert!(c["at"].as_str().expect("at").contains(&served), "{c:#}");
    assert_eq!(store.read()["format"], AICO_FORMAT);
}
