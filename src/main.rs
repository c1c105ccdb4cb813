fn main() -> std::process::ExitCode {
    bigin_sync::cli::main()
}
