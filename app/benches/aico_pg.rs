//! `aico-ams backfill` of AICO's three memories on its PostgreSQL 18 database (facts, segments,
//! working memory), against the one set-based `UPDATE` a user would run in `psql` instead:
//! `cargo bench -p aico-ams --bench aico_pg [-- facts=N[,N...] segments=N messages=M runs=R]`
//! (default 300,000 facts, 50,000 segments of 768-d and 300,000 messages, one run; `facts=0`,
//! `segments=0` or `messages=0` skips a line; with `runs=R` each pair is run R times, alternating,
//! and the medians are compared). Needs PostgreSQL 18 with pgvector (`AICO_TEST_PG18`, else
//! `.ci/pg18` starts it).
//!
//! A template database is built as AICO's schema file builds it, with AICO-shaped rows, vacuumed
//! and analyzed:
//! - facts (a template of their own per size): AICO's user and `ams_user_memories` rows as AICO
//!   stores them, uuid4 keys in random order, `created_at` typed in from a mix of forms (`Z`, an
//!   offset, naive in the session's zone, with milliseconds or microseconds) and NULL for one in
//!   ten (`valid_from` always set), `temporal_metadata` NULL; AICO's function indexes in place;
//!   `aico-ams migrate` run on it, as a user runs it before the backfill;
//! - segments and messages: three segments in four lack the flat keys, AICO's HNSW index built
//!   over them; four messages in five lack `temporal_metadata`.
//!
//! Every side is timed as a whole process, start to exit, on its own fresh copy (`CREATE DATABASE
//! ... TEMPLATE`), so with AICO's indexes:
//! - **ours**: `aico-ams backfill --store facts|segments|working-memory --database-url URL` at its
//!   defaults (for segments: AICO's index set aside and rebuilt, as `auto` chooses at this size);
//!   its peak RSS is the kernel's `ru_maxrss` of the reaped process (`wait4`);
//! - **the `UPDATE`**: `psql -c` running one `UPDATE` (the index in place) that writes what ours
//!   writes: for the facts the same bytes (checked: a digest of every key and metadata of the two
//!   copies must agree).
//!
//! Goals: facts ≥ 1.0 ×, segments ≥ 2.0 ×, working memory ≥ 1.0 ×; peak RSS ≤ 64 MiB.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use aico_tests::{AICO_USER, AicoPg, TestDb, aico_pg18, psql, psql_program};
use entity::values::TemporalMetadata;

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

/// The one `UPDATE` of the facts (the baseline): the metadata our backfill writes, byte for byte,
/// typed as one `format()` literal (TemporalMetadata's JSON, its instant as `%1$s`), dated by
/// `created_at`, else `valid_from`, in UTC with `Z` and the fraction as ours writes it (none, 3 or 6
/// digits).
fn facts_update() -> String {
    let (template, sentinel) = TemporalMetadata::initial_json_template();
    let literal = template.replace(sentinel, "%1$s").replace('\'', "''");
    let d = "(coalesce(created_at, valid_from) AT TIME ZONE 'UTC')";
    format!(
        "SET search_path TO aico_core, public; \
         UPDATE ams_user_memories SET temporal_metadata = format('{literal}', \
         to_char({d}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN to_char({d}, 'US') = '000000' THEN '' \
         WHEN to_char({d}, 'US') LIKE '%000' THEN '.' || to_char({d}, 'MS') ELSE '.' || to_char({d}, 'US') END \
         || 'Z') WHERE temporal_metadata IS NULL"
    )
}

/// What both sides of the facts line must agree on afterwards: a digest of every fact's key and
/// metadata, and how many facts have none.
const FACTS_DIGEST: &str = "SELECT md5(string_agg(fact_id || '=' || coalesce(temporal_metadata, '-'), ',' \
    ORDER BY fact_id)) || ' ' || count(*) FILTER (WHERE temporal_metadata IS NULL) FROM aico_core.ams_user_memories";

/// `facts` AICO-shaped facts of AICO's user (deterministic: `setseed`), as AICO stores them: uuid4
/// keys (from `random()`, so in random order), rows of about 300 bytes, `created_at` typed in from
/// text in the forms AICO and Python write (session zone Europe/Berlin for the naive ones): 25%
/// `...Z`, 20% with an offset, 20% naive `isoformat()` with microseconds, 15% SQLite's space form
/// with milliseconds, 10% with microseconds and `+00:00`, 10% NULL (`valid_from` set, as always);
/// a few of them user-curated, favourites or immutable (AICO's partial indexes).
fn fill_facts(facts: u64) -> String {
    let uuid = "substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-' || \
                substr('89ab', 1 + floor(random() * 4)::int, 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12)";
    let utc = |format: &str| format!("to_char(b AT TIME ZONE 'UTC', '{format}')");
    let created = format!(
        "CASE WHEN k < 25 THEN {z} || 'Z' \
         WHEN k < 45 THEN to_char(b AT TIME ZONE o::interval, 'YYYY-MM-DD\"T\"HH24:MI:SS') || o \
         WHEN k < 65 THEN to_char(b AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') \
         WHEN k < 80 THEN {space} WHEN k < 90 THEN {micro} || '+00:00' END",
        z = utc("YYYY-MM-DD\"T\"HH24:MI:SS"),
        space = utc("YYYY-MM-DD HH24:MI:SS.MS"),
        micro = utc("YYYY-MM-DD\"T\"HH24:MI:SS.US"),
    );
    format!(
        "SET search_path TO aico_core, public; SET TimeZone = 'Europe/Berlin'; SELECT setseed(0.28); \
         INSERT INTO user_profiles (uuid, full_name, nickname, primary_language) \
         VALUES ('{AICO_USER}', 'Ada Example', 'Ada', 'en'); \
         INSERT INTO ams_user_memories (fact_id, user_id, fact_type, category, confidence, is_immutable, \
         valid_from, content, entities_json, extraction_method, source_conversation_id, source_message_id, \
         created_at, updated_at, is_favorite, language) \
         SELECT {uuid}, '{AICO_USER}', (ARRAY['identity', 'preference', 'relationship'])[1 + g % 3], \
         (ARRAY['personal_info', 'preferences', 'relationships'])[1 + g % 3], 0.5 + (g % 50) / 100.0, g % 97 = 0, \
         b - interval '3 days', 'fact number ' || g || ': the user prefers green tea to coffee in the morning, \
         and mentioned it while talking about ' || md5(h), \
         jsonb_build_array(jsonb_build_object('text', 'tea', 'label', 'preference')), \
         CASE WHEN g % 50 = 0 THEN 'user_curated' ELSE 'llm' END, 'conv-' || (g % 997), 'msg-' || g, \
         c::timestamptz, c::timestamptz, g % 40 = 0, CASE WHEN g % 2 = 0 THEN 'en' END \
         FROM (SELECT g, b, h, {created} AS c FROM (SELECT g, md5(random()::text) AS h, \
         floor(random() * 100)::int AS k, (ARRAY['+02:00', '-05:00', '+05:30', '-00:30', '+14:00'])[1 + g % 5] AS o, \
         timestamptz '2025-03-01 00:00:00+00' + random() * interval '300 days' AS b \
         FROM generate_series(1, {facts}) g) AS r) AS f; \
         VACUUM ANALYZE; CHECKPOINT"
    )
}

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

/// `aico-ams backfill --store store` on `url`: its wall time and peak RSS (MiB).
fn ours(url: &str, store: &str) -> (Duration, f64) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aico-ams"));
    command.env("NO_COLOR", "1").args(["backfill", "--store", store, "--database-url", url]);
    // `AICO_BENCH_ARGS`: more flags for ours (`--batch-size 20000`, say), to tune against the baseline.
    if let Ok(more) = std::env::var("AICO_BENCH_ARGS") {
        command.args(more.split_whitespace());
    }
    common::timed_with_peak_rss(command)
}

/// One line of the bench.
struct Line<'a> {
    what: &'a str,
    rows: u64,
    store: &'a str,
    update: &'a str,
    goal: f64,
    /// SQL whose answer both sides must leave the same (the facts' digest), if any.
    same: Option<&'a str>,
}

async fn line(template: &TestDb, admin: &str, line: &Line<'_>, runs: usize) {
    let (mut updates, mut our_times, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let copy = Copy::of(template, admin, "aico_bench_update");
        updates.push(run_psql(&copy.url, line.update));
        let theirs = match line.same {
            Some(sql) => common::answer(&copy.url, sql).await,
            None => Vec::new(),
        };
        drop(copy);
        let copy = Copy::of(template, admin, "aico_bench_ours");
        let (time, peak) = ours(&copy.url, line.store);
        our_times.push(time);
        peaks.push(peak);
        if let Some(sql) = line.same {
            assert_eq!(
                common::answer(&copy.url, sql).await,
                theirs,
                "{}: the two sides wrote different metadata",
                line.what
            );
        }
    }
    let (baseline, ours, peak) =
        (common::median(updates), common::median(our_times), peaks.iter().copied().fold(0.0, f64::max));
    let ratio = baseline.as_secs_f64() / ours.as_secs_f64();
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "aico_pg {} rows={} runs={runs} ours={ours:.3?} psql_update={baseline:.3?} ratio={ratio:.2}x goal>={}x {} \
         peak_rss={peak:.1}MiB (goal<=64 {}) nproc={cpus}",
        line.what,
        line.rows,
        line.goal,
        verdict(ratio >= line.goal),
        verdict(peak <= 64.0),
    );
}

/// A number of rows, `300000` or `300,000`.
fn count(text: &str) -> u64 {
    text.replace(',', "").parse().expect("a number of rows")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (mut facts, mut segments, mut messages, mut runs) = (vec![300_000u64], 50_000u64, 300_000u64, 1usize);
    for arg in std::env::args().skip(1) {
        if let Some(n) = arg.strip_prefix("facts=") {
            facts = n.split(' ').flat_map(|n| n.split(',')).filter(|n| !n.is_empty()).map(count).collect();
        } else if let Some(n) = arg.strip_prefix("segments=") {
            segments = count(n);
        } else if let Some(n) = arg.strip_prefix("messages=") {
            messages = count(n);
        } else if let Some(n) = arg.strip_prefix("runs=") {
            runs = n.parse().expect("runs=N");
        }
    }
    let Some(admin) = aico_tests::pg18_admin_url() else { return };
    let facts_update = facts_update();
    for &rows in facts.iter().filter(|&&rows| rows > 0) {
        let Some(template) = aico_pg18(AicoPg::AsFile).await else { return };
        let built = Instant::now();
        let filled = psql(&template, &fill_facts(rows));
        assert!(filled.success, "{}", filled.stderr);
        let mut migrate = Command::new(env!("CARGO_BIN_EXE_aico-ams"));
        migrate.env("NO_COLOR", "1").args(["migrate", "--database-url", &template.url]);
        common::timed(migrate);
        eprintln!("template: {rows} facts in {:.1?}", built.elapsed());
        let what = "facts (AICO's function indexes)";
        let facts_line =
            Line { what, rows, store: "facts", update: &facts_update, goal: 1.0, same: Some(FACTS_DIGEST) };
        line(&template, &admin, &facts_line, runs).await;
    }
    if segments == 0 && messages == 0 {
        return;
    }
    let Some(template) = aico_pg18(AicoPg::AsFile).await else { return };
    let built = Instant::now();
    let filled = psql(&template, &fill(segments, messages));
    assert!(filled.success, "{}", filled.stderr);
    eprintln!("template: {segments} segments, {messages} messages in {:.1?}", built.elapsed());
    if segments > 0 {
        let what = "segments (768-d, AICO's HNSW index)";
        let segments_line =
            Line { what, rows: segments, store: "segments", update: SEGMENTS_UPDATE, goal: 2.0, same: None };
        line(&template, &admin, &segments_line, runs).await;
    }
    if messages > 0 {
        let what = "working memory";
        let working_line =
            Line { what, rows: messages, store: "working-memory", update: WORKING_UPDATE, goal: 1.0, same: None };
        line(&template, &admin, &working_line, runs).await;
    }
}
