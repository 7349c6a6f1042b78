//! `cargo xtask test [ARGS]`: the README's test command. It runs `cargo test --workspace [ARGS]`,
//! then ends with one loud line counting the tests that were skipped: a test whose backend or tool
//! is missing (PostgreSQL outside CI, Python) passes without running, and would otherwise hide in
//! the scrollback. The test helpers (`aico_tests`) append one line per skip, `TEST<tab>REASON`, to
//! the file this names in `AICO_TEST_SKIPS`. The exit status is cargo's.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("test") => test(args.collect()),
        _ => {
            eprintln!("usage: cargo xtask test [ARGS for cargo test]");
            ExitCode::from(2)
        }
    }
}

fn test(args: Vec<String>) -> ExitCode {
    let skips = target_dir().join("aico-test-skips.txt");
    if let Err(e) = std::fs::write(&skips, "") {
        eprintln!("error: cannot write {}: {e}", skips.display());
        return ExitCode::from(2);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--workspace"]).args(&args).env("AICO_TEST_SKIPS", &skips).stdout(Stdio::piped());
    // `cargo run` gave this process the variables of the xtask package (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, ...): passed on, they would rerun the build scripts that watch one of them
    // (ring's watches CARGO_MANIFEST_DIR), and rebuild half the workspace for the tests.
    for (name, _) in std::env::vars_os() {
        if let Some(n) = name.to_str()
            && (n.starts_with("CARGO_PKG_")
                || n.starts_with("CARGO_MANIFEST_")
                || ["CARGO_CRATE_NAME", "CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE"].contains(&n))
        {
            cmd.env_remove(name);
        }
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("error: cannot run cargo test: {e}");
            return ExitCode::from(2);
        }
    };
    // Pass libtest's output on, adding up its `test result:` lines.
    let (mut passed, mut failed) = (0, 0);
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines().map_while(Result::ok) {
        let _ = writeln!(out, "{line}");
        if let Some(result) = line.strip_prefix("test result: ") {
            passed += count(result, "passed");
            failed += count(result, "failed");
        }
    }
    let status = child.wait().ok().and_then(|s| s.code()).unwrap_or(1);

    // One entry per test (a test may skip more than once), with its first reason.
    let mut skipped = BTreeMap::new();
    for line in std::fs::read_to_string(&skips).unwrap_or_default().lines() {
        let (test, reason) = line.split_once('\t').unwrap_or((line, ""));
        skipped.entry(test.to_owned()).or_insert_with(|| reason.to_owned());
    }
    let _ = writeln!(out);
    for (test, reason) in &skipped {
        let _ = writeln!(out, "skipped: {test}: {reason}");
    }
    let _ = match skipped.len() {
        0 => writeln!(out, "{passed} tests passed, {failed} failed; none skipped"),
        n => writeln!(
            out,
            "{n} TESTS SKIPPED (they passed without running; listed above) of {passed} passed, {failed} failed"
        ),
    };
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// The number before ` what` in a `test result:` line (`ok. 12 passed; 0 failed; ...`).
fn count(result: &str, what: &str) -> u64 {
    result.split([';', '.']).find_map(|part| part.trim().strip_suffix(what)?.trim().parse().ok()).unwrap_or(0)
}

/// The target directory this binary was built in (`target/debug/xtask` → `target/`).
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target"))
}
