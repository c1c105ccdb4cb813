//! The integration tests, linked as one test binary (cargo's `tests/testsuite` layout):
//! one link instead of fifteen, and tests of different files run side by side. Each
//! module was its own `tests/*.rs` binary before; each test still has its own temp dirs,
//! sandbox and port, and sets process-wide state (umask) only in the children it spawns.

mod client_contract;
mod common;
mod config_example;
mod e2e_cli;
mod e2e_credits;
mod e2e_daemon;
mod e2e_follow;
mod e2e_names;
mod e2e_once;
mod e2e_ops;
mod e2e_packaging;
mod e2e_process;
mod e2e_watch;
mod sandbox_http;
mod simulation;
