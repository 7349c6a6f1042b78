//! What both command-line tools (`migration` and `aico-ams`) start with: logs on stderr through
//! `tracing` (`RUST_LOG` wins over the level the flags ask for), the async runtime, and standard
//! output written with `write!` to the locked stdout, where a closed pipe (`migration status |
//! head -1`) ends the output quietly — the job goes on and keeps its exit status, as ripgrep and
//! cargo do — instead of panicking as `println!` would.

use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;

/// Send `tracing` logs to stderr at `level` (unless `RUST_LOG` says otherwise), without times,
/// coloured on a terminal; `with_target` names each event's module.
pub fn init_logging(level: &str, with_target: bool) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(with_target)
        .without_time()
        .init();
}

/// Run `job` to completion on a multi-threaded runtime; exit status 2 (with a message) when the
/// runtime cannot start.
pub fn block_on<F: Future>(job: F) -> Result<F::Output, ExitCode> {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => Ok(runtime.block_on(job)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// Standard output, as far as it is still open.
#[derive(Debug, Default)]
pub struct Stdout {
    /// The reader went away: nothing more is written.
    closed: bool,
    /// A write failed for another reason (a full disk): the command fails.
    failed: Option<io::Error>,
}

impl Stdout {
    /// Write `text` as it is.
    pub fn print(&mut self, text: impl Display) {
        if self.closed || self.failed.is_some() {
            return;
        }
        let mut out = io::stdout().lock();
        let written = write!(out, "{text}").and_then(|()| out.flush());
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.closed = true,
            Err(e) => self.failed = Some(e),
        }
    }

    /// Write `text` and a newline.
    pub fn line(&mut self, text: impl Display) {
        self.print(format_args!("{text}\n"));
    }

    /// Remember that the output could not be written (other than a closed pipe): the command then
    /// fails at [`Stdout::finish`].
    pub fn fail(&mut self, e: io::Error) {
        self.failed.get_or_insert(e);
    }

    /// The exit status: `code`, unless writing failed (other than on a closed pipe).
    pub fn finish(self, code: ExitCode) -> ExitCode {
        match self.failed {
            None => code,
            Some(e) => {
                eprint(format_args!("error: cannot write the report: {e}"));
                ExitCode::from(1)
            }
        }
    }
}

/// A line on stderr; nothing, rather than a panic, when stderr is closed.
pub fn eprint(text: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}
