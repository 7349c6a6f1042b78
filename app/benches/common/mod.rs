//! What the benchmarks share: each side timed as its own process (with its peak RSS where the
//! goals name one), medians of alternating runs, one answer read from a database.
// Each bench compiles this module on its own and uses only part of it.
#![allow(dead_code, reason = "each bench uses its own part of what the benches share")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `command` to its end (it must succeed): its wall time, start to exit.
pub fn timed(mut command: Command) -> Duration {
    let started = Instant::now();
    let output = command.stdout(Stdio::null()).output().expect("spawn");
    let time = started.elapsed();
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    time
}

/// `program` (a `psql`) running `sql` on the database `url`, as a user runs it: its wall time.
pub fn psql_with(program: &Path, url: &str, sql: &str) -> Duration {
    let mut command = Command::new(program);
    command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]);
    timed(command)
}

/// Run `command` to its end (it must exit 0): its wall time, start to exit, and its peak RSS in
/// MiB: `ru_maxrss`, which the kernel reports for the child reaped by `wait4` (the largest of the
/// child and of the descendants it reaped itself, such as a server it started and stopped).
#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes, reason = "the child is reaped by `wait4`, which std cannot see")]
pub fn timed_with_peak_rss(mut command: Command) -> (Duration, f64) {
    use std::io::Read;

    let started = Instant::now();
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).ok();
        text
    });
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status = 0;
    // SAFETY: `rusage` is plain old data, all zeroes a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: reaps our own child `pid` (std's `Child` is not waited on after this), writing
        // only into `status` and `usage`, which outlive the call.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        assert_eq!(error.kind(), std::io::ErrorKind::Interrupted, "wait4: {error}");
    }
    let time = started.elapsed();
    let stderr = reader.join().expect("stderr reader");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(ok, "{command:?} failed (wait status {status}): {stderr}");
    (time, usage.ru_maxrss as f64 / 1024.0)
}

/// Elsewhere: the wall time alone (no peak RSS: NaN).
#[cfg(not(target_os = "linux"))]
pub fn timed_with_peak_rss(command: Command) -> (Duration, f64) {
    (timed(command), f64::NAN)
}

/// The median of some runs' figures.
pub fn median<T: PartialOrd + Copy>(mut runs: Vec<T>) -> T {
    runs.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    runs[runs.len() / 2]
}

/// The answer of `sql` on the database `url`, one text per row.
pub async fn answer(url: &str, sql: &str) -> Vec<String> {
    let conn = sea_orm::Database::connect(url).await.expect("connect");
    let answer = aico_tests::column_of(&conn, sql).await;
    conn.close().await.ok();
    answer
}
