//! Peak memory of the real binary, measured with `wait4`'s `ru_maxrss`. Its own test
//! binary, apart from `tests/it`: a child's peak resident size counts the pages it shares
//! with its parent between fork and exec, and the one-binary suite's process holds every
//! other test's sandbox (160 MiB seen), which would be charged to the child.

#[path = "it/common/mod.rs"]
mod common;

use bigin_sync::sandbox::{Faults, Route};
use common::*;

const M: &str = "Contacts";
const R: &str = "2034020000000489124";

/// Runs the binary to the end and returns its output with its peak resident memory.
// The child is reaped by `wait4`, which also gives its resource usage.
#[allow(clippy::zombie_processes)]
fn run_measured(mut cmd: std::process::Command) -> (std::process::Output, u64) {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut err = Vec::new();
        stderr.read_to_end(&mut err).unwrap();
        err
    });
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let err = err.join().unwrap();
    let mut status = 0;
    // SAFETY: plain wait4 on our own child, with valid out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let status = std::os::unix::process::ExitStatusExt::from_raw(status);
    let output = std::process::Output {
        status,
        stdout: out,
        stderr: err,
    };
    (output, usage.ru_maxrss as u64 * 1024)
}

/// A list reply of hundreds of MiB is refused after 16 MiB, with a clear error, and the
/// daemon's memory stays small (it took 1.1 GB for a 415 MB reply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_list_reply_is_refused_without_filling_the_memory() {
    let env = Env::new().await;
    env.record(M, R);
    env.sandbox.set_faults(Faults {
        oversized_reply_bytes: Some(400 * 1024 * 1024),
        routes: vec![Route::List],
        ..Faults::default()
    });
    let mut cmd = env.cmd();
    cmd.arg("once");
    let (out, peak) = tokio::task::spawn_blocking(move || run_measured(cmd))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        peak < 150 * 1024 * 1024,
        "peak memory {} MiB",
        peak / (1024 * 1024)
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("16 MiB"), "{stderr}");
}
