//! `aico-ams move` of a 2025 install into AICO's PostgreSQL 18 (issue 30's speed goals), against
//! what a user would run instead:
//! `cargo bench -p aico-ams --bench move_pg --profile dev [-- facts=N segments=N runs=R]`
//! (default 300,000 facts and 50,000 segments of 768-d, one run; `facts=0` or `segments=0` skips
//! a line; with `runs=R` each pair is run R times, alternating, and the medians are compared).
//! Needs PostgreSQL 18 with pgvector (`AICO_TEST_PG18`, else `.ci/pg18` starts it), `python3`,
//! a Python with AICO's pinned chromadb 1.0.20 (`AICO_TEST_AICO_PYTHON`) for the segments, and
//! Debian's `pgloader` for the facts (without it that line says so and is skipped).
//!
//! - **Facts**: a plain (unencrypted) SQLite file with AICO's 2025 `users` (one user) and
//!   `user_memories` (AICO's version-13 columns), AICO-shaped rows (uuid4 keys in random order,
//!   `created_at` text in AICO's mixed forms and NULL for one in ten, `valid_from` always set,
//!   `entities_json` JSON text, about 300 bytes a row), written by python's `sqlite3` in one
//!   transaction. Ours: `aico-ams move --database-url sqlite://FILE --to URL --memory-dir <empty
//!   dir>` into a fresh database holding AICO's `aico_core` as its schema file builds it (every
//!   fact arrives with `temporal_metadata` filled, checked afterwards); the baseline: `pgloader
//!   sqlite:///FILE postgresql://...` at its defaults (from 1,000,000 facts with
//!   `--dynamic-space-size 4096`: at its defaults its heap runs out) into a fresh empty database of
//!   its own (checked: every row arrived). Goal ≥ 1.0×.
//! - **Segments**: AICO's Chroma store (`<memory dir>/semantic`) written by chromadb 1.0.20's
//!   `PersistentClient` with explicit float32 vectors and the metadata AICO's `semantic.py` writes
//!   (`user_id`, `conversation_id`, `role`, `timestamp`). Ours: `aico-ams move ... --memory-dir DIR
//!   --chroma-bin <chromadb 1.0.20's chroma>` into a fresh `aico_core` (AICO's HNSW index set
//!   aside and rebuilt by the move; afterwards it must exist, be valid and have the definition it
//!   had before); the baseline: what AICO's `scripts/migrate_chroma_to_pgvector.py` sends, read
//!   from the same store in pages of 250 and written to a file once (one transaction per 250
//!   rows, `INSERT ... ON CONFLICT (id) DO UPDATE`), piped into one `psql` on a fresh `aico_core`
//!   with the index in place; only `psql` is timed. Goal ≥ 3.0×.
//!
//! Each side is timed as a whole process, start to exit; the peak RSS of ours is the kernel's
//! `ru_maxrss` of the reaped process (`wait4`; it covers the Chroma server the move starts and
//! reaps, too). Goal ≤ 256 MiB. Printed beside it: the `aico-ams` process's own `VmHWM`, sampled.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aico_tests::aico::{USER_MEMORIES_V13, USERS_2025};
use aico_tests::{AicoPg, TestDb, aico_chromadb_python, aico_pg18, pg18_db, psql_program, run_python};

/// The user of the source (AICO's user id form: a uuid4).
const USER: &str = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10";

/// From this many facts `pgloader` runs with `--dynamic-space-size 4096` (MiB of Lisp heap).
const PGLOADER_HEAP_FROM: u64 = 1_000_000;

/// Peak RSS goal of ours, MiB.
const RSS_GOAL: f64 = 256.0;

/// AICO's 2025 `aico.db`, plain: `users` (one user) and `user_memories` as AICO's migrator leaves
/// them at version 13, with `n` AICO-shaped facts (deterministic), written in one transaction.
/// `created_at`: 25% `...Z`, 20% an offset, 20% naive `isoformat()` with microseconds, 15%
/// SQLite's `CURRENT_TIMESTAMP` form, 10% microseconds with `+00:00`, 10% NULL.
const MAKE_FACTS: &str = r#"
import random, sqlite3, sys, uuid
from datetime import datetime, timedelta, timezone
path, n, user, users_sql, memories_sql = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
c = sqlite3.connect(path)
c.execute(users_sql)
c.execute("INSERT INTO users (uuid, full_name, nickname, created_at, updated_at) "
          "VALUES (?, 'Ada Example', 'Ada', '2025-03-01 09:30:00', '2025-03-01 09:30:00')", (user,))
c.execute(memories_sql)
rnd = random.Random(30)
base = datetime(2025, 3, 1, tzinfo=timezone.utc)
zones = [timezone(timedelta(hours=h, minutes=m)) for h, m in ((2, 0), (-5, 0), (5, 30), (0, -30), (14, 0))]
kinds = [("preference", "preferences"), ("identity", "personal_info"), ("relationship", "relationships")]
def created(i, t):
    k = rnd.randrange(100)
    if k < 25: return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if k < 45: return t.astimezone(zones[i % 5]).isoformat(timespec="seconds")
    if k < 65: return t.replace(tzinfo=None).isoformat(timespec="microseconds")
    if k < 80: return t.strftime("%Y-%m-%d %H:%M:%S")
    if k < 90: return t.isoformat(timespec="microseconds")
    return None
def rows():
    for i in range(n):
        fid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        t = base + timedelta(seconds=rnd.random() * 300 * 86400)
        at = created(i, t)
        fact_type, category = kinds[i % 3]
        entities = '[{"text": "tea", "label": "preference", "score": 0.%02d}]' % (i % 100)
        content = (f"fact number {i}: the user prefers green tea to coffee in the morning, and mentioned it "
                   f"while talking about {uuid.UUID(int=rnd.getrandbits(128)).hex}")
        yield (fid, user, fact_type, category, 0.5 + (i % 50) / 100, int(i % 97 == 0),
               (t - timedelta(days=3)).isoformat(timespec="microseconds"), content, entities,
               "user_curated" if i % 50 == 0 else "llm", f"conv-{i % 997}", f"msg-{i}", at, at, int(i % 40 == 0))
c.executemany("INSERT INTO user_memories (fact_id, user_id, fact_type, category, confidence, is_immutable, "
              "valid_from, content, entities_json, extraction_method, source_conversation_id, source_message_id, "
              "created_at, updated_at, is_favorite) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
c.commit()
c.close()
"#;

/// AICO's Chroma store as chromadb 1.0.20 writes it: `n` segments as `semantic.py` stores them
/// (uuid4 ids, explicit float32 vectors of 768, metadata `user_id`, `conversation_id`, `role`,
/// `timestamp`). Then, read back as AICO's `scripts/migrate_chroma_to_pgvector.py` reads it (pages
/// of 250 with embeddings, documents and metadata), the SQL that script sends for each page: one
/// transaction, one `INSERT ... ON CONFLICT (id) DO UPDATE` per segment, the vector written with
/// python's `str(float(x))`, the metadata with `json.dumps`, written to the file `sql` (after a
/// `SET search_path TO aico_core, public`, as AICO's schema file has `vector` in `aico_core`).
const MAKE_CHROMA: &str = r#"
import json, random, sys, uuid
from datetime import datetime, timedelta
import numpy as np
import chromadb
from chromadb.config import Settings
path, n, user, sql = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
col = client.get_or_create_collection("conversation_segments", metadata={"hnsw:space": "cosine"},
                                      embedding_function=None)
rnd = random.Random(30)
rng = np.random.default_rng(30)
step = min(client.get_max_batch_size(), 5000)
base = datetime(2025, 6, 1)
for start in range(0, n, step):
    k = min(step, n - start)
    ids, docs, metas = [], [], []
    for i in range(start, start + k):
        ids.append(str(uuid.UUID(int=rnd.getrandbits(128), version=4)))
        docs.append(f"segment {i}: we talked about green tea, the morning walk and the book about {i % 613} birds")
        ts = (base + timedelta(seconds=37 * i, microseconds=i % 1000)).isoformat()
        metas.append({"user_id": user, "conversation_id": f"conv-{i % 97}", "role": ["user", "assistant"][i % 2],
                      "timestamp": ts})
    col.add(ids=ids, embeddings=rng.standard_normal((k, 768)).astype(np.float32), documents=docs, metadatas=metas)
def q(s):
    return s.replace("'", "''")
with open(sql, "w", encoding="utf-8") as out:
    # AICO's schema file creates `vector` in aico_core: without this the script's `::vector` is unknown.
    out.write("SET search_path TO aico_core, public;\n")
    count, offset = col.count(), 0
    while offset < count:
        page = col.get(limit=250, offset=offset, include=["embeddings", "documents", "metadatas"])
        if not page["ids"]:
            break
        out.write("BEGIN;\n")
        for i, sid in enumerate(page["ids"]):
            meta = page["metadatas"][i] or {}
            vec = "[" + ",".join(str(float(x)) for x in page["embeddings"][i]) + "]"
            ts = str(meta.get("timestamp") or meta.get("created_at") or "") or "1970-01-01T00:00:00Z"
            out.write("INSERT INTO aico_core.conversation_segments (id, user_id, conversation_id, role, content, "
                      "embedding, timestamp, metadata) VALUES ('%s', '%s', '%s', '%s', '%s', '%s'::vector, "
                      "'%s'::timestamptz, '%s'::jsonb) ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, "
                      "conversation_id = EXCLUDED.conversation_id, role = EXCLUDED.role, content = EXCLUDED.content, "
                      "embedding = EXCLUDED.embedding, timestamp = EXCLUDED.timestamp, "
                      "metadata = EXCLUDED.metadata;\n"
                      % (q(str(sid)), q(str(meta.get("user_id") or "")), q(str(meta.get("conversation_id") or "")),
                         q(str(meta.get("role") or "")), q(str(page["documents"][i] or "")), q(vec), q(ts),
                         q(json.dumps(meta, ensure_ascii=False))))
        out.write("COMMIT;\n")
        offset += len(page["ids"])
"#;

/// AICO's HNSW index on the segments as the catalog has it: its definition and whether it is
/// valid (no row: it does not exist).
const SEGMENTS_INDEX: &str = "SELECT pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid::text \
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = 'aico_core' AND c.relname = 'idx_conversation_segments_embedding'";

/// AICO's indexes on its facts (the primary key and eleven others) and its constraints on them (the
/// foreign key to the users among them): each one's definition and whether it is valid.
const FACTS_INDEXES: &str = "SELECT pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid::text \
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
    WHERE i.indrelid = 'aico_core.ams_user_memories'::regclass \
    UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) || ' valid=' || convalidated::text \
    FROM pg_constraint WHERE conrelid = 'aico_core.ams_user_memories'::regclass ORDER BY 1";

/// The object id of AICO's HNSW index on the segments: a new one after the move means the move
/// set the index aside and built it again.
const SEGMENTS_INDEX_OID: &str = "SELECT to_regclass('aico_core.idx_conversation_segments_embedding')::oid::text";

/// `program` on the PATH, if there.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// A 2025 install in a directory of its own: the plain `aico.db` with `facts` facts, and the
/// memory directory (`memory/`, empty unless the store is written into `memory/semantic`).
struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new(facts: u64) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let install = Self { dir };
        std::fs::create_dir_all(install.memory()).expect("mkdir memory");
        let db = install.db();
        let made = Instant::now();
        let args = [db.to_str().expect("utf-8"), &facts.to_string(), USER, USERS_2025, USER_MEMORIES_V13];
        run_python(Path::new("python3"), MAKE_FACTS, &args);
        eprintln!("source: {facts} facts in {:.1?}", made.elapsed());
        install
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("aico.db")
    }

    fn memory(&self) -> PathBuf {
        self.dir.path().join("memory")
    }

    /// `aico-ams move` of this install into `to` (with `chroma`, AICO's `chroma`, serving its
    /// store): its wall time and peak RSS.
    fn move_into(&self, to: &str, chroma: Option<&Path>) -> common::Used {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aico-ams"));
        command
            .env("NO_COLOR", "1")
            .env("ANONYMIZED_TELEMETRY", "False")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-bench-bus")
            .arg("move")
            .arg("--database-url")
            .arg(format!("sqlite://{}", self.db().display()))
            .args(["--to", to])
            .arg("--memory-dir")
            .arg(self.memory());
        if let Some(chroma) = chroma {
            command.arg("--chroma-bin").arg(chroma);
        }
        // `AICO_BENCH_ARGS`: more flags for ours (`--batch-size 5000`, say), to tune against the baseline.
        if let Ok(more) = std::env::var("AICO_BENCH_ARGS") {
            command.args(more.split_whitespace());
        }
        common::timed_with_peaks(command)
    }
}

/// One line of the bench: the medians of both sides, the ratio, the verdicts; the peak RSS is
/// the largest of the runs' `ru_maxrss` (the verdict), beside the `aico-ams` process's own `VmHWM`.
fn report(what: &str, rows: u64, runs: usize, baseline: (&str, Vec<Duration>), ours: Vec<common::Used>, goal: f64) {
    let peak = ours.iter().map(|u| u.peak_rss).fold(0.0, f64::max);
    let own = ours.iter().map(|u| u.own_hwm).fold(0.0, f64::max);
    let ours = common::median(ours.iter().map(|u| u.time).collect());
    let (name, baseline) = (baseline.0, common::median(baseline.1));
    let ratio = baseline.as_secs_f64() / ours.as_secs_f64();
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "move_pg {what} rows={rows} runs={runs} ours={ours:.3?} {name}={baseline:.3?} ratio={ratio:.2}x goal>={goal}x {} \
         peak_rss={peak:.1}MiB (goal<={RSS_GOAL} {}; aico-ams alone: VmHWM {own:.1}MiB) nproc={cpus}",
        verdict(ratio >= goal),
        verdict(peak <= RSS_GOAL),
    );
}

/// The facts line: ours vs `pgloader`, each into a fresh database of its own.
async fn facts(rows: u64, runs: usize) {
    let Some(pgloader) = on_path("pgloader") else {
        println!(
            "move_pg facts rows={rows}: SKIPPED: pgloader is not installed (Debian: apt-get install -y pgloader), \
             so there is no baseline"
        );
        return;
    };
    let install = Install::new(rows);
    let (mut theirs, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let Some(empty) = pg18_db().await else { return };
        // pgloader takes `postgresql://`, not the `postgres://` sqlx writes.
        let to = empty.url.replacen("postgres://", "postgresql://", 1);
        let mut command = Command::new(&pgloader);
        // At its defaults pgloader stops at 1,000,000 facts ("Heap exhausted, game over", 12 s in);
        // from there it gets the Lisp heap it needs, and is otherwise at its defaults.
        if rows >= PGLOADER_HEAP_FROM {
            command.args(["--dynamic-space-size", "4096"]);
        }
        command.arg(format!("sqlite://{}", install.db().display())).arg(&to);
        theirs.push(common::timed_with_peak_rss(command).0);
        let loaded = common::answer(&empty.url, "SELECT count(*)::text FROM user_memories").await;
        assert_eq!(loaded, [rows.to_string()], "pgloader left out rows (see its log in /tmp/pgloader)");
        drop(empty);
        let Some(aico) = aico_pg18(AicoPg::AsFile).await else { return };
        let indexes = common::answer(&aico.url, FACTS_INDEXES).await;
        assert!(
            indexes.len() > 12 && indexes.iter().any(|i| i.contains("FOREIGN KEY (user_id)")),
            "AICO's indexes and foreign key on its facts before the move: {indexes:?}"
        );
        ours.push(install.move_into(&aico.url, None));
        assert_eq!(common::answer(&aico.url, FACTS_INDEXES).await, indexes, "AICO's facts indexes after the move");
        let moved = "SELECT count(*)::text || ' ' || count(temporal_metadata)::text FROM aico_core.ams_user_memories";
        assert_eq!(
            common::answer(&aico.url, moved).await,
            [format!("{rows} {rows}")],
            "ours: facts or metadata missing"
        );
    }
    report("facts (pgloader's defaults vs ours into aico_core)", rows, runs, ("pgloader", theirs), ours, 1.0);
}

/// The segments line: ours vs AICO's script's SQL piped into `psql`, each into a fresh
/// `aico_core` with AICO's HNSW index.
async fn segments(rows: u64, runs: usize) {
    let Some(python) = aico_chromadb_python() else { return };
    let chroma = python.parent().expect("the venv's bin").join("chroma");
    let install = Install::new(0);
    let semantic = install.memory().join("semantic");
    std::fs::create_dir_all(&semantic).expect("mkdir semantic");
    let sql = install.dir.path().join("aico-script.sql");
    let made = Instant::now();
    let args = [semantic.to_str().expect("utf-8"), &rows.to_string(), USER, sql.to_str().expect("utf-8")];
    run_python(&python, MAKE_CHROMA, &args);
    eprintln!("store: {rows} segments and AICO's script's SQL in {:.1?}", made.elapsed());
    let count = "SELECT count(*)::text FROM aico_core.conversation_segments";
    let (mut theirs, mut ours, mut rebuilt) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs {
        let Some(aico) = aico_pg18(AicoPg::AsFile).await else { return };
        let mut command = Command::new(psql_program());
        command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &aico.url, "-f"]).arg(&sql);
        theirs.push(common::timed(command));
        assert_eq!(common::answer(&aico.url, count).await, [rows.to_string()], "psql: segments missing");
        drop(aico);
        let Some(aico) = aico_pg18(AicoPg::AsFile).await else { return };
        let index = index_of(&aico).await;
        assert!(index.ends_with(" valid=true"), "AICO's index before the move: {index}");
        let oid = common::answer(&aico.url, SEGMENTS_INDEX_OID).await;
        ours.push(install.move_into(&aico.url, Some(&chroma)));
        assert_eq!(common::answer(&aico.url, count).await, [rows.to_string()], "ours: segments missing");
        assert_eq!(index_of(&aico).await, index, "AICO's index after the move is not what it was");
        rebuilt += usize::from(common::answer(&aico.url, SEGMENTS_INDEX_OID).await != oid);
    }
    let what = format!(
        "segments (768-d, AICO's HNSW index; after ours valid, same definition, set aside and rebuilt in {rebuilt} of {runs} runs)"
    );
    report(&what, rows, runs, ("psql_aico_script", theirs), ours, 3.0);
}

/// AICO's index on the segments in `db`: its definition and validity (it must exist).
async fn index_of(db: &TestDb) -> String {
    let found = common::answer(&db.url, SEGMENTS_INDEX).await;
    assert_eq!(found.len(), 1, "AICO's index idx_conversation_segments_embedding: {found:?}");
    found.into_iter().next().unwrap_or_default()
}

/// A number of rows, `300000` or `300,000`.
fn count(text: &str) -> u64 {
    text.replace(',', "").parse().expect("a number of rows")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (mut facts_rows, mut segment_rows, mut runs) = (300_000u64, 50_000u64, 1usize);
    for arg in std::env::args().skip(1) {
        if let Some(n) = arg.strip_prefix("facts=") {
            facts_rows = count(n);
        } else if let Some(n) = arg.strip_prefix("segments=") {
            segment_rows = count(n);
        } else if let Some(n) = arg.strip_prefix("runs=") {
            runs = n.parse().expect("runs=N");
        }
    }
    if aico_tests::pg18_admin_url().is_none() {
        return;
    }
    if facts_rows > 0 {
        facts(facts_rows, runs).await;
    }
    if segment_rows > 0 {
        segments(segment_rows, runs).await;
    }
}
