//! The `aico` binary's own surface. (Its jobs are tested end to end, on every backend, in the
//! workspace's `tests/` crate.)

use std::process::Command;

#[test]
fn help_reads_as_sentences() {
    let out = Command::new(env!("CARGO_BIN_EXE_aico")).args(["db", "--help"]).output().expect("run aico");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["migrate", "backfill", "verify", "health"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(cmd)), "{cmd} missing in:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_aico"))
        .args(["db", "backfill", "--batch-size", "0"])
        .output()
        .expect("run aico");
    assert_eq!(out.status.code(), Some(2));
}
