//! Standard output for reports: written with `write!` to the locked stdout, where a closed pipe
//! (`aico db verify | head -1`) ends the output quietly — the job goes on and keeps its exit
//! status, as ripgrep and cargo do — instead of panicking as `println!` would.

use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;

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

    /// `value` as pretty JSON, and a newline.
    pub fn json(&mut self, value: &impl serde::Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.line(text),
            Err(e) => self.failed = Some(io::Error::other(format!("cannot write the JSON report: {e}"))),
        }
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
