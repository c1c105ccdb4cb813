//! Performs the planner's actions against Zoho and the disk, one confirmed step at a time.
//!
//! Each action commits its outcome to the journal once it is confirmed on both sides
//! (the per-transfer writes of concurrent actions share transactions: `group_commit`), so a crash between two actions loses nothing: the next
//! reconcile re-reads the three trees and plans again. The order of operations inside an
//! action is what makes it crash-safe (see README "Safety model"):
//! - upload: intent row → POST → journal row with the attachment id (intent cleared);
//! - replace: upload the new version as above → DELETE the old attachment;
//! - download: GET into a temp file in the record folder → no-clobber rename → journal row
//!   marked unflushed (with the boot id) → later, off the pass, one file-system flush →
//!   rows marked flushed (see `flush`);
//! - remote delete seen: move the local file to the trash → journal;
//! - local delete seen: DELETE → journal (an attachment already gone counts as done).
//!
//! Retryable errors are retried with exponential backoff and full jitter (honouring
//! `Retry-After`); what is still failing at the end of a pass is persisted with its next
//! attempt time, so a restart does not reset the backoff. Permanent errors park the entry.

mod actions;
pub mod adopt;
pub mod flush;
pub mod gate;
mod group_commit;
mod reserved;
mod retry;
pub mod trash;

pub use reserved::PassIntents;
pub use retry::RetryPolicy;

use crate::dir_handle::DirHandle;
use crate::events::{Direction, Event, EventKind};
use crate::journal::{FailureRow, Journal, JournalError, NewFailure};
use crate::log_fields::{ACTION, ATTACHMENT_ID, BYTES, FILE, MODULE, RECORD};
use crate::model::{RecordKey, RemoteAttachment, unix_now};
use crate::planner::{Action, LocalEntry, SyncedEntry};
use crate::zoho::{ZohoClient, ZohoError};
use gate::ApiGate;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything the executor needs to know about one record to carry out its actions.
#[derive(Debug, Clone)]
pub struct RecordWork {
    /// The record the actions belong to.
    pub key: RecordKey,
    /// The record folder, opened from the root without following a link when it was
    /// scanned; every file access of its actions goes through it. `None` when the folder
    /// is gone (then nothing local is planned).
    pub dir: Option<DirHandle>,
    /// The folder's files by name, as scanned.
    pub local: HashMap<String, LocalEntry>,
    /// The record's attachments by id, as last listed.
    pub remote: HashMap<String, RemoteAttachment>,
    /// The journal's rows by local name.
    pub synced: HashMap<String, SyncedEntry>,
    /// Failure rows by subject (local name or attachment id).
    pub failures: HashMap<String, FailureRow>,
    /// Uploads Zoho is known to refuse, by local name, with why (`planner::preflight`):
    /// parked without any API call.
    pub refused: HashMap<String, String>,
}

impl RecordWork {
    /// The record folder's handle.
    fn dir(&self) -> Result<&DirHandle, ExecError> {
        self.dir.as_ref().ok_or_else(|| {
            ExecError::Inconsistent(format!("record folder of {} not open", self.key))
        })
    }

    /// Attachment ids the journal or the last list already know: never adopted as the
    /// result of an interrupted upload.
    fn known_attachment_ids(&self) -> HashSet<String> {
        self.remote
            .keys()
            .cloned()
            .chain(self.synced.values().map(|e| e.attachment_id.clone()))
            .collect()
    }
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Confirmed on both sides and in the journal.
    Done,
    /// Not attempted or abandoned without harm; the next reconcile plans again
    /// (the file changed meanwhile, it is still backing off, ...).
    Skipped(String),
    /// A retryable failure outlived this pass's retries; retried after `next_attempt_unix`.
    Deferred {
        /// The last error.
        message: String,
        /// When the action may be tried again, Unix seconds.
        next_attempt_unix: i64,
    },
    /// A permanent failure: parked until the file changes or the user runs `retry`.
    Parked(String),
}

/// A change the action made to the remote side, so the caller's cached view of the
/// record's attachments stays true without listing again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteDelta {
    /// An attachment the action created.
    Added(RemoteAttachment),
    /// The id of an attachment the action deleted.
    Removed(String),
}

/// The result of one action, for logs, status and the remote cache.
#[derive(Debug, Clone)]
pub struct ActionReport {
    /// The action's kind, as logged (`upload`, `download`, …).
    pub action: &'static str,
    /// What it acted on: a local name or an attachment id.
    pub subject: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Bytes transferred.
    pub bytes: u64,
    /// The attachment it created or acted on, when there is one.
    pub attachment_id: Option<String>,
    /// What it changed on Zoho's side.
    pub deltas: Vec<RemoteDelta>,
    /// The local name of a download whose file is not flushed to disk yet.
    pub unflushed: Option<String>,
}

/// Why an action failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A Zoho call failed.
    #[error(transparent)]
    Zoho(#[from] ZohoError),
    /// The journal could not be read or written.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// A file operation in the record folder or the trash failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`open`, `rename`, …).
        op: &'static str,
        /// The file or folder it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file changed (or appeared, or vanished) since it was scanned: plan again.
    #[error("{0} changed since it was scanned; will plan again")]
    Changed(String),
    /// An internal mismatch: the action names a file or attachment the record's work
    /// does not hold.
    #[error("the action refers to something the reconcile did not see: {0}")]
    Inconsistent(String),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
    /// Zoho is known to refuse this upload (preflight): parked without an API call.
    #[error("{0}")]
    Refused(String),
}

impl ExecError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        ExecError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Work done by one action on success.
#[derive(Debug, Default)]
pub(crate) struct Done {
    bytes: u64,
    attachment_id: Option<String>,
    deltas: Vec<RemoteDelta>,
    /// The local name of a download recorded as not yet flushed to disk.
    unflushed: Option<String>,
}

/// Remembers the paths the daemon itself just wrote, so that the watcher does not
/// report them back as user changes.
#[derive(Debug, Default)]
pub struct SelfWrites {
    inner: Mutex<NotedPaths>,
}

#[derive(Debug, Default)]
struct NotedPaths {
    paths: HashMap<PathBuf, Instant>,
    /// When expired entries were last dropped. Pruning on every note made a pass of n
    /// downloads cost n² time comparisons.
    pruned: Option<Instant>,
}

impl SelfWrites {
    const HOLD: Duration = Duration::from_secs(5);

    /// Remembers that the daemon itself just wrote `path`, so the watcher ignores its
    /// event.
    pub fn note(&self, path: &Path) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if m.pruned.is_none_or(|t| now.duration_since(t) >= Self::HOLD) {
            m.paths.retain(|_, t| now.duration_since(*t) < Self::HOLD);
            m.pruned = Some(now);
        }
        m.paths.insert(path.to_path_buf(), now);
    }

    /// True when `path` was written by the daemon in the last few seconds.
    pub fn is_own(&self, path: &Path) -> bool {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.paths.get(path).is_some_and(|t| t.elapsed() < Self::HOLD)
    }
}

/// Carries out actions. Shared by all reconciles (cheap to clone).
#[derive(Clone)]
pub struct Executor {
    client: ZohoClient,
    journal: Arc<Journal>,
    gate: Arc<ApiGate>,
    trash_dir: PathBuf,
    self_writes: Arc<SelfWrites>,
    policy: RetryPolicy,
    /// The per-transfer journal writes, committed in shared transactions.
    commits: Arc<group_commit::GroupCommit>,
    /// Where conflicts, parked entries and transfers are reported (metrics, alerts).
    events: crate::events::Events,
}

impl Executor {
    /// An executor over `client` and `journal`, with its trash under `state_dir`.
    pub fn new(
        client: ZohoClient,
        journal: Arc<Journal>,
        state_dir: &Path,
        self_writes: Arc<SelfWrites>,
        policy: RetryPolicy,
    ) -> Self {
        Executor {
            client,
            commits: Arc::new(group_commit::GroupCommit::new(journal.clone())),
            journal,
            gate: Arc::new(ApiGate::new()),
            trash_dir: trash::trash_root(state_dir),
            self_writes,
            policy,
            events: crate::events::Events::default(),
        }
    }

    /// The same executor reporting to `events`.
    pub fn with_events(mut self, events: crate::events::Events) -> Self {
        self.events = events;
        self
    }

    /// The gate that holds every queued action while Zoho is unreachable.
    pub fn gate(&self) -> &ApiGate {
        &self.gate
    }

    /// The Zoho client.
    pub fn client(&self) -> &ZohoClient {
        &self.client
    }

    /// The journal.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// Runs a journal operation off the async workers.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ExecError>
    where
        T: Send + 'static,
        F: FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
    {
        crate::journal::off_runtime(&self.journal, f)
            .await
            .map_err(|e| ExecError::Task(e.to_string()))?
            .map_err(ExecError::Journal)
    }

    /// Performs one action and records its outcome (journal row, failure row, logs).
    /// An upload uses its intent from `intents` when the pass reserved one.
    pub async fn run(
        &self,
        work: &RecordWork,
        action: &Action,
        intents: &PassIntents,
    ) -> ActionReport {
        let (name, subject) = describe(action);
        let mut report = ActionReport {
            action: name,
            subject: subject.to_string(),
            outcome: Outcome::Done,
            bytes: 0,
            attachment_id: None,
            deltas: Vec::new(),
            unflushed: None,
        };
        let now = unix_now();
        if let Some(f) = work.failures.get(subject) {
            if f.parked && !self.local_changed_since(work, subject, f.since_unix) {
                report.outcome = Outcome::Skipped(format!("parked: {}", f.message));
                return report;
            }
            if !f.parked && f.next_attempt_unix > now && self.policy.honor_persisted_backoff {
                report.outcome = Outcome::Skipped("backing off after earlier failures".into());
                return report;
            }
        }
        let started = Instant::now();
        let result = match work.refused.get(subject) {
            Some(why) => Err(ExecError::Refused(why.clone())),
            None => self.perform(work, action, intents).await,
        };
        let ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(done) => {
                report.bytes = done.bytes;
                report.attachment_id = done.attachment_id;
                report.deltas = done.deltas;
                report.unflushed = done.unflushed;
                log_done(
                    &work.key,
                    name,
                    subject_file(action),
                    report.attachment_id.as_deref().unwrap_or(""),
                    report.bytes,
                    ms,
                );
                if let Some(direction) = transfer_direction(action) {
                    self.events.transferred(direction, report.bytes);
                }
                if work.failures.contains_key(subject) {
                    let key = work.key.clone();
                    let s = subject.to_string();
                    if let Err(e) = self.db(move |j| j.clear_failure(&key, &s)).await {
                        tracing::warn!(error = %e, "could not clear a failure row");
                    }
                }
            }
            Err(ExecError::Changed(what)) => {
                tracing::debug!({ ACTION } = name, { MODULE } = %work.key.module,
                    { RECORD } = %work.key.record_id, what, "changed meanwhile");
                report.outcome = Outcome::Skipped(format!("{what} changed meanwhile"));
            }
            Err(e) => {
                report.outcome = self.record_failure(work, name, subject, &e).await;
            }
        }
        report
    }

    /// Persists a failure: parked for permanent errors (logged once at ERROR), with a
    /// persisted next attempt time for retryable ones.
    async fn record_failure(
        &self,
        work: &RecordWork,
        action: &'static str,
        subject: &str,
        err: &ExecError,
    ) -> Outcome {
        if let Some(limit) = stated_upload_limit(err) {
            let v = limit.to_string();
            if let Err(e) = self
                .db(move |j| j.set_meta(crate::journal::UPLOAD_LIMIT_META_KEY, &v))
                .await
            {
                tracing::warn!(error = %e, "could not remember Zoho's upload limit");
            }
        }
        let message = err.to_string();
        let previous = work.failures.get(subject);
        let attempts = previous.map_or(0, |f| f.attempts) + 1;
        let parked = !retry::is_retryable(err);
        let now = unix_now();
        let next_attempt_unix = if parked {
            now
        } else {
            // Never sooner than the server asked (`Retry-After`, capped at 15 min).
            let delay = self
                .policy
                .persisted_delay(attempts)
                .max(retry::requested_wait(err).unwrap_or_default());
            now + delay.as_secs() as i64
        };
        if parked {
            if !previous.is_some_and(|f| f.parked && f.message == message) {
                tracing::error!(
                    { ACTION } = action,
                    { MODULE } = %work.key.module,
                    { RECORD } = %work.key.record_id,
                    { FILE } = subject,
                    error = %message,
                    "parked: will not retry until the file changes or `bigin-sync retry` is run"
                );
                self.events.emit(
                    Event::new(
                        EventKind::Parked,
                        format!("{action} failed and is parked: {message}"),
                    )
                    .record(&work.key)
                    .file(subject),
                );
            }
        } else {
            tracing::warn!(
                { ACTION } = action,
                { MODULE } = %work.key.module,
                { RECORD } = %work.key.record_id,
                { FILE } = subject,
                attempts,
                retry_in_s = next_attempt_unix - now,
                error = %message,
                "failed for now; will retry"
            );
        }
        let key = work.key.clone();
        let failure = NewFailure {
            subject: subject.to_string(),
            action: action.to_string(),
            message: message.clone(),
            parked,
            attempts,
            next_attempt_unix,
        };
        if let Err(e) = self.db(move |j| j.record_failure(&key, &failure)).await {
            tracing::error!(error = %e, "could not record a failure in the journal");
        }
        if parked {
            Outcome::Parked(message)
        } else {
            Outcome::Deferred {
                message,
                next_attempt_unix,
            }
        }
    }

    /// True when the local file a parked failure is about was modified after it parked.
    fn local_changed_since(&self, work: &RecordWork, subject: &str, since_unix: i64) -> bool {
        work.local
            .get(subject)
            .is_some_and(|l| l.mtime_ns / 1_000_000_000 > since_unix)
    }
}

/// The per-file limit Zoho states in a `FILE_SIZE_MORE_THAN_ALLOWED` refusal (Bigin
/// publishes none), from its `details` (`maximum_size`, or `max_size`/`limit`).
fn stated_upload_limit(err: &ExecError) -> Option<u64> {
    let ExecError::Zoho(ZohoError::Api { code, details, .. }) = err else {
        return None;
    };
    if code != "FILE_SIZE_MORE_THAN_ALLOWED" {
        return None;
    }
    ["maximum_size", "max_size", "limit"]
        .iter()
        .find_map(|k| match &details[*k] {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .filter(|n| *n > 0)
}

/// Short name and subject (local name or attachment id) of an action.
pub fn describe(action: &Action) -> (&'static str, &str) {
    match action {
        Action::Upload { local_name, .. } => ("upload", local_name),
        Action::UploadLink { local_name, .. } => ("upload_link", local_name),
        Action::Replace { local_name, .. } => ("replace", local_name),
        Action::Download { attachment_id, .. } => ("download", attachment_id),
        Action::ReplaceLocal { attachment_id, .. } => ("replace_local", attachment_id),
        Action::CompareAndAdopt { attachment_id, .. } => ("compare", attachment_id),
        Action::Adopt { local_name, .. } => ("adopt", local_name),
        // By attachment id, as a download: a backoff of the download carries over to the
        // plain download the next pass plans when the rename went through.
        Action::RenameLocalForConflict { attachment_id, .. } => ("conflict", attachment_id),
        Action::DeleteRemote { attachment_id, .. } => ("delete_remote", attachment_id),
        Action::TrashLocal { local_name, .. } => ("trash_local", local_name),
        Action::Forget { local_name } => ("forget", local_name),
        Action::Refresh { local_name } => ("refresh", local_name),
    }
}

/// Which way an action moves a file's content, for the transfer metrics.
fn transfer_direction(action: &Action) -> Option<Direction> {
    match action {
        Action::Upload { .. } | Action::UploadLink { .. } | Action::Replace { .. } => {
            Some(Direction::Upload)
        }
        Action::Download { .. } | Action::ReplaceLocal { .. } => Some(Direction::Download),
        _ => None,
    }
}

/// The log line of an action done, with every field of [`crate::log_fields`].
pub(crate) fn log_done(
    key: &RecordKey,
    action: &str,
    file: &str,
    attachment_id: &str,
    bytes: u64,
    ms: u64,
) {
    tracing::info!(
        { ACTION } = action,
        { MODULE } = %key.module,
        { RECORD } = %key.record_id,
        { FILE } = file,
        { ATTACHMENT_ID } = attachment_id,
        { BYTES } = bytes,
        ms,
        "{action} done"
    );
}

/// The local file name an action is about, for log lines.
fn subject_file(action: &Action) -> &str {
    match action {
        Action::Upload { local_name, .. }
        | Action::UploadLink { local_name, .. }
        | Action::Replace { local_name, .. }
        | Action::Download { local_name, .. }
        | Action::ReplaceLocal { local_name, .. }
        | Action::CompareAndAdopt { local_name, .. }
        | Action::Adopt { local_name, .. }
        | Action::DeleteRemote { local_name, .. }
        | Action::TrashLocal { local_name, .. }
        | Action::Forget { local_name }
        | Action::RenameLocalForConflict { local_name, .. }
        | Action::Refresh { local_name } => local_name,
    }
}
