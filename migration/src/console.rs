//! What both command-line tools (`migration` and `aico`) start with: logs on stderr through
//! `tracing` (`RUST_LOG` wins over the level the flags ask for), and the async runtime.

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
