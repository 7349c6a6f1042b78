//! The `aico-ams` binary's own surface: help, usage errors, secrets kept out of `--help`, a closed
//! stdout, and errors under `--json`. (Its jobs are tested end to end, on every backend, in the
//! workspace's `tests/` crate.) No test here touches `$HOME`: each runs the binary with HOME and
//! AICO_DATA_DIR in a temporary directory.

use std::io::Read;
use std::process::{Command, Output, Stdio};

use aico_tests::text;
use serde_json::Value;

/// `aico-ams` with `args`, its HOME and AICO_DATA_DIR in `home`, and no database or store from the
/// environment.
fn aico(home: &tempfile::TempDir, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aico-ams"));
    cmd.args(args)
        .env("HOME", home.path())
        .env("AICO_DATA_DIR", home.path())
        .env_remove("XDG_DATA_HOME")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    for var in ["DATABASE_URL", "DATABASE_SCHEMA", "CHROMA_URL", "CHROMA_TOKEN", "CHROMA_CA_CERT", "AICO_MEMORY_DIR"] {
        cmd.env_remove(var);
    }
    cmd
}

fn home() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp HOME")
}

#[test]
fn help_reads_as_sentences() {
    let home = home();
    let out = aico(&home, &["--help"]).output().expect("run aico");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["migrate", "backfill", "verify", "health"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(cmd)), "{cmd} missing in:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    let home = home();
    let out = aico(&home, &["backfill", "--batch-size", "0"]).output().expect("run aico");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--batch-size"), "the error must name the flag: {err}");
    assert!(err.contains("1..=10000"), "and the range it takes: {err}");
    let left: Vec<_> = std::fs::read_dir(home.path()).expect("home").collect();
    assert!(left.is_empty(), "a usage error wrote into HOME: {left:?}");
}

/// Every variable that can carry a secret, now or later, set to a value no help text contains.
const SECRETS: [(&str, &str); 8] = [
    ("DATABASE_URL", "postgres://u:s3cr3t-db-pw@h/db"),
    ("DATABASE_SCHEMA", "s3cr3t-schema"),
    ("CHROMA_URL", "https://u:s3cr3t-chroma-pw@chroma.example"),
    ("CHROMA_TOKEN", "s3cr3t-chroma-token"),
    ("CHROMA_CA_CERT", "/s3cr3t/ca.pem"),
    ("AICO_MEMORY_DIR", "/s3cr3t/memory"),
    ("AICO_DB_KEY", "s3cr3t-db-key"),
    ("AICO_MASTER_KEY", "s3cr3t-master-key"),
];

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let home = home();
    let commands: [&[&str]; 5] = [&[], &["migrate"], &["backfill"], &["verify"], &["health"]];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let mut cmd = aico(&home, &args);
        cmd.envs(SECRETS);
        let out = cmd.output().expect("run aico");
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let help = text(&out);
        for (var, value) in SECRETS {
            assert!(!help.contains(value), "`aico {}` shows {var}'s value:\n{help}", args.join(" "));
        }
        if command.len() == 2 {
            assert!(help.contains("[env: DATABASE_URL]"), "the variable is still named: {help}");
        }
    }
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_jobs_own_status() {
    let home = home();
    let url = format!("sqlite://{}?mode=rwc", home.path().join("aico.db").display());
    let args = ["verify", "--database-url", url.as_str()];
    let expected = aico(&home, &args).stdout(Stdio::null()).output().expect("run aico").status.code();
    assert!(expected.is_some_and(|c| c != 101), "{expected:?}");

    let mut child = aico(&home, &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn aico");
    drop(child.stdout.take()); // the reader goes away before anything is written
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    let status = child.wait().expect("wait");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("Broken pipe"), "a closed pipe is not an error: {err}");
    assert_ne!(status.code(), Some(101));
    assert_eq!(status.code(), expected, "the job keeps its own exit status: {err}");
}

fn json_error(out: &Output) -> (String, String) {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)));
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["error"], "{v:#}");
    let error = v["error"].as_object().expect("error object");
    assert_eq!(error.keys().collect::<Vec<_>>(), ["kind", "message"], "{v:#}");
    let field = |k: &str| error[k].as_str().expect("string").to_owned();
    (field("kind"), field("message"))
}

#[test]
fn errors_under_json_are_json_on_stdout_with_the_same_exit_codes() {
    let home = home();
    let bad_url = "postgres://u:pw@127.0.0.1:1/nowhere";
    for command in ["migrate", "backfill", "verify", "health"] {
        let out = aico(&home, &[command, "--json", "--database-url", bad_url]).output().expect("run aico");
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        let (kind, message) = json_error(&out);
        assert_eq!(kind, "unreachable", "{command}");
        assert!(message.contains("postgres://u:***@127.0.0.1:1/nowhere"), "{command}: {message}");
        assert!(!message.contains("pw@"), "the password is hidden: {message}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error: "), "stderr keeps its line");
    }

    let missing = format!("sqlite://{}", home.path().join("nope.db").display());
    let out = aico(&home, &["verify", "--json", "--database-url", &missing]).output().expect("run aico");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(json_error(&out).0, "database_missing");

    let out = aico(&home, &["backfill", "--batch-size", "0", "--json"]).output().expect("run aico");
    assert_eq!(out.status.code(), Some(2));
    let (kind, message) = json_error(&out);
    assert_eq!(kind, "usage");
    assert!(message.contains("--batch-size"), "{message}");
}
