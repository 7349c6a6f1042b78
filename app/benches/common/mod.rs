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

/// What a process used, run to its end.
#[derive(Clone, Copy, Debug)]
pub struct Used {
    /// Wall time, start to exit.
    pub time: Duration,
    /// Peak RSS in MiB: `ru_maxrss`, which the kernel reports for the child reaped by `wait4`
    /// (the largest of the child and of the descendants it reaped itself, such as a server it
    /// started and stopped). NaN where there is no `wait4`.
    pub peak_rss: f64,
    /// The child's own peak RSS in MiB, without its descendants: its `VmHWM`, read from
    /// `/proc/PID/status` every 10 ms while it runs (so growth in its last 10 ms may be missed).
    /// NaN where there is no `/proc`.
    pub own_hwm: f64,
}

/// Run `command` to its end (it must exit 0): its wall time, start to exit, and its peak RSS in
/// MiB (`ru_maxrss` from `wait4`: see [`Used::peak_rss`]).
pub fn timed_with_peak_rss(command: Command) -> (Duration, f64) {
    let used = timed_with_peaks(command);
    (used.time, used.peak_rss)
}

/// Run `command` to its end (it must exit 0): its wall time and peak RSS ([`Used`]).
#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes, reason = "the child is reaped by `wait4`, which std cannot see")]
pub fn timed_with_peaks(mut command: Command) -> Used {
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let started = Instant::now();
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).ok();
        text
    });
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let reaped_yet = Arc::new(AtomicBool::new(false));
    let sampler = {
        let reaped_yet = Arc::clone(&reaped_yet);
        std::thread::spawn(move || {
            let mut kib = 0u64;
            while !reaped_yet.load(Ordering::Relaxed) {
                kib = kib.max(vm_hwm_kib(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            kib
        })
    };
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
    reaped_yet.store(true, Ordering::Relaxed);
    let own_kib = sampler.join().expect("VmHWM sampler");
    let stderr = reader.join().expect("stderr reader");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(ok, "{command:?} failed (wait status {status}): {stderr}");
    Used { time, peak_rss: usage.ru_maxrss as f64 / 1024.0, own_hwm: own_kib as f64 / 1024.0 }
}

/// The `VmHWM` of the process `pid`, in KiB (None once it has exited, or without `/proc`).
#[cfg(target_os = "linux")]
fn vm_hwm_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Elsewhere: the wall time alone (no peak RSS: NaN).
#[cfg(not(target_os = "linux"))]
pub fn timed_with_peaks(command: Command) -> Used {
    Used { time: timed(command), peak_rss: f64::NAN, own_hwm: f64::NAN }
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
