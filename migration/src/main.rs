//! `cargo run -p migration -- [up|down|status|repair|fresh|refresh|reset]`: the runner's commands
//! on AICO's `aico.db` when it exists, else the tool's own database (or `DATABASE_URL` / `-u`), run
//! the safe way. The command line is [`migration::cli`]'s, shared with `aico-ams migrate`.

fn main() -> std::process::ExitCode {
    migration::cli::run_cli()
}
