//! AICO's encrypted `aico.db`, end to end: files written by python `libsql` 0.1.8 with
//! `PRAGMA key = 'x"<hex>"'` (as AICO writes them), a random master key and salt file, the seed's
//! layout filled with messy facts. The `migration` and `aico` binaries open them with the key from
//! `AICO_MASTER_KEY` + salt, `AICO_DB_KEY` or `--db-key`, and from AICO's entry in a real Secret
//! Service (gnome-keyring in a D-Bus session of the test's) or keyring-core's mock store. SQLite
//! only: encryption is a property of the SQLite file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aico_connect::key::{DbKey, KeySources, Keyring};
use aico_connect::target::Target;
use aico_tests::secret_service::{SecretService, Session};
use aico_tests::{python_with_keyring, python_with_libsql, run_python, text, workspace_bin};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::Value;

/// Writes `semantic_facts` (the seed's layout plus a column no migration knows) with `n` facts:
/// uuid4 ids, created_at in every form AICO and hand-run SQL leave behind, and when `messy` some
/// NULL or garbage. Encrypted with the key string AICO uses when a hex key is given, plain otherwise.
const MAKE_DB: &str = r#"
import libsql, random, sys, uuid
path, key_hex, n, messy = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "messy"
c = libsql.connect(path)
if key_hex:
    c.execute(f"PRAGMA key = 'x\"{key_hex}\"'")
c.execute("CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, content TEXT NOT NULL, "
          "created_at TEXT, updated_at TEXT, extra_notes TEXT)")
rnd = random.Random(20261129)
rows = []
for i in range(n):
    d = f"2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    t = f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}"
    created = rnd.choice([f"{d}T{t}Z", f"{d} {t}", f"{d}T{t}.{rnd.randint(0, 999999):06d}",
                          f"{d}T{t}+02:00", f"{d}T{t}"] + ([None, "not a time"] if messy else []))
    fid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    rows.append((fid, f"user-{i % 7}", f"fact {i} \u00e9\u2603", created, created, f"note {i}"))
c.executemany("INSERT INTO semantic_facts VALUES (?, ?, ?, ?, ?, ?)", rows)
c.commit()
"#;

/// Prints every row of `table` (ordered by `order`) as Python reprs, opened the way AICO opens it.
const DUMP: &str = r#"
import libsql, sys
path, key_hex, table, order = sys.argv[1:5]
c = libsql.connect(path)
if key_hex:
    c.execute(f"PRAGMA key = 'x\"{key_hex}\"'")
for row in c.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall():
    print(repr(row))
"#;

/// AICO's derivation, written independently of ours: PBKDF2-HMAC-SHA256(master || context).
const DERIVE: &str = r#"
import hashlib, sys
master, salt_path = bytes.fromhex(sys.argv[1]), sys.argv[2]
print(hashlib.pbkdf2_hmac("sha256", master + b"aico-db-libsql", open(salt_path, "rb").read(), 100000, 32).hex())
"#;

const FACTS: u64 = 600;

/// An encrypted AICO database and its plain twin holding the same facts.
struct Pair {
    _dir: tempfile::TempDir,
    python: PathBuf,
    enc: PathBuf,
    plain: PathBuf,
    master_hex: String,
    key_hex: String,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf)).expect("random");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl Pair {
    /// A pair whose facts include NULL and garbage `created_at` (the backfill lists them).
    fn new() -> Option<Self> {
        Some(Self::with(python_with_libsql()?, "messy"))
    }

    /// A pair made with `python`; `facts` is `messy` or `clean` (every `created_at` readable).
    fn with(python: PathBuf, facts: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("enc")).expect("dir");
        std::fs::create_dir_all(dir.path().join("plain")).expect("dir");
        let enc = dir.path().join("enc").join("aico.db");
        let plain = dir.path().join("plain").join("aico.db");
        let master_hex = random_hex(32);
        let salt: Vec<u8> = (0..16).map(|i| u8::try_from(i * 7 + 3).expect("byte")).collect();
        std::fs::write(aico_connect::key::salt_path(&enc), &salt).expect("salt");
        let salt_file = aico_connect::key::salt_path(&enc);
        let key_hex = run_python(&python, DERIVE, &[&master_hex, salt_file.to_str().expect("utf-8")]).trim().to_owned();
        run_python(&python, MAKE_DB, &[enc.to_str().expect("utf-8"), &key_hex, &FACTS.to_string(), facts]);
        run_python(&python, MAKE_DB, &[plain.to_str().expect("utf-8"), "", &FACTS.to_string(), facts]);
        Self { _dir: dir, python, enc, plain, master_hex, key_hex }
    }

    fn dump(&self, path: &Path, key_hex: &str, table: &str, order: &str) -> String {
        run_python(&self.python, DUMP, &[path.to_str().expect("utf-8"), key_hex, table, order])
    }

    /// The secrets that must never be printed, in both cases.
    fn secrets(&self) -> Vec<String> {
        [&self.master_hex, &self.key_hex].iter().flat_map(|s| [s.to_string(), s.to_uppercase()]).collect()
    }
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A command with a clean environment for keys, a HOME and data dir of its own, and no keyring
/// reachable (no session bus).
fn command(bin: &str, home: &Path) -> Command {
    let mut cmd = Command::new(workspace_bin(bin));
    cmd.env_remove("AICO_DB_KEY")
        .env_remove("AICO_MASTER_KEY")
        .env_remove("DATABASE_URL")
        .env("HOME", home)
        .env("AICO_DATA_DIR", home)
        .env_remove("XDG_DATA_HOME")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-test-bus")
        .env("NO_COLOR", "1");
    cmd
}

fn assert_no_secret(pair: &Pair, out: &Output) {
    let all = text(out);
    for secret in pair.secrets() {
        assert!(!all.contains(&secret), "key material in the output:\n{all}");
    }
}

/// A JSON report without what differs between two runs on two files: `target` (the file) and
/// `seconds` (the time taken).
fn report(out: &Output) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("target");
                map.remove("seconds");
                // `health`'s files that others can read name their paths, and only the encrypted
                // database has a salt file (private_files.rs tests the list).
                map.remove("readable_by_others");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)));
    strip(&mut v);
    v
}

fn is_plain(path: &Path) -> bool {
    std::fs::read(path).expect("read").starts_with(b"SQLite format 3\0")
}

#[test]
fn encrypted_database_migrates_and_fills_exactly_like_its_plain_copy() {
    let Some(pair) = Pair::new() else { return };
    let home = tempfile::tempdir().expect("home");
    assert!(!is_plain(&pair.enc), "the fixture must be encrypted");

    // The master key with the salt file beside the database, as AICO keeps them.
    let enc = |bin: &str, args: &[&str]| {
        let out = command(bin, home.path())
            .args(args)
            .env("DATABASE_URL", url(&pair.enc))
            .env("AICO_MASTER_KEY", &pair.master_hex)
            .output()
            .expect("run");
        assert_no_secret(&pair, &out);
        out
    };
    let plain = |bin: &str, args: &[&str]| {
        command(bin, home.path()).args(args).env("DATABASE_URL", url(&pair.plain)).output().expect("run")
    };

    for (bin, args) in [
        ("migration", vec!["-v", "up"]),
        ("aico-ams", vec!["-vv", "backfill", "--json"]),
        ("aico-ams", vec!["verify", "--json"]),
        ("aico-ams", vec!["health", "--json"]),
        ("migration", vec!["status"]),
    ] {
        let (e, p) = (enc(bin, &args), plain(bin, &args));
        assert_eq!(e.status.code(), p.status.code(), "{bin} {args:?}: encrypted\n{}\nplain\n{}", text(&e), text(&p));
        if args.contains(&"--json") {
            assert!(report(&e) == report(&p), "{bin} {args:?}: {}\n{}", text(&e), text(&p));
        }
    }
    // Messy facts include NULL and garbage: the backfill is then incomplete (exit 1) on both.
    let backfill = report(&enc("aico-ams", &["backfill", "--json"]));
    assert!(backfill.to_string().contains("bad"), "{backfill}");

    assert!(!is_plain(&pair.enc), "the database must stay encrypted");
    // AICO's own library, with the key AICO derives, reads every row, exactly as the plain run left it.
    let enc_rows = pair.dump(&pair.enc, &pair.key_hex, "semantic_facts", "id");
    assert_eq!(enc_rows.lines().count(), FACTS as usize);
    assert!(enc_rows.contains("created_at"), "metadata was written");
    assert_eq!(enc_rows, pair.dump(&pair.plain, "", "semantic_facts", "id"));
    assert_eq!(
        pair.dump(&pair.enc, &pair.key_hex, "seaql_migrations", "version").lines().count(),
        pair.dump(&pair.plain, "", "seaql_migrations", "version").lines().count()
    );
}

#[test]
fn the_derived_key_opens_it_from_the_flag_and_the_environment() {
    let Some(pair) = Pair::new() else { return };
    let home = tempfile::tempdir().expect("home");
    let out = command("migration", home.path())
        .args(["-u", &url(&pair.enc), "--db-key", &pair.key_hex, "up"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert_no_secret(&pair, &out);
    let out = command("aico-ams", home.path())
        .args(["migrate", "--status", "--json"])
        .env("DATABASE_URL", url(&pair.enc))
        .env("AICO_DB_KEY", &pair.key_hex)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert_no_secret(&pair, &out);
    assert!(!is_plain(&pair.enc));
}

#[test]
fn without_a_key_or_with_a_wrong_one_it_says_so_and_changes_nothing() {
    let Some(pair) = Pair::new() else { return };
    let home = tempfile::tempdir().expect("home");
    let before = std::fs::read(&pair.enc).expect("read");
    let salt = aico_connect::key::salt_path(&pair.enc);
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut cmd = command("migration", home.path());
        cmd.args(["-u", &url(&pair.enc)]).args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert_no_secret(&pair, &out);
        assert_eq!(std::fs::read(&pair.enc).expect("read"), before, "the file changed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let err = run(&[], &["up"]);
    assert!(err.contains("is encrypted") && err.contains("--db-key") && err.contains("AICO_MASTER_KEY"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let wrong = random_hex(32);
    let err = run(&[], &["--db-key", &wrong, "up"]);
    assert!(err.contains("does not open"), "{err}");
    assert!(!err.contains(&wrong), "{err}");
    let err = run(&[("AICO_MASTER_KEY", &random_hex(32))], &["up"]);
    assert!(err.contains("does not open") && err.contains("AICO_MASTER_KEY"), "{err}");

    let err = run(&[], &["--db-key", "not-hex", "up"]);
    let err = err.lines().filter(|l| !l.starts_with("warning: ")).collect::<Vec<_>>().join("\n");
    assert!(err.contains("64 hex digits") && !err.contains("not-hex"), "{err}");

    std::fs::write(&salt, b"short").expect("short salt");
    let err = run(&[("AICO_MASTER_KEY", &pair.master_hex)], &["up"]);
    assert!(err.contains(&salt.display().to_string()) && err.contains("5 bytes"), "{err}");
    std::fs::remove_file(&salt).expect("remove salt");
    let err = run(&[("AICO_MASTER_KEY", &pair.master_hex)], &["up"]);
    assert!(err.contains(&salt.display().to_string()), "{err}");
}

#[test]
fn help_never_shows_a_key_from_the_environment() {
    let home = tempfile::tempdir().expect("home");
    let secret = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";
    for sub in [&["--help"][..], &["up", "--help"], &["status", "--help"]] {
        let out = command("migration", home.path())
            .args(sub)
            .env("AICO_DB_KEY", secret)
            .env("DATABASE_URL", "postgres://u:pw-5ec7e7@h/db")
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", text(&out));
        let all = text(&out);
        assert!(all.contains("--db-key"), "{all}");
        assert!(!all.contains(secret) && !all.contains("pw-5ec7e7"), "{all}");
    }
}

#[test]
fn a_rollback_backup_is_encrypted_with_the_same_key_and_restores() {
    let Some(pair) = Pair::new() else { return };
    let home = tempfile::tempdir().expect("home");
    let migration = |args: &[&str]| {
        let out = command("migration", home.path())
            .args(["-u", &url(&pair.enc)])
            .args(args)
            .env("AICO_MASTER_KEY", &pair.master_hex)
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", text(&out));
        assert_no_secret(&pair, &out);
        text(&out)
    };
    migration(&["up"]);
    let python_insert = r#"
import libsql, sys
c = libsql.connect(sys.argv[1]); c.execute(f"PRAGMA key = 'x\"{sys.argv[2]}\"'")
c.execute("INSERT INTO skills (skill_id, skill_name, skill_type, trigger_context, procedure_template, "
          "dimensions) VALUES ('s1', 'greet', 'base', '{}', 'p', '[' || ? || ']')", (",".join(["0"] * 16),))
c.commit()
"#;
    run_python(&pair.python, python_insert, &[pair.enc.to_str().expect("utf-8"), &pair.key_hex]);
    migration(&["down"]);

    let dir = pair.enc.parent().expect("dir");
    let backups: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".backup-")))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let backup = &backups[0];
    assert!(!is_plain(backup), "the backup must be encrypted");
    assert_eq!(pair.dump(backup, &pair.key_hex, "skills", "skill_id").lines().count(), 1);

    // Restore as docs/migrations.md says: copy it over aico.db (and drop the old WAL).
    for suffix in ["-wal", "-shm"] {
        let mut side = pair.enc.clone().into_os_string();
        side.push(suffix);
        std::fs::remove_file(side).ok();
    }
    std::fs::copy(backup, &pair.enc).expect("restore");
    let status = migration(&["status"]);
    assert!(status.contains("applied  m0003"), "{status}");
    assert_eq!(pair.dump(&pair.enc, &pair.key_hex, "skills", "skill_id").lines().count(), 1);
}

#[tokio::test]
async fn the_master_key_in_aicos_keyring_entry_opens_it() {
    let Some(pair) = Pair::new() else { return };
    let store = keyring_core::mock::Store::new().expect("mock store");
    let target = Target::from_url(&url(&pair.enc)).expect("url");
    let keys = || KeySources { keyring: Some(Box::new(Keyring::with_store(store.clone()))), ..KeySources::none() };

    // No entry yet: the file is encrypted and no key is found.
    let err = target.connect_with(None, &keys()).await.expect_err("no key");
    assert!(matches!(err, aico_connect::error::ConnectError::Encrypted { .. }), "{err}");

    use keyring_core::api::CredentialStoreApi;
    let entry = store.build("AICO", "master_key", None).expect("entry");
    entry.set_password(&pair.master_hex).expect("set");
    let db = target.connect_with(None, &keys()).await.expect("opens");
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT COUNT(*) AS n FROM semantic_facts"))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.try_get::<i64>("", "n").expect("n"), FACTS as i64);
    db.close().await.ok();

    entry.set_password(&random_hex(32)).expect("set");
    let err = target.connect_with(None, &keys()).await.expect_err("wrong key");
    assert!(matches!(err, aico_connect::error::ConnectError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("keyring"), "{err}");
    assert_eq!(format!("{:?}", DbKey::from_hex(&pair.key_hex, "k").expect("key")), "DbKey(***)");
}

#[tokio::test]
async fn sqlite_is_sqlite3mc_and_rejects_double_quoted_strings() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("aico.db");
    let target = Target::from_url(&format!("sqlite://{}?mode=rwc", path.display())).expect("url");
    let db = target.connect(None).await.expect("open");
    let version = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT sqlite3mc_version() AS v"))
        .await
        .expect("sqlite3mc_version() exists")
        .expect("row");
    assert!(version.try_get::<String>("", "v").expect("v").starts_with("SQLite3 Multiple Ciphers"));
    db.execute_raw(Statement::from_string(DbBackend::Sqlite, "CREATE TABLE t (a TEXT)")).await.expect("create");
    let err = db
        .execute_raw(Statement::from_string(DbBackend::Sqlite, "CREATE INDEX i ON t (\"nope\")"))
        .await
        .expect_err("SQLITE_DQS=0: a double-quoted non-column is an error");
    assert!(err.to_string().contains("no such column"), "{err}");
    db.close().await.ok();
}

#[test]
fn a_schema_that_already_holds_a_double_quoted_string_still_opens_and_migrates() {
    let Some(python) = python_with_libsql() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let home = tempfile::tempdir().expect("home");
    let path = dir.path().join("aico.db");
    // Python's own sqlite3 allows double-quoted strings, as hand-run SQL in the sqlite3 shell did.
    let legacy = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute('CREATE TABLE notes (id TEXT PRIMARY KEY, kind TEXT DEFAULT "memo")')
c.execute('CREATE INDEX idx_notes_legacy ON notes ("no_such_column")')
c.execute("INSERT INTO notes (id) VALUES ('n1')")
c.commit()
"#;
    run_python(&python, legacy, &[path.to_str().expect("utf-8")]);
    let out = command("migration", home.path()).args(["-u", &url(&path), "up"]).output().expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let out = command("aico-ams", home.path())
        .args(["verify", "--json"])
        .env("DATABASE_URL", url(&path))
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(2), "{}", text(&out));
}

/// Encrypt the plain SQLite file `path` in place with `key_hex`, as SQLite3 Multiple Ciphers'
/// `PRAGMA rekey` does (in rollback-journal mode, which rekeying needs); python libsql reads it.
async fn rekey(path: &Path, key_hex: &str) {
    let mut opts = sea_orm::ConnectOptions::new(format!("sqlite://{}", path.display()));
    opts.max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Delete));
    let conn = sea_orm::Database::connect(opts).await.expect("open");
    conn.execute_raw(Statement::from_string(DbBackend::Sqlite, format!("PRAGMA rekey = 'x\"{key_hex}\"'")))
        .await
        .expect("rekey");
    conn.close().await.expect("close");
    assert!(!is_plain(path), "rekey must encrypt");
}

#[tokio::test]
async fn aicos_encrypted_database_at_version_13_migrates_and_fills() {
    use aico_tests::aico::{self, AicoVersion};
    let Some(python) = python_with_libsql() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let home = tempfile::tempdir().expect("home");
    let path = dir.path().join("aico.db");
    let facts = 300;
    let target = Target::from_url(&format!("sqlite://{}?mode=rwc", path.display())).expect("url");
    let conn = target.connect(None).await.expect("open");
    aico::build(&conn, AicoVersion::V13, facts).await;
    conn.execute_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(TRUNCATE)")).await.expect("ckpt");
    conn.close().await.expect("close");
    let key_hex = random_hex(32);
    rekey(&path, &key_hex).await;
    let dump =
        |table: &str, order: &str| run_python(&python, DUMP, &[path.to_str().expect("utf-8"), &key_hex, table, order]);
    let versions = dump("_aico_schema_metadata", "key");
    assert!(versions.contains("13"), "AICO's library reads the fixture: {versions}");

    let run = |bin: &str, args: &[&str]| {
        let out = command(bin, home.path())
            .args(args)
            .env("DATABASE_URL", url(&path))
            .env("AICO_DB_KEY", &key_hex)
            .env("RUST_LOG", "aico_ams::sql::backfill=debug")
            .output()
            .expect("run");
        assert!(out.status.success(), "{bin} {args:?}: {}", text(&out));
        assert!(!text(&out).contains(&key_hex), "key material in the output");
        text(&out)
    };
    run("migration", &["up"]);
    // Three batches: the checkpoints beside them run on a second connection, opened with the key.
    let log = run("aico-ams", &["backfill", "--batch-size", "100"]);
    let copied = log.lines().filter(|l| l.contains("checkpointed_pages=") && !l.contains("checkpointed_pages=0 "));
    assert!(copied.count() >= 2, "the second connection copies each batch into the file: {log}");
    assert!(!log.contains("checkpoint failed") && !log.contains("did not finish"), "{log}");
    run("aico-ams", &["verify"]);
    run("aico-ams", &["health"]);
    assert!(!is_plain(&path), "the database must stay encrypted");

    // AICO's library, with AICO's key, reads every fact, each now with its metadata.
    let rows = dump("user_memories", "fact_id");
    assert_eq!(rows.lines().count(), facts, "{rows}");
    assert!(rows.lines().all(|r| r.contains("last_accessed")), "every fact has metadata: {rows}");
    assert_eq!(dump("_aico_schema_metadata", "key"), versions, "AICO's version table is unchanged");
}

/// AICO's master key in a real Secret Service (gnome-keyring on a D-Bus session bus of its own),
/// written by Python's `keyring` as AICO writes it: `migration up`, `aico-ams backfill` and
/// `aico-ams verify` open the encrypted file with no key in the environment.
#[test]
fn the_master_key_in_a_real_secret_service_opens_it_with_no_key_in_the_environment() {
    let Some(keyring) = SecretService::new() else { return };
    let Some(python) = python_with_keyring() else { return };
    let pair = Pair::with(python, "clean");
    keyring.set_aico_master_key(&pair.python, &pair.master_hex);
    let url = url(&pair.enc);
    let runs: [(&str, &[&str]); 3] = [
        ("migration", &["-u", &url, "up"]),
        ("aico-ams", &["backfill", "--database-url", &url]),
        ("aico-ams", &["verify", "--database-url", &url]),
    ];
    for (bin, args) in runs {
        let out = keyring.command(Session::Unlocked, &workspace_bin(bin)).args(args).output().expect("run");
        assert!(out.status.success(), "{bin} {args:?}: {}", text(&out));
        assert_no_secret(&pair, &out);
    }
    assert!(!is_plain(&pair.enc), "the database must stay encrypted");
    let rows = pair.dump(&pair.enc, &pair.key_hex, "semantic_facts", "id");
    assert_eq!(rows.lines().count(), FACTS as usize);
    assert!(rows.lines().all(|r| r.contains("last_accessed")), "every fact was filled: {rows}");
}

/// A Secret Service that holds AICO's entry but is locked (no display to ask for its password on),
/// or none on the session bus at all: the same one-line error as without any keyring, which also
/// says why the keyring gave no key, exit 2, the file unchanged.
#[rstest::rstest]
#[case::locked(Session::Locked)]
#[case::absent(Session::Absent)]
fn a_locked_or_absent_secret_service_keeps_the_clear_error(#[case] session: Session) {
    let Some(keyring) = SecretService::new() else { return };
    let Some(python) = python_with_keyring() else { return };
    let pair = Pair::with(python, "clean");
    keyring.set_aico_master_key(&pair.python, &pair.master_hex);
    let before = std::fs::read(&pair.enc).expect("read");
    let out = keyring
        .command(session, &workspace_bin("migration"))
        .args(["-u", &url(&pair.enc), "up"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(line.contains(&format!("{} is encrypted", pair.enc.display())) && line.contains("keyring"), "{line}");
    assert!(line.contains("; cannot read AICO's master key from the OS keyring"), "the keyring's reason: {line}");
    assert_no_secret(&pair, &out);
    assert_eq!(std::fs::read(&pair.enc).expect("read"), before, "the file changed");
}

/// `--db-key-file PATH` and `--db-key-file -` (standard input) open the encrypted file on both
/// binaries, with no key on the command line or in the environment and no warning; `--db-key HEX`
/// still works, with one warning naming the safer ways. No key is ever printed.
#[test]
fn the_key_from_a_file_or_standard_input_opens_it_and_the_flag_warns() {
    use std::io::Write;
    use std::process::Stdio;
    let Some(pair) = Pair::new() else { return };
    let home = tempfile::tempdir().expect("home");
    let key_file = home.path().join("aico.key");
    std::fs::write(&key_file, format!("{}\n", pair.key_hex)).expect("key file");
    // The owner's alone, as a key file must be (one others can read is refused: private_files.rs).
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let key_file = key_file.to_str().expect("utf-8").to_owned();
    let enc = url(&pair.enc);
    let warnings =
        |out: &Output| String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("warning:")).count();
    let runs: [(&str, Vec<&str>); 4] = [
        ("migration", vec!["-u", &enc, "--db-key-file", &key_file, "up"]),
        ("aico-ams", vec!["verify", "--database-url", &enc, "--db-key-file", &key_file]),
        ("migration", vec!["-u", &enc, "--db-key-file", "-", "status"]),
        ("aico-ams", vec!["health", "--database-url", &enc, "--db-key-file", "-"]),
    ];
    for (bin, args) in runs {
        let mut child = command(bin, home.path())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        let mut stdin = child.stdin.take().expect("stdin");
        if args.contains(&"-") {
            stdin.write_all(pair.key_hex.as_bytes()).expect("write the key");
        }
        drop(stdin);
        let out = child.wait_with_output().expect("run");
        assert!(out.status.success(), "{bin} {args:?}: {}", text(&out));
        assert_eq!(warnings(&out), 0, "{bin} {args:?}: {}", text(&out));
        assert_no_secret(&pair, &out);
    }

    let out = command("aico-ams", home.path())
        .args(["verify", "--database-url", &enc, "--db-key", &pair.key_hex])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(warnings(&out), 1, "{stderr}");
    assert!(
        stderr.contains("other users") && stderr.contains("--db-key-file") && stderr.contains("keyring"),
        "{stderr}"
    );
    assert!(!stderr.contains(&pair.key_hex), "{stderr}");

    // A file that cannot be read, or holds no key: one line naming it, exit 2, never its content.
    let missing = home.path().join("no-such.key");
    let garbage = home.path().join("garbage.key");
    let not_a_key = format!("{}zz", &pair.key_hex[..62]);
    std::fs::write(&garbage, &not_a_key).expect("write");
    std::fs::set_permissions(&garbage, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    for (file, needle) in [(&missing, missing.display().to_string()), (&garbage, "--db-key-file".to_owned())] {
        let out = command("migration", home.path())
            .args(["-u", &enc, "--db-key-file", file.to_str().expect("utf-8"), "up"])
            .output()
            .expect("run");
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(all.lines().any(|l| l.starts_with("error: ") && l.contains(&needle)), "{all}");
        assert!(!all.contains(&not_a_key[..20]), "{all}");
    }
}
