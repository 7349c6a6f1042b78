//! What the benchmarks share: each side timed as its own process.

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
