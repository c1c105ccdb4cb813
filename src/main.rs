// mimalloc: the engine allocates per request (forms, URLs, log fields); glibc's malloc and
// free were 7 % of a bulk upload's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    bigin_sync::cli::main()
}
