//! The workspace's binaries, run as a user runs them: a scratch HOME, no database or store from
//! the environment; their output as text or JSON; a run killed half-way.

use std::path::{Path, PathBuf};

/// A temporary directory that stands in for `$HOME` and AICO's data directory in every binary the
/// tests run, so that no test reads or writes the real ones. One per test process.
pub fn scratch_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("scratch HOME")).path()
}

/// The workspace binary `name`, with HOME, AICO_DATA_DIR and XDG_DATA_HOME in [`scratch_home`],
/// no database, store or AICO PostgreSQL setting from the environment, and no colours.
pub fn command(name: &str) -> std::process::Command {
    as_user(std::process::Command::new(workspace_bin(name)))
}

/// [`command`], run with the file-creation mask `umask` (`022`, the usual default, or `000`),
/// through `sh -c 'umask ...; exec ...'`: the test process's own umask is left alone.
pub fn command_with_umask(name: &str, umask: u32) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!("umask {umask:03o}; exec \"$0\" \"$@\"")).arg(workspace_bin(name));
    as_user(cmd)
}

/// `cmd` with the environment of [`command`].
fn as_user(mut cmd: std::process::Command) -> std::process::Command {
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
        "AICO_PG_HOST",
        "AICO_PG_PORT",
        "AICO_PG_DB_NAME",
        "AICO_POSTGRES_DATABASE",
        "AICO_PG_PASSWORD",
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

/// The path of a binary of this workspace, built beside the test executables by
/// `cargo test --workspace` (each binary's package has integration tests, so cargo builds it).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: run the tests with `cargo test --workspace`", bin.display());
    bin
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

/// Every file under `dir` (recursively), by its path under `dir`, with its bytes: to show that a
/// run left a directory byte for byte as it was.
pub fn files_of(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                out.insert(path.strip_prefix(dir).expect("under dir").to_path_buf(), bytes);
            }
        }
    }
    out
}
