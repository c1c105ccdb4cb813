//! Shared harness of the end-to-end tests: a sandbox per test, temp folders, the real
//! binary, and waiting for conditions (never fixed sleeps).
#![allow(dead_code)]

use bigin_sync::model::{Product, RecordKey};
use bigin_sync::sandbox::{Route, Sandbox, SandboxAttachment, SandboxOptions};
use bigin_sync::zoho::{ApiCall, ApiOp, Outcome};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_bigin-sync");

/// Generous: the CI machine has 2 noisy cores.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
    pub sandbox: Sandbox,
    pub product: Product,
}

impl Env {
    pub async fn new() -> Env {
        Self::with(SandboxOptions::default(), "").await
    }

    /// `extra_sync` is appended to the `[sync]` table.
    pub async fn with(opts: SandboxOptions, extra_sync: &str) -> Env {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let state = tmp.path().join("state");
        std::fs::create_dir_all(&root).unwrap();
        let sandbox = Sandbox::start(opts).await.expect("sandbox");
        let config = tmp.path().join("config.toml");
        let sync = format!(
            "poll_interval = \"1s\"\npoll_interval_max = \"2s\"\ndebounce = \"300ms\"\nrescan_interval = \"3s\"\n{extra_sync}"
        );
        let text = sandbox.config_toml(
            &root,
            &state,
            "log_level = \"info,bigin_sync=debug\"",
            &sync,
        );
        std::fs::write(&config, text).unwrap();
        Env {
            tmp,
            root,
            state,
            config,
            sandbox,
            product: Product::Bigin,
        }
    }

    /// An `Env` whose sandbox refuses uploads larger than `max_upload_bytes`.
    pub async fn with_upload_limit(max_upload_bytes: u64) -> Env {
        let opts = SandboxOptions {
            max_upload_bytes,
            ..SandboxOptions::default()
        };
        Self::with(opts, "").await
    }

    /// Creates the record folder and the record in the sandbox.
    pub fn record(&self, module: &str, id: &str) -> PathBuf {
        self.sandbox.add_record(self.product, module, id);
        let dir = self.root.join(module).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    pub fn remote(&self, module: &str, id: &str) -> Vec<SandboxAttachment> {
        self.sandbox.attachments(self.product, module, id)
    }

    pub fn remote_names(&self, module: &str, id: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .remote(module, id)
            .into_iter()
            .map(|a| a.file_name)
            .collect();
        v.sort();
        v
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&self.config);
        c.env_remove("RUST_LOG")
            .env_remove("BIGIN_SYNC_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY");
        c
    }

    /// Runs `once` in a blocking thread so the sandbox keeps serving.
    pub async fn once(&self) -> Output {
        self.run_args(&["once"]).await
    }

    pub async fn run_args(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        tokio::task::spawn_blocking(move || c.output().expect("run binary"))
            .await
            .unwrap()
    }

    /// Runs `once` until it exits 0 (faults may need several passes).
    pub async fn once_until_clean(&self, max_runs: usize) -> Output {
        let mut last = None;
        for _ in 0..max_runs {
            let out = self.once().await;
            if out.status.success() {
                return out;
            }
            last = Some(out);
        }
        let out = last.unwrap();
        panic!(
            "once never converged; last stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts `run` with its log in `<tmp>/daemon-N.log`.
    pub fn spawn_daemon(&self) -> Daemon {
        let n = std::fs::read_dir(self.tmp.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let log = self.tmp.path().join(format!("daemon-{n}.log"));
        let mut run = self.cmd();
        run.arg("run");
        Daemon::spawn(run, log)
    }

    pub fn calls(&self, route: Route) -> u64 {
        self.sandbox.calls(route)
    }

    /// Local names of the record's journal rows whose download is not yet known to be on
    /// disk. Read-only, so it works beside a running daemon.
    pub fn unflushed(&self, module: &str, id: &str) -> bigin_sync::journal::Result<Vec<String>> {
        bigin_sync::journal::Journal::open_read_only(&self.state)
            .and_then(|j| j.unflushed(&record_key(module, id)))
    }

    /// True when every download of the record is known to be on disk: no journal row of
    /// it is unflushed (and the journal could be read).
    pub fn flushed(&self, module: &str, id: &str) -> bool {
        self.unflushed(module, id).is_ok_and(|u| u.is_empty())
    }

    /// Waits until [`Env::flushed`]; on timeout the daemon's log says why not.
    pub async fn wait_flushed(&self, d: &Daemon, module: &str, id: &str) {
        assert!(
            wait_until(DEADLINE, || self.flushed(module, id)).await,
            "{}",
            d.log_text()
        );
    }

    /// Sets `log_format` (e.g. `"json"`): a top-level key, so it goes before the tables.
    pub fn set_log_format(&self, format: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(&self.config, format!("log_format = \"{format}\"\n{text}")).unwrap();
    }

    /// Records in the journal that `credits` were spent on `op` an hour ago, as a daemon
    /// that ran earlier today would have.
    pub fn spent_an_hour_ago(&self, op: ApiOp, credits: u32) {
        let an_hour_ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            - 3600;
        let earlier = ApiCall {
            op,
            outcome: Outcome::Ok,
            credits,
        };
        bigin_sync::journal::Journal::open(&self.state)
            .unwrap()
            .record_api_calls(&[(an_hour_ago, earlier)])
            .unwrap();
    }
}

pub fn record_key(module: &str, id: &str) -> RecordKey {
    RecordKey {
        module: module.into(),
        record_id: id.into(),
    }
}

/// Creates a Bigin deal (a Pipelines record) named `name`; returns its id.
pub fn add_deal(sb: &Sandbox, name: &str) -> String {
    sb.create_record(
        Product::Bigin,
        "Pipelines",
        serde_json::json!({"Deal_Name": name}),
    )
}

/// Creates a Bigin deal named `name` in `stage`; returns its id.
pub fn add_deal_at_stage(sb: &Sandbox, name: &str, stage: &str) -> String {
    sb.create_record(
        Product::Bigin,
        "Pipelines",
        serde_json::json!({"Deal_Name": name, "Stage": stage}),
    )
}

pub struct Daemon {
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Spawns `run` (a `bigin-sync run` command) with stdout discarded and stderr in a
    /// new file at `log`.
    pub fn spawn(mut run: Command, log: PathBuf) -> Daemon {
        let file = std::fs::File::create(&log).unwrap();
        let child = run
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn daemon");
        Daemon {
            child: Some(child),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits; returns the exit status and how long it took.
    pub async fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let mut c = self.child.take().expect("running");
        let pid = c.id() as i32;
        let started = Instant::now();
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = tokio::task::spawn_blocking(move || c.wait().expect("wait"))
            .await
            .unwrap();
        (status, started.elapsed())
    }

    /// Sends SIGHUP (reload the config).
    pub fn hangup(&self) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGHUP) };
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_log(&self, needle: &str) {
        let ok = wait_until(DEADLINE, || self.log_text().contains(needle)).await;
        assert!(ok, "log never contained {needle:?}:\n{}", self.log_text());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Polls `cond` every 50 ms until true or the deadline passes.
pub async fn wait_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The regular files of a folder, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Writes a file the way careful programs do: temp file, then rename into place.
pub fn drop_file(dir: &Path, name: &str, content: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp-drop"));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr:\n{}",
        out.status,
        stderr(out)
    );
}
