//! Skipping loudly: a test whose real prerequisite is missing says so on stderr and in the skip
//! list the test command counts (`cargo xtask test`); under CI it fails instead.

use std::path::Path;

/// Skip (with a message) outside CI, fail under CI: for a test whose tool is missing.
pub(crate) fn unavailable(what: &str) {
    unavailable_because(what, "no python3 with venv and pip?); set AICO_TEST_PYTHON");
}

/// [`unavailable`], with `hint` (what to install or set) in the message.
pub(crate) fn unavailable_because(what: &str, hint: &str) {
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
pub(crate) fn skipped(why: &str) {
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
