//! Chroma's own server on AICO's persistent store, for one run: AICO embeds Chroma (a
//! `PersistentClient` on `<memory dir>/semantic`) and runs no server, so the tool starts
//! `chroma run --path DIR` (the `chromadb` package's program) on a free loopback port, waits until
//! it answers, and stops it when done — on every path out, and on Linux also when this process is
//! killed (the server gets SIGTERM when its parent dies).

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ChromaError;
use super::format;
use super::program::ServerProgram;

/// How long the server has to answer its heartbeat after it is started (a cold start imports
/// Python and opens the store: a few seconds).
const STARTUP: Duration = Duration::from_secs(60);

/// How long a stopped server has to shut down after SIGTERM before it is killed.
#[cfg(target_os = "linux")]
const GRACE: Duration = Duration::from_secs(10);

/// The last lines the server wrote, for the message when it does not start.
const TAIL: usize = 5;

/// A file that Chroma's persistent store always holds: its database.
pub const STORE_FILE: &str = "chroma.sqlite3";

/// A `chroma run` child process serving one store on `127.0.0.1`; stopped when dropped.
pub struct LocalServer {
    child: Child,
    url: String,
    path: PathBuf,
    program: ServerProgram,
    /// The private copy served, when it is one ([`Self::serve_copy`]): removed after the server
    /// stops.
    copy: Option<tempfile::TempDir>,
}

impl LocalServer {
    /// Serve AICO's persistent store in `path` with its own `chroma` ([`ServerProgram::find`]:
    /// `named`, else AICO's, else the PATH's), once it is known that the program leaves the
    /// store's format as it is ([`format::unchanged_by`]), and wait until it answers. The
    /// directory must hold a store already: it is AICO's data, and `chroma run` would create an
    /// empty one.
    pub async fn serve(path: &Path, named: Option<&Path>) -> Result<Self, ChromaError> {
        check_store(path)?;
        let program = ServerProgram::find(named)?;
        format::unchanged_by(path, &program).await?;
        Self::start(path, program).await
    }

    /// Serve a private copy of the store in `path` (made in the temporary directory, its owner's
    /// alone, removed when the server stops) with [`ServerProgram::find`]`(named)`: the store
    /// itself is only read, and stays byte for byte as it was, whatever the server does to what it
    /// serves. Any `chroma` will do: one that upgrades the format upgrades only the copy.
    pub async fn serve_copy(path: &Path, named: Option<&Path>) -> Result<Self, ChromaError> {
        check_store(path)?;
        let program = ServerProgram::find(named)?;
        let failed = |e: std::io::Error| ChromaError::ServerFailed {
            program: program.path.clone(),
            path: path.into(),
            detail: format!("could not copy the store to serve it: {e}"),
        };
        let copy = private_dir().map_err(failed)?;
        copy_tree(path, copy.path()).map_err(failed)?;
        let mut server = Self::start(copy.path(), program).await?;
        tracing::info!(store = %path.display(), copy = %copy.path().display(), "serving a copy of the store");
        server.path = path.into();
        server.copy = Some(copy);
        Ok(server)
    }

    /// Serve the store in `path` with `program`, and wait until it answers.
    pub(super) async fn start(path: &Path, program: ServerProgram) -> Result<Self, ChromaError> {
        let program_path = program.path.clone();
        let failed =
            |detail: String| ChromaError::ServerFailed { program: program_path.clone(), path: path.into(), detail };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| failed(format!("no free loopback port: {e}")))?
            .port();
        let mut cmd = Command::new(&program.path);
        cmd.arg("run")
            .arg("--path")
            .arg(path)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("ANONYMIZED_TELEMETRY", "False")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        private_files(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| failed(e.to_string()))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(out) = child.stdout.take() {
            drain(out, Arc::clone(&tail));
        }
        if let Some(err) = child.stderr.take() {
            drain(err, Arc::clone(&tail));
        }
        let url = format!("http://127.0.0.1:{port}");
        let mut server = Self { child, url, path: path.into(), program, copy: None };
        tracing::info!(pid = server.child.id(), url = server.url, "started Chroma's server on {}", path.display());
        let last_lines = || tail.lock().map(|t| Vec::from(t.clone()).join(" | ")).unwrap_or_default();
        let heartbeat = format!("{}/api/v2/heartbeat", server.url);
        let http =
            super::client::http_client().timeout(Duration::from_secs(2)).build().map_err(|e| failed(e.to_string()))?;
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(failed(format!("it exited ({status}): {}", last_lines())));
            }
            if http.get(&heartbeat).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop();
                return Err(failed(format!("it did not answer within {} s: {}", STARTUP.as_secs(), last_lines())));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// SIGTERM (Chroma shuts down cleanly), then SIGKILL if it is still running after a grace
    /// period; reaped either way.
    fn stop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: a plain syscall; the pid is our own child, not yet reaped, so it names no
            // other process.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + GRACE;
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The store and the program serving it, for reports: `DIR (served by PROGRAM (chromadb
/// VERSION, why this one))`.
impl std::fmt::Display for LocalServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let copy = if self.copy.is_some() { "a private copy " } else { "" };
        write!(f, "{} ({copy}served by {})", self.path.display(), self.program)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop();
        tracing::info!(url = self.url, "stopped Chroma's server");
    }
}

/// How the private copies of a store are named in the temporary directory: this prefix, the pid of
/// the run that made it, a dash, random letters.
const COPY_PREFIX: &str = "aico-ams-chroma-copy-";

/// A new private directory for a copy of a store (in the temporary directory, its owner's alone,
/// removed when dropped), after removing those of runs that were killed.
pub(super) fn private_dir() -> std::io::Result<tempfile::TempDir> {
    remove_stale_copies();
    tempfile::Builder::new().prefix(&format!("{COPY_PREFIX}{}-", std::process::id())).tempdir()
}

/// Remove the copies that runs killed before they could (`kill -9`): those whose pid names no
/// process. A copy of a running process's is left alone.
fn remove_stale_copies() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(COPY_PREFIX)).and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if !process_exists(pid) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => tracing::info!(path = %entry.path().display(), "removed a copy a killed run left"),
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), "could not remove a copy a killed run left: {e}")
                }
            }
        }
    }
}

/// Whether a process `pid` exists (Linux: its `/proc` entry; elsewhere assumed, so nothing is
/// removed).
fn process_exists(pid: u32) -> bool {
    !cfg!(target_os = "linux") || std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// Copy the directory `from` into `to` (which exists), with everything below it.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The store must exist and be one: never create AICO's data directory, nor a store in it.
fn check_store(path: &Path) -> Result<(), ChromaError> {
    let detail = if !path.is_dir() {
        "it does not exist"
    } else if !path.join(STORE_FILE).is_file() {
        "it holds no chroma.sqlite3"
    } else {
        return Ok(());
    };
    Err(ChromaError::NoStore { path: path.into(), detail: detail.into() })
}

/// Read the child's output to its end (so that it never blocks on a full pipe), logging each line
/// and keeping the last few for an error message.
fn drain(output: impl std::io::Read + Send + 'static, tail: Arc<Mutex<VecDeque<String>>>) {
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(output).lines().map_while(Result::ok) {
            let line = plain(&line);
            if line.trim().is_empty() {
                continue;
            }
            tracing::debug!(target: "chroma_server", "{line}");
            if let Ok(mut tail) = tail.lock() {
                if tail.len() == TAIL {
                    tail.pop_front();
                }
                tail.push_back(line.trim().to_owned());
            }
        }
    });
}

/// `line` without the terminal colour sequences Chroma writes even into a pipe.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters final-letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// On Linux, the child gets SIGTERM when this process dies, even by SIGKILL (a parent-death
/// signal, kept across `exec`). The signal comes when the *thread* that started the child ends:
/// the server is started from the thread that runs the command (`block_on` polls the command's
/// future on the main thread), which lives as long as the process.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: between fork and exec the closure only makes async-signal-safe calls (prctl,
    // getppid, raise) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the prctl: then no signal would ever come.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::raise(libc::SIGTERM);
            }
            Ok(())
        })
    };
}

/// Elsewhere the server is stopped on every path out of the run, but not when this process is
/// killed.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// The server runs with the umask 077: whatever it creates in AICO's store while the tool serves
/// it (files, segment directories) is its owner's alone, as everything the tool makes is (see
/// `aico_connect::private`). Files that exist keep their modes.
#[cfg(unix)]
fn private_files(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec the closure only calls umask, which is async-signal-safe and
    // cannot fail, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o077);
            Ok(())
        })
    };
}

#[cfg(not(unix))]
fn private_files(_cmd: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn colour_sequences_are_removed() {
        assert_eq!(plain("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m  listening"), "2026  INFO  listening");
    }
}
