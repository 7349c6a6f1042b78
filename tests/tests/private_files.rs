//! What the tool writes stays private (issue 31): every file and directory it creates is its
//! owner's alone (0600, 0700) whatever the umask, a key file that others can read is refused
//! unless the bypass flag is given, and `health` warns when others can read AICO's database or
//! its salt file, which the tool never chmod-s. Modes are read back with `std::fs::metadata`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aico_connect::target::Target;
use aico_tests::{Backend, TestDb, command_with_umask, exec, json_of, text};
use rstest::rstest;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

/// The permission bits, as `ls` and `chmod` write them (`0600`), for readable failures.
fn octal(path: &Path) -> String {
    format!("{:04o}", mode(path))
}

fn chmod(path: &Path, bits: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(bits)).expect("chmod");
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A user with the umask `umask`, a HOME of their own and no AICO installation (`AICO_DATA_DIR`
/// names a directory that does not exist), running `bin`.
struct User {
    home: tempfile::TempDir,
    umask: u32,
}

impl User {
    fn new(umask: u32) -> Self {
        Self { home: tempfile::tempdir().expect("home"), umask }
    }

    /// `$XDG_DATA_HOME`: it does not exist until the tool makes it.
    fn xdg(&self) -> PathBuf {
        self.home.path().join("xdg")
    }

    fn command(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = command_with_umask(bin, self.umask);
        cmd.env("HOME", self.home.path())
            .env("AICO_DATA_DIR", self.home.path().join("no-aico"))
            .env("XDG_DATA_HOME", self.xdg())
            .env_remove("AICO_DB_KEY")
            .env_remove("AICO_MASTER_KEY")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-test-bus")
            .args(args);
        cmd
    }

    fn run(&self, bin: &str, args: &[&str]) -> Output {
        let out = self.command(bin, args).output().expect("run");
        assert!(out.status.success(), "{bin} {args:?} (umask {:03o}): {}", self.umask, text(&out));
        out
    }
}

/// Under umask 022 (the usual default) and 000: the tool's own database and its directories, a
/// database a URL asks to create in directories that do not exist, the write-ahead log and
/// shared-memory files of a run, and a restore point are 0600, their directories 0700.
#[rstest]
#[case::umask_022(0o022)]
#[case::umask_000(0o000)]
#[tokio::test]
async fn what_the_tool_creates_is_its_owners_alone(#[case] umask: u32) {
    let user = User::new(umask);

    // The first command makes the tool's own database, and the directories above it.
    user.run("aico-ams", &["migrate"]);
    let dir = user.xdg().join("aico-ams");
    let db = dir.join("ams.db");
    assert_eq!(
        [octal(&user.xdg()), octal(&dir), octal(&db)],
        ["0700", "0700", "0600"],
        "XDG_DATA_HOME, aico-ams/, ams.db"
    );

    // A file a URL asks for (`mode=rwc`), in directories that do not exist yet.
    let new = user.home.path().join("new").join("sub").join("x.db");
    user.run("migration", &["-u", &format!("{}?mode=rwc", sqlite_url(&new)), "up"]);
    let parent = new.parent().expect("dir");
    assert_eq!(
        [octal(&user.home.path().join("new")), octal(parent), octal(&new)],
        ["0700", "0700", "0600"],
        "new/, new/sub/, x.db"
    );

    // `-wal` and `-shm`, as a run of the tool makes them: a backfill of one fact per batch,
    // stopped with `kill -9` once both exist, so that they stay to be looked at.
    let conn = Target::from_url(&sqlite_url(&db)).expect("url").connect(None).await.expect("open");
    exec(
        &conn,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
         INSERT INTO semantic_facts (id, user_id, content, created_at) SELECT 'f' || i, 'u', 'c', '2025-11-07T18:00:00Z' FROM n",
    )
    .await;
    conn.close().await.expect("close");
    let (wal, shm) = (dir.join("ams.db-wal"), dir.join("ams.db-shm"));
    assert!(!wal.exists() && !shm.exists(), "the test's own connection left its log behind");
    let mut child = user
        .command("aico-ams", &["backfill", "--batch-size", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while !(wal.exists() && shm.exists()) {
        assert!(child.try_wait().expect("poll").is_none(), "the backfill ended before its -wal and -shm were seen");
        assert!(start.elapsed() < Duration::from_secs(30), "no -wal and -shm after 30 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().ok();
    child.wait().expect("reap");
    assert_eq!([octal(&wal), octal(&shm)], ["0600", "0600"], "ams.db-wal, ams.db-shm");

    // A restore point: `fresh` writes one before it drops every table.
    user.run("migration", &["-u", &sqlite_url(&db), "fresh"]);
    let backups: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains(".backup-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(octal(&backups[0]), "0600", "{}", backups[0].display());
}

/// A key file that group or others can read or write is refused before it is read (exit 2, one
/// line naming it, its mode and `chmod 600`; `--json` kind `key_file_permissions`; nothing made);
/// a 0600 one works; `--allow-open-key-file` reads a 0444 one (a Docker secret). Both binaries;
/// on PostgreSQL too, where the refusal comes before any connection.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_key_file_others_can_read_is_refused_unless_allowed(#[case] backend: Backend) {
    let Some(test_db) = TestDb::of(backend).await else { return };
    let user = User::new(0o022);
    // SQLite: a new file, made encrypted with the key given (`mode=rwc`).
    let (url, db_file) = match backend {
        Backend::Sqlite => {
            let path = user.home.path().join("enc.db");
            (format!("{}?mode=rwc", sqlite_url(&path)), Some(path))
        }
        Backend::Postgres => (test_db.url.clone(), None),
    };
    let key_hex: String = (0..32).map(|i| format!("{:02x}", (i * 37 + 11) % 256)).collect();
    let key = user.home.path().join("aico.key");
    std::fs::write(&key, format!("{key_hex}\n")).expect("key file");
    let key_arg = key.to_str().expect("utf-8");
    let migrate: Vec<&str> = vec!["migrate", "--database-url", &url, "--db-key-file", key_arg];
    let status: Vec<&str> = vec!["-u", &url, "--db-key-file", key_arg, "status"];
    let runs: [(&str, &[&str]); 2] = [("aico-ams", &migrate), ("migration", &status)];

    let refused = |bits: u32| {
        chmod(&key, bits);
        for (bin, args) in runs {
            let out = user.command(bin, args).output().expect("run");
            let all = text(&out);
            assert_eq!(out.status.code(), Some(2), "{bin} with a {bits:04o} key file: {all}");
            let errors: Vec<&str> = all.lines().filter(|l| l.starts_with("error: ")).collect();
            assert_eq!(errors.len(), 1, "{all}");
            let line = errors[0];
            for needle in
                [key_arg, &format!("mode {bits:04o}"), &format!("chmod 600 {key_arg}"), "--allow-open-key-file"]
            {
                assert!(line.contains(needle), "{needle:?} missing: {line}");
            }
            assert!(!all.contains(&key_hex), "the key was printed: {all}");
        }
        let out = user.command("aico-ams", &[&migrate[..], &["--json"]].concat()).output().expect("run");
        assert_eq!(json_of(&out)["error"]["kind"], "key_file_permissions", "{}", text(&out));
        assert_eq!(mode(&key), bits, "the key file's mode was changed");
    };
    let works = |extra: &[&str]| {
        for (bin, args) in runs {
            let out = user.run(bin, &[args, extra].concat());
            assert!(!text(&out).contains(&key_hex), "the key was printed: {}", text(&out));
        }
    };

    refused(0o644);
    refused(0o660);
    if let Some(file) = &db_file {
        assert!(!file.exists(), "a refused run made the database");
    }
    chmod(&key, 0o600);
    works(&[]);
    if let Some(file) = &db_file {
        assert!(aico_connect::key::is_encrypted(file).expect("read"), "made encrypted with the key");
        assert_eq!(mode(file), 0o600);
    }
    refused(0o444);
    works(&["--allow-open-key-file"]);
    assert_eq!(mode(&key), 0o444, "the key file's mode was changed");
}

/// `health` on AICO's own database: a warning naming the database and its salt file when others
/// can read them (in the text, and in `--json` as `readable_by_others`), exit 0, and the modes
/// left as they were by `migrate` and `health`; none once they are 0600.
#[tokio::test]
async fn health_warns_when_others_can_read_aicos_database() {
    let user = User::new(0o022);
    let aico_dir = user.home.path().join("aico");
    std::fs::create_dir_all(aico_dir.join("data")).expect("dir");
    let db = aico_dir.join("data").join("aico.db");
    let salt = aico_connect::key::salt_path(&db);
    let conn =
        Target::from_url(&format!("{}?mode=rwc", sqlite_url(&db))).expect("url").connect(None).await.expect("create");
    conn.close().await.expect("close");
    std::fs::write(&salt, [7u8; 16]).expect("salt");
    chmod(&db, 0o644);
    chmod(&salt, 0o644);
    let health = |json: bool| {
        let args: &[&str] = if json { &["health", "--json"] } else { &["health"] };
        let mut cmd = user.command("aico-ams", args);
        let out = cmd.env("AICO_DATA_DIR", &aico_dir).output().expect("run");
        assert!(out.status.success(), "{}", text(&out));
        out
    };
    let out = user.command("aico-ams", &["migrate"]).env("AICO_DATA_DIR", &aico_dir).output().expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(AICO's own database)"), "{}", text(&out));

    let out = health(false);
    let warnings: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("warning: ")).map(String::from).collect();
    assert_eq!(warnings.len(), 2, "{}", text(&out));
    for (line, path, what) in [(&warnings[0], &db, "database"), (&warnings[1], &salt, "salt file")] {
        let path = path.display().to_string();
        assert!(line.contains(&format!("the {what} {path} has mode 0644")), "{line}");
        assert!(line.contains(&format!("chmod 600 {path}")), "{line}");
    }
    let report = json_of(&health(true));
    let open = &report["stores"]["sql"]["readable_by_others"];
    assert_eq!(
        open,
        &serde_json::json!([
            {"path": db.display().to_string(), "mode": "0644", "what": "database"},
            {"path": salt.display().to_string(), "mode": "0644", "what": "salt"},
        ]),
        "{report}"
    );
    assert_eq!((mode(&db), mode(&salt)), (0o644, 0o644), "AICO's files keep the modes AICO gave them");

    chmod(&db, 0o600);
    chmod(&salt, 0o600);
    let out = health(false);
    assert!(!text(&out).contains("warning"), "{}", text(&out));
    assert_eq!(json_of(&health(true))["stores"]["sql"]["readable_by_others"], serde_json::json!([]));
}

/// Chroma's own server, started by the tool on AICO's store, runs with the umask 077, so that
/// whatever it creates there is its owner's alone: a stand-in `chroma` records its umask.
#[tokio::test]
async fn the_chroma_server_the_tool_starts_creates_private_files() {
    let user = User::new(0o022);
    let store = user.home.path().join("semantic");
    std::fs::create_dir_all(&store).expect("dir");
    // A store's database with the format chromadb 1.0.20 writes: enough for the format check,
    // which the stand-in is started for first.
    let url = format!("sqlite://{}?mode=rwc", store.join("chroma.sqlite3").display());
    let made = sea_orm::Database::connect(url.as_str()).await.expect("store");
    aico_tests::exec(&made, "CREATE TABLE migrations (dir TEXT, version INTEGER)").await;
    aico_tests::exec(&made, "INSERT INTO migrations VALUES ('embeddings_queue', 2), ('metadb', 5), ('sysdb', 9)").await;
    made.close().await.ok();
    let seen = user.home.path().join("umask-seen");
    let fake = user.home.path().join("chroma");
    std::fs::write(&fake, format!("#!/bin/sh\numask > '{}'\nexit 3\n", seen.display())).expect("script");
    chmod(&fake, 0o700);
    let args = ["health", "--store", "chroma", "--chroma-path", store.to_str().expect("utf-8")];
    let out = user.command("aico-ams", &args).arg("--chroma-bin").arg(&fake).output().expect("run");
    assert_ne!(out.status.code(), Some(0), "the stand-in serves nothing: {}", text(&out));
    let umask =
        std::fs::read_to_string(&seen).unwrap_or_else(|e| panic!("the stand-in did not run ({e}): {}", text(&out)));
    assert_eq!(umask.trim(), "0077", "{}", text(&out));
}
