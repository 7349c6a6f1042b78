//! `aico-ams migrate | backfill | verify | health`: exit 0 ok, 1 a check or job failed, 2 usage or
//! connection error. Everything is in the library's `commands` layer.

fn main() -> std::process::ExitCode {
    aico_ams::commands::main()
}
