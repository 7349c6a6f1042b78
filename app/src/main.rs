//! `aico-ams migrate | backfill | verify | health`: exit 0 ok, 1 a check or job failed, 2 usage or
//! connection error. Everything is in the library's `commands` layer.

/// mimalloc: a move hands each batch's rows from thread to thread, and glibc's malloc and free
/// (`malloc_consolidate` above all) were a fifth of the move's own time (docs/move.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    aico_ams::commands::main()
}
