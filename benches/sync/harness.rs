//! The bench's world: a sandbox on loopback, temp folders, a config, and the real binary
//! started as a child process whose log lines are timestamped as they arrive.

use anyhow::{Context, Result, bail};
use bigin_sync::model::Product;
use bigin_sync::sandbox::{Route, Sandbox, SandboxOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Built by cargo for bench targets too (bench profile = release).
pub const BIN: &str = env!("CARGO_BIN_EXE_bigin-sync");

/// Module every bench record lives in.
pub const MODULE: &str = "Pipelines";

/// Generous: the machine is shared and slow.
pub const DEADLINE: Duration = Duration::from_secs(600);

/// A scenario's temp folder. Removed by [`remove_fixtures`] when the whole run is over,
/// not when its scenario ends: deleting thousands of files makes ext4 (no-journal mode,
/// as here) skip the recently freed inodes on every file created in the next ~30 s
/// (`recently_deleted` was 20 % of the next scenario's CPU), which would charge one
/// scenario's clean-up to the next one's measurement.
pub struct Fixture(PathBuf);

static FIXTURES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

impl Fixture {
    fn new() -> Result<Fixture> {
        let path = tempfile::Builder::new()
            .prefix("bigin-bench")
            .tempdir()?
            .keep();
        FIXTURES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(path.clone());
        Ok(Fixture(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// Removes every scenario's temp folder (end of the run), unless `BENCH_SYNC_KEEP` is
/// set: back-to-back runs comparing two builds then do not slow each other down with
/// freshly freed inodes (finding 7); remove the `bigin-bench*` folders by hand later.
pub fn remove_fixtures() {
    if std::env::var_os("BENCH_SYNC_KEEP").is_some() {
        return;
    }
    for path in FIXTURES.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// One sandbox + one root + one journal.
pub struct Env {
    pub tmp: Fixture,
    pub root: PathBuf,
    pub config: PathBuf,
    pub sandbox: Sandbox,
    /// When the env was created: token grants are judged per hour of its life.
    pub born: Instant,
}

impl Env {
    /// `sync` is the body of the `[sync]` table (defaults are the shipped ones).
    /// `BENCH_SYNC_EXTRA` is appended to it, for experiments (e.g. `watch = "poll"`).
    pub async fn new(opts: SandboxOptions, sync: &str) -> Result<Env> {
        let extra = std::env::var("BENCH_SYNC_EXTRA").unwrap_or_default();
        let sync = format!("{sync}\n{}", extra.replace("\\n", "\n"));
        let tmp = Fixture::new()?;
        let root = tmp.path().join("root");
        let state = tmp.path().join("state");
        std::fs::create_dir_all(&root)?;
        let sandbox = Sandbox::start(opts).await?;
        let config = tmp.path().join("config.toml");
        // `BENCH_SYNC_LOG_LEVEL` (e.g. `info,bigin_sync=debug`) for profiling with
        // `BENCH_SYNC_LOGS`.
        let level = std::env::var("BENCH_SYNC_LOG_LEVEL").unwrap_or_else(|_| "info".into());
        let text = sandbox.config_toml(&root, &state, &format!("log_level = \"{level}\""), &sync);
        std::fs::write(&config, text)?;
        Ok(Env {
            tmp,
            root,
            config,
            sandbox,
            born: Instant::now(),
        })
    }

    /// Creates the record remotely and its folder locally.
    pub fn record(&self, id: &str) -> Result<PathBuf> {
        self.sandbox.add_record(Product::Bigin, MODULE, id);
        let dir = self.root.join(MODULE).join(id);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    pub fn remote_count(&self, id: &str) -> usize {
        self.sandbox.attachments(Product::Bigin, MODULE, id).len()
    }

    pub fn cmd(&self) -> Command {
        // For profiling: `BENCH_SYNC_WRAP="perf record -g -o /tmp/p.data --"` runs every
        // command under the given wrapper.
        let wrap = std::env::var("BENCH_SYNC_WRAP").unwrap_or_default();
        let mut wrap = wrap.split_whitespace();
        let mut c = match wrap.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(wrap).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        c.arg("--config").arg(&self.config);
        c.env_remove("RUST_LOG")
            .env_remove("BIGIN_SYNC_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("NOTIFY_SOCKET");
        c
    }

    /// Runs a command to completion on a blocking thread (the sandbox keeps serving);
    /// returns its output and wall time. A failure exit is an error.
    pub async fn run(&self, args: &[&str]) -> Result<(Output, Duration)> {
        let mut c = self.cmd();
        c.args(args);
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || c.output()).await??;
        let took = started.elapsed();
        // For profiling: keep each command's log (`BENCH_SYNC_LOGS=<dir>`).
        if let Some(dir) = std::env::var_os("BENCH_SYNC_LOGS") {
            let n = std::fs::read_dir(&dir).map_or(0, |d| d.count());
            let _ = std::fs::write(
                std::path::Path::new(&dir).join(format!("{n:03}-{}.log", args.join("-"))),
                &out.stderr,
            );
        }
        if !out.status.success() {
            bail!(
                "bigin-sync {args:?} exited {:?}: {}",
                out.status,
                tail(&String::from_utf8_lossy(&out.stderr))
            );
        }
        Ok((out, took))
    }

    /// Starts `run`; its stderr is read by a thread that notes when READY was logged.
    pub fn spawn_daemon(&self) -> Result<Daemon> {
        let started = Instant::now();
        let mut child = self
            .cmd()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning the daemon")?;
        let stderr = child.stderr.take().context("daemon stderr")?;
        let log = Arc::new(Mutex::new(LogState::default()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                if s.ready.is_none() && line.contains("bigin-sync running") {
                    s.ready = Some(Instant::now());
                }
                s.lines.push(line);
            }
        });
        Ok(Daemon {
            child: Some(child),
            started,
            log,
        })
    }

    /// Sum of the routes Zoho charges credits for.
    pub fn api_calls(&self) -> u64 {
        self.sandbox.total_api_calls()
    }

    pub fn calls(&self, r: Route) -> u64 {
        self.sandbox.calls(r)
    }
}

#[derive(Default)]
pub struct LogState {
    pub lines: Vec<String>,
    pub ready: Option<Instant>,
}

/// A running `bigin-sync run`; killed when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub started: Instant,
    pub log: Arc<Mutex<LogState>>,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Time from spawn to the READY log line.
    pub async fn wait_ready(&self) -> Result<Duration> {
        let log = self.log.clone();
        let ok = wait_until(DEADLINE, || lock(&log).ready.is_some()).await;
        let s = lock(&self.log);
        match s.ready {
            Some(t) if ok => Ok(t - self.started),
            _ => bail!(
                "daemon never READY; log tail:\n{}",
                tail(&s.lines.join("\n"))
            ),
        }
    }

    pub fn log_tail(&self) -> String {
        tail(&lock(&self.log).lines.join("\n"))
    }

    /// SIGTERM and wait (the daemon promises to exit within 10 s).
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child process by its id.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            tokio::task::spawn_blocking(move || c.wait()).await??;
        }
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // For profiling, like `Env::run`'s: the daemon's log (`BENCH_SYNC_LOGS=<dir>`).
        if let Some(dir) = std::env::var_os("BENCH_SYNC_LOGS") {
            let n = std::fs::read_dir(&dir).map_or(0, |d| d.count());
            let text = lock(&self.log).lines.join("\n");
            let _ = std::fs::write(Path::new(&dir).join(format!("{n:03}-run.log")), text);
        }
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls `cond` every millisecond until true or the deadline passes.
pub async fn wait_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Last lines of a log, for error messages.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Temp file then rename, the way careful programs write.
pub fn drop_file(dir: &Path, name: &str, content: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp-drop"));
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, dir.join(name))?;
    Ok(())
}

/// Deterministic, distinct content: `len` bytes derived from `seed`.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}
