//! `aico-ams backfill|verify|health` on AICO's other two stores: LMDB working memory written the
//! way AICO writes it (Python `lmdb`) and by heed, and a real Chroma server (`chroma run`) serving a
//! persistent store written by the Python `chromadb` client, with explicit embeddings, over http
//! and behind an https endpoint with a certificate made in the test.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aico_tests::stores::{HttpsProxy, chroma_collection, lmdb_working_memory};
use aico_tests::{ChromaServer, command, json_of, kill_after, python, run_python, text};
use serde_json::{Value, json};

fn aico(args: &[&str]) -> Command {
    let mut cmd = command("aico-ams");
    cmd.args(args);
    cmd
}

const AICO_LMDB_WRITER: &str = r#"
import json, sys, lmdb
env = lmdb.open(sys.argv[1], map_size=10 * 1024 * 1024, max_dbs=10)
db = env.open_db(b"session_memory")
def message(conv, ts, **extra):
    m = {"message_id": "m-" + ts, "user_id": "u1", "conversation_id": conv, "content": "hello \u2615 {\"x\": 1}",
         "role": "user", "timestamp": ts, "message_type": "user_input"}
    m.update(extra)
    return json.dumps(m).encode()
entries = {
    "conv-1:2025-11-07T18:00:00.000000Z": message("conv-1", "2025-11-07T18:00:00.000000Z", _stored_at="2025-11-07T18:00:00.100000", _expires_at="2025-11-08T18:00:00"),
    "conv-1:2025-11-07T18:00:05.000000Z": message("conv-1", "2025-11-07T18:00:05.000000Z", _expires_at="2099-01-01T00:00:00"),
    "conv-2:2025-11-07T18:00:00Z": json.dumps({"role": "assistant", "content": "hi", "_stored_at": 1762538400.0}).encode(),
    "conv-2:2025-11-07T18:01:00Z": json.dumps({"role": "user", "content": "x", "timestamp": "2025-11-07T18:01:00Z",
        "temporal_metadata": {"created_at": "2025-11-07T18:01:00Z", "last_updated": "2025-11-07T18:01:00Z",
        "last_accessed": "2025-11-07T19:00:00Z", "access_count": 3, "confidence": 0.9, "version": 2, "superseded_by": None}}).encode(),
    "conv-3:not-json": b"not json at all",
    "conv-3:no-time": json.dumps({"role": "user", "content": "no time"}).encode(),
}
with env.begin(write=True) as txn:
    for k, v in entries.items():
        txn.put(k.encode(), v, db=db)
"#;

const LMDB_READER: &str = r#"
import json, sys, lmdb
env = lmdb.open(sys.argv[1], max_dbs=10, readonly=True, lock=False)
db = env.open_db(b"session_memory", create=False)
with env.begin() as txn:
    print(json.dumps({k.decode(): v.decode() for k, v in txn.cursor(db=db)}))
"#;

#[test]
fn lmdb_written_by_aico_gains_metadata_with_every_other_byte_kept() {
    let Some(py) = python() else { return };
    let memory = tempfile::tempdir().expect("dir");
    let working = memory.path().join("working");
    std::fs::create_dir_all(&working).expect("mkdir");
    run_python(&py, AICO_LMDB_WRITER, &[&working.to_string_lossy()]);
    let read = || -> serde_json::Map<String, Value> {
        serde_json::from_str::<Value>(&run_python(&py, LMDB_READER, &[&working.to_string_lossy()]))
            .expect("json")
            .as_object()
            .expect("object")
            .clone()
    };
    let before = read();
    let dir = memory.path().to_string_lossy().into_owned();

    let out = aico(&["backfill", "--store", "lmdb", "--memory-dir", &dir, "--json"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "bad entries make it incomplete: {}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let lmdb = &report["stores"]["lmdb"];
    assert_eq!(lmdb["status"], "done", "{report:#}");
    assert_eq!(
        (lmdb["entries"].clone(), lmdb["already"].clone(), lmdb["filled"].clone(), lmdb["bad_count"].clone()),
        (json!(6), json!(1), json!(3), json!(2))
    );
    let bad: Vec<&str> =
        lmdb["bad_entries"].as_array().expect("list").iter().map(|e| e["key"].as_str().expect("key")).collect();
    assert_eq!(bad, ["conv-3:no-time", "conv-3:not-json"]);

    let after = read();
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "keys changed");
    for (key, old) in &before {
        let old = old.as_str().expect("text");
        let new = after[key].as_str().expect("text");
        let expected_created = match key.as_str() {
            "conv-1:2025-11-07T18:00:00.000000Z" | "conv-2:2025-11-07T18:00:00Z" => Some("2025-11-07T18:00:00Z"),
            "conv-1:2025-11-07T18:00:05.000000Z" => Some("2025-11-07T18:00:05Z"),
            _ => None,
        };
        match expected_created {
            None => assert_eq!(new, old, "{key} must be left as it was"),
            Some(at) => {
                assert!(
                    new.starts_with(&old[..old.len() - 1]),
                    "{key}: the original bytes were not kept:\n{old}\n{new}"
                );
                let v: Value = serde_json::from_str(new).expect("json");
                assert_eq!(
                    v["temporal_metadata"],
                    json!({"created_at": at, "last_updated": at, "last_accessed": at, "access_count": 0, "confidence": 1.0, "version": 1, "superseded_by": null}),
                    "{key}"
                );
            }
        }
    }

    // A second run has nothing left to fill; health and verify report what is there.
    let again = json_of(&aico(&["backfill", "--store", "lmdb", "--memory-dir", &dir, "--json"]).output().expect("run"));
    assert_eq!(again["stores"]["lmdb"]["filled"], 0);
    let health = json_of(&aico(&["health", "--store", "lmdb", "--memory-dir", &dir, "--json"]).output().expect("run"));
    let h = &health["stores"]["lmdb"];
    assert_eq!(
        (h["entries"].clone(), h["with_temporal"].clone(), h["expired"].clone(), h["bad_count"].clone()),
        (json!(6), json!(4), json!(1), json!(1)),
        "{health:#}"
    );
    let out = aico(&["verify", "--store", "lmdb", "--memory-dir", &dir]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  working memory (LMDB)") && text.contains("conv-3:not-json"), "{text}");
}

/// A heed-built environment with `n` messages of about `pad` bytes each, in a map of `map_mib`.
fn heed_env(working: &Path, n: u32, pad: usize, map_mib: usize) {
    let filler = "x".repeat(pad);
    lmdb_working_memory(
        working,
        map_mib,
        (0..n).map(|i| {
            let key = format!(
                "conv-{:03}:2025-11-07T{:02}:{:02}:{:02}Z#{i:07}",
                i % 100,
                (i / 3600) % 24,
                (i / 60) % 60,
                i % 60
            );
            let value =
                format!(r#"{{"role": "user", "content": "{filler}", "timestamp": "2025-11-07T18:00:00Z", "n": {i}}}"#);
            (key, value)
        }),
    );
}

fn lmdb_counts(dir: &str) -> Value {
    json_of(&aico(&["health", "--store", "lmdb", "--memory-dir", dir, "--json"]).output().expect("run"))["stores"]
        ["lmdb"]
        .clone()
}

#[test]
fn lmdb_backfill_grows_the_map_instead_of_failing() {
    let memory = tempfile::tempdir().expect("dir");
    // Written with a large map; opened by aico with one the size of the data file, so that the
    // metadata it adds cannot fit without growing the map.
    heed_env(&memory.path().join("working"), 90_000, 800, 1024);
    let dir = memory.path().to_string_lossy().into_owned();
    let out = aico(&["backfill", "--store", "lmdb", "--memory-dir", &dir, "--json"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lmdb = json_of(&out)["stores"]["lmdb"].clone();
    assert_eq!(lmdb["filled"], 90_000);
    assert!(lmdb["map_resizes"].as_u64().expect("n") >= 1, "the map never had to grow: {lmdb:#}");
    assert_eq!(lmdb_counts(&dir)["with_temporal"], 90_000);
}

#[test]
fn lmdb_backfill_killed_half_way_is_finished_by_the_next_run() {
    let memory = tempfile::tempdir().expect("dir");
    heed_env(&memory.path().join("working"), 200_000, 50, 512);
    let dir = memory.path().to_string_lossy().into_owned();
    let mut killed_mid_run = 0;
    for delay_ms in [100u64, 300] {
        let mut cmd = aico(&["backfill", "--store", "lmdb", "--memory-dir", &dir, "--batch-size", "500"]);
        killed_mid_run += u32::from(kill_after(&mut cmd, Duration::from_millis(delay_ms)));
        let h = lmdb_counts(&dir);
        assert_eq!((h["entries"].clone(), h["bad_count"].clone()), (json!(200_000), json!(0)), "{h:#}");
    }
    assert!(killed_mid_run > 0, "no kill landed mid-run");
    let partial = lmdb_counts(&dir)["with_temporal"].as_u64().expect("n");
    let out = aico(&["backfill", "--store", "lmdb", "--memory-dir", &dir, "--json"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lmdb = json_of(&out)["stores"]["lmdb"].clone();
    assert_eq!(lmdb["filled"].as_u64().expect("n") + partial, 200_000, "each entry filled exactly once");
    assert_eq!(lmdb["already"].as_u64().expect("n"), partial);
    assert_eq!(lmdb_counts(&dir)["with_temporal"], 200_000);
}

/// `n` records as AICO writes them, with a few odd ones: seg-00001 has every temporal field,
/// seg-00002 no usable time, seg-00003 an offset and its own confidence.
fn chroma_records(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let metadata = match i {
                1 => json!({"user_id": "u1", "created_at": "2025-01-01T00:00:00Z", "confidence": 0.4, "version": 2,
                            "last_accessed": "2025-02-01T00:00:00Z", "access_count": 5}),
                2 => json!({"user_id": "u1", "timestamp": "soon"}),
                3 => json!({"user_id": "u1", "timestamp": "2025-11-07T20:00:00+02:00", "confidence": 0.7}),
                _ => json!({"user_id": "u1", "conversation_id": format!("c{}", i % 3), "timestamp": "2025-11-07T18:00:00"}),
            };
            json!({"id": format!("seg-{i:05}"), "embedding": [(i % 7) as f64, (i % 11) as f64, 1.0],
                   "document": format!("segment {i}"), "metadata": metadata})
        })
        .collect()
}

const CHROMA_READER: &str = r#"
import sys, json, chromadb
from chromadb.config import Settings
c = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = c.get_collection("conversation_segments", embedding_function=None)
got = col.get(include=["metadatas", "documents", "embeddings"])
print(json.dumps({i: {"m": m, "d": d, "e": [float(x) for x in e]} for i, m, d, e in zip(got["ids"], got["metadatas"], got["documents"], got["embeddings"])}))
"#;

#[test]
fn chroma_records_gain_the_flat_fields_and_keep_everything_else() {
    let Some(py) = python() else { return };
    let memory = tempfile::tempdir().expect("dir");
    let semantic = memory.path().join("semantic");
    let n = 6_000;
    chroma_collection(&py, &semantic, &chroma_records(n));
    let before: Value =
        serde_json::from_str(&run_python(&py, CHROMA_READER, &[&semantic.to_string_lossy()])).expect("json");
    let Some(server) = ChromaServer::start(&semantic) else { return };

    let out = aico(&["backfill", "--store", "chroma", "--chroma-url", &server.url, "--batch-size", "10000", "--json"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad record makes it incomplete: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let c = &report["stores"]["chroma"];
    assert_eq!(c["status"], "done", "{report:#}");
    assert_eq!(
        (c["records"].clone(), c["with_temporal"].clone(), c["filled"].clone(), c["bad_count"].clone()),
        (json!(n), json!(1), json!(n - 2), json!(1))
    );
    assert_eq!(c["bad_records"][0]["id"], "seg-00002");
    let max = c["batch_size"].as_u64().expect("n");
    assert!(max < 10_000, "batches are capped by the server's max_batch_size ({max})");

    let health =
        json_of(&aico(&["health", "--store", "chroma", "--chroma-url", &server.url, "--json"]).output().expect("run"));
    assert_eq!(health["stores"]["chroma"]["with_temporal"], json!(n - 1), "{health:#}");
    let out = aico(&["verify", "--store", "chroma", "--chroma-url", &server.url]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("seg-00002"));
    drop(server);

    let all: Value =
        serde_json::from_str(&run_python(&py, CHROMA_READER, &[&semantic.to_string_lossy()])).expect("json");
    let rec = |i: usize| &all[format!("seg-{i:05}")];
    for i in [0usize, 4, 5460, 5461, 5999] {
        let at = "2025-11-07T18:00:00Z";
        assert_eq!(
            rec(i)["m"],
            json!({"user_id": "u1", "conversation_id": format!("c{}", i % 3), "timestamp": "2025-11-07T18:00:00",
                   "created_at": at, "confidence": 1.0, "version": 1, "last_accessed": at, "access_count": 0}),
            "seg-{i}"
        );
    }
    assert_eq!(
        rec(1)["m"],
        json!({"user_id": "u1", "created_at": "2025-01-01T00:00:00Z", "confidence": 0.4, "version": 2, "last_accessed": "2025-02-01T00:00:00Z", "access_count": 5})
    );
    assert_eq!(rec(2)["m"], json!({"user_id": "u1", "timestamp": "soon"}));
    assert_eq!(rec(3)["m"]["confidence"], json!(0.7), "an existing field is never overwritten");
    assert_eq!(rec(3)["m"]["created_at"], json!("2025-11-07T18:00:00Z"));
    for i in 0..n {
        let r = rec(i);
        assert_eq!(r["d"], json!(format!("segment {i}")), "seg-{i}: document changed");
        assert_eq!(r["e"], before[format!("seg-{i:05}")]["e"], "seg-{i}: embedding changed");
    }
}

#[test]
fn unreachable_or_missing_stores_are_reported_not_passed() {
    let memory = tempfile::tempdir().expect("dir");
    let dir = memory.path().to_string_lossy().into_owned();
    let out =
        aico(&["backfill", "--store", "chroma", "--chroma-url", "http://127.0.0.1:1", "--json"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert_eq!(report["stores"]["chroma"]["status"], "unreachable", "{report:#}");
    assert!(report["stores"]["chroma"]["detail"].as_str().expect("detail").contains("127.0.0.1:1"));
    assert_eq!(report["complete"], false);

    let out = aico(&["health", "--store", "lmdb", "--memory-dir", &dir, "--json"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert_eq!(report["stores"]["lmdb"]["status"], "not_configured", "{report:#}");
    assert!(report["stores"]["lmdb"]["detail"].as_str().expect("detail").contains(&dir));
}

#[test]
fn chroma_over_https_works_with_the_ca_and_names_the_url_without_it() {
    let Some(py) = python() else { return };
    let memory = tempfile::tempdir().expect("dir");
    let semantic = memory.path().join("semantic");
    let n = 50;
    chroma_collection(&py, &semantic, &chroma_records(n));
    let Some(server) = ChromaServer::start(&semantic) else { return };
    let https = HttpsProxy::start(&server.url);
    let ca = memory.path().join("ca.pem");
    std::fs::write(&ca, &https.ca_pem).expect("write the CA");
    let ca = ca.to_string_lossy().into_owned();

    // Without the CA the server's certificate is not trusted: one line names the URL and why,
    // at once (an untrusted certificate is not retried), and nothing is written.
    let out = aico(&["backfill", "-v", "--store", "chroma", "--chroma-url", &https.url]).output().expect("run");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("retrying"), "a certificate error was retried: {all}");
    let line = all.lines().find(|l| l.contains("unreachable")).unwrap_or_else(|| panic!("no unreachable line: {all}"));
    assert!(line.contains(&https.url) && line.contains("certificate"), "{line}");

    // With it (the flag, then the environment variable): the backfill fills every record it can,
    // and health reads them back over https.
    let out = aico(&["backfill", "--store", "chroma", "--chroma-url", &https.url, "--chroma-ca-cert", &ca, "--json"])
        .output()
        .expect("run");
    let c = json_of(&out)["stores"]["chroma"].clone();
    assert_eq!(out.status.code(), Some(1), "seg-00002 has no usable time: {}", text(&out));
    assert_eq!(
        (c["status"].clone(), c["records"].clone(), c["filled"].clone(), c["bad_count"].clone()),
        (json!("done"), json!(n), json!(n - 2), json!(1)),
        "{c:#}"
    );
    let out = aico(&["health", "--store", "chroma", "--chroma-url", &https.url, "--json"])
        .env("CHROMA_CA_CERT", &ca)
        .output()
        .expect("run");
    assert_eq!(json_of(&out)["stores"]["chroma"]["with_temporal"], json!(n - 1), "{}", text(&out));
    drop(server);

    // What the server stored, read by the Python client.
    let all: Value =
        serde_json::from_str(&run_python(&py, CHROMA_READER, &[&semantic.to_string_lossy()])).expect("json");
    let at = "2025-11-07T18:00:00Z";
    assert_eq!(
        all["seg-00000"]["m"],
        json!({"user_id": "u1", "conversation_id": "c0", "timestamp": "2025-11-07T18:00:00",
               "created_at": at, "confidence": 1.0, "version": 1, "last_accessed": at, "access_count": 0})
    );
}
