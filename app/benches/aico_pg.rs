//! `aico-ams backfill` of AICO's segments and working memory on its PostgreSQL 18 database, against
//! the one set-based `UPDATE` a user would run in `psql` instead:
//! `cargo bench -p aico-ams --bench aico_pg [-- segments=N messages=M]` (default 50,000 segments of
//! 768-d and 300,000 messages; `segments=0` or `messages=0` skips a line). Needs PostgreSQL 18 with
//! pgvector (`AICO_TEST_PG18`, else `.ci/pg18` starts it).
//!
//! One template database is built as AICO's schema file builds it, with AICO-shaped rows (three
//! segments in four lack the flat keys; four messages in five lack `temporal_metadata`), AICO's
//! HNSW index built over them, vacuumed and analyzed. Every side is timed as a whole process, start
//! to exit, on its own fresh copy (`CREATE DATABASE ... TEMPLATE`), so with AICO's indexes:
//! - **ours**: `aico-ams backfill --store segments|working-memory --database-url URL` at its
//!   defaults (for segments: AICO's index set aside and rebuilt, as `auto` chooses at this size);
//! - **the `UPDATE`**: `psql -c` running one `UPDATE ... SET metadata = jsonb_build_object(...) ||
//!   COALESCE(metadata, '{}') WHERE <lacking a key>` (the index in place).
//!
//! Goals: segments ≥ 2.0 ×, working memory ≥ 1.0 ×.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use aico_tests::{AicoPg, TestDb, aico_pg18, psql, psql_program};

/// The one `UPDATE` of the segments (the baseline).
const SEGMENTS_UPDATE: &str = "SET search_path TO aico_core, public; \
    UPDATE conversation_segments SET metadata = jsonb_build_object(\
    'created_at', to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
    'last_accessed', to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
    'access_count', 0, 'confidence', 1.0, 'version', 1) || COALESCE(metadata, '{}'::jsonb) \
    WHERE metadata IS NULL OR NOT metadata ?& ARRAY['created_at', 'last_accessed', 'access_count', 'confidence', 'version']";

/// The one `UPDATE` of the working memory (the baseline).
const WORKING_UPDATE: &str = "SET search_path TO aico_core, public; \
    UPDATE working_memory_messages SET payload_json = payload_json || jsonb_build_object('temporal_metadata', \
    jsonb_build_object(\
    'created_at', to_char(stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
    'last_updated', to_char(stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
    'last_accessed', to_char(COALESCE(last_accessed_at, stored_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
    'access_count', access_count, 'confidence', 1.0, 'version', 1, 'superseded_by', NULL)) \
    WHERE jsonb_typeof(payload_json) = 'object' AND NOT payload_json ? 'temporal_metadata'";

/// AICO-shaped rows, built in SQL (deterministic: `setseed`), then AICO's index as its file has it.
fn fill(segments: u64, messages: u64) -> String {
    format!(
        "SET search_path TO aico_core, public; SELECT setseed(0.28); \
         DROP INDEX idx_conversation_segments_embedding; \
         INSERT INTO conversation_segments (id, user_id, conversation_id, role, content, embedding, timestamp, metadata) \
         SELECT 'seg-' || g, 'u', 'conv-' || (g % 10), 'user', 'segment ' || g || ': we talked about tea', \
         (SELECT array_agg(random() * 2 - 1)::real[] FROM generate_series(1, 768) WHERE g > 0)::vector, \
         timestamp '2025-12-01' + g * interval '37 seconds' + (g % 1000) * interval '1 microsecond', \
         CASE g % 4 WHEN 1 THEN jsonb_build_object('language', 'de', 'created_at', '2025-12-01T08:00:00.000001', \
         'last_accessed', '2025-12-01T08:00:00.000001', 'access_count', 0, 'confidence', 1.0, 'version', 1) \
         WHEN 3 THEN NULL ELSE jsonb_build_object('language', 'en') END FROM generate_series(1, {segments}) g; \
         INSERT INTO working_memory_messages (conversation_id, user_id, message_id, role, content, language, \
         message_type, payload_json, stored_at, expires_at, last_accessed_at, access_count) \
         SELECT 'conv-' || (g % 10), 'u', 'msg-' || g, 'user', 'message ' || g, 'en', 'text', \
         jsonb_build_object('user_id', 'u', 'message_id', 'msg-' || g, 'role', 'user', 'content', 'message ' || g, \
         'timestamp', '2026-03-01T00:00:00+00:00', 'message_type', 'text', 'language', 'en', 'conversation_id', \
         'conv-' || (g % 10)) || CASE WHEN g % 5 = 4 THEN jsonb_build_object('temporal_metadata', \
         jsonb_build_object('created_at', '2026-03-01T00:00:00+00:00', 'access_count', 1)) ELSE '{{}}'::jsonb END, \
         timestamptz '2026-03-01' + g * interval '1 second', timestamptz '2026-03-31' + g * interval '1 second', \
         CASE WHEN g % 2 = 0 THEN timestamptz '2026-03-02' + g * interval '1 second' END, g % 3 \
         FROM generate_series(1, {messages}) g; \
         SET maintenance_work_mem = '512MB'; \
         CREATE INDEX IF NOT EXISTS idx_conversation_segments_embedding ON conversation_segments \
         USING hnsw (embedding vector_cosine_ops); VACUUM ANALYZE; CHECKPOINT"
    )
}

/// A fresh copy of `template`, dropped with it.
struct Copy {
    admin: String,
    name: String,
    url: String,
}

impl Copy {
    fn of(template: &TestDb, admin: &str, name: &str) -> Self {
        let template_name = template.url.rsplit('/').next().expect("a database name");
        let base = admin.rsplit_once('/').expect("a database URL").0;
        let copy = Self { admin: admin.to_owned(), name: name.to_owned(), url: format!("{base}/{name}") };
        run_psql(admin, &format!("DROP DATABASE IF EXISTS {name}"));
        run_psql(admin, &format!("CREATE DATABASE {name} TEMPLATE {template_name}"));
        copy
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        run_psql(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

fn run_psql(url: &str, sql: &str) -> Duration {
    common::psql_with(&psql_program(), url, sql)
}

fn ours(url: &str, store: &str) -> Duration {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aico-ams"));
    command.env("NO_COLOR", "1").args(["backfill", "--store", store, "--database-url", url]);
    common::timed(command)
}

fn line(template: &TestDb, admin: &str, what: &str, rows: u64, store: &str, update: &str, goal: f64) {
    let baseline = {
        let copy = Copy::of(template, admin, "aico_bench_update");
        run_psql(&copy.url, update)
    };
    let ours = {
        let copy = Copy::of(template, admin, "aico_bench_ours");
        ours(&copy.url, store)
    };
    let ratio = baseline.as_secs_f64() / ours.as_secs_f64();
    let verdict = if ratio >= goal { "PASS" } else { "FAIL" };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "aico_pg {what} rows={rows} ours={ours:.3?} psql_update={baseline:.3?} ratio={ratio:.2}x goal>={goal}x {verdict} nproc={cpus}"
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (mut segments, mut messages) = (50_000u64, 300_000u64);
    for arg in std::env::args().skip(1) {
        if let Some(n) = arg.strip_prefix("segments=") {
            segments = n.parse().expect("segments=N");
        } else if let Some(n) = arg.strip_prefix("messages=") {
            messages = n.parse().expect("messages=N");
        }
    }
    let Some(admin) = aico_tests::pg18_admin_url() else { return };
    let Some(template) = aico_pg18(AicoPg::AsFile).await else { return };
    let built = Instant::now();
    let filled = psql(&template, &fill(segments, messages));
    assert!(filled.success, "{}", filled.stderr);
    eprintln!("template: {segments} segments, {messages} messages in {:.1?}", built.elapsed());
    if segments > 0 {
        line(&template, &admin, "segments (768-d, AICO's HNSW index)", segments, "segments", SEGMENTS_UPDATE, 2.0);
    }
    if messages > 0 {
        line(&template, &admin, "working memory", messages, "working-memory", WORKING_UPDATE, 1.0);
    }
}
