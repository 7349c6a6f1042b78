//! `aico-ams backfill` against the plain SQL a user would run instead, each pair in the same run,
//! on facts shaped like a real AICO user's (see `aico_tests::shaped`: uuid4 keys in random order,
//! rows of ~300 bytes over a dozen columns, `created_at` in the mix of forms real databases hold):
//! `cargo bench -p aico-ams --bench backfill [-- SIZES] [LINES] [runs=N]`, where SIZES are fact
//! counts (`20000 100000` or `20000,100000`; default 20,000, 100,000, 300,000 and 1,000,000) and
//! LINES name what to run (all by default). With `runs=N` each pair is run N times, alternating,
//! and the medians are compared. `AICO_BENCH_DIR=DIR` keeps the files (each size's template and
//! the last copy of each side) in DIR, for a profiler.
//!
//! Every side is timed as a whole process, start to exit, on its own fresh copy of one template
//! file (written, migrated and checkpointed beforehand, so in the OS page cache for every side):
//! - **ours**: `aico-ams backfill --database-url sqlite://FILE` at its defaults;
//! - **the `UPDATE`** (the baseline): one set-based `UPDATE ... json_object(... strftime(...))`
//!   run by this bench binary as a process of its own (`backfill baseline FILE SQL`) through the
//!   same SQLite build `aico-ams` links (SQLite3 Multiple Ciphers, `aico-sqlite3mc`), the way the
//!   `sqlite3` shell runs it: `sqlite3_open_v2`, `sqlite3_exec`, `sqlite3_close`, SQLite's default
//!   settings (journal WAL, which the file keeps; `synchronous = FULL`; `cache_size = -2000`);
//! - **the shell**: the system's `sqlite3` shell running the same SQL (`sqlite3 FILE SQL`);
//! - **the floor**: the same `UPDATE` setting a constant text of the same length on every fact
//!   without metadata, through SQLite3 Multiple Ciphers as above: what writing the bytes costs.
//!
//! Lines and goals:
//! - `sqlite`: ≥ 1.0 × the `UPDATE`; the ratio against the shell; ≥ 0.6 × the floor (at 300,000
//!   facts and more); ≥ 15 × the seed's approach (one UPDATE and commit per row, on a 20,000-row
//!   sample of the same table, extrapolated, through a connection set up as AICO sets up its own:
//!   WAL, `synchronous = FULL`); peak RSS ≤ 64 MiB; how long each batch holds the write lock.
//! - `small`: a real AICO database's size, 2,000 facts: the whole `backfill` process ≤ 50 ms
//!   (median of 11 runs).
//! - `batches` (only when named): ours at batch sizes from 1000 to 10,000, against the `UPDATE`,
//!   with each size's lock-hold time: whether a batch that sized itself could do better than 5000.
//! - `ordered`: the same with ordered keys and canonical `...Z` timestamps, for comparison.
//! - `forms`: per-row cost of each form of `created_at` on tables holding only that form, on
//!   SQLite and PostgreSQL; an offset or a fraction ≤ 1.5 × the cost of `...Z`.
//! - `encrypted`: AICO's own `user_memories` (schema version 13), AICO-shaped, encrypted as AICO's
//!   files are (SQLite3 Multiple Ciphers, `PRAGMA rekey`): ≥ 1.0 × the same `UPDATE` run through
//!   SQLite3 Multiple Ciphers on that file (`PRAGMA key` first); and what encryption costs.
//! - `postgres`: ≥ 1.0 × the set-based `UPDATE ... json_build_object(...)` run by `psql -c`, on a
//!   copy of the migrated database (`CREATE DATABASE ... TEMPLATE`), so with the same indexes.

mod common;

use std::ffi::{CString, c_char};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aico_connect::target::Target;
use aico_tests::aico::{self as aico_db, AicoVersion};
use aico_tests::shaped::{self, Form, Keys, Table, Timestamps};
use aico_tests::{TestDb, pg_admin_url};
use entity::values::{TemporalMetadata, Timestamp};
use libsqlite3_sys as ffi;
use migration::runner::{self, Command as Run};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

const SEED_SAMPLE: u64 = 20_000;

/// The set-based `UPDATE` that fills every fact of `table` in one statement: the baseline.
fn update_sql(backend: DbBackend, table: &str) -> String {
    match backend {
        DbBackend::Postgres => {
            // The shape test keeps the cast from failing on text that is no timestamp.
            let t = "to_char(CAST(created_at AS timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
            format!(
                "UPDATE {table} SET temporal_metadata = json_build_object('created_at', {t}, 'last_updated', {t}, \
                 'last_accessed', {t}, 'access_count', 0, 'confidence', 1.0, 'version', 1, 'superseded_by', NULL) \
                 WHERE temporal_metadata IS NULL AND created_at ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}[ T]\\d{{2}}:\\d{{2}}:\\d{{2}}' \
                 AND created_at NOT LIKE '____-02-3%'"
            )
        }
        _ => {
            let t = "strftime('%Y-%m-%dT%H:%M:%SZ', created_at)";
            format!(
                "UPDATE {table} SET temporal_metadata = json_object('created_at', {t}, 'last_updated', {t}, \
                 'last_accessed', {t}, 'access_count', 0, 'confidence', 1.0, 'version', 1, 'superseded_by', NULL) \
                 WHERE temporal_metadata IS NULL AND {t} IS NOT NULL"
            )
        }
    }
}

/// The floor: the same `UPDATE` setting the metadata of one instant (a constant text of the length
/// ours writes) on every fact of `table` without metadata.
fn floor_sql(table: &str) -> String {
    let constant = TemporalMetadata::initial_json_string(Timestamp::parse("2025-01-01T00:00:00Z").expect("instant"));
    format!("UPDATE {table} SET temporal_metadata = '{constant}' WHERE temporal_metadata IS NULL")
}

/// The baseline's own process: `backfill baseline FILE SQL [KEY]` opens FILE through the SQLite
/// this binary links (SQLite3 Multiple Ciphers) as the `sqlite3` shell does, with SQLite's default
/// settings, gives it the raw key KEY (64 hex digits) if there is one, runs SQL and closes it.
fn baseline_process(args: &[String]) -> ! {
    let [file, sql, rest @ ..] = args else { panic!("usage: backfill baseline FILE SQL [KEY]") };
    let c = |text: &str| CString::new(text).expect("no NUL");
    let (file, sql) = (c(file), c(sql));
    let key = rest.first().map(|key| c(&format!("PRAGMA key = 'x\"{key}\"'")));
    let mut db = std::ptr::null_mut();
    // SAFETY: plain use of SQLite's C API on a handle this function owns: NUL-terminated strings
    // that outlive the calls, and the handle closed last.
    unsafe {
        let rc = ffi::sqlite3_open_v2(file.as_ptr(), &mut db, ffi::SQLITE_OPEN_READWRITE, std::ptr::null());
        assert_eq!(rc, ffi::SQLITE_OK, "open {file:?}");
        for sql in key.iter().chain([&sql]) {
            let mut err: *mut c_char = std::ptr::null_mut();
            let rc = ffi::sqlite3_exec(db, sql.as_ptr(), None, std::ptr::null_mut(), &mut err);
            if rc != ffi::SQLITE_OK {
                let message = std::ffi::CStr::from_ptr(err).to_string_lossy();
                panic!("baseline failed ({rc}): {message}");
            }
        }
        assert_eq!(ffi::sqlite3_close(db), ffi::SQLITE_OK, "close");
    }
    std::process::exit(0)
}

/// This bench as the baseline's process, on `file` (with `key`, if any).
fn baseline(file: &Path, sql: &str, key: Option<&str>) -> Duration {
    let mut command = Command::new(std::env::current_exe().expect("this bench"));
    command.arg("baseline").arg(file).arg(sql).args(key);
    common::timed(command)
}

/// The system's `sqlite3` shell running `sql` on `file`.
fn shell(file: &Path, sql: &str) -> Duration {
    let mut command = Command::new("sqlite3");
    command.arg(file).arg(sql);
    common::timed(command)
}

/// `psql` running `sql` on the database `url`.
fn psql(url: &str, sql: &str) -> Duration {
    common::psql_with(Path::new("psql"), url, sql)
}

/// What one run of `aico-ams backfill` took.
struct Backfilled {
    time: Duration,
    peak_kib: u64,
    /// How long each batch held the write lock, in milliseconds, sorted.
    lock_ms: Vec<f64>,
    /// How long PostgreSQL's final sweep took, in milliseconds (from its debug log).
    sweep_ms: Option<f64>,
}

impl Backfilled {
    fn lock(&self, quantile: f64) -> f64 {
        match self.lock_ms.len() {
            0 => 0.0,
            n => self.lock_ms[((n - 1) as f64 * quantile).round() as usize],
        }
    }
}

/// Run `aico-ams backfill` on `url` (with the database key `key`, if any): wall time, start to
/// exit, peak RSS (from /proc VmHWM) and the write lock's hold time per batch (its debug log).
fn ours(url: &str, key: Option<&str>) -> Backfilled {
    ours_with(url, key, &[])
}

/// [`ours`] with more arguments for `aico-ams backfill` (`--batch-size N`).
fn ours_with(url: &str, key: Option<&str>, more: &[&str]) -> Backfilled {
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_aico-ams"));
    if let Some(key) = key {
        command.env("AICO_DB_KEY", key);
    }
    let mut child = command
        .env("RUST_LOG", "aico_ams::sql::backfill=debug")
        .env("NO_COLOR", "1")
        .args(["backfill", "--database-url", url])
        .args(more)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aico");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let (mut lock_ms, mut sweep_ms) = (Vec::new(), None);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some((_, ms)) = line.split_once("sweep_ms=") {
                sweep_ms = ms.split_whitespace().next().and_then(|v| v.parse::<f64>().ok());
            }
            match line.split_once("write_lock_ms=") {
                // Batches that filled nothing (past the rows to fill) are not counted.
                Some(_) if line.contains(" rows=0 ") => {}
                Some((_, ms)) => lock_ms.extend(ms.split_whitespace().next().and_then(|v| v.parse::<f64>().ok())),
                None if !line.contains("DEBUG") && !line.contains(" INFO ") => eprintln!("{line}"),
                None => {}
            }
        }
        (lock_ms, sweep_ms)
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak_kib = peak_kib.max(line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("poll") {
            // 1: done, with facts whose created_at is unreadable listed (the data holds some).
            assert!(matches!(status.code(), Some(0 | 1)), "aico-ams backfill failed: {status}");
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let time = started.elapsed();
    let (mut lock_ms, sweep_ms) = reader.join().expect("stderr reader");
    lock_ms.sort_by(f64::total_cmp);
    Backfilled { time, peak_kib, lock_ms, sweep_ms }
}

async fn exec(conn: &DatabaseConnection, sql: &str) -> Duration {
    let started = Instant::now();
    conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned())).await.expect(sql);
    started.elapsed()
}

/// The seed's script: one UPDATE (and commit) per fact, on a sample of the facts that have a
/// timestamp; extrapolated to `rows`.
async fn seed_per_row(conn: &DatabaseConnection, rows: u64) -> Duration {
    let facts = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!(
                "SELECT id, created_at FROM semantic_facts WHERE temporal_metadata IS NULL AND created_at IS NOT NULL \
                 LIMIT {SEED_SAMPLE}"
            ),
        ))
        .await
        .expect("sample");
    let started = Instant::now();
    for row in &facts {
        let id: String = row.try_get("", "id").expect("id");
        let at: String = row.try_get("", "created_at").expect("created_at");
        let meta = format!(
            r#"{{"created_at": "{at}", "last_updated": "{at}", "last_accessed": "{at}", "access_count": 0, "confidence": 1.0, "version": 1, "superseded_by": null}}"#
        );
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE semantic_facts SET temporal_metadata = ? WHERE id = ?",
            [meta.into(), id.into()],
        ))
        .await
        .expect("update");
    }
    started.elapsed().mul_f64(rows as f64 / facts.len() as f64)
}

async fn connect(url: &str) -> DatabaseConnection {
    Target::from_url(url).expect("url").connect(None).await.expect("connect")
}

/// Fill the empty database `url` with `rows` facts of the seed's layout and migrate it, then
/// settle it: SQLite's WAL checkpointed into the file (so that a copy of the file is whole),
/// PostgreSQL's statistics gathered.
async fn seed_database(url: &str, rows: u64, keys: Keys, timestamps: Timestamps) {
    let conn = connect(url).await;
    shaped::fill(&conn, Table::Seed, rows, keys, timestamps).await;
    let target = Target::from_url(url).expect("url");
    runner::run(&conn, &target, Run::Up { steps: None }, &Default::default(), |_| {}).await.expect("migrate");
    let settle = match conn.get_database_backend() {
        DbBackend::Postgres => "VACUUM ANALYZE semantic_facts",
        _ => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    exec(&conn, settle).await;
    conn.close().await.expect("close");
}

/// A migrated SQLite file at `path` holding `rows` facts of the seed's layout, checkpointed.
async fn seed_template(path: &Path, rows: u64, keys: Keys, timestamps: Timestamps) {
    remove_db(path);
    seed_database(&format!("sqlite://{}?mode=rwc", path.display()), rows, keys, timestamps).await;
}

/// AICO's own database (schema version 13) at `path`, holding `rows` AICO-shaped facts in
/// `user_memories`, migrated and checkpointed.
async fn aico_template(path: &Path, rows: u64) {
    remove_db(path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let conn = connect(&url).await;
    aico_db::build(&conn, AicoVersion::V13, 0).await;
    shaped::fill(&conn, Table::Aico, rows, Keys::Uuid4, Timestamps::Aico).await;
    let target = Target::from_url(&url).expect("url");
    runner::run(&conn, &target, Run::Up { steps: None }, &Default::default(), |_| {}).await.expect("migrate");
    exec(&conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    conn.close().await.expect("close");
}

/// Remove the SQLite file `path` with its WAL and shared-memory files.
fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A fresh copy of `template` named `name` beside it.
fn copy_of(template: &Path, name: &str) -> PathBuf {
    let to = template.with_file_name(name);
    remove_db(&to);
    std::fs::copy(template, &to).expect("copy");
    to
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A fixed 32-byte key for the bench's encrypted copies (64 hex digits).
const BENCH_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Encrypt the plain SQLite file `path` in place as AICO's files are (SQLite3 Multiple Ciphers'
/// `PRAGMA rekey`, in rollback-journal mode, which rekeying needs; then back to WAL, as AICO
/// keeps it).
async fn encrypt(path: &Path) {
    let mut opts = sea_orm::ConnectOptions::new(sqlite_url(path));
    opts.max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Delete));
    let conn = Database::connect(opts).await.expect("open the copy");
    exec(&conn, &format!("PRAGMA rekey = 'x\"{BENCH_KEY}\"'")).await;
    exec(&conn, "PRAGMA journal_mode = WAL").await;
    exec(&conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    conn.close().await.expect("close");
    assert!(!std::fs::read(path).expect("read").starts_with(b"SQLite format 3"), "the copy must be encrypted");
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The median of `runs`.
fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// The run of ours with the median time.
fn median_run(mut runs: Vec<Backfilled>) -> Backfilled {
    runs.sort_by_key(|run| run.time);
    runs.swap_remove(runs.len() / 2)
}

fn per_sec(rows: u64, time: Duration) -> f64 {
    rows as f64 / secs(time)
}

/// The bench's command line.
struct Args {
    sizes: Vec<u64>,
    lines: Vec<String>,
    runs: usize,
}

impl Args {
    fn parse() -> Self {
        let (mut sizes, mut lines, mut runs) = (Vec::new(), Vec::new(), 1);
        for arg in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
            if let Some(n) = arg.strip_prefix("runs=") {
                runs = n.parse().expect("runs=N");
            } else if arg.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                sizes.extend(arg.split(',').map(|n| n.replace('_', "").parse::<u64>().expect("a fact count")));
            } else {
                lines.push(arg);
            }
        }
        if sizes.is_empty() {
            sizes = vec![20_000, 100_000, 300_000, 1_000_000];
        }
        Self { sizes, lines, runs }
    }

    fn wanted(&self, line: &str) -> bool {
        self.lines.is_empty() || self.lines.iter().any(|n| n == line)
    }
}

/// The `sqlite` line at `rows` facts.
async fn sqlite_line(dir: &Path, rows: u64, runs: usize) {
    eprintln!("sqlite: building {rows} AICO-shaped facts ...");
    let template = dir.join("template.db");
    seed_template(&template, rows, Keys::Uuid4, Timestamps::Aico).await;
    let (update, floor) = (update_sql(DbBackend::Sqlite, "semantic_facts"), floor_sql("semantic_facts"));
    let (mut our_runs, mut updates, mut shells, mut floors) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        our_runs.push(ours(&sqlite_url(&copy_of(&template, "ours.db")), None));
        updates.push(baseline(&copy_of(&template, "update.db"), &update, None));
        shells.push(shell(&copy_of(&template, "shell.db"), &update));
        floors.push(baseline(&copy_of(&template, "floor.db"), &floor, None));
    }
    let (run, update, shell, floor) = (median_run(our_runs), median(updates), median(shells), median(floors));
    let seed_db = copy_of(&template, "seed.db");
    // The seed's script runs through AICO's connection, which AICO opens in WAL mode with
    // `synchronous = FULL` (its config/defaults/database.yaml): one connection, so the pragma holds.
    let mut opts = sea_orm::ConnectOptions::new(sqlite_url(&seed_db));
    opts.max_connections(1).sqlx_logging(false).map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
    });
    let conn = Database::connect(opts).await.expect("open as AICO does");
    let seed = seed_per_row(&conn, rows).await;
    conn.close().await.ok();
    let vs_update = secs(update) / secs(run.time);
    let vs_floor = secs(floor) / secs(run.time);
    let vs_seed = secs(seed) / secs(run.time);
    let peak_mib = run.peak_kib as f64 / 1024.0;
    let floor_goal = if rows >= 300_000 { verdict(vs_floor >= 0.6) } else { "no goal" };
    println!(
        "backfill sqlite aico-shaped rows={rows} runs={runs} ours={:.3?} ({:.0} rows/s) update={update:.3?} shell={shell:.3?} \
         floor={floor:.3?} ({:.0} rows/s) vs_update={vs_update:.2} (goal>=1.0 {}) vs_shell={:.2} vs_floor={vs_floor:.2} \
         (goal>=0.6 {floor_goal}) seed_per_row~{seed:.2?} vs_seed={vs_seed:.1} (goal>=15 {}) peak_rss={peak_mib:.1}MiB \
         (goal<=64 {}) write_lock_per_batch: batches={} p50={:.1}ms max={:.1}ms",
        run.time,
        per_sec(rows, run.time),
        per_sec(rows, floor),
        verdict(vs_update >= 1.0),
        secs(shell) / secs(run.time),
        verdict(vs_seed >= 15.0),
        verdict(peak_mib <= 64.0),
        run.lock_ms.len(),
        run.lock(0.5),
        run.lock(1.0),
    );
}

/// Batch sizes the `batches` line compares: `--batch-size`'s range, 1 to 10,000, from 1000 up (the
/// default, 5000, among them).
const BATCH_SIZES: [u64; 5] = [1000, 2500, 5000, 7500, 10_000];

/// The `batches` line at `rows` facts: ours at each fixed batch size, alternating, against the
/// `UPDATE`. A batch that sized itself to a target lock-hold time would settle on one of these
/// sizes, so the best of them bounds what it could reach.
async fn batches_line(dir: &Path, rows: u64, runs: usize) {
    eprintln!("sqlite batches: building {rows} AICO-shaped facts ...");
    let template = dir.join("template.db");
    seed_template(&template, rows, Keys::Uuid4, Timestamps::Aico).await;
    let update = update_sql(DbBackend::Sqlite, "semantic_facts");
    let mut by_size: Vec<Vec<Backfilled>> = BATCH_SIZES.iter().map(|_| Vec::new()).collect();
    let mut updates = Vec::new();
    for _ in 0..runs {
        for (size, runs) in BATCH_SIZES.iter().zip(&mut by_size) {
            let size = size.to_string();
            runs.push(ours_with(&sqlite_url(&copy_of(&template, "ours.db")), None, &["--batch-size", &size]));
        }
        updates.push(baseline(&copy_of(&template, "update.db"), &update, None));
    }
    let update = median(updates);
    for (size, runs) in BATCH_SIZES.iter().zip(by_size) {
        let n = runs.len();
        let run = median_run(runs);
        println!(
            "backfill sqlite aico-shaped rows={rows} runs={n} batch_size={size} ours={:.3?} ({:.0} rows/s) \
             update={update:.3?} vs_update={:.2} write_lock_per_batch: batches={} p50={:.1}ms max={:.1}ms",
            run.time,
            per_sec(rows, run.time),
            secs(update) / secs(run.time),
            run.lock_ms.len(),
            run.lock(0.5),
            run.lock(1.0),
        );
    }
}

/// The `encrypted` line at `rows` facts.
async fn encrypted_line(dir: &Path, rows: u64, runs: usize) {
    eprintln!("sqlite encrypted: building AICO's database (version 13) with {rows} AICO-shaped facts ...");
    let plain = dir.join("aico-template.db");
    aico_template(&plain, rows).await;
    let encrypted = copy_of(&plain, "aico-encrypted-template.db");
    encrypt(&encrypted).await;
    let update = update_sql(DbBackend::Sqlite, "user_memories");
    let (mut enc_ours, mut enc_updates, mut plain_ours, mut plain_updates) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        enc_ours.push(ours(&sqlite_url(&copy_of(&encrypted, "enc-ours.db")), Some(BENCH_KEY)));
        enc_updates.push(baseline(&copy_of(&encrypted, "enc-update.db"), &update, Some(BENCH_KEY)));
        plain_ours.push(ours(&sqlite_url(&copy_of(&plain, "plain-ours.db")), None));
        plain_updates.push(baseline(&copy_of(&plain, "plain-update.db"), &update, None));
    }
    let (enc, enc_update) = (median_run(enc_ours), median(enc_updates));
    let (plain, plain_update) = (median_run(plain_ours), median(plain_updates));
    let vs_update = secs(enc_update) / secs(enc.time);
    println!(
        "backfill sqlite-encrypted aico user_memories rows={rows} runs={runs} ours={:.3?} update={enc_update:.3?} \
         vs_update={vs_update:.2} (goal>=1.0 {}) write_lock_per_batch: p50={:.1}ms max={:.1}ms \
         encryption_cost: ours x{:.2}, update x{:.2} (plain: ours={:.3?} update={plain_update:.3?} vs_update={:.2})",
        enc.time,
        verdict(vs_update >= 1.0),
        enc.lock(0.5),
        enc.lock(1.0),
        secs(enc.time) / secs(plain.time),
        secs(enc_update) / secs(plain_update),
        plain.time,
        secs(plain_update) / secs(plain.time),
    );
}

/// The `postgres` line at `rows` facts; false when no server is reachable.
async fn postgres_line(rows: u64, runs: usize) -> bool {
    let Some(template) = TestDb::postgres().await else { return false };
    eprintln!("postgres: building {rows} AICO-shaped facts ...");
    seed_database(&template.url, rows, Keys::Uuid4, Timestamps::Aico).await;
    let name = |url: &str| url.rsplit_once('/').expect("database name").1.to_owned();
    let admin = Database::connect(pg_admin_url().as_str()).await.expect("admin");
    // A fresh copy of the template for one side.
    let copy = async || {
        let db = TestDb::postgres().await.expect("server");
        exec(&admin, &format!("DROP DATABASE {}", name(&db.url))).await;
        exec(&admin, &format!("CREATE DATABASE {} TEMPLATE {}", name(&db.url), name(&template.url))).await;
        db
    };
    let update = update_sql(DbBackend::Postgres, "semantic_facts");
    let (mut our_runs, mut updates) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let db = copy().await;
        our_runs.push(ours(&db.url, None));
        drop(db);
        let db = copy().await;
        updates.push(psql(&db.url, &update));
        drop(db);
    }
    admin.close().await.ok();
    let (run, update) = (median_run(our_runs), median(updates));
    let vs_update = secs(update) / secs(run.time);
    println!(
        "backfill postgres aico-shaped rows={rows} runs={runs} ours={:.3?} psql_update={update:.3?} (same indexes) \
         vs_update={vs_update:.2} (goal>=1.0 {}) write_lock_per_batch: p50={:.1}ms max={:.1}ms sweep={:.0}ms",
        run.time,
        verdict(vs_update >= 1.0),
        run.lock(0.5),
        run.lock(1.0),
        run.sweep_ms.unwrap_or(0.0),
    );
    true
}

#[tokio::main]
async fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("baseline") {
        baseline_process(&argv[2..]);
    }
    let args = Args::parse();
    // `AICO_BENCH_DIR` keeps the files (the templates and the last copies) for a profiler.
    let temp = tempfile::tempdir().expect("temp dir");
    let kept = std::env::var_os("AICO_BENCH_DIR").map(PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temp.path());
    std::fs::create_dir_all(dir).expect("the bench's directory");
    let template = dir.join("template.db");

    if args.wanted("small") {
        eprintln!("sqlite: building 2000 AICO-shaped facts ...");
        seed_template(&template, 2000, Keys::Uuid4, Timestamps::Aico).await;
        let times: Vec<Duration> =
            (0..11).map(|_| ours(&sqlite_url(&copy_of(&template, "small.db")), None).time).collect();
        let time = median(times);
        println!(
            "backfill sqlite aico-shaped rows=2000 whole process (median of 11) ours={time:.1?} (goal<=50ms {})",
            verdict(time <= Duration::from_millis(50))
        );
    }

    for &rows in &args.sizes {
        if args.wanted("sqlite") {
            sqlite_line(dir, rows, args.runs).await;
        }
        // Not among the lines run by default: six runs of ours per size.
        if args.lines.iter().any(|l| l == "batches") {
            batches_line(dir, rows, args.runs).await;
        }
    }

    // SQLite, ordered keys and canonical timestamps (the earlier bench's data), for comparison.
    if args.wanted("ordered") {
        let rows = args.sizes[args.sizes.len() - 1];
        eprintln!("sqlite: building {rows} ordered facts ...");
        seed_template(&template, rows, Keys::Ordered, Timestamps::All(Form::Zulu)).await;
        let run = ours(&sqlite_url(&copy_of(&template, "ours.db")), None);
        let update = baseline(&copy_of(&template, "update.db"), &update_sql(DbBackend::Sqlite, "semantic_facts"), None);
        println!(
            "backfill sqlite ordered-keys,all-Z rows={rows} ours={:.3?} update={update:.3?} vs_update={:.2}",
            run.time,
            secs(update) / secs(run.time),
        );
    }

    // Each form alone: the cost per row.
    if args.wanted("forms") {
        let form_rows = (args.sizes[args.sizes.len() - 1] / 5).max(1000);
        let mut zulu = None;
        for form in [Form::Zulu, Form::Offset, Form::Micros, Form::NaiveT, Form::Space] {
            eprintln!("sqlite: building {form_rows} facts, all {form:?} ...");
            seed_template(&template, form_rows, Keys::Uuid4, Timestamps::All(form)).await;
            let run = ours(&sqlite_url(&copy_of(&template, "form.db")), None);
            let per_row_us = secs(run.time) * 1e6 / form_rows as f64;
            let base = *zulu.get_or_insert(per_row_us);
            let ratio = per_row_us / base;
            println!(
                "backfill sqlite form={form:?} rows={form_rows} ours={:.2?} per_row={per_row_us:.2}us vs_Z=x{ratio:.2} (goal<=1.5 {})",
                run.time,
                verdict(ratio <= 1.5)
            );
        }
        // The same on PostgreSQL, where offsets and fractions are normalised in SQL.
        let mut zulu = None;
        for form in [Form::Zulu, Form::Offset, Form::Micros] {
            let Some(db) = TestDb::postgres().await else { break };
            eprintln!("postgres: building {form_rows} facts, all {form:?} ...");
            seed_database(&db.url, form_rows, Keys::Uuid4, Timestamps::All(form)).await;
            let run = ours(&db.url, None);
            let per_row_us = secs(run.time) * 1e6 / form_rows as f64;
            let ratio = per_row_us / *zulu.get_or_insert(per_row_us);
            println!(
                "backfill postgres form={form:?} rows={form_rows} ours={:.2?} per_row={per_row_us:.2}us vs_Z=x{ratio:.2} (goal<=1.5 {})",
                run.time,
                verdict(ratio <= 1.5)
            );
        }
    }

    for &rows in &args.sizes {
        if args.wanted("encrypted") {
            encrypted_line(dir, rows, args.runs).await;
        }
    }

    for &rows in &args.sizes {
        if args.wanted("postgres") && !postgres_line(rows, args.runs).await {
            eprintln!("postgres: no server reachable; the postgres line is skipped");
            break;
        }
    }
}
