//! One fresh database per test on every backend that can run here (SQLite always; PostgreSQL when
//! `AICO_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/test`, answers; under CI a missing
//! server fails the test), and its rows read back: statements, columns, byte fingerprints, facts.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use aico_connect::target::Target;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::schema::schema;
use crate::skip::skipped;

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

/// A fresh, empty database for one test, removed when dropped.
pub struct TestDb {
    /// The URL to hand to a migrator or `aico-ams`.
    pub url: String,
    /// The target the URL names.
    pub target: Target,
    /// `sqlite` or `postgres`, for messages.
    pub name: &'static str,
    dir: Option<tempfile::TempDir>,
    /// The server's admin URL and the database's name, to drop it.
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory (the file itself does not exist yet).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("aico.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let target = Target::from_url(&url).expect("sqlite url");
        Self { url, target, name: "sqlite", dir: Some(dir), pg: None }
    }

    /// A new PostgreSQL database on the test server, or `None` (with a message) when the server
    /// is unreachable outside CI.
    pub async fn postgres() -> Option<Self> {
        Self::postgres_on(&pg_admin_url(), "AICO_TEST_PG").await
    }

    /// A new database on the PostgreSQL server of `admin_url` (which ends in `/DATABASE`), dropped
    /// with the `TestDb`; or `None` (with a message naming `env`, the variable that sets the URL)
    /// when that server is unreachable outside CI.
    pub async fn postgres_on(admin_url: &str, env: &str) -> Option<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin = match Database::connect(admin_url).await {
            Ok(db) => db,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL at {admin_url} is required under CI: {e}");
                }
                skipped(&format!("PostgreSQL at {admin_url} is unreachable ({e}); set {env}"));
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
            None => panic!("{env} must end in /DATABASE"),
        };
        let target = Target::from_url(&url).expect("postgres url");
        let pg = Some((admin_url.to_owned(), name));
        Some(Self { url, target, name: "postgres", dir: None, pg })
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
        if let Some((admin_url, name)) = self.pg.take() {
            cleanup_on(admin_url, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Run `sql` as the admin of the PostgreSQL test server, from a `Drop` (outside any runtime: on a
/// thread with its own), ignoring failure: cleaning up what a test made, whatever its outcome.
pub fn cleanup_on_server(sql: String) {
    cleanup_on(pg_admin_url(), sql);
}

/// [`cleanup_on_server`] on the server of `admin_url`.
pub fn cleanup_on(admin_url: String, sql: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let admin = Database::connect(admin_url.as_str()).await.ok()?;
            admin.execute_raw(Statement::from_string(DbBackend::Postgres, sql)).await.ok()?;
            admin.close().await.ok()
        })
    })
    .join();
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
