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
        (lmdb["total"].clone(), lmdb["with_temporal"].clone(), lmdb["filled"].clone(), lmdb["bad_count"].clone()),
        (json!(6), json!(1), json!(3), json!(2))
    );
    let bad: Vec<&str> =
        lmdb["bad_items"].as_array().expect("list").iter().map(|e| e["id"].as_str().expect("id")).collect();
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
        (h["total"].clone(), h["with_temporal"].clone(), h["expired"].clone(), h["bad_count"].clone()),
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
        assert_eq!((h["total"].clone(), h["bad_count"].clone()), (json!(200_000), json!(0)), "{h:#}");
    }
    assert!(killed_mid_run > 0, "no kill landed mid-run");
    let partial = lmdb_counts(&dir)["with_temporal"].as_u64().expect("n");
    let out = aico(&["backfill", "--store", "lmdb", "--memory-dir", &dir, "--json"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lmdb = json_of(&out)["stores"]["lmdb"].clone();
    assert_eq!(lmdb["filled"].as_u64().expect("n") + partial, 200_000, "each entry filled exactly once");
    assert_eq!(lmdb["with_temporal"].as_u64().expect("n"), partial);
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
        (c["total"].clone(), c["with_temporal"].clone(), c["filled"].clone(), c["bad_count"].clone()),
        (json!(n), json!(1), json!(n - 2), json!(1))
    );
    assert_eq!(c["bad_items"][0]["id"], "seg-00002");
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
        (c["status"].clone(), c["total"].clone(), c["filled"].clone(), c["bad_count"].clone()),
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

/// The ids and, for each, its metadata, document and embedding as the Python client reads them.
fn chroma_read(py: &Path, store: &Path) -> serde_json::Map<String, Value> {
    let all: Value = serde_json::from_str(&run_python(py, CHROMA_READER, &[&store.to_string_lossy()])).expect("json");
    all.as_object().expect("object").clone()
}

/// The processes whose command line is `... run --path <store> ...` (Chroma's server on that
/// store), by pid; none that has exited and waits to be reaped.
#[cfg(target_os = "linux")]
fn chroma_servers_on(store: &Path) -> Vec<u32> {
    let store = store.to_string_lossy();
    let entries = std::fs::read_dir("/proc").expect("/proc");
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            command_line(*pid).windows(3).any(|w| w[0] == "run" && w[1] == "--path" && w[2] == store) && alive(*pid)
        })
        .collect()
}

/// The arguments `pid` was started with (none once it is gone).
#[cfg(target_os = "linux")]
fn command_line(pid: u32) -> Vec<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

/// Whether `pid` runs (exists and is not a zombie).
#[cfg(target_os = "linux")]
fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // pid (comm) STATE ...: the state follows the last `)`.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|state| state != "Z")
}

#[test]
fn chroma_store_of_a_persistent_client_is_served_for_the_run_and_read_back_by_one() {
    let Some(py) = python() else { return };
    let Some(chroma) = aico_tests::chroma_program() else { return };
    let memory = tempfile::tempdir().expect("dir");
    let semantic = memory.path().join("semantic");
    let n = 300;
    chroma_collection(&py, &semantic, &chroma_records(n));
    let before = chroma_read(&py, &semantic);
    // No `chroma` on the PATH: the one named is used.
    let no_path = tempfile::tempdir().expect("dir");
    let (store, program) = (semantic.to_string_lossy().into_owned(), chroma.to_string_lossy().into_owned());

    let out = aico(&["backfill", "--store", "chroma", "--chroma-path", &store, "--chroma-bin", &program, "--json"])
        .env("PATH", no_path.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "seg-00002 has no usable time: {}", text(&out));
    let c = json_of(&out)["stores"]["chroma"].clone();
    assert_eq!(
        (c["status"].clone(), c["total"].clone(), c["filled"].clone(), c["bad_count"].clone()),
        (json!("done"), json!(n), json!(n - 2), json!(1)),
        "{c:#}"
    );
    let at = c["at"].as_str().expect("at");
    let served = format!("{store} (served by {program} (chromadb 1.5.");
    assert!(at.starts_with(&served) && at.ends_with(", named with --chroma-bin / AICO_CHROMA_BIN))"), "{at}");
    #[cfg(target_os = "linux")]
    assert_eq!(chroma_servers_on(&semantic), Vec::<u32>::new(), "the server outlived the run");

    // The default store, `<memory dir>/semantic`, with the program from AICO_CHROMA_BIN.
    let out = aico(&["health", "--store", "chroma", "--memory-dir", &memory.path().to_string_lossy(), "--json"])
        .env("PATH", no_path.path())
        .env("AICO_CHROMA_BIN", &chroma)
        .output()
        .expect("run");
    assert_eq!(json_of(&out)["stores"]["chroma"]["with_temporal"], json!(n - 1), "{}", text(&out));

    // Read back by a PersistentClient: the new fields added, every other key, the document and
    // the embedding as they were.
    let after = chroma_read(&py, &semantic);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    for (id, old) in &before {
        let new = &after[id];
        assert_eq!((&new["d"], &new["e"]), (&old["d"], &old["e"]), "{id}: document or embedding changed");
        let (old_meta, new_meta) = (old["m"].as_object().expect("meta"), new["m"].as_object().expect("meta"));
        for (key, value) in old_meta {
            assert_eq!(new_meta.get(key), Some(value), "{id}: {key} changed");
        }
        let mut added: Vec<&str> = new_meta.keys().filter(|k| !old_meta.contains_key(*k)).map(String::as_str).collect();
        added.sort_unstable();
        match id.as_str() {
            "seg-00001" | "seg-00002" => assert!(added.is_empty(), "{id}: {added:?}"),
            "seg-00003" => assert_eq!(added, ["access_count", "created_at", "last_accessed", "version"], "{id}"),
            _ => assert_eq!(added, ["access_count", "confidence", "created_at", "last_accessed", "version"], "{id}"),
        }
    }
    assert_eq!(after["seg-00000"]["m"]["created_at"], json!("2025-11-07T18:00:00Z"));
}

#[cfg(target_os = "linux")]
#[test]
fn killing_the_tool_mid_run_takes_the_chroma_server_it_started_with_it() {
    let Some(py) = python() else { return };
    let Some(chroma) = aico_tests::chroma_program() else { return };
    let memory = tempfile::tempdir().expect("dir");
    let semantic = memory.path().join("semantic");
    let n = 20_000;
    chroma_collection(&py, &semantic, &chroma_records(n));
    let (store, program) = (semantic.to_string_lossy().into_owned(), chroma.to_string_lossy().into_owned());
    let args =
        ["backfill", "--store", "chroma", "--chroma-path", &store, "--chroma-bin", &program, "--batch-size", "100"];
    let mut tool =
        aico(&args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("run");

    // Wait until the server it started answers: the backfill is under way.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let server = loop {
        assert!(std::time::Instant::now() < deadline, "no Chroma server answered within 60 s");
        let up = chroma_servers_on(&semantic).into_iter().find(|pid| {
            let args = command_line(*pid);
            let port = args.windows(2).find(|w| w[0] == "--port").and_then(|w| w[1].parse::<u16>().ok());
            port.is_some_and(|port| aico_tests::http_status(port, "/api/v2/heartbeat") == Some(200))
        });
        if let Some(pid) = up {
            break pid;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(tool.try_wait().expect("poll").is_none(), "the backfill ended before it could be killed mid-run");
    tool.kill().expect("kill -9"); // SIGKILL: no chance to stop the server itself
    tool.wait().expect("reap");

    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while alive(server) {
        if std::time::Instant::now() > deadline {
            let _ = Command::new("kill").arg(server.to_string()).status(); // leave no orphan behind
            panic!("the Chroma server {server} outlived the killed tool by 15 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // The store is whole: the next run fills whatever the killed one did not.
    let out = aico(&["backfill", "--store", "chroma", "--chroma-path", &store, "--chroma-bin", &program, "--json"])
        .output()
        .expect("run");
    let c = json_of(&out)["stores"]["chroma"].clone();
    assert_eq!((c["total"].clone(), c["bad_count"].clone()), (json!(n), json!(1)), "{c:#}");
    assert_eq!(c["with_temporal"].as_u64().expect("n") + c["filled"].as_u64().expect("n"), n as u64 - 1, "{c:#}");
}

/// A Chroma store directory that only looks like one (an empty `chroma.sqlite3`): enough for the
/// checks made before the server is started.
fn fake_store(dir: &Path) -> std::path::PathBuf {
    let semantic = dir.join("semantic");
    std::fs::create_dir_all(&semantic).expect("mkdir");
    std::fs::write(semantic.join("chroma.sqlite3"), b"").expect("write");
    semantic
}

#[rstest::rstest]
#[case::none_on_the_path(None)]
#[case::named_but_missing(Some("/nonexistent/bin/chroma"))]
fn no_chroma_program_is_one_line_naming_the_flag_and_chromadb(#[case] program: Option<&str>) {
    let dir = tempfile::tempdir().expect("dir");
    let semantic = fake_store(dir.path());
    let no_path = tempfile::tempdir().expect("dir");
    let mut cmd = aico(&["backfill", "--store", "chroma", "--chroma-path", &semantic.to_string_lossy()]);
    cmd.env("PATH", no_path.path());
    if let Some(program) = program {
        cmd.args(["--chroma-bin", program]);
    }
    let out = cmd.output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--chroma-bin") && stderr.contains("pip install chromadb"), "{stderr}");
    assert!(stderr.contains(program.unwrap_or("on the PATH")), "{stderr}");
}

#[rstest::rstest]
#[case::missing(false)]
#[case::empty(true)]
fn a_chroma_path_without_a_store_is_one_line_and_never_created(#[case] exists: bool) {
    let dir = tempfile::tempdir().expect("dir");
    let semantic = dir.path().join("semantic");
    if exists {
        std::fs::create_dir(&semantic).expect("mkdir");
    }
    let out = aico(&[
        "health",
        "--store",
        "chroma",
        "--chroma-path",
        &semantic.to_string_lossy(),
        "--chroma-bin",
        "/bin/true",
    ])
    .output()
    .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&*semantic.to_string_lossy()) && stderr.contains("--chroma-path"), "{stderr}");
    assert_eq!(semantic.exists(), exists, "the store directory was created");
    if exists {
        assert_eq!(std::fs::read_dir(&semantic).expect("dir").count(), 0, "something was written into it");
    }
}

#[test]
fn with_every_store_a_chroma_that_cannot_be_served_is_its_status() {
    let db = aico_tests::TestDb::sqlite();
    assert!(aico(&["migrate"]).env("DATABASE_URL", &db.url).output().expect("migrate").status.success());
    let memory = tempfile::tempdir().expect("dir");
    let memory_dir = memory.path().to_string_lossy().into_owned();
    let out = aico(&["backfill", "--store", "all", "--memory-dir", &memory_dir, "--json"])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_of(&out);
    assert_eq!(report["stores"]["sql"]["status"], "done", "{report:#}");
    let chroma = &report["stores"]["chroma"];
    assert_eq!(chroma["status"], "not_configured", "{report:#}");
    let detail = chroma["detail"].as_str().expect("detail");
    assert!(detail.contains(&*memory.path().join("semantic").to_string_lossy()), "{detail}");
}

/// A stand-in HTTP server on a loopback port that answers every request `200 {"max_batch_size":
/// 100}` and records each connection and request line.
struct Recorder {
    url: String,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (seen, recorded) = (connections.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let recorded = recorded.clone();
                std::thread::spawn(move || stream.ok().map(|s| Self::answer(s, &recorded)));
            }
        });
        Self { url, connections, requests }
    }

    /// Record and answer each request on one connection until it closes.
    fn answer(mut stream: std::net::TcpStream, recorded: &std::sync::Mutex<Vec<String>>) -> Option<()> {
        use std::io::{BufRead, Read, Write};
        let mut reader = std::io::BufReader::new(stream.try_clone().ok()?);
        let line = |reader: &mut std::io::BufReader<_>| {
            let mut line = String::new();
            (reader.read_line(&mut line).ok()? > 0).then_some(line)
        };
        loop {
            let request = line(&mut reader)?;
            let mut length = 0;
            loop {
                let header = line(&mut reader)?;
                match header.split_once(':') {
                    _ if header.trim().is_empty() => break,
                    Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                        length = value.trim().parse().ok()?;
                    }
                    _ => {}
                }
            }
            reader.read_exact(&mut vec![0; length]).ok()?;
            recorded.lock().ok()?.push(request.trim_end().to_owned());
            let answer = r#"{"max_batch_size": 100}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                answer.len()
            );
            stream.write_all(format!("{head}{answer}").as_bytes()).ok()?;
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

#[rstest::rstest]
#[case::collection_slash("--collection", "conv/segments")]
#[case::collection_query("--collection", "conv?x=1")]
#[case::collection_fragment("--collection", "conv#x")]
#[case::collection_dot_dot("--collection", "conv..segments")]
#[case::collection_parent("--collection", "..")]
#[case::collection_empty("--collection", "")]
#[case::database_slash("--chroma-database", "default_database/../x")]
#[case::database_query("--chroma-database", "db?x")]
#[case::database_fragment("--chroma-database", "db#x")]
#[case::database_empty("--chroma-database", "")]
#[case::tenant_parent("--chroma-tenant", "..")]
#[case::tenant_empty("--chroma-tenant", "")]
fn a_name_chroma_cannot_have_is_refused_before_any_request(#[case] flag: &str, #[case] name: &str) {
    let server = Recorder::start();
    for command in ["backfill", "verify", "health"] {
        let out = aico(&[command, "--store", "chroma", "--chroma-url", &server.url, flag, name]).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error:") && first.contains(flag), "{command}: {stderr}");
    }
    std::thread::sleep(Duration::from_millis(100)); // a connection would have been accepted by now
    assert_eq!((server.connections(), server.requests()), (0, vec![]), "a request was sent");

    // The same command with Chroma's default name does reach the server.
    let out = aico(&["health", "--store", "chroma", "--chroma-url", &server.url]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "the stand-in server has no collection: {}", text(&out));
    assert_eq!(server.requests().first().map(String::as_str), Some("GET /api/v2/pre-flight-checks HTTP/1.1"));
}

#[test]
fn every_name_is_sent_as_one_encoded_path_segment() {
    // Chroma allows any tenant of 3 or more characters: `/`, `?`, `#` and `%` stay inside its
    // segment, percent-encoded, and a server URL's own path is kept.
    let server = Recorder::start();
    let url = format!("{}/prefix/", server.url);
    let out = aico(&["health", "--store", "chroma", "--chroma-url", &url, "--chroma-tenant", "t/../x?y#z%2F"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "the stand-in server has no collection: {}", text(&out));
    assert_eq!(
        server.requests(),
        [
            "GET /prefix/api/v2/pre-flight-checks HTTP/1.1",
            "GET /prefix/api/v2/tenants/t%2F..%2Fx%3Fy%23z%252F/databases/default_database/collections/conversation_segments HTTP/1.1",
        ]
    );
}
