//! `aico db backfill` on 1,000,000 facts against the plain SQL that does the same update, in the
//! same run: `cargo bench -p aico --bench backfill [-- ROWS]`.
//!
//! Goals: SQLite ≥ 0.5 × the set-based `UPDATE ... json_object(...) WHERE temporal_metadata IS
//! NULL` (the ceiling) and ≥ 10 × the seed's approach (one UPDATE and commit per row, measured on a
//! sample and extrapolated), with peak RSS ≤ 100 MiB; PostgreSQL ≥ 0.5 × its set-based ceiling
//! (skipped with a message when no server is reachable). AICO's encrypted file: the same facts in a
//! copy encrypted by SQLite3 Multiple Ciphers (`PRAGMA rekey`, AICO's cipher), ours ≥ 0.8 × the
//! same set-based `UPDATE` run through SQLite3 Multiple Ciphers on that file; and what encryption
//! costs against the plain file.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aico_tests::{TestDb, fill_facts};
use migration::runner::{self, Command as Run};
use migration::target::Target;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

const SEED_SAMPLE: u64 = 2_000;

fn sql(conn_backend: DbBackend) -> &'static str {
    match conn_backend {
        DbBackend::Postgres => {
            "UPDATE semantic_facts SET temporal_metadata = json_build_object('created_at', created_at, \
            'last_updated', created_at, 'last_accessed', created_at, 'access_count', 0, 'confidence', 1.0, 'version', 1, \
            'superseded_by', NULL) WHERE temporal_metadata IS NULL"
        }
        _ => {
            "UPDATE semantic_facts SET temporal_metadata = json_object('created_at', created_at, 'last_updated', created_at, \
            'last_accessed', created_at, 'access_count', 0, 'confidence', 1.0, 'version', 1, 'superseded_by', NULL) \
            WHERE temporal_metadata IS NULL"
        }
    }
}

/// Run `aico db backfill` on `url` (with the database key `key`, if any); wall time and peak RSS
/// (KiB, from /proc VmHWM).
fn ours(url: &str, key: Option<&str>) -> (Duration, u64) {
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_aico"));
    if let Some(key) = key {
        command.env("AICO_DB_KEY", key);
    }
    let mut child = command
        .args(["db", "backfill", "--database-url", url])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn aico");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak_kib = peak_kib.max(line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("poll") {
            assert!(status.success(), "aico db backfill failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (started.elapsed(), peak_kib)
}

async fn exec(conn: &DatabaseConnection, sql: &str) -> Duration {
    let started = Instant::now();
    conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned())).await.expect(sql);
    started.elapsed()
}

/// The seed's script: one UPDATE (and commit) per fact, on a sample; extrapolated to `rows`.
async fn seed_per_row(conn: &DatabaseConnection, rows: u64) -> Duration {
    let facts = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT id, created_at FROM semantic_facts WHERE temporal_metadata IS NULL LIMIT {SEED_SAMPLE}"),
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

async fn prepared(url: &str, rows: u64) -> (Target, DatabaseConnection) {
    let target = Target::from_url(url).expect("url");
    let conn = target.connect(None).await.expect("connect");
    fill_facts(&conn, rows, false).await;
    runner::run(&conn, &target, Run::Up { steps: None }, |_| {}).await.expect("migrate");
    (target, conn)
}

fn copy_db(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
    }
    std::fs::copy(from, to).expect("copy");
}

/// A fixed 32-byte key for the bench's encrypted copy (64 hex digits).
const BENCH_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Copy the plain SQLite file `from` to `to` and encrypt the copy as AICO's files are (SQLite3
/// Multiple Ciphers' `PRAGMA rekey`, in rollback-journal mode, which rekeying needs).
async fn encrypted_copy(from: &Path, to: &Path) {
    copy_db(from, to);
    let mut opts = sea_orm::ConnectOptions::new(format!("sqlite://{}", to.display()));
    opts.max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Delete));
    let conn = sea_orm::Database::connect(opts).await.expect("open the copy");
    exec(&conn, &format!("PRAGMA rekey = 'x\"{BENCH_KEY}\"'")).await;
    conn.close().await.expect("close");
    assert!(!std::fs::read(to).expect("read").starts_with(b"SQLite format 3"), "the copy must be encrypted");
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);

    // SQLite.
    let dir = tempfile::tempdir().expect("temp dir");
    let template = dir.path().join("template.db");
    eprintln!("sqlite: building {rows} facts ...");
    let (_, conn) = prepared(&format!("sqlite://{}?mode=rwc", template.display()), rows).await;
    exec(&conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    conn.close().await.expect("close");

    let ours_db = dir.path().join("ours.db");
    copy_db(&template, &ours_db);
    let (ours_time, peak_kib) = ours(&format!("sqlite://{}", ours_db.display()), None);

    let ceiling_db = dir.path().join("ceiling.db");
    copy_db(&template, &ceiling_db);
    let conn = Target::from_url(&format!("sqlite://{}", ceiling_db.display()))
        .expect("url")
        .connect(None)
        .await
        .expect("open");
    let ceiling = exec(&conn, sql(DbBackend::Sqlite)).await;
    conn.close().await.ok();

    let seed_db = dir.path().join("seed.db");
    copy_db(&template, &seed_db);
    let conn =
        Target::from_url(&format!("sqlite://{}", seed_db.display())).expect("url").connect(None).await.expect("open");
    let seed = seed_per_row(&conn, rows).await;
    conn.close().await.ok();

    let vs_ceiling = ceiling.as_secs_f64() / ours_time.as_secs_f64();
    let vs_seed = seed.as_secs_f64() / ours_time.as_secs_f64();
    let peak_mib = peak_kib as f64 / 1024.0;
    println!(
        "backfill sqlite rows={rows} ours={ours_time:.2?} ceiling={ceiling:.2?} seed_per_row~{seed:.2?} (from {SEED_SAMPLE}) \
         vs_ceiling={vs_ceiling:.2} (goal>=0.5 {}) vs_seed={vs_seed:.1} (goal>=10 {}) peak_rss={peak_mib:.1}MiB (goal<=100 {})",
        verdict(vs_ceiling >= 0.5),
        verdict(vs_seed >= 10.0),
        verdict(peak_mib <= 100.0)
    );

    // AICO's encrypted file: the same facts, encrypted.
    eprintln!("sqlite encrypted: encrypting copies ...");
    let enc_ours = dir.path().join("enc-ours.db");
    encrypted_copy(&template, &enc_ours).await;
    let (enc_ours_time, _) = ours(&format!("sqlite://{}", enc_ours.display()), Some(BENCH_KEY));
    let enc_ceiling_db = dir.path().join("enc-ceiling.db");
    encrypted_copy(&template, &enc_ceiling_db).await;
    let keys = migration::key::KeySources::from_env(Some(BENCH_KEY));
    let conn = Target::from_url(&format!("sqlite://{}", enc_ceiling_db.display()))
        .expect("url")
        .connect_with(None, &keys)
        .await
        .expect("open encrypted");
    let enc_ceiling = exec(&conn, sql(DbBackend::Sqlite)).await;
    conn.close().await.ok();
    let vs_enc_ceiling = enc_ceiling.as_secs_f64() / enc_ours_time.as_secs_f64();
    println!(
        "backfill sqlite-encrypted rows={rows} ours={enc_ours_time:.2?} ceiling={enc_ceiling:.2?} \
         vs_ceiling={vs_enc_ceiling:.2} (goal>=0.8 {}) encryption_cost: ours x{:.2}, ceiling x{:.2} vs the plain file",
        verdict(vs_enc_ceiling >= 0.8),
        enc_ours_time.as_secs_f64() / ours_time.as_secs_f64(),
        enc_ceiling.as_secs_f64() / ceiling.as_secs_f64(),
    );

    // PostgreSQL.
    let Some(db) = TestDb::postgres().await else { return };
    eprintln!("postgres: building {rows} facts ...");
    let (_, conn) = prepared(&db.url, rows).await;
    exec(&conn, "VACUUM ANALYZE semantic_facts").await;
    let (ours_time, _) = ours(&db.url, None);
    exec(&conn, "UPDATE semantic_facts SET temporal_metadata = NULL").await;
    exec(&conn, "VACUUM ANALYZE semantic_facts").await;
    let ceiling = exec(&conn, sql(DbBackend::Postgres)).await;
    conn.close().await.ok();
    let vs_ceiling = ceiling.as_secs_f64() / ours_time.as_secs_f64();
    println!(
        "backfill postgres rows={rows} ours={ours_time:.2?} ceiling={ceiling:.2?} vs_ceiling={vs_ceiling:.2} (goal>=0.5 {})",
        verdict(vs_ceiling >= 0.5)
    );
}
