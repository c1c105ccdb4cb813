//! One reconcile: read the three trees of a record, plan, guard, execute.
//!
//! The engine is what `once` runs for every record and what the daemon's scheduler runs
//! for each record that is due. It owns the cached view of each record's attachments so
//! that a local change costs no list call (every call is an API credit), and it applies
//! the pass-wide delete guard.

mod prepare;
mod read;
mod recovery;
mod report;
mod skips;

pub use prepare::Prepared;
pub use recovery::UnflushedDownload;
pub use report::{PassReport, PendingCounts};

use crate::executor::{ActionReport, Executor, Outcome, RecordWork, RemoteDelta};
use crate::model::{Product, RecordKey, RemoteAttachment};
use crate::planner::{self, Action, Direction, NameFolding};
use crate::scan::{self, IgnoreRules, RecordFolder};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Actions of a pass in progress per allowed API request (`zoho.concurrency`).
const ACTIONS_PER_REQUEST: usize = 4;

/// The settings a reconcile reads; replaced as a whole on SIGHUP.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub root: PathBuf,
    pub product: Product,
    pub extra_modules: Vec<String>,
    pub debounce: Duration,
    pub direction: Direction,
    pub max_delete_percent: u8,
    pub ignore: IgnoreRules,
    /// Actions run at once across records (the client's own limit still applies).
    pub concurrency: usize,
    /// How the root's file system compares names (probed at start).
    pub folding: NameFolding,
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

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Exec(#[from] crate::executor::ExecError),
    #[error("reading {path}: {source}")]
    Scan {
        path: PathBuf,
        #[source]
        source: scan::ScanError,
    },
}

/// Runs reconciles. Shared by the scheduler's tasks.
pub struct Engine {
    settings: RwLock<Arc<EngineSettings>>,
    executor: Executor,
    remote_cache: Mutex<HashMap<RecordKey, Vec<RemoteAttachment>>>,
    logged_skips: Mutex<HashSet<PathBuf>>,
}

impl Engine {
    pub fn new(settings: EngineSettings, executor: Executor) -> Self {
        Engine {
            settings: RwLock::new(Arc::new(settings)),
            executor,
            remote_cache: Mutex::new(HashMap::new()),
            logged_skips: Mutex::new(HashSet::new()),
        }
    }

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

    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Drops the cached attachments of a record (unfollowed, or to force a list).
    pub fn forget_remote(&self, key: &RecordKey) {
        self.cache().remove(key);
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<RecordKey, Vec<RemoteAttachment>>> {
        self.remote_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the delete guard across `prepared`, then runs every action.
    pub async fn execute(&self, mut prepared: Vec<Prepared>, confirm_deletes: bool) -> PassReport {
        let settings = self.settings();
        let mut report = PassReport {
            records: prepared.len(),
            ..PassReport::default()
        };
        report.unstable = prepared.iter().map(|p| p.unstable).sum();
        report.list_errors = prepared.iter().filter(|p| p.remote_error.is_some()).count();
        for p in &prepared {
            if let Some(e) = &p.remote_error {
                report
                    .errors
                    .push(format!("{}: list failed: {e}", p.work.key));
            }
        }

        let deletes: usize = prepared
            .iter()
            .map(|p| p.actions.iter().filter(|a| a.is_delete()).count())
            .sum();
        if deletes > 0 && !confirm_deletes {
            let (tracked, blocked) = match self.executor.db(|j| j.count_entries()).await {
                Ok(tracked) => {
                    let all: Vec<Action> = prepared
                        .iter()
                        .flat_map(|p| p.actions.iter().cloned())
                        .collect();
                    let guarded = planner::guard_deletes(all, tracked, settings.max_delete_percent);
                    (tracked, guarded.blocked_deletes > 0)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot count tracked files; holding back deletes");
                    (0, true)
                }
            };
            if blocked {
                report.blocked_deletes = deletes;
                for p in &mut prepared {
                    if p.actions.iter().any(Action::is_delete) {
                        p.fingerprint = None;
                    }
                }
                tracing::error!(
                    deletes,
                    tracked,
                    max_delete_percent = settings.max_delete_percent,
                    "refusing to delete {deletes} of {tracked} tracked files in one pass (over sync.max_delete_percent); \
                     nothing was deleted, the rest of the sync goes on. If these deletes are intended, run \
                     `bigin-sync once --confirm-deletes` (or raise sync.max_delete_percent)"
                );
                for p in &mut prepared {
                    p.actions.retain(|a| !a.is_delete());
                }
            }
        }

        for p in &prepared {
            let settled = p.unstable == 0 && p.remote_error.is_none() && p.work.failures.is_empty();
            report
                .quiet
                .insert(p.work.key.clone(), p.fingerprint.filter(|_| settled));
            report
                .pending
                .insert(p.work.key.clone(), PendingCounts::default());
            if p.listed {
                report.polled.push(p.work.key.clone());
            }
            if !p.actions.is_empty() {
                report.acted.insert(p.work.key.clone());
            }
        }
        // Owned jobs: the stream's futures borrow nothing, so a spawned reconcile stays Send.
        let jobs: Vec<(Arc<RecordWork>, Action)> = prepared
            .into_iter()
            .flat_map(|p| {
                let work = Arc::new(p.work);
                p.actions.into_iter().map(move |a| (work.clone(), a))
            })
            .collect();
        let intents = self.executor.reserve_intents(&jobs).await;
        let reports: Vec<(Arc<RecordWork>, Action, ActionReport)> =
            futures_util::stream::iter(jobs)
                .map(|(work, action)| {
                    let executor = self.executor.clone();
                    let intents = &intents;
                    async move {
                        let r = executor.run(&work, &action, intents).await;
                        (work, action, r)
                    }
                })
                // More actions than requests in flight (the client holds those to
                // `concurrency`): while some wait for their journal commit, others send.
                .buffer_unordered(settings.concurrency.max(1) * ACTIONS_PER_REQUEST)
                .collect()
                .await;
        self.executor.release_intents(intents).await;

        let mut deltas: HashMap<RecordKey, Vec<RemoteDelta>> = HashMap::new();
        for (work, action, r) in reports {
            let key = work.key.clone();
            if let (Some(local_name), Some(attachment_id), Some(dir)) =
                (&r.unflushed, &r.attachment_id, &work.dir)
            {
                report.unflushed.push(UnflushedDownload {
                    key: key.clone(),
                    dir: dir.clone(),
                    local_name: local_name.clone(),
                    attachment_id: attachment_id.clone(),
                });
            }
            if r.outcome != Outcome::Done {
                report.pending.entry(key.clone()).or_default().add(&action);
                report.quiet.insert(key.clone(), None);
            }
            if !r.deltas.is_empty() {
                deltas
                    .entry(key.clone())
                    .or_default()
                    .extend(r.deltas.clone());
            }
            match &r.outcome {
                Outcome::Done => {
                    report.done += 1;
                    report.bytes += r.bytes;
                }
                Outcome::Skipped(_) => report.skipped += 1,
                Outcome::Deferred { message, .. } => {
                    report.deferred += 1;
                    report
                        .errors
                        .push(format!("{key}: {} {}: {message}", r.action, r.subject));
                }
                Outcome::Parked(message) => {
                    report.parked += 1;
                    report
                        .errors
                        .push(format!("{key}: {} {}: {message}", r.action, r.subject));
                }
            }
        }
        for (key, d) in &deltas {
            self.apply_deltas(key, d);
        }
        report
    }

    fn apply_deltas(&self, key: &RecordKey, deltas: &[RemoteDelta]) {
        if deltas.is_empty() {
            return;
        }
        let mut cache = self.cache();
        let Some(list) = cache.get_mut(key) else {
            return;
        };
        // One pass over the list for the whole batch (a bulk upload adds thousands).
        let mut ids: HashSet<String> = list.iter().map(|x| x.id.clone()).collect();
        let mut removed: HashSet<&str> = HashSet::new();
        for d in deltas {
            match d {
                RemoteDelta::Added(a) => {
                    removed.remove(a.id.as_str());
                    if ids.insert(a.id.clone()) {
                        list.push(a.clone());
                    }
                }
                RemoteDelta::Removed(id) => {
                    removed.insert(id.as_str());
                }
            }
        }
        if !removed.is_empty() {
            list.retain(|x| !removed.contains(x.id.as_str()));
        }
    }

    /// Prepares and executes a set of records as one pass.
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
                .buffer_unordered(settings.concurrency.max(1))
                .collect()
                .await;
        let mut ok = Vec::new();
        let mut report = PassReport::default();
        for p in prepared {
            match p {
                Ok(p) => ok.push(p),
                Err((key, e)) => {
                    tracing::error!(record = %key, error = %e, "reconcile failed");
                    report.list_errors += 1;
                    report.errors.push(format!("{key}: {e}"));
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
            concurrency: 4,
            folding: NameFolding::None,
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
        same.concurrency = 1;
        assert_eq!(same.fingerprint_salt(), base);
    }
}
