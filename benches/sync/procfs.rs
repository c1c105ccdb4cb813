//! What the kernel knows about the daemon: memory high-water mark, CPU time, and (through
//! inotify) which files anyone opened in the record folders.

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A `Vm*:` field of /proc/<pid>/status, in bytes.
pub fn vm_field(pid: u32, field: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = text
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("{field} missing"))?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed status line")?
        .parse()?;
    Ok(kb * 1024)
}

/// utime + stime of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at "state" (field 3).
    let rest = text.rsplit_once(')').context("malformed stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11).context("no utime")?.parse()?;
    let stime: u64 = f.get(12).context("no stime")?.parse()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok((utime + stime) as f64 / hz)
}

/// Counts files opened (not folders) inside a set of folders, via inotify `IN_OPEN`: a
/// file the daemon hashes must be opened, a file trusted from the journal is not.
pub struct OpenCounter {
    opens: Arc<AtomicU64>,
    overflowed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OpenCounter {
    pub fn watch<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> Result<OpenCounter> {
        // SAFETY: plain syscall; the fd is owned below.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error()).context("inotify_init1");
        }
        // SAFETY: raw is a fresh, valid fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        for d in dirs {
            let c = std::ffi::CString::new(d.as_os_str().as_encoded_bytes())?;
            // SAFETY: valid fd and NUL-terminated path.
            let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_OPEN) };
            if wd < 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("inotify_add_watch {}", d.display()));
            }
        }
        let opens = Arc::new(AtomicU64::new(0));
        let overflowed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, v, s) = (opens.clone(), overflowed.clone(), stop.clone());
        let thread = std::thread::spawn(move || drain(fd, &o, &v, &s));
        Ok(OpenCounter {
            opens,
            overflowed,
            stop,
            thread: Some(thread),
        })
    }

    /// Files opened so far; `None` if the kernel queue overflowed (count unknown).
    pub fn count(&self) -> Option<u64> {
        if self.overflowed.load(Ordering::SeqCst) {
            None
        } else {
            Some(self.opens.load(Ordering::SeqCst))
        }
    }
}

impl Drop for OpenCounter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn drain(fd: OwnedFd, opens: &AtomicU64, overflowed: &AtomicBool, stop: &AtomicBool) {
    let mut buf = vec![0u8; 256 * 1024];
    let header = std::mem::size_of::<libc::inotify_event>();
    while !stop.load(Ordering::SeqCst) {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            continue;
        }
        let mut off = 0usize;
        while off + header <= n as usize {
            // SAFETY: the kernel wrote a whole event at off; read_unaligned copes with
            // the byte buffer's alignment.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                overflowed.store(true, Ordering::SeqCst);
            } else if ev.mask & libc::IN_ISDIR == 0 && ev.len > 0 {
                opens.fetch_add(1, Ordering::SeqCst);
            }
            off += header + ev.len as usize;
        }
    }
}
