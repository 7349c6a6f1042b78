//! The `migration` binary's own surface: help, and a full run on a fresh SQLite file.
//! (Its end-to-end behaviour on every backend is tested in the workspace's `tests/` crate.)

use std::process::Command;

fn migrator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_migration"))
}

#[test]
fn help_lists_the_stock_commands() {
    let out = migrator().arg("--help").output().expect("run migration --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["up", "down", "status", "fresh", "refresh", "reset"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(cmd)), "{cmd} missing in:\n{help}");
    }
}

#[test]
fn up_then_status_on_the_default_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let out = migrator()
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("XDG_DATA_HOME")
            .env("AICO_DATA_DIR", dir.path().join("aico"))
            .env("HOME", dir.path())
            .output()
            .expect("run migration");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // No aico.db: the tool's own database, never a file at AICO's path.
    let db = dir.path().join(".local/share/aico-ams/ams.db");
    let up = run(&["up"]);
    let aico_db = dir.path().join("aico/data/aico.db");
    let line = format!(
        "target: SQLite database {} (the tool's own database: AICO's {} does not exist)\n",
        db.display(),
        aico_db.display()
    );
    assert!(up.starts_with(&line), "{up}");
    assert!(db.is_file());
    assert!(!dir.path().join("aico").exists(), "nothing is written where AICO keeps its data");
    let status = run(&["status"]);
    assert_eq!(status.matches("  applied  m000").count(), 4, "{status}");
    assert!(!status.contains("pending"), "{status}");
}

#[test]
fn a_closed_stdout_never_aborts_the_run() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("temp dir");
    let migrator_in = |args: &[&str]| {
        let mut cmd = migrator();
        cmd.args(args)
            .env_remove("DATABASE_URL")
            .env_remove("XDG_DATA_HOME")
            .env("AICO_DATA_DIR", dir.path())
            .env("HOME", dir.path());
        cmd
    };
    // `migration up | head -0`: the reader is gone before the first line is written.
    let mut child = migrator_in(&["up"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    drop(child.stdout.take());
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    // The run was not lost: every migration is applied.
    let out = migrator_in(&["status"]).output().expect("status");
    let status = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.matches("  applied  m000").count(), 4, "{status}");
}
