//! One daemon per state directory, and a way for `status` to tell whether it runs.
//!
//! The daemon holds an exclusive `flock` on `<state_dir>/daemon.lock` for its lifetime;
//! the kernel drops it when the process dies, even on kill -9, so a stale file never
//! blocks a restart.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held while the daemon runs.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
    /// The lock file.
    pub path: PathBuf,
}

/// The lock file's name inside the state dir.
pub const FILE_NAME: &str = "daemon.lock";

fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

fn try_flock(file: &File) -> bool {
    // SAFETY: flock on a valid, owned file descriptor.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Takes the lock, or says which process holds it.
pub fn acquire(state_dir: &Path) -> std::io::Result<Result<DaemonLock, String>> {
    let path = lock_path(state_dir);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(crate::daemon::state_dir::FILE_MODE)
        .open(&path)?;
    if !try_flock(&file) {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        return Ok(Err(format!(
            "another bigin-sync (pid {}) already runs with state dir {}",
            holder.trim(),
            state_dir.display()
        )));
    }
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    Ok(Ok(DaemonLock { _file: file, path }))
}

/// The pid of the running daemon, if one holds the lock.
pub fn running_pid(state_dir: &Path) -> Option<u32> {
    let path = lock_path(state_dir);
    let file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
    if try_flock(&file) {
        // SAFETY: releasing the lock we just took on our own descriptor.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        return None;
    }
    std::fs::read_to_string(&path).ok()?.trim().parse().ok()
}
