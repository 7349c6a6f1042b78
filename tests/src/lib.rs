//! Helpers for the end-to-end tests: one fresh database per test on every backend that can run
//! here, the schema read back from the database, and the paths of the workspace's binaries.
//!
//! SQLite always runs. PostgreSQL runs when `AICO_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`) is reachable; otherwise its cases are skipped with a
//! message, except under CI (`CI` set), where a missing server fails the test.
#![warn(missing_docs)]

pub mod aico;
pub mod secret_service;
pub mod shaped;
pub mod stores;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use aico_connect::target::Target;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

/// The PostgreSQL server the tests use, as an admin URL.
pub fn pg_admin_url() -> String {
    std::env::var("AICO_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A backend the tests run on; each test body runs once per backend, as its own test case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL test server.
    Postgres,
}

/// A temporary directory that stands in for `$HOME` and AICO's data directory in every binary the
/// tests run, so that no test reads or writes the real ones. One per test process.
pub fn scratch_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("scratch HOME")).path()
}

/// The workspace binary `name`, with HOME, AICO_DATA_DIR and XDG_DATA_HOME in [`scratch_home`],
/// no database or store from the environment, and no colours.
pub fn command(name: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(workspace_bin(name));
    cmd.env("HOME", scratch_home())
        .env("AICO_DATA_DIR", scratch_home())
        .env("XDG_DATA_HOME", scratch_home().join("xdg"))
        .env("NO_COLOR", "1");
    for var in [
        "DATABASE_URL",
        "DATABASE_SCHEMA",
        "CHROMA_URL",
        "CHROMA_TOKEN",
        "CHROMA_CA_CERT",
        "AICO_CHROMA_BIN",
        "AICO_MEMORY_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The `migration` binary (as [`command`]) on the database at `url`, without `AICO_FORCE_DROP`.
pub fn migrator(url: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = command("migration");
    cmd.args(args).env("DATABASE_URL", url).env_remove("AICO_FORCE_DROP");
    cmd
}

/// Run [`migrator`] to the end; its output.
pub fn run_migrator(url: &str, args: &[&str]) -> std::process::Output {
    migrator(url, args).output().expect("run the migrator")
}

/// A finished binary's stdout and stderr, as text.
pub fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A finished binary's exit status, and the `error: ` line on its stderr (empty when none).
pub fn failed(out: &std::process::Output) -> (i32, String) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default().to_owned();
    (out.status.code().unwrap_or(-1), line)
}

/// A finished binary's stdout as JSON; a panic showing both streams when it is not.
pub fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

/// A fresh, empty database for one test, removed when dropped.
pub struct TestDb {
    /// The URL to hand to a migrator or `aico-ams`.
    pub url: String,
    /// The target the URL names.
    pub target: Target,
    /// `sqlite` or `postgres`, for messages.
    pub name: &'static str,
    dir: Option<tempfile::TempDir>,
    pg_database: Option<String>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory (the file itself does not exist yet).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("aico.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let target = Target::from_url(&url).expect("sqlite url");
        Self { url, target, name: "sqlite", dir: Some(dir), pg_database: None }
    }

    /// A new PostgreSQL database on the test server, or `None` (with a message) when the server
    /// is unreachable outside CI.
    pub async fn postgres() -> Option<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin_url = pg_admin_url();
        let admin = match Database::connect(admin_url.as_str()).await {
            Ok(db) => db,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL at {admin_url} is required under CI: {e}");
                }
                skipped(&format!("PostgreSQL at {admin_url} is unreachable ({e}); set AICO_TEST_PG"));
                return None;
            }
        };
        let name = format!(
            "aico_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        );
        admin
            .execute_raw(Statement::from_string(DbBackend::Postgres, format!("CREATE DATABASE {name}")))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("AICO_TEST_PG must end in /DATABASE"),
        };
        let target = Target::from_url(&url).expect("postgres url");
        Some(Self { url, target, name: "postgres", dir: None, pg_database: Some(name) })
    }

    /// A fresh database on `backend`, or `None` (with a message) when that backend cannot run
    /// here outside CI: one test case per backend, each passing or failing on its own.
    pub async fn of(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// The SQLite file, if this is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.target.sqlite_path()
    }

    /// The temporary directory holding a SQLite database.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// A connection pool through the same path the migrator uses.
    pub async fn connect(&self) -> DatabaseConnection {
        self.target.connect(None).await.unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_database.take() else { return };
        let admin_url = pg_admin_url();
        // Drop runs outside any runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let admin = Database::connect(admin_url.as_str()).await.ok()?;
                admin
                    .execute_raw(Statement::from_string(
                        DbBackend::Postgres,
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

/// Run one SQL statement (or several, on SQLite) and panic with the SQL on failure.
pub async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Insert one row per text of `texts` with `insert` (`INSERT INTO t (columns) VALUES`), 500 rows
/// per statement: `row(i, literal)` gives the values of row `i`, `literal` being its text as a
/// quoted SQL string.
pub async fn insert_texts(
    db: &DatabaseConnection,
    insert: &str,
    texts: &[String],
    row: impl Fn(usize, &str) -> String,
) {
    for (chunk_no, chunk) in texts.chunks(500).enumerate() {
        let values: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(k, s)| row(chunk_no * 500 + k, &format!("'{}'", s.replace('\'', "''"))))
            .collect();
        exec(db, &format!("{insert} {}", values.join(", "))).await;
    }
}

/// The first column of every row of `sql`, as text.
pub async fn column_of(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.try_get_by_index::<Option<String>>(0).expect("text column").unwrap_or_else(|| "NULL".into()))
        .collect()
}

/// The schema as the database reports it, one line per table, column, index and CHECK
/// constraint: `table T`, `column T.C TYPE [not null] [pk]`, `index I on T`, `check C on T`.
/// Types are the backend's own names.
pub async fn schema(db: &DatabaseConnection) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let tables = column_of(
                db,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .await;
            for t in tables {
                out.insert(format!("table {t}"));
                let cols = db
                    .query_all_raw(Statement::from_string(
                        DbBackend::Sqlite,
                        format!("SELECT name, lower(type) AS type, \"notnull\", pk FROM pragma_table_info('{t}')"),
                    ))
                    .await
                    .expect("table_info");
                for c in cols {
                    let name: String = c.try_get("", "name").expect("name");
                    let ty: String = c.try_get("", "type").expect("type");
                    let notnull: i64 = c.try_get("", "notnull").expect("notnull");
                    let pk: i64 = c.try_get("", "pk").expect("pk");
                    out.insert(column_line(&t, &name, &ty, notnull != 0, pk != 0));
                }
                let sql =
                    column_of(db, &format!("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{t}'"))
                        .await;
                for check in checks_in(&sql.concat()) {
                    out.insert(format!("check {check} on {t}"));
                }
                for i in column_of(
                    db,
                    &format!(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{t}' AND sql IS NOT NULL"
                    ),
                )
                .await
                {
                    out.insert(format!("index {i} on {t}"));
                }
            }
        }
        DbBackend::Postgres => {
            for t in column_of(
                db,
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .await
            {
                out.insert(format!("table {t}"));
            }
            let cols = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT c.table_name::text AS t, c.column_name::text AS c, c.data_type::text AS ty, \
                     c.is_nullable = 'NO' AS notnull, EXISTS (SELECT 1 FROM information_schema.key_column_usage k \
                       JOIN information_schema.table_constraints tc ON tc.constraint_name = k.constraint_name \
                        AND tc.table_schema = k.table_schema AND tc.constraint_type = 'PRIMARY KEY' \
                       WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name \
                        AND k.column_name = c.column_name) AS pk \
                     FROM information_schema.columns c WHERE c.table_schema = current_schema()"
                        .to_owned(),
                ))
                .await
                .expect("columns");
            for c in cols {
                let t: String = c.try_get("", "t").expect("t");
                let name: String = c.try_get("", "c").expect("c");
                let ty: String = c.try_get("", "ty").expect("ty");
                let notnull: bool = c.try_get("", "notnull").expect("notnull");
                let pk: bool = c.try_get("", "pk").expect("pk");
                out.insert(column_line(&t, &name, &ty, notnull, pk));
            }
            let idx = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT indexname::text AS i, tablename::text AS t FROM pg_indexes \
                     WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey'"
                        .to_owned(),
                ))
                .await
                .expect("indexes");
            for r in idx {
                let i: String = r.try_get("", "i").expect("i");
                let t: String = r.try_get("", "t").expect("t");
                out.insert(format!("index {i} on {t}"));
            }
            let checks = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT con.conname::text AS c, rel.relname::text AS t FROM pg_constraint con \
                     JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace n ON n.oid = rel.relnamespace \
                     WHERE con.contype = 'c' AND n.nspname = current_schema()"
                        .to_owned(),
                ))
                .await
                .expect("checks");
            for r in checks {
                let c: String = r.try_get("", "c").expect("c");
                let t: String = r.try_get("", "t").expect("t");
                out.insert(format!("check {c} on {t}"));
            }
        }
        other => panic!("unsupported backend {other:?}"),
    }
    out
}

fn column_line(table: &str, column: &str, ty: &str, notnull: bool, pk: bool) -> String {
    let mut line = format!("column {table}.{column} {ty}");
    if notnull {
        line.push_str(" not null");
    }
    if pk {
        line.push_str(" pk");
    }
    line
}

/// The names of the `CONSTRAINT name CHECK` clauses in a `CREATE TABLE` statement.
fn checks_in(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    words
        .windows(3)
        .filter(|w| w[0].eq_ignore_ascii_case("constraint") && w[2].to_ascii_uppercase().starts_with("CHECK"))
        .map(|w| w[1].trim_matches(|c| c == '"' || c == '`').to_owned())
        .collect()
}

/// The path of a binary of this workspace, built beside the test executables by
/// `cargo test --workspace` (each binary's package has integration tests, so cargo builds it).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: run the tests with `cargo test --workspace`", bin.display());
    bin
}

/// Every row of `table` ordered by `order_by`, each column rendered as the hex of its bytes
/// (text as stored, JSON as written), so that a comparison proves the rows byte-identical.
pub async fn fingerprint(db: &DatabaseConnection, table: &str, columns: &[&str], order_by: &str) -> Vec<String> {
    let render = |c: &str| match db.get_database_backend() {
        DbBackend::Postgres => format!("coalesce(encode(convert_to({c}::text, 'UTF8'), 'hex'), 'NULL')"),
        _ => format!("coalesce(hex({c}), 'NULL')"),
    };
    let cols: Vec<String> = columns.iter().map(|c| render(c)).collect();
    let sep = " || '|' || ";
    column_of(db, &format!("SELECT {} FROM {table} ORDER BY {order_by}", cols.join(sep))).await
}

/// Whether `table` exists in the database's current schema.
pub async fn has_table(db: &DatabaseConnection, table: &str) -> bool {
    schema(db).await.contains(&format!("table {table}"))
}

/// The migrations recorded as applied, in name order.
pub async fn applied(db: &DatabaseConnection) -> Vec<String> {
    if !has_table(db, "seaql_migrations").await {
        return Vec::new();
    }
    column_of(db, "SELECT version FROM seaql_migrations ORDER BY version").await
}

/// Create AICO's `semantic_facts` (with a column no migration knows) holding `n` facts, each with
/// seed-style temporal metadata when `with_metadata`, generated inside the database.
pub async fn fill_facts(db: &DatabaseConnection, n: u64, with_metadata: bool) {
    let metadata_column = if with_metadata { ", temporal_metadata TEXT" } else { "" };
    exec(
        db,
        &format!(
            "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, content TEXT NOT NULL, \
             created_at TEXT NOT NULL, updated_at TEXT, extra_notes TEXT{metadata_column})"
        ),
    )
    .await;
    let (series, ts, meta) = match db.get_database_backend() {
        DbBackend::Postgres => (
            format!("SELECT i FROM generate_series(1, {n}) AS s(i)"),
            "to_char(timestamp '2025-01-01' + i * interval '1 minute', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            "json_build_object('created_at', t, 'last_updated', t, 'last_accessed', t, 'access_count', i % 7, \
             'confidence', (i % 100) / 100.0, 'version', 1, 'superseded_by', NULL)::text",
        ),
        _ => (
            format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s"),
            "strftime('%Y-%m-%dT%H:%M:%SZ', '2025-01-01', '+' || i || ' minutes')",
            "json_object('created_at', t, 'last_updated', t, 'last_accessed', t, 'access_count', i % 7, \
             'confidence', (i % 100) / 100.0, 'version', 1, 'superseded_by', NULL)",
        ),
    };
    let (cols, vals) = if with_metadata {
        (", temporal_metadata".to_owned(), format!(", {meta}"))
    } else {
        (String::new(), String::new())
    };
    exec(
        db,
        &format!(
            "INSERT INTO semantic_facts (id, user_id, content, created_at, updated_at, extra_notes{cols}) \
             SELECT 'fact-' || i, 'user-' || (i % 10), 'fact number ' || i, t, t, 'n' || i{vals} \
             FROM (SELECT i, {ts} AS t FROM ({series}) AS q) AS g"
        ),
    )
    .await;
}

impl TestDb {
    /// The sea-orm backend of this database.
    pub fn name_backend(&self) -> DbBackend {
        match self.target {
            Target::Sqlite { .. } => DbBackend::Sqlite,
            Target::Postgres { .. } => DbBackend::Postgres,
        }
    }
}

/// Spawn `cmd` with its output discarded, `kill -9` it after `delay` and reap it; true when the kill
/// landed while it was still running (a trial that never does so proves nothing).
pub fn kill_after(cmd: &mut std::process::Command, delay: std::time::Duration) -> bool {
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    std::thread::sleep(delay);
    let running = child.try_wait().expect("poll").is_none();
    child.kill().ok(); // SIGKILL
    child.wait().expect("reap");
    running
}

/// Skip (with a message) outside CI, fail under CI: for a test whose tool is missing.
fn unavailable(what: &str) {
    unavailable_because(what, "no python3 with venv and pip?); set AICO_TEST_PYTHON");
}

/// [`unavailable`], with `hint` (what to install or set) in the message.
fn unavailable_because(what: &str, hint: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required under CI (.ci/run installs it)");
    }
    skipped(&format!("{what} is not available ({hint}"));
}

/// Whether every program of `programs` is on the PATH; if not, a skip outside CI (with a message
/// naming `install`, what provides them) and a failure under CI.
pub fn programs_on_path(programs: &[&str], install: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = |p: &&str| std::env::split_paths(&path).any(|dir| dir.join(p).is_file());
    let missing: Vec<&str> = programs.iter().filter(|p| !found(p)).copied().collect();
    if missing.is_empty() {
        return true;
    }
    unavailable_because(&missing.join(", "), &format!("install {install})"));
    false
}

/// Say on stderr that the running test is skipped, and why; and append `TEST<tab>WHY` to the file
/// named by `AICO_TEST_SKIPS`, which `cargo xtask test` (the README's test command) counts at the end.
fn skipped(why: &str) {
    eprintln!("SKIPPED: {why}");
    let Some(file) = std::env::var_os("AICO_TEST_SKIPS") else { return };
    // The test binary without cargo's hash (`stores-0123abcd`), and the test (libtest names each
    // test's thread after it).
    let exe = std::env::current_exe().ok();
    let binary = exe.as_deref().and_then(Path::file_stem).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let binary = binary.rsplit_once('-').map_or(binary.as_str(), |(name, _)| name);
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = format!("{binary}::{test}\t{why}\n");
    let appended = std::fs::OpenOptions::new().append(true).create(true).open(&file);
    appended.and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes())).expect("append to AICO_TEST_SKIPS");
}

/// The Python packages the tests' fixtures are written with: the libraries AICO uses.
const TEST_PACKAGES: &[&str] = &["chromadb>=1.5,<1.6", "lmdb>=1.4", "libsql==0.1.8", "keyring"];

/// What the test Python must import: [`TEST_PACKAGES`] by their module names.
const TEST_MODULES: &str = "chromadb, lmdb, libsql, keyring";

/// The test Python, with `chromadb` (and its `chroma` server), `lmdb`, `libsql` and `keyring`:
/// `AICO_TEST_PYTHON` when set (`.ci/run` sets it), else a virtualenv this helper makes on first
/// use under the target directory (`target/aico-test-venv`, kept for later runs; one process
/// makes it while the others wait on a file lock), as testcontainers-style harnesses do. `None`
/// only when no `python3` can make one.
pub fn test_python() -> Option<PathBuf> {
    static PYTHON: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| std::env::var_os("AICO_TEST_PYTHON").map(PathBuf::from).or_else(make_venv)).clone()
}

fn imports_ok(python: &Path, modules: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .env("ANONYMIZED_TELEMETRY", "False")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn make_venv() -> Option<PathBuf> {
    let target = workspace_target_dir();
    let venv = target.join("aico-test-venv");
    let python = venv.join("bin").join("python");
    std::fs::create_dir_all(&target).ok()?;
    let lock = std::fs::File::create(target.join("aico-test-venv.lock")).ok()?;
    lock.lock().ok()?; // released when `lock` is dropped
    if imports_ok(&python, TEST_MODULES) {
        return Some(python);
    }
    eprintln!("making the test virtualenv {} (once; {TEST_MODULES} from PyPI) ...", venv.display());
    let made =
        std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success());
    let installed = made
        && std::process::Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(TEST_PACKAGES)
            .status()
            .is_ok_and(|s| s.success());
    (installed && imports_ok(&python, TEST_MODULES)).then_some(python)
}

/// The target directory the test executables run from (`target/`).
fn workspace_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> -> target
    exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"))
}

/// The test Python if it imports `modules`, else `None` (a skip outside CI, a failure under CI).
fn python_with(modules: &str) -> Option<PathBuf> {
    match test_python() {
        Some(python) if imports_ok(&python, modules) => Some(python),
        _ => {
            unavailable(&format!("a Python with {modules}"));
            None
        }
    }
}

/// A Python with the `lmdb` and `chromadb` packages.
pub fn python() -> Option<PathBuf> {
    python_with("lmdb, chromadb")
}

/// Run `script` with `python`, passing `args`; its stdout.
pub fn run_python(python: &Path, script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .env("ANONYMIZED_TELEMETRY", "False")
        .output()
        .expect("run python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A real Chroma server (`chroma run`, from `AICO_TEST_CHROMA`) on a free loopback port, serving
/// the persistent store in `path`; stopped when dropped.
pub struct ChromaServer {
    child: std::process::Child,
    /// Its URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl ChromaServer {
    /// Start it, or `None` (with a message; a failure under CI) when `chroma` is not installed.
    pub fn start(path: &Path) -> Option<Self> {
        let chroma = chroma_program()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let log = std::fs::File::create(path.with_extension("chroma.log")).expect("log file");
        let child = std::process::Command::new(chroma)
            .args(["run", "--path"])
            .arg(path)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("ANONYMIZED_TELEMETRY", "False")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start chroma");
        let server = Self { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if http_status(port, "/api/v2/heartbeat") == Some(200) {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!("chroma did not answer on port {port} within 60 s (see {}.chroma.log)", path.display());
    }
}

impl Drop for ChromaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chroma's server program (`chroma`, from chromadb 1.5): `AICO_TEST_CHROMA`, else the one beside
/// the test Python; `None` (with a message; a failure under CI) when there is none.
pub fn chroma_program() -> Option<PathBuf> {
    let beside_python = || test_python().and_then(|p| p.parent().map(|bin| bin.join("chroma")));
    let chroma = std::env::var_os("AICO_TEST_CHROMA").map(PathBuf::from).or_else(beside_python);
    let found = chroma.filter(|p| p.exists());
    if found.is_none() {
        unavailable("the chroma server (chromadb 1.5)");
    }
    found
}

/// The status code of `GET path` on a loopback port (plain HTTP/1.0), if it answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.split_whitespace().nth(1)?.parse().ok()
}

/// Wait (up to 60 s) until no other client of this database is running a statement: after a
/// client is killed, PostgreSQL still finishes (and may commit) the statement it had sent.
/// SQLite has no server: nothing to wait for.
pub async fn settle(db: &DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let busy = "SELECT CAST(COUNT(*) AS TEXT) FROM pg_stat_activity WHERE datname = current_database() \
                AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'";
    for _ in 0..300 {
        if column_of(db, busy).await == ["0"] {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("other clients kept running statements for 60 s");
}

/// A Python with python `libsql` 0.1.8, the library AICO opens its encrypted `aico.db` with.
pub fn python_with_libsql() -> Option<PathBuf> {
    python_with("libsql")
}

/// A Python with `libsql` and `keyring`, the library AICO keeps its master key with.
pub fn python_with_keyring() -> Option<PathBuf> {
    python_with("libsql, keyring")
}

/// `n` near-miss timestamps, the same for the same `seed`: edge dates (years 0, 1, 9999, leap
/// days, day 0 and 32), hour 24, minute and second 60 (leap seconds), offsets up to ±14:00 that
/// push the instant across the ends of years 1 to 9999 (and some beyond ±23:59), odd separators,
/// spacing, long fractions and truncated strings. Each part is off with a small probability, so
/// about half of them are valid.
pub fn near_miss_timestamps(n: usize, seed: u64) -> Vec<String> {
    let mut state = seed;
    let mut next = move |k: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % k as u64) as usize
    };
    let odd_dates = [
        "0000-01-01",
        "0000-12-31",
        "2024-02-29",
        "2025-02-29",
        "1900-02-29",
        "2025-04-31",
        "2025-00-10",
        "2025-13-10",
        "2025-06-00",
        "2025-07-32",
        "10000-01-01",
        "99999-12-31",
        "2025-1-07",
    ];
    let odd_times = ["24:00:00", "23:60:00", "23:59:60", "00:59:60", "12:00:61", "7:00:00", "12:00"];
    let odd_seps = ["  ", "_", "x", "", "\t", "T "];
    let odd_fracs = [".", ",5", ".12a", ".999999", ".9999995", ".999999999999", ".000000", ".0000001"];
    let odd_zones = ["+23:59", "-23:59", "+24:00", "+0530", "+05", " Z", "ZZ", "UTC", "+05:30:00", "z", "-00:00"];
    let pads = [" ", "\n", "\t ", "  "];
    (0..n)
        .map(|_| {
            // A quarter sit at an end of the range: near midnight of 0001-01-01 or 9999-12-31.
            let edge = next(4) == 0;
            let date = match (edge, next(10)) {
                (true, k) => ["0001-01-01", "9999-12-31", "0000-12-31", "0001-01-01", "9999-12-31"][k % 5].to_owned(),
                (false, 0) => odd_dates[next(odd_dates.len())].to_owned(),
                (false, _) => format!("{:04}-{:02}-{:02}", next(10_000), 1 + next(12), 1 + next(28)),
            };
            let time = match (edge, next(10)) {
                (_, 0) => odd_times[next(odd_times.len())].to_owned(),
                (true, _) => format!("{:02}:{:02}:{:02}", [0, 1, 10, 13, 14, 22, 23][next(7)], next(60), next(60)),
                (false, _) => format!("{:02}:{:02}:{:02}", next(24), next(60), next(60)),
            };
            let sep = match next(20) {
                0..=9 => "T",
                10..=14 => " ",
                15 | 16 => "t",
                _ => odd_seps[next(odd_seps.len())],
            };
            let frac = match next(10) {
                0..=3 => String::new(),
                // 1 to 15 random digits.
                4..=7 => {
                    format!(".{}", (0..1 + next(15)).map(|_| char::from(b'0' + next(10) as u8)).collect::<String>())
                }
                _ => odd_fracs[next(odd_fracs.len())].to_owned(),
            };
            let zone = match next(20) {
                0..=4 => String::new(),
                5..=10 => "Z".to_owned(),
                11..=17 => {
                    let minutes = [0, 0, 1, 15, 30, 45, 59][next(7)];
                    let hours = if minutes == 0 { next(15) } else { next(14) };
                    format!("{}{hours:02}:{minutes:02}", ["+", "-"][next(2)])
                }
                _ => odd_zones[next(odd_zones.len())].to_owned(),
            };
            let (lead, trail) = match next(20) {
                0 => (pads[next(pads.len())], ""),
                1 => ("", pads[next(pads.len())]),
                _ => ("", ""),
            };
            let mut text = format!("{lead}{date}{sep}{time}{frac}{zone}{trail}");
            if next(16) == 0 {
                // Truncated: cut at a random character.
                let keep = next(text.chars().count());
                text = text.chars().take(keep).collect();
            }
            text
        })
        .collect()
}
