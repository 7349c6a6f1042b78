//! Standard output for reports: [`aico_console::Stdout`] (a closed pipe ends the output
//! quietly), plus JSON.

use std::io;

pub use aico_console::{Stdout, eprint};

/// Write `value` to `out` as pretty JSON, and a newline.
pub fn json(out: &mut Stdout, value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => out.line(text),
        Err(e) => out.fail(io::Error::other(format!("cannot write the JSON report: {e}"))),
    }
}
