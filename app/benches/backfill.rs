//! `aico-ams backfill` against the plain SQL that does the same update, each pair in the same run,
//! on facts shaped like a real AICO user's (see `aico_tests::shaped`: uuid4 keys in random order,
//! rows of ~300 bytes over a dozen columns, `created_at` in the mix of forms real databases hold):
//! `cargo bench -p aico-ams --bench backfill [-- ROWS]` (default 1,000,000).
//!
//! Lines and goals:
//! - `sqlite`: ≥ 0.8 × the set-based `UPDATE ... json_object(... strftime(...))` (the ceiling),
//!   ≥ 15 × the seed's approach (one UPDATE and commit per row, on a 20,000-row sample of the same
//!   table, extrapolated, through a connection set up as AICO sets up its own: WAL,
//!   `synchronous = FULL`), peak RSS ≤ 64 MiB; and how long each batch holds the write lock.
//! - `sqlite-ordered`: the same with ordered keys and canonical `...Z` timestamps, for comparison.
//! - `forms`: per-row cost of each form of `created_at` on tables holding only that form, on
//!   SQLite and PostgreSQL; an offset or a fraction ≤ 1.5 × the cost of `...Z`.
//! - `encrypted`: AICO's own `user_memories` (schema version 13), AICO-shaped, encrypted as AICO's
//!   files are (SQLite3 Multiple Ciphers, `PRAGMA rekey`): ≥ 0.8 × the same `UPDATE` run through
//!   SQLite3 Multiple Ciphers on that file; and what encryption costs against the plain file.
//! - `postgres`: ≥ 0.8 × the set-based `UPDATE ... json_build_object(...)`, on a copy of the
//!   migrated database (`CREATE DATABASE ... TEMPLATE`), so with the same indexes. Skipped with a
//!   message when no server is reachable.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aico_connect::target::Target;
use aico_tests::aico::{self as aico_db, AicoVersion};
use aico_tests::shaped::{self, Form, Keys, Table, Timestamps};
use aico_tests::{TestDb, pg_admin_url};
use migration::runner::{self, Command as Run};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

const SEED_SAMPLE: u64 = 20_000;

/// The set-based `UPDATE` that fills every fact of `table` in one statement: the ceiling.
fn ceiling_sql(backend: DbBackend, table: &str) -> String {
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

/// Run `aico-ams backfill` on `url` (with the database key `key`, if any): wall time, peak RSS
/// (from /proc VmHWM) and the write lock's hold time per batch (from its debug log).
fn ours(url: &str, key: Option<&str>) -> Backfilled {
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_aico-ams"));
    if let Some(key) = key {
        command.env("AICO_DB_KEY", key);
    }
    let mut child = command
        .env("RUST_LOG", "aico_ams::sql::backfill=debug")
        .env("NO_COLOR", "1")
        .args(["backfill", "--database-url", url])
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
        std::thread::sleep(Duration::from_millis(20));
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
    runner::run(&conn, &Target::from_url(url).expect("url"), Run::Up { steps: None }, |_| {}).await.expect("migrate");
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

/// Remove the SQLite file `path` with its WAL and shared-memory files.
fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn copy_db(from: &Path, to: &Path) {
    remove_db(to);
    std::fs::copy(from, to).expect("copy");
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Ours on one copy of `template` and the ceiling on another: (ours, ceiling).
async fn sqlite_pair(dir: &Path, template: &Path, table: &str) -> (Backfilled, Duration) {
    let ours_db = dir.join("ours.db");
    copy_db(template, &ours_db);
    let run = ours(&sqlite_url(&ours_db), None);
    let ceiling_db = dir.join("ceiling.db");
    copy_db(template, &ceiling_db);
    let conn = connect(&sqlite_url(&ceiling_db)).await;
    let ceiling = exec(&conn, &ceiling_sql(DbBackend::Sqlite, table)).await;
    conn.close().await.ok();
    (run, ceiling)
}

/// A fixed 32-byte key for the bench's encrypted copies (64 hex digits).
const BENCH_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Copy the plain SQLite file `from` to `to` and encrypt the copy as AICO's files are (SQLite3
/// Multiple Ciphers' `PRAGMA rekey`, in rollback-journal mode, which rekeying needs).
async fn encrypted_copy(from: &Path, to: &Path) {
    copy_db(from, to);
    let mut opts = sea_orm::ConnectOptions::new(sqlite_url(to));
    opts.max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Delete));
    let conn = Database::connect(opts).await.expect("open the copy");
    exec(&conn, &format!("PRAGMA rekey = 'x\"{BENCH_KEY}\"'")).await;
    conn.close().await.expect("close");
    assert!(!std::fs::read(to).expect("read").starts_with(b"SQLite format 3"), "the copy must be encrypted");
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    // Lines named on the command line (`sqlite`, `ordered`, `forms`, `encrypted`, `postgres`); all by default.
    let named: Vec<String> =
        std::env::args().skip(1).filter(|a| !a.starts_with('-') && a.parse::<u64>().is_err()).collect();
    let wanted = |line: &str| named.is_empty() || named.iter().any(|n| n == line);
    let dir = tempfile::tempdir().expect("temp dir");
    let template = dir.path().join("template.db");

    // SQLite, AICO-shaped.
    if wanted("sqlite") {
        eprintln!("sqlite: building {rows} AICO-shaped facts ...");
        seed_template(&template, rows, Keys::Uuid4, Timestamps::Aico).await;
        let (run, ceiling) = sqlite_pair(dir.path(), &template, "semantic_facts").await;
        let seed_db = dir.path().join("seed.db");
        copy_db(&template, &seed_db);
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
        let vs_ceiling = secs(ceiling) / secs(run.time);
        let vs_seed = secs(seed) / secs(run.time);
        let peak_mib = run.peak_kib as f64 / 1024.0;
        println!(
            "backfill sqlite aico-shaped rows={rows} ours={:.2?} ceiling={ceiling:.2?} seed_per_row~{seed:.2?} (from {SEED_SAMPLE}) \
         vs_ceiling={vs_ceiling:.2} (goal>=0.8 {}) vs_seed={vs_seed:.1} (goal>=15 {}) peak_rss={peak_mib:.1}MiB (goal<=64 {}) \
         write_lock_per_batch: batches={} p50={:.1}ms max={:.1}ms",
            run.time,
            verdict(vs_ceiling >= 0.8),
            verdict(vs_seed >= 15.0),
            verdict(peak_mib <= 64.0),
            run.lock_ms.len(),
            run.lock(0.5),
            run.lock(1.0),
        );
    }

    // SQLite, ordered keys and canonical timestamps (the earlier bench's data), for comparison.
    if wanted("ordered") {
        eprintln!("sqlite: building {rows} ordered facts ...");
        seed_template(&template, rows, Keys::Ordered, Timestamps::All(Form::Zulu)).await;
        let (ordered, ordered_ceiling) = sqlite_pair(dir.path(), &template, "semantic_facts").await;
        println!(
            "backfill sqlite ordered-keys,all-Z rows={rows} ours={:.2?} ceiling={ordered_ceiling:.2?} vs_ceiling={:.2}",
            ordered.time,
            secs(ordered_ceiling) / secs(ordered.time),
        );
    }

    // Each form alone: the cost per row.
    if wanted("forms") {
        let form_rows = (rows / 5).max(1000);
        let mut zulu = None;
        for form in [Form::Zulu, Form::Offset, Form::Micros, Form::NaiveT, Form::Space] {
            eprintln!("sqlite: building {form_rows} facts, all {form:?} ...");
            seed_template(&template, form_rows, Keys::Uuid4, Timestamps::All(form)).await;
            let db = dir.path().join("form.db");
            copy_db(&template, &db);
            let run = ours(&sqlite_url(&db), None);
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

    // AICO's own encrypted database.
    if wanted("encrypted") {
        eprintln!("sqlite encrypted: building AICO's database (version 13) with {rows} AICO-shaped facts ...");
        let aico_template = dir.path().join("aico-template.db");
        let url = format!("sqlite://{}?mode=rwc", aico_template.display());
        let conn = connect(&url).await;
        aico_db::build(&conn, AicoVersion::V13, 0).await;
        shaped::fill(&conn, Table::Aico, rows, Keys::Uuid4, Timestamps::Aico).await;
        runner::run(&conn, &Target::from_url(&url).expect("url"), Run::Up { steps: None }, |_| {})
            .await
            .expect("migrate");
        exec(&conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
        conn.close().await.expect("close");
        let (plain, plain_ceiling) = sqlite_pair(dir.path(), &aico_template, "user_memories").await;
        let enc_ours_db = dir.path().join("enc-ours.db");
        encrypted_copy(&aico_template, &enc_ours_db).await;
        let enc = ours(&sqlite_url(&enc_ours_db), Some(BENCH_KEY));
        let enc_ceiling_db = dir.path().join("enc-ceiling.db");
        encrypted_copy(&aico_template, &enc_ceiling_db).await;
        let keys = aico_connect::key::KeySources::from_env(Some(BENCH_KEY));
        let conn = Target::from_url(&sqlite_url(&enc_ceiling_db))
            .expect("url")
            .connect_with(None, &keys)
            .await
            .expect("open encrypted");
        let enc_ceiling = exec(&conn, &ceiling_sql(DbBackend::Sqlite, "user_memories")).await;
        conn.close().await.ok();
        let vs_enc_ceiling = secs(enc_ceiling) / secs(enc.time);
        println!(
            "backfill sqlite-encrypted aico user_memories rows={rows} ours={:.2?} ceiling={enc_ceiling:.2?} \
         vs_ceiling={vs_enc_ceiling:.2} (goal>=0.8 {}) encryption_cost: ours x{:.2}, ceiling x{:.2} vs the plain file \
         (plain: ours={:.2?} ceiling={plain_ceiling:.2?} vs_ceiling={:.2})",
            enc.time,
            verdict(vs_enc_ceiling >= 0.8),
            secs(enc.time) / secs(plain.time),
            secs(enc_ceiling) / secs(plain_ceiling),
            plain.time,
            secs(plain_ceiling) / secs(plain.time),
        );
    }

    // PostgreSQL, AICO-shaped; the ceiling on a copy made from the migrated database.
    if !wanted("postgres") {
        return;
    }
    let Some(db) = TestDb::postgres().await else { return };
    let Some(copy) = TestDb::postgres().await else { return };
    eprintln!("postgres: building {rows} AICO-shaped facts ...");
    seed_database(&db.url, rows, Keys::Uuid4, Timestamps::Aico).await;
    let name = |url: &str| url.rsplit_once('/').expect("database name").1.to_owned();
    let admin = Database::connect(pg_admin_url().as_str()).await.expect("admin");
    exec(&admin, &format!("DROP DATABASE {}", name(&copy.url))).await;
    exec(&admin, &format!("CREATE DATABASE {} TEMPLATE {}", name(&copy.url), name(&db.url))).await;
    admin.close().await.ok();
    let run = ours(&db.url, None);
    let conn = connect(&copy.url).await;
    let ceiling = exec(&conn, &ceiling_sql(DbBackend::Postgres, "semantic_facts")).await;
    conn.close().await.ok();
    let vs_ceiling = secs(ceiling) / secs(run.time);
    println!(
        "backfill postgres aico-shaped rows={rows} ours={:.2?} ceiling={ceiling:.2?} (same indexes) vs_ceiling={vs_ceiling:.2} \
         (goal>=0.8 {}) write_lock_per_batch: p50={:.1}ms max={:.1}ms sweep={:.0}ms",
        run.time,
        verdict(vs_ceiling >= 0.8),
        run.lock(0.5),
        run.lock(1.0),
        run.sweep_ms.unwrap_or(0.0),
    );
}
