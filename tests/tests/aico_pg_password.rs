//! Connecting as AICO does (issue 28): a PostgreSQL URL without a password that names AICO's
//! database takes the password from AICO's sources, in AICO's order (`AICO_PG_PASSWORD`, the
//! secret file, the OS keyring entry `postgres_<user>_password`), and AICO's settings make AICO's
//! PostgreSQL the default target. On PostgreSQL 18 with password authentication made real by
//! `.ci/pg18` (members of `aico_pw` use scram-sha-256); each test has its own login role and
//! database. The keyring is the real Secret Service.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aico_tests::secret_service::{SecretService, Session};
use aico_tests::{
    AicoPg, PASSWORD_GROUP, TestDb, aico_pg18, cleanup_on, column_of, failed, json_of, pg18_with_passwords,
    python_with_keyring, text, workspace_bin,
};

/// `bytes` random bytes as hex.
fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).expect("random bytes");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A login role in the password group, with a random password, and AICO's database (`aico_core`
/// from AICO's schema file) of its own. The database is dropped, then the role.
struct Role {
    db: Option<TestDb>,
    admin: String,
    name: String,
    password: String,
}

impl Role {
    async fn new() -> Option<Self> {
        let admin = pg18_with_passwords()?;
        let db = aico_pg18(AicoPg::AsFile).await?;
        let name = format!("pw_{}", random_hex(6));
        let password = random_hex(16);
        let made = aico_tests::psql(
            &db,
            &format!("CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{password}' IN ROLE {PASSWORD_GROUP}"),
        );
        assert!(made.success, "create role: {}", made.stderr);
        Some(Self { db: Some(db), admin, name, password })
    }

    fn db(&self) -> &TestDb {
        self.db.as_ref().expect("database")
    }

    /// The database's name.
    fn db_name(&self) -> &str {
        self.db().url.rsplit_once('/').expect("url").1
    }

    /// The server's port.
    fn port(&self) -> &str {
        let host_port = self.admin.split('@').nth(1).and_then(|r| r.split('/').next()).expect("admin url");
        host_port.rsplit_once(':').expect("port").1
    }

    /// The role's URL on its database, without a password.
    fn url(&self) -> String {
        format!("postgres://{}@127.0.0.1:{}/{}", self.name, self.port(), self.db_name())
    }

    /// AICO's settings naming this database (so that its password sources apply to [`Role::url`]).
    fn aico_settings(&self, cmd: &mut Command) {
        cmd.env("AICO_PG_HOST", "127.0.0.1").env("AICO_PG_PORT", self.port()).env("AICO_PG_DB_NAME", self.db_name());
    }

    /// The migrations applied to the database, read back as its admin.
    async fn applied(&self) -> Vec<String> {
        let conn = sea_orm::Database::connect(self.db().url.as_str()).await.expect("admin connection");
        let exists = "SELECT (to_regclass('aico_ams.seaql_migrations') IS NOT NULL)::text";
        let applied = match column_of(&conn, exists).await.first().map(String::as_str) {
            Some("true") => column_of(&conn, "SELECT version FROM aico_ams.seaql_migrations ORDER BY version").await,
            _ => Vec::new(),
        };
        conn.close().await.ok();
        applied
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        drop(self.db.take());
        cleanup_on(self.admin.clone(), format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

/// A secret file holding `text`, with the mode `mode`.
fn secret_file(dir: &Path, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("pg_password");
    std::fs::write(&path, text).expect("write the secret file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// `bin` with an empty data directory of AICO's (no `aico.db`) and no Secret Service (a bus that
/// does not exist): the keyring has nothing.
fn plain(bin: &str, data: &Path) -> Command {
    let mut cmd = aico_tests::command(bin);
    cmd.env("AICO_DATA_DIR", data)
        .env("XDG_DATA_HOME", data.join("xdg"))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-test-bus")
        .env_remove("PGPASSWORD");
    cmd
}

/// `bin` in an unlocked session of `keyring`, with an empty data directory of AICO's.
fn in_keyring(keyring: &SecretService, bin: &str, data: &Path) -> Command {
    let mut cmd = keyring.command(Session::Unlocked, &workspace_bin(bin));
    cmd.env("AICO_DATA_DIR", data);
    cmd
}

/// Neither output holds `secret`.
fn assert_never_printed(out: &Output, secret: &str) {
    assert!(!text(out).contains(secret), "the password was printed: {}", text(out));
}

/// Which source holds the right password; every source after it holds a wrong one, every source
/// before it none: the run succeeds only if the sources are asked in AICO's order.
#[derive(Clone, Copy, Debug)]
enum Source {
    Env,
    File,
    Keyring,
}

#[rstest::rstest]
#[case::env(Source::Env)]
#[case::file(Source::File)]
#[case::keyring(Source::Keyring)]
#[tokio::test(flavor = "multi_thread")]
async fn each_source_gives_the_password_in_aicos_order(#[case] source: Source) {
    let Some(role) = Role::new().await else { return };
    let Some(keyring) = SecretService::new() else { return };
    let Some(python) = python_with_keyring() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = random_hex(16);
    let right = role.password.clone();
    let entry = format!("postgres_{}_password", role.name);
    let (env, file, ring) = match source {
        Source::Env => (Some(&right), Some(&wrong), &wrong),
        Source::File => (None, Some(&right), &wrong),
        Source::Keyring => (None, None, &right),
    };
    keyring.set_aico_entry(&python, &entry, ring);
    let mut cmd = in_keyring(&keyring, "migration", dir.path());
    cmd.args(["-u", &role.url(), "up"]);
    role.aico_settings(&mut cmd);
    if let Some(env) = env {
        cmd.env("AICO_PG_PASSWORD", env);
    }
    if let Some(file) = file {
        cmd.arg("--pg-password-file").arg(secret_file(dir.path(), &format!("{file}\n"), 0o600));
    }
    let out = cmd.output().expect("run the migrator");
    assert!(out.status.success(), "{source:?}: {}", text(&out));
    let said = match source {
        Source::Env => "password from AICO_PG_PASSWORD".to_owned(),
        Source::File => format!("password from the secret file {}", dir.path().join("pg_password").display()),
        Source::Keyring => format!("password from the keyring (service AICO, entry {entry})"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let target = stdout.lines().next().unwrap_or_default();
    assert!(target.starts_with("target: ") && target.contains(&said), "{source:?}: {target}");
    assert_never_printed(&out, &right);
    assert_never_printed(&out, &wrong);
    assert!(!role.applied().await.is_empty(), "{source:?}: up applied nothing: {}", text(&out));
}

#[rstest::rstest]
#[case::env(Source::Env)]
#[case::file(Source::File)]
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_names_its_source_exits_2_and_is_never_printed(#[case] source: Source) {
    let Some(role) = Role::new().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = random_hex(16);
    for bin in ["migration", "aico-ams"] {
        let mut cmd = plain(bin, dir.path());
        match bin {
            "migration" => cmd.args(["-u", &role.url(), "status"]),
            _ => cmd.args(["verify", "--database-url", &role.url()]),
        };
        role.aico_settings(&mut cmd);
        let named = match source {
            Source::Env => {
                cmd.env("AICO_PG_PASSWORD", &wrong);
                "AICO_PG_PASSWORD".to_owned()
            }
            _ => {
                let file = secret_file(dir.path(), &wrong, 0o600);
                cmd.arg("--pg-password-file").arg(&file);
                format!("the secret file {}", file.display())
            }
        };
        let out = cmd.output().expect("run");
        let (code, line) = failed(&out);
        assert_eq!(code, 2, "{bin} {source:?}: {}", text(&out));
        assert!(line.contains("refused the password from") && line.contains(&named), "{bin}: {line}");
        let redacted = role.url().replace("postgres://", "");
        assert!(line.contains(&redacted), "{bin}: the URL without password: {line}");
        assert_never_printed(&out, &wrong);
        assert_never_printed(&out, &role.password);
    }
    // The same as JSON: a kind that scripts match on, and still no password.
    let mut cmd = plain("aico-ams", dir.path());
    cmd.args(["verify", "--json", "--database-url", &role.url()]);
    role.aico_settings(&mut cmd);
    match source {
        Source::Env => cmd.env("AICO_PG_PASSWORD", &wrong),
        _ => cmd.arg("--pg-password-file").arg(dir.path().join("pg_password")),
    };
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(json_of(&out)["error"]["kind"], "wrong_password", "{}", text(&out));
    assert_never_printed(&out, &wrong);
    assert!(role.applied().await.is_empty(), "nothing was applied");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_file_others_can_read_is_refused_unless_allowed() {
    let Some(role) = Role::new().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = secret_file(dir.path(), &role.password, 0o644);
    let run = |extra: &[&str]| {
        let mut cmd = plain("migration", dir.path());
        cmd.args(["-u", &role.url(), "up", "--pg-password-file"]).arg(&file).args(extra);
        role.aico_settings(&mut cmd);
        cmd.output().expect("run")
    };
    let out = run(&[]);
    let (code, line) = failed(&out);
    assert_eq!(code, 2, "{}", text(&out));
    assert!(
        line.contains("mode 0644") && line.contains("chmod 600") && line.contains("--allow-open-key-file"),
        "{line}"
    );
    assert_never_printed(&out, &role.password);
    assert!(role.applied().await.is_empty(), "refused: nothing applied");

    let out = run(&["--allow-open-key-file"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_never_printed(&out, &role.password);
    assert!(!role.applied().await.is_empty(), "accepted when allowed");
}

/// AICO's password is for AICO's database: a passwordless URL naming another database does not
/// get it (the server asks, none is sent), and the message says where a password goes.
#[tokio::test(flavor = "multi_thread")]
async fn a_url_that_is_not_aicos_database_gets_no_aico_password() {
    let Some(role) = Role::new().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = plain("migration", dir.path());
    cmd.args(["-u", &role.url(), "status"])
        .env("AICO_PG_PORT", role.port())
        .env("AICO_PG_DB_NAME", "some_other_database")
        .env("AICO_PG_PASSWORD", &role.password);
    let out = cmd.output().expect("run");
    let (code, line) = failed(&out);
    assert_eq!(code, 2, "{}", text(&out));
    assert!(line.contains("asks for a password") && line.contains("apply only to the database"), "{line}");
    assert_never_printed(&out, &role.password);
}

/// With no URL and no `aico.db`, AICO's settings make AICO's PostgreSQL the default target: the
/// target line says why, `migration up` migrates AICO's database there (our bookkeeping in
/// `aico_ams`), and nothing is written where AICO keeps its data.
#[tokio::test(flavor = "multi_thread")]
async fn aicos_settings_make_aicos_postgresql_the_default_target() {
    let Some(role) = Role::new().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("aico-data");
    std::fs::create_dir(&data).expect("data dir");
    let mut cmd = plain("migration", &data);
    cmd.arg("up").env("AICO_PG_PORT", role.port()).env("AICO_PG_DB_NAME", role.db_name());
    // AICO's user `postgres` is trusted on this server: the password is sent and not checked.
    cmd.env("AICO_PG_PASSWORD", &role.password);
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "target: PostgreSQL database postgres://postgres@127.0.0.1:{}/{} (AICO's PostgreSQL: AICO_PG_PORT, \
         AICO_PG_DB_NAME set; password from AICO_PG_PASSWORD)",
        role.port(),
        role.db_name()
    );
    assert_eq!(stdout.lines().next(), Some(want.as_str()), "{}", text(&out));
    assert_never_printed(&out, &role.password);
    assert_eq!(role.applied().await.len(), 4, "every migration recorded in aico_ams: {}", text(&out));
    let left: Vec<_> = std::fs::read_dir(&data).expect("read").collect();
    assert!(left.is_empty(), "nothing is written where AICO keeps its data: {left:?}");

    // aico-ams says the same, then reads AICO's facts there.
    let mut cmd = plain("aico-ams", &data);
    cmd.args(["verify", "--store", "facts"]).env("AICO_PG_PORT", role.port()).env("AICO_PG_DB_NAME", role.db_name());
    let out = cmd.output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(AICO's PostgreSQL: AICO_PG_PORT, AICO_PG_DB_NAME set; no password found)"), "{stdout}");
    assert!(stdout.contains("ams_user_memories"), "AICO's facts table: {}", text(&out));
}

/// AICO's keyring entry alone makes the default AICO's PostgreSQL at AICO's defaults, and says so.
#[test]
fn aicos_keyring_entry_alone_makes_the_default_aicos_postgresql() {
    let Some(keyring) = SecretService::new() else { return };
    let Some(python) = python_with_keyring() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = random_hex(16);
    keyring.set_aico_entry(&python, "postgres_postgres_password", &secret);
    // `status` may not reach a server at AICO's default address: the target line comes first of
    // the tool's lines (the D-Bus session's keyring daemon may print its own before it).
    let out = in_keyring(&keyring, "migration", dir.path()).arg("status").output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().find(|line| !line.starts_with("GNOME_KEYRING_")),
        Some(
            "target: PostgreSQL database postgres://postgres@127.0.0.1:5432/aico (AICO's PostgreSQL: the keyring entry \
             postgres_postgres_password (service AICO) exists; password from the keyring (service AICO, entry \
             postgres_postgres_password))"
        ),
        "{}",
        text(&out)
    );
    assert_never_printed(&out, &secret);
}

/// Without AICO's settings (no AICO_PG_*, no password source) and without `aico.db`, the default
/// is the tool's own database, as before.
#[test]
fn without_aicos_settings_or_aico_db_the_default_is_the_tools_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = plain("migration", dir.path()).arg("status").output().expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "target: SQLite database {} (the tool's own database: AICO's {} does not exist)",
        dir.path().join("xdg/aico-ams/ams.db").display(),
        dir.path().join("data/aico.db").display()
    );
    assert_eq!(stdout.lines().next(), Some(want.as_str()));
}

/// `--help` names the flag and shows no password from the environment.
#[test]
fn help_shows_the_flag_and_no_password() {
    for bin in ["migration", "aico-ams"] {
        let mut cmd = aico_tests::command(bin);
        match bin {
            "migration" => cmd.arg("--help"),
            _ => cmd.args(["backfill", "--help"]),
        };
        let out = cmd.env("AICO_PG_PASSWORD", "pw-5ec7e7-help").output().expect("run");
        assert!(text(&out).contains("--pg-password-file"), "{bin}: {}", text(&out));
        assert_never_printed(&out, "pw-5ec7e7-help");
    }
}
