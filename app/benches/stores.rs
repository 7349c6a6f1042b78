//! The other two stores, against a baseline in the same run:
//! `cargo bench -p aico-ams --bench stores [-- LMDB_ENTRIES CHROMA_RECORDS]` (defaults 1,000,000 and
//! 100,000; Chroma needs `AICO_TEST_PYTHON` and `AICO_TEST_CHROMA`, as `.ci/run` sets them).
//!
//! Goals: LMDB ≥ 0.5 × a minimal heed loop that rewrites every value with the key added, peak RSS
//! ≤ 150 MiB; Chroma ≥ 1 × the Python `chromadb` client doing the same batched update.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aico_tests::stores::lmdb_working_memory;
use aico_tests::{ChromaServer, python, run_python};
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, EnvOpenOptions};

const META: &[u8] = br#", "temporal_metadata": {"created_at":"2025-11-07T18:00:00Z","last_updated":"2025-11-07T18:00:00Z","last_accessed":"2025-11-07T18:00:00Z","access_count":0,"confidence":1.0,"version":1,"superseded_by":null}"#;

/// AICO's working memory of `n` messages without temporal metadata, in `dir` (the tests' own
/// fixture, with a map large enough for a million).
fn build_env(dir: &Path, n: u32) {
    let entries = (0..n).map(|i| {
        let key = format!("conv-{:04}:2025-11-07T18:{:02}:{:02}.{i:07}Z", i % 1000, (i / 60) % 60, i % 60);
        let value = format!(
            r#"{{"message_id": "m{i}", "user_id": "u1", "conversation_id": "conv-{}", "content": "message number {i}", "role": "user", "timestamp": "2025-11-07T18:00:00Z", "message_type": "user_input", "_stored_at": "2025-11-07T18:00:00"}}"#,
            i % 1000
        );
        (key, value)
    });
    lmdb_working_memory(dir, 4096, entries);
}

/// The ceiling: read 1000 entries, write them back with the key inserted, repeat.
fn heed_loop(dir: &Path) -> Duration {
    let started = Instant::now();
    // SAFETY: heed requires that an environment is open once at a time in a process and that its
    // files are not truncated while mapped: `build_env` closed it, and `env` is dropped on return.
    let env = unsafe { EnvOpenOptions::new().map_size(4 << 30).max_dbs(4).open(dir) }.expect("env");
    let rtxn = env.read_txn().expect("txn");
    let db: Database<Bytes, Bytes> = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| {
            dbo.open_database(rtxn, Some("session_memory")).map(CommitOrAbort::<_, ()>::Commit)
        })
        .expect("db")
        .unwrap_commit()
        .expect("exists");
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rtxn = env.read_txn().expect("txn");
        let lower = after.as_deref().map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let batch: Vec<(Vec<u8>, Vec<u8>)> = db
            .range(&rtxn, &(lower, std::ops::Bound::Unbounded))
            .expect("range")
            .take(1000)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("entry"))
            .collect();
        drop(rtxn);
        let Some((last, _)) = batch.last() else { break };
        after = Some(last.clone());
        let mut wtxn = env.write_txn().expect("txn");
        for (k, v) in batch {
            let mut new = v[..v.len() - 1].to_vec();
            new.extend_from_slice(META);
            new.push(b'}');
            db.put(&mut wtxn, &k, &new).expect("put");
        }
        wtxn.commit().expect("commit");
    }
    started.elapsed()
}

fn copy_env(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    std::fs::copy(from.join("data.mdb"), to.join("data.mdb")).expect("copy");
}

/// Run `aico` with `args`; wall time and peak RSS (MiB): all of it (VmHWM, which counts the LMDB
/// map's file pages the kernel keeps resident) and the anonymous part (the heap: RssAnon, sampled).
fn aico(args: &[&str]) -> (Duration, f64, f64) {
    let started = Instant::now();
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_aico-ams")).args(args).stdout(Stdio::null()).spawn().expect("spawn aico");
    let status_file = format!("/proc/{}/status", child.id());
    let (mut peak_kib, mut anon_kib): (u64, u64) = (0, 0);
    let field = |status: &str, name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            peak_kib = peak_kib.max(field(&status, "VmHWM:"));
            anon_kib = anon_kib.max(field(&status, "RssAnon:"));
        }
        if let Some(status) = child.try_wait().expect("poll") {
            assert!(status.success() || status.code() == Some(1), "aico failed: {status}");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (started.elapsed(), peak_kib as f64 / 1024.0, anon_kib as f64 / 1024.0)
}

/// Rounds of the Chroma comparison.
const ROUNDS: usize = 3;

fn median(runs: &mut [Duration]) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

const CHROMA_WRITER: &str = r#"
import sys, chromadb
from chromadb.config import Settings
c = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = c.get_or_create_collection("conversation_segments", embedding_function=None)
n = int(sys.argv[2])
for s in range(0, n, 5000):
    r = range(s, min(n, s + 5000))
    col.add(ids=[f"seg-{i:07d}" for i in r], embeddings=[[float(i % 7), float(i % 11), 1.0] for i in r],
            documents=[f"segment {i}" for i in r],
            metadatas=[{"user_id": "u1", "conversation_id": f"c{i % 50}", "timestamp": "2025-11-07T18:00:00"} for i in r])
"#;

const CHROMA_WARM_UP: &str = r#"
import sys, chromadb
c = chromadb.HttpClient(host="127.0.0.1", port=int(sys.argv[1]))
col = c.get_collection("conversation_segments", embedding_function=None)
col.count()
col.get(limit=1, include=["metadatas"])
"#;

const PYTHON_UPDATE: &str = r#"
import sys, time, chromadb
c = chromadb.HttpClient(host="127.0.0.1", port=int(sys.argv[1]))
col = c.get_collection("conversation_segments", embedding_function=None)
batch = c.get_max_batch_size()
offset = 0
started = time.time()
while True:
    got = col.get(limit=batch, offset=offset, include=["metadatas"])
    if not got["ids"]:
        break
    offset += len(got["ids"])
    ids, metas = [], []
    for i, m in zip(got["ids"], got["metadatas"]):
        if all(k in m for k in ("created_at", "confidence", "version", "last_accessed", "access_count")):
            continue
        at = m["timestamp"] + "Z"
        ids.append(i)
        metas.append({"created_at": at, "confidence": 1.0, "version": 1, "last_accessed": at, "access_count": 0})
    if ids:
        col.update(ids=ids, metadatas=metas)
print(time.time() - started)
"#;

fn main() {
    let mut args = std::env::args().skip(1).filter_map(|a| a.parse::<u32>().ok());
    let entries = args.next().unwrap_or(1_000_000);
    let records = args.next().unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");

    eprintln!("lmdb: building {entries} entries ...");
    let template = dir.path().join("template");
    build_env(&template, entries);
    let ceiling_dir = dir.path().join("ceiling");
    copy_env(&template, &ceiling_dir);
    let ceiling = heed_loop(&ceiling_dir);
    let ours_memory = dir.path().join("ours");
    copy_env(&template, &ours_memory.join("working"));
    let (ours, peak, anon) = aico(&["backfill", "--store", "lmdb", "--memory-dir", &ours_memory.to_string_lossy()]);
    let ratio = ceiling.as_secs_f64() / ours.as_secs_f64();
    println!(
        "lmdb entries={entries} ours={ours:.2?} heed_loop={ceiling:.2?} vs_ceiling={ratio:.2} (goal>=0.5 {}) \
         peak_rss={peak:.1}MiB (goal<=150 {}; VmHWM, counting the map's resident file pages) peak_anon_rss={anon:.1}MiB",
        verdict(ratio >= 0.5),
        verdict(peak <= 150.0)
    );

    let Some(py) = python() else { return };
    eprintln!("chroma: writing {records} records ...");
    let template = dir.path().join("semantic");
    run_python(&py, CHROMA_WRITER, &[&template.to_string_lossy(), &records.to_string()]);
    // Each run gets a fresh copy of the same store and its own server; the two take turns going
    // first, three rounds, and the medians are compared (the server's speed drifts from run to run).
    let (mut ours_runs, mut python_runs) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for contender in [round % 2, 1 - round % 2] {
            let copy = dir.path().join(format!("semantic-{round}-{contender}"));
            let status = Command::new("cp").arg("-r").arg(&template).arg(&copy).status().expect("cp");
            assert!(status.success());
            let Some(server) = ChromaServer::start(&copy) else { return };
            let port = server.url.rsplit(':').next().expect("port").to_owned();
            // Both find a warm server: the collection loaded, one record read.
            run_python(&py, CHROMA_WARM_UP, &[&port]);
            if contender == 0 {
                // The run's own clock (its JSON `seconds`), as the script below keeps its own:
                // neither process's start-up is counted.
                let out = Command::new(env!("CARGO_BIN_EXE_aico-ams"))
                    .args([
                        "backfill",
                        "--store",
                        "chroma",
                        "--chroma-url",
                        &server.url,
                        "--batch-size",
                        "10000",
                        "--json",
                    ])
                    .output()
                    .expect("run aico");
                let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
                assert_eq!(report["stores"]["chroma"]["filled"], records, "{report}");
                ours_runs.push(Duration::from_secs_f64(report["seconds"].as_f64().expect("seconds")));
            } else {
                let secs = run_python(&py, PYTHON_UPDATE, &[&port]).trim().parse().expect("seconds");
                python_runs.push(Duration::from_secs_f64(secs));
            }
            drop(server);
            std::fs::remove_dir_all(&copy).expect("remove copy");
        }
    }
    let (ours, python_time) = (median(&mut ours_runs), median(&mut python_runs));
    let ratio = python_time.as_secs_f64() / ours.as_secs_f64();
    println!(
        "chroma records={records} ours={ours:.2?} python_client={python_time:.2?} (medians of {ROUNDS}: ours {ours_runs:.2?}, \
         python {python_runs:.2?}) ratio={ratio:.2} (goal>=1 {})",
        verdict(ratio >= 1.0)
    );
}
