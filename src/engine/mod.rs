//! One reconcile: read the three trees of a record, plan, guard, execute.
//!
//! Two entries: [`Engine::reconcile`] is what the daemon's scheduler runs for each record
//! that is due, and [`Engine::pass`] is what `once` runs over every record at once, so
//! that its delete guard weighs the deletes of the whole pass together. The engine owns
//! the cached view of each record's attachments so that a local change costs no list
//! call (every call is an API credit), and its journal handle.
//!
//! - `read`: reading the three trees (journal rows, the folder, Zoho's list);
//! - `recovery`: what a crash left half done (upload intents, unflushed downloads);
//! - `prepare`: from the three trees to a plan;
//! - `execute`: the delete guard, running the actions, the tally;
//! - `report`: what a pass did.

mod execute;
mod prepare;
mod read;
mod recovery;
mod report;
mod skips;

pub use prepare::Prepared;
pub use recovery::UnflushedDownload;
pub use report::{PassReport, PendingCounts, RecordError};

use crate::config::Tuning;
use crate::executor::Executor;
use crate::journal::{Journal, JournalError};
use crate::log_fields::{MODULE, RECORD};
use crate::model::{Product, RecordKey, RemoteAttachment};
use crate::planner::{Direction, NameFolding};
use crate::scan::{self, IgnoreRules, RecordFolder};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The settings a reconcile reads; replaced as a whole on SIGHUP.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The sync root (absolute).
    pub root: PathBuf,
    /// Bigin or CRM: which module folders are followed.
    pub product: Product,
    /// Custom module names followed besides the documented ones (`zoho.modules`).
    pub extra_modules: Vec<String>,
    /// How long a file must be unchanged before it is uploaded (`sync.debounce`).
    pub debounce: Duration,
    /// Which way changes flow.
    pub direction: Direction,
    /// The largest share of a record's files one pass may delete.
    pub max_delete_percent: u8,
    /// Files never synced (built-in rules plus `sync.ignore`).
    pub ignore: IgnoreRules,
    /// How many records and actions run at once, and how soon an unsettled folder is
    /// looked at again (derived at config load; the client's own limit still applies).
    pub tuning: Tuning,
    /// How the root's file system compares names (probed at start).
    pub folding: NameFolding,
    /// Largest upload Zoho takes (`zoho.max_upload_size`, else the product's documented
    /// limit); `None`: the limit Zoho stated in an earlier refusal, if any.
    pub max_upload_size: Option<u64>,
}

impl EngineSettings {
    /// What the settings that decide a folder's actions (ignore rules, direction, product,
    /// name folding) add to its fingerprint: after a config change every folder is looked
    /// at again.
    pub fn fingerprint_salt(&self) -> u64 {
        let mut h = blake3::Hasher::new();
        h.update(
            format!(
                "{:?}|{:?}|{:?}|",
                self.direction, self.product, self.folding
            )
            .as_bytes(),
        );
        for glob in self.ignore.extra_globs() {
            h.update(&(glob.len() as u64).to_le_bytes());
            h.update(glob.as_bytes());
        }
        scan::first_u64(&h.finalize())
    }
}

/// Why a reconcile could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An executor operation failed.
    #[error(transparent)]
    Exec(#[from] crate::executor::ExecError),
    /// The journal could not be read or written.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
    /// A record folder could not be read.
    #[error("reading {path}: {source}")]
    Scan {
        /// The folder.
        path: PathBuf,
        /// What went wrong reading it.
        #[source]
        source: scan::ScanError,
    },
}

/// What a record's [`Engine::reconcile`] came to: what the daemon's schedule needs,
/// besides the report.
#[derive(Debug, Clone)]
pub struct Reconciled {
    /// True when this reconcile listed the record (a poll that succeeded).
    pub listed: bool,
    /// Zoho's side differed from the journal (something to download, trash or adopt).
    pub remote_changed: bool,
    /// When files still being written will have settled: the moment to look again.
    pub settle_in: Option<Duration>,
    /// The folder's fingerprint when the reconcile left nothing to do, else `None`.
    pub quiet_fingerprint: Option<scan::Fingerprint>,
    /// What the reconcile did.
    pub report: PassReport,
}

/// Runs reconciles. Shared by the scheduler's tasks.
pub struct Engine {
    settings: RwLock<Arc<EngineSettings>>,
    executor: Executor,
    /// The journal the executor writes each action's outcome to; the engine's own reads
    /// and bookkeeping reach it only through [`Engine::db`].
    journal: Arc<Journal>,
    remote_cache: Mutex<HashMap<RecordKey, Vec<RemoteAttachment>>>,
    logged_skips: Mutex<HashSet<PathBuf>>,
}

impl Engine {
    /// An engine over `executor`, sharing its journal.
    pub fn new(settings: EngineSettings, executor: Executor) -> Self {
        Engine {
            settings: RwLock::new(Arc::new(settings)),
            journal: executor.journal().clone(),
            executor,
            remote_cache: Mutex::new(HashMap::new()),
            logged_skips: Mutex::new(HashSet::new()),
        }
    }

    /// The settings in force now (a reconcile keeps the ones it started with).
    pub fn settings(&self) -> Arc<EngineSettings> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Swaps the settings (SIGHUP); reconciles already running finish with the old ones.
    pub fn set_settings(&self, s: EngineSettings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
    }

    /// The executor that carries out the planned actions.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Drops the cached attachments of a record (unfollowed, or to force a list).
    pub fn forget_remote(&self, key: &RecordKey) {
        self.cache().remove(key);
    }

    /// Runs a journal operation off the async workers: the engine's one way to its
    /// journal.
    async fn db<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
    {
        crate::journal::off_runtime(&self.journal, f)
            .await
            .map_err(|e| EngineError::Task(e.to_string()))?
            .map_err(EngineError::Journal)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<RecordKey, Vec<RemoteAttachment>>> {
        self.remote_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reconciles one record as the daemon does: reads it (`poll` asks for a fresh list;
    /// without it the cached list is used when there is one), plans, applies the delete
    /// guard to its deletes, executes. An error means nothing was executed.
    pub async fn reconcile(
        &self,
        folder: &RecordFolder,
        poll: bool,
    ) -> Result<Reconciled, EngineError> {
        let prepared = self.prepare(folder, poll).await?;
        let (listed, remote_changed, settle_in) =
            (prepared.listed, prepared.remote_changed, prepared.settle_in);
        let report = self.execute(vec![prepared], false).await;
        let quiet_fingerprint = report.quiet.get(&folder.key).copied().flatten();
        Ok(Reconciled {
            listed,
            remote_changed,
            settle_in,
            quiet_fingerprint,
            report,
        })
    }

    /// Prepares and executes a set of records as one pass, under one delete guard.
    ///
    /// `once` runs this rather than [`Engine::reconcile`] per record: its guard weighs the
    /// deletes of every record together, so every record must be planned before any
    /// delete runs, while a reconcile executes its record as soon as it is planned.
    pub async fn pass(
        &self,
        folders: &[RecordFolder],
        poll: bool,
        confirm_deletes: bool,
    ) -> PassReport {
        let settings = self.settings();
        let prepared: Vec<Result<Prepared, (RecordKey, EngineError)>> =
            futures_util::stream::iter(folders)
                .map(|f| async move { self.prepare(f, poll).await.map_err(|e| (f.key.clone(), e)) })
                .buffer_unordered(settings.tuning.reconcile_slots)
                .collect()
                .await;
        let mut ok = Vec::new();
        let mut report = PassReport::default();
        for p in prepared {
            match p {
                Ok(p) => ok.push(p),
                Err((key, e)) => {
                    tracing::error!({ RECORD } = %key.record_id, { MODULE } = %key.module, error = %e, "reconcile failed");
                    report.list_errors += 1;
                    report.errors.push(RecordError::Unread {
                        key,
                        message: e.to_string(),
                    });
                }
            }
        }
        report.merge(self.execute(ok, confirm_deletes).await);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(globs: &[&str], direction: Direction) -> EngineSettings {
        let globs: Vec<String> = globs.iter().map(|g| g.to_string()).collect();
        EngineSettings {
            root: PathBuf::from("/srv/bigin"),
            product: Product::Bigin,
            extra_modules: Vec::new(),
            debounce: Duration::from_secs(2),
            direction,
            max_delete_percent: 50,
            ignore: IgnoreRules::new(&globs).unwrap(),
            tuning: Tuning {
                reconcile_slots: 8,
                actions_in_flight: 32,
                recheck_after: Duration::from_secs(2),
            },
            folding: NameFolding::None,
            max_upload_size: None,
        }
    }

    #[test]
    fn the_fingerprint_salt_changes_with_what_decides_a_folders_actions() {
        let base = settings(&["*.tmp"], Direction::Both).fingerprint_salt();
        assert_eq!(
            base,
            settings(&["*.tmp"], Direction::Both).fingerprint_salt()
        );
        for other in [
            settings(&[], Direction::Both),
            settings(&["*.bak"], Direction::Both),
            settings(&["*.tmp", "*.bak"], Direction::Both),
            settings(&["*.tmp"], Direction::UploadOnly),
            settings(&["*.tmp"], Direction::DownloadOnly),
            EngineSettings {
                folding: NameFolding::Case,
                ..settings(&["*.tmp"], Direction::Both)
            },
        ] {
            assert_ne!(other.fingerprint_salt(), base, "{other:?}");
        }
        // The debounce and the concurrency do not change what a listing means.
        let mut same = settings(&["*.tmp"], Direction::Both);
        same.debounce = Duration::from_secs(9);
        same.tuning.reconcile_slots = 1;
        same.tuning.actions_in_flight = 1;
        same.tuning.recheck_after = Duration::from_secs(9);
        assert_eq!(same.fingerprint_salt(), base);
    }
}
