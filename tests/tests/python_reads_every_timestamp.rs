//! Issue 14: nothing the backfills write fails AICO's reader. A seeded fuzzed table of near-miss
//! `created_at` values (edge dates, leap seconds, years 0 and 9999, offsets up to ±14:00, odd
//! separators and spacing, long fractions, truncated strings) goes through each store's backfill,
//! and every timestamp it wrote is read back by Python's `datetime.fromisoformat` in the test venv
//! (with its `Z`, and without it as AICO's Chroma decay code reads it): each must parse, and name
//! the instant Python reads from the input wherever Python can read the input.

use std::io::Write;
use std::path::Path;

use aico_ams::chroma::{ChromaConfig, Endpoint};
use aico_ams::lmdb::WorkingMemory;
use aico_ams::sql::Db;
use aico_connect::target::Target;
use aico_tests::stores::{chroma_collection, lmdb_working_memory};
use aico_tests::{ChromaServer, TestDb, exec, insert_texts, near_miss_timestamps, python, run_python};
use migration::runner::{self, Command};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

/// Rows in the SQL and LMDB sets.
const ROWS: usize = 100_000;
/// Records in the Chroma set: the server applies updates one at a time on one core, and writing
/// the records with the Python client takes longer still: 100,000 pass in about 45 s of a debug
/// build on two cores, a fifth of them in about 13 s.
const CHROMA_RECORDS: usize = 20_000;
const SEED: u64 = 0x0014_5EED;

/// Reads `(input, written timestamps or null)` pairs from a store and checks every written one
/// with `datetime.fromisoformat`; prints a JSON summary. Argument 1: `jsonl FILE`, `lmdb DIR`
/// or `chroma DIR`.
const CHECKER: &str = r#"
import json, sys
from datetime import datetime, timedelta, timezone
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

def pairs():
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "jsonl":
        with open(path) as f:
            for line in f:
                yield json.loads(line)
    elif kind == "lmdb":
        import lmdb
        env = lmdb.open(path, max_dbs=10, readonly=True, lock=False)
        db = env.open_db(b"session_memory", create=False)
        with env.begin() as txn:
            for _, v in txn.cursor(db=db):
                m = json.loads(v)
                t = m.get("temporal_metadata")
                yield m["timestamp"], None if t is None else [t["created_at"], t["last_updated"], t["last_accessed"]]
    elif kind == "chroma":
        import chromadb
        from chromadb.config import Settings
        c = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
        col = c.get_collection("conversation_segments", embedding_function=None)
        offset = 0
        while True:  # in pages: one get of 100,000 records exceeds SQLite's variable limit
            page = col.get(include=["metadatas"], limit=5000, offset=offset)["metadatas"]
            if not page:
                break
            offset += len(page)
            for m in page:
                yield m["timestamp"], [m["created_at"], m["last_accessed"]] if "created_at" in m else None

def instant(x):
    """The UTC instant Python reads from an input: None when it cannot read it, "overflow" when
    it reads it but the instant is beyond what a datetime holds. Naive text is UTC, as AICO
    writes it; a number is Unix seconds, read as the tool reads it (whole microseconds)."""
    try:
        if isinstance(x, str):
            d = datetime.fromisoformat(x)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            d = EPOCH + timedelta(microseconds=int(x * 1e6))
        else:
            return None
    except ValueError:
        return None
    except OverflowError:
        return "overflow"
    try:
        return (d if d.tzinfo else d.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        return "overflow"

def read_written(w):
    if not (isinstance(w, str) and w.endswith("Z")):
        raise ValueError("not text ending in Z")
    d = datetime.fromisoformat(w)
    if d.utcoffset() != timedelta(0):
        raise ValueError("not UTC")
    if datetime.fromisoformat(w[:-1]) != d.replace(tzinfo=None):
        raise ValueError("reads differently without its Z")
    return d

stats = dict(rows=0, written=0, compared=0, compared_normalized=0, input_unreadable=0,
             out_of_range_inputs=0, unwritten_python_reads=0)
failures = []
for x, ws in pairs():
    stats["rows"] += 1
    want = instant(x)
    normalized = False
    if want is None and isinstance(x, str):
        # What Python reads once the spacing is trimmed and a lower-case z made upper case.
        y = x.strip()
        want = instant(y[:-1] + "Z" if y.endswith("z") else y)
        normalized = want is not None
    if want == "overflow":
        stats["out_of_range_inputs"] += 1
    if ws is None:
        if isinstance(want, datetime) and not normalized:
            stats["unwritten_python_reads"] += 1
        continue
    stats["written"] += 1
    try:
        got = [read_written(w) for w in ws]
    except Exception as e:
        failures.append([x, ws, f"{type(e).__name__}: {e}"])
        continue
    if len(set(got)) != 1:
        failures.append([x, ws, "the written timestamps differ"])
    elif want is None:
        stats["input_unreadable"] += 1
    elif want == "overflow":
        failures.append([x, ws, "written, but its instant is beyond Python's datetime"])
    elif got[0] != want:
        failures.append([x, ws, f"Python reads the input as {want.isoformat()}"])
    else:
        stats["compared_normalized" if normalized else "compared"] += 1
stats["failures"] = failures[:30]
stats["failure_count"] = len(failures)
print(json.dumps(stats))
"#;

/// Run the checker on `what` (`jsonl`, `lmdb` or `chroma`) at `path`; its summary.
fn check(py: &Path, what: &str, path: &Path) -> Value {
    let out = run_python(py, CHECKER, &[what, &path.to_string_lossy()]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("checker output is not JSON ({e}): {out}"))
}

/// What every store's summary must show: every written timestamp read by Python, none failing,
/// all `rows` seen, `written` of them written, and each class of input really exercised.
fn assert_readable(store: &str, summary: &Value, rows: usize, written: u64) {
    eprintln!("{store}: {summary}");
    let n = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{store}: no {k} in {summary}"));
    assert_eq!(
        n("failure_count"),
        0,
        "{store}: Python cannot read, or reads another instant from:\n{:#}",
        summary["failures"]
    );
    assert_eq!(n("rows"), rows as u64, "{store}: rows seen by Python");
    assert_eq!(n("written"), written, "{store}: written values seen by Python");
    // The fuzz must reach every case: instants compared with Python's own reading of the input,
    // inputs Python reads but whose instant it cannot hold (none may be written), and inputs it
    // cannot read at all.
    assert!(n("compared") * 10 >= rows as u64, "{store}: too few written values compared with the input: {summary}");
    assert!(n("compared_normalized") > 0, "{store}: {summary}");
    assert!(n("out_of_range_inputs") * 200 >= rows as u64, "{store}: too few out-of-range inputs: {summary}");
    assert!(n("input_unreadable") > 0, "{store}: {summary}");
}

/// The SQL backfill on `db` over the fuzzed `created_at` column, read back by Python.
async fn sql_backfill_is_read_by_python(db: TestDb) {
    let Some(py) = python() else { return };
    let inputs = near_miss_timestamps(ROWS, SEED);
    let conn = db.connect().await;
    exec(
        &conn,
        "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, content TEXT NOT NULL, \
         created_at TEXT, updated_at TEXT)",
    )
    .await;
    let insert = "INSERT INTO semantic_facts (id, user_id, content, created_at) VALUES";
    insert_texts(&conn, insert, &inputs, |i, s| format!("('f{i:06}', 'u', 'c', {s})")).await;
    runner::run(&conn, &db.target, Command::Up { steps: None }, &Default::default(), |_| {}).await.expect("migrate");
    let app =
        Db::open(Target::resolve(Some(&db.url), None).expect("url"), None, &Default::default()).await.expect("open");

    let started = std::time::Instant::now();
    let report = aico_ams::sql::backfill::backfill(&app, app.layout().await.expect("layout"), 5000, false, |_| {})
        .await
        .expect("backfill");
    eprintln!("{}: backfill of {ROWS} rows in {:.1?}", db.name, started.elapsed());
    assert_eq!(report.without_temporal, ROWS as u64);
    assert_eq!(report.filled + report.bad.count, ROWS as u64, "{}: every row filled or listed", db.name);
    assert!(report.bad.items.iter().any(|b| b.reason.contains("second 60")), "{}: no leap second listed", db.name);
    assert!(report.bad.items.iter().any(|b| b.reason.contains("in UTC, outside")), "{}: no range error", db.name);

    let sql = "SELECT created_at, CAST(temporal_metadata AS TEXT) FROM semantic_facts ORDER BY id";
    let rows = conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql)).await.expect(sql);
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("written.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
    let mut written = 0;
    for row in &rows {
        let input: String = row.try_get_by_index(0).expect("created_at");
        let meta: Option<String> = row.try_get_by_index(1).expect("temporal_metadata");
        let ws = meta.map(|m| {
            written += 1;
            let m: Value = serde_json::from_str(&m).expect("metadata is JSON");
            json!([m["created_at"], m["last_updated"], m["last_accessed"]])
        });
        writeln!(out, "{}", json!([input, ws])).expect("write");
    }
    out.flush().expect("flush");
    drop(out);
    assert_eq!(written, report.filled, "{}: rows with metadata", db.name);
    assert_readable(db.name, &check(&py, "jsonl", &file), ROWS, written);
}

#[tokio::test]
async fn sqlite_backfill_writes_only_what_python_reads() {
    sql_backfill_is_read_by_python(TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_backfill_writes_only_what_python_reads() {
    let Some(db) = TestDb::postgres().await else { return };
    sql_backfill_is_read_by_python(db).await;
}

/// The fuzzed inputs for messages and records: the near-miss texts, and for every 25th Unix
/// seconds (AICO's `_stored_at` form) around the ends of years 1 to 9999 and far beyond.
fn message_times(n: usize) -> Vec<Value> {
    let seconds = [
        json!(-62135596800i64),
        json!(-62135596801i64),
        json!(-62135596800.5),
        json!(253402300799i64),
        json!(253402300799.999999),
        json!(253402300800i64),
        json!(1e15),
        json!(-1e15),
        json!(1762538400.25),
        json!(0),
    ];
    near_miss_timestamps(n, SEED)
        .into_iter()
        .enumerate()
        .map(|(i, s)| if i % 25 == 0 { seconds[(i / 25) % seconds.len()].clone() } else { Value::from(s) })
        .collect()
}

#[test]
fn lmdb_backfill_writes_only_what_python_reads() {
    let Some(py) = python() else { return };
    let memory = tempfile::tempdir().expect("dir");
    let working = memory.path().join("working");
    let values = message_times(ROWS).into_iter().map(|t| json!({"role": "user", "content": "hi", "timestamp": t}));
    lmdb_working_memory(
        &working,
        256,
        values.enumerate().map(|(i, v)| (format!("conv-{:02}:{i:06}", i % 100), v.to_string())),
    );

    let started = std::time::Instant::now();
    let report = WorkingMemory::open(&working)
        .and_then(|m| aico_ams::lmdb::backfill(&m, 5000, false, |_| {}))
        .expect("backfill");
    eprintln!("lmdb: backfill of {ROWS} entries in {:.1?}", started.elapsed());
    assert_eq!(report.total, ROWS as u64);
    assert_eq!(report.filled + report.bad.count, ROWS as u64, "every entry filled or listed");
    assert_readable("lmdb", &check(&py, "lmdb", &working), ROWS, report.filled);
}

#[tokio::test]
async fn chroma_backfill_writes_only_what_python_reads() {
    let Some(py) = python() else { return };
    let memory = tempfile::tempdir().expect("dir");
    let semantic = memory.path().join("semantic");
    // Chroma's metadata holds strings and numbers, but AICO's `timestamp` there is text.
    let records: Vec<Value> = near_miss_timestamps(CHROMA_RECORDS, SEED)
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": format!("seg-{i:06}"), "embedding": [(i % 7) as f64, 1.0], "document": format!("segment {i}"),
                   "metadata": {"timestamp": t}})
        })
        .collect();
    chroma_collection(&py, &semantic, &records);
    let Some(server) = ChromaServer::start(&semantic) else { return };
    let config = ChromaConfig {
        endpoint: Endpoint::Url(server.url.clone()),
        token: None,
        tenant: "default_tenant".into(),
        database: "default_database".into(),
        collection: "conversation_segments".into(),
        ca_cert: None,
    };
    let started = std::time::Instant::now();
    let outcome = aico_ams::chroma::run(config, |c| async move { aico_ams::chroma::backfill(&c, 5000, false).await });
    let report = outcome.await.expect("set up").done().cloned().expect("backfill");
    eprintln!("chroma: backfill of {CHROMA_RECORDS} records in {:.1?}", started.elapsed());
    drop(server);
    assert_eq!(report.total, CHROMA_RECORDS as u64);
    assert_eq!(report.filled + report.bad.count, CHROMA_RECORDS as u64, "every record filled or listed");
    assert_readable("chroma", &check(&py, "chroma", &semantic), CHROMA_RECORDS, report.filled);
}
