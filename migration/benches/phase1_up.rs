//! Phase 1 `up` on a 1,000,000-row `semantic_facts` whose rows already carry temporal metadata,
//! against the seed's raw SQL for the same step run by the `sqlite3` shell, in the same run.
//!
//! `cargo bench -p migration --bench phase1_up [-- ROWS]`. Goal: ours ≤ 1.1 × the seed's time (it
//! is the same index build; anything slower is work that should not be there).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aico_connect::target::Target;
use migration::runner::{self, Command as Run};

/// The seed's Phase 1 for a table that already has the column ("column already exists": skip the
/// ALTER), as written in the seed.
const SEED_SQL: &str = "
CREATE INDEX IF NOT EXISTS idx_semantic_facts_temporal
ON semantic_facts(
    json_extract(temporal_metadata, '$.last_accessed'),
    json_extract(temporal_metadata, '$.confidence')
);
CREATE INDEX IF NOT EXISTS idx_semantic_facts_superseded
ON semantic_facts(
    json_extract(temporal_metadata, '$.superseded_by')
);
";

fn sqlite3(db: &Path, sql: &str) {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().expect("run sqlite3 (apt-get install sqlite3)");
    assert!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
}

fn template(dir: &Path, rows: u64) -> std::path::PathBuf {
    let path = dir.join("template.db");
    sqlite3(
        &path,
        &format!(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, content TEXT NOT NULL,
               created_at TEXT NOT NULL, updated_at TEXT, temporal_metadata TEXT DEFAULT NULL);
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows}),
               g AS (SELECT i, strftime('%Y-%m-%dT%H:%M:%SZ', '2024-01-01', '+' || i || ' minutes') AS t FROM s)
             INSERT INTO semantic_facts
             SELECT 'fact-' || printf('%08d', i), 'user-' || (i % 10), 'fact number ' || i, t, t,
               json_object('created_at', t, 'last_updated', t, 'last_accessed', t, 'access_count', i % 7,
                 'confidence', (i % 100) / 100.0, 'version', 1, 'superseded_by', NULL)
             FROM g;
             PRAGMA wal_checkpoint(TRUNCATE);"
        ),
    );
    path
}

fn fresh_copy(template: &Path, name: &str) -> std::path::PathBuf {
    let path = template.with_file_name(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::copy(template, &path).expect("copy template");
    path
}

fn time_seed(template: &Path) -> Duration {
    let db = fresh_copy(template, "seed.db");
    let started = Instant::now();
    sqlite3(&db, SEED_SQL);
    started.elapsed()
}

fn time_ours(rt: &tokio::runtime::Runtime, template: &Path) -> Duration {
    let db = fresh_copy(template, "ours.db");
    let target = Target::from_url(&format!("sqlite://{}", db.display())).expect("url");
    rt.block_on(async {
        let started = Instant::now();
        let conn = target.connect(None).await.expect("connect");
        // m0000 adopts the table, m0001 is Phase 1.
        runner::run(&conn, &target, Run::Up { steps: Some(2) }, &Default::default(), |_| {}).await.expect("up");
        conn.close().await.expect("close");
        started.elapsed()
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rows: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    eprintln!("building a {rows}-row semantic_facts ...");
    let template = template(dir.path(), rows);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (mut seed, mut ours) = (Vec::new(), Vec::new());
    for round in 0..3 {
        // Alternate the order so that neither side always runs on a warmer cache.
        if round % 2 == 0 {
            seed.push(time_seed(&template));
            ours.push(time_ours(&rt, &template));
        } else {
            ours.push(time_ours(&rt, &template));
            seed.push(time_seed(&template));
        }
    }
    let (seed, ours) = (median(seed), median(ours));
    let ratio = ours.as_secs_f64() / seed.as_secs_f64();
    println!(
        "phase1_up rows={rows} seed_sqlite3={seed:.3?} ours={ours:.3?} ratio={ratio:.3} goal<=1.100 {}",
        if ratio <= 1.1 { "PASS" } else { "FAIL" }
    );
}
