//! One reconcile: read the three trees of a record, plan, guard, execute.
//!
//! The engine is what `once` runs for every record and what the daemon's scheduler runs
//! for each record that is due. It owns the cached view of each record's attachments so
//! that a local change costs no list call (every call is an API credit), and it applies
//! the pass-wide delete guard.

mod recovery;
mod report;
mod skips;

pub use recovery::UnflushedDownload;
pub use report::{PassReport, PendingCounts};

use crate::dir_handle::DirHandle;
use crate::executor::{
    ActionReport, Executor, Outcome, RecordWork, RemoteDelta, SUPERSEDED, describe,
};
use crate::model::{Product, RecordKey, RemoteAttachment};
use crate::planner::{self, Action, Direction, LocalEntry, NameFolding, PlanInput, SyncedEntry};
use crate::scan::{self, IgnoreRules, RecordFolder};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

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

/// A record read and planned, ready to execute.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub work: RecordWork,
    pub actions: Vec<Action>,
    /// Files seen but not yet stable (still being written): look again after the debounce.
    pub unstable: usize,
    /// When the first unstable file will have been unchanged for the debounce window:
    /// the moment to look again (not earlier, or the look is wasted; not later, or the
    /// upload is late).
    pub settle_in: Option<Duration>,
    /// True when this reconcile listed the record (a poll).
    pub listed: bool,
    /// The remote side differs from the journal (something to download, trash or adopt).
    pub remote_changed: bool,
    /// The list call failed: the remote side is unknown for this reconcile.
    pub remote_error: Option<String>,
    /// The folder's fingerprint taken just before it was read: if the reconcile leaves
    /// nothing to do, an unchanged fingerprint later means nothing to look at.
    pub fingerprint: Option<scan::Fingerprint>,
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

/// True when the folder holds something the journal does not (or lacks something it
/// has): only then is a list call worth spending on a local hint.
fn differs_from_journal(local: &[LocalEntry], synced: &[SyncedEntry]) -> bool {
    if local.len() != synced.len() {
        return true;
    }
    let by_name: HashMap<&str, &SyncedEntry> =
        synced.iter().map(|e| (e.local_name.as_str(), e)).collect();
    local.iter().any(|l| {
        by_name
            .get(l.name.as_str())
            .is_none_or(|e| e.hash != l.hash || e.size != l.size)
    })
}

/// How long until the earliest unstable file has been unchanged for `debounce`.
fn settle_in(local: &[LocalEntry], debounce: Duration) -> Option<Duration> {
    let now_ns = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let debounce_ns = debounce.as_nanos() as i64;
    local
        .iter()
        .filter(|f| !f.stable)
        .map(|f| {
            let ns =
                (f.mtime_ns + debounce_ns - now_ns).clamp(5_000_000, debounce_ns.max(5_000_000));
            Duration::from_nanos(ns as u64)
        })
        .min()
}

/// A record folder's files (`None`: the folder is gone), the names skipped, the
/// folder's fingerprint, and the handle every later access to the folder goes through.
type ScanResult = (
    Option<Vec<LocalEntry>>,
    HashSet<String>,
    Option<scan::Fingerprint>,
    Option<DirHandle>,
);

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

    /// Reads the three trees of a record and plans. `poll` asks for a fresh list; without
    /// it the cached list is used when there is one.
    pub async fn prepare(
        &self,
        folder: &RecordFolder,
        poll: bool,
    ) -> Result<Prepared, EngineError> {
        self.prepare_with(folder, poll, true).await
    }

    /// Plans without side effects, for `once --dry-run`: no pending delete of a
    /// replaced version is retried, no interrupted upload adopted, no failure row cleared.
    pub async fn plan_only(&self, folder: &RecordFolder) -> Result<Prepared, EngineError> {
        self.prepare_with(folder, true, false).await
    }

    async fn prepare_with(
        &self,
        folder: &RecordFolder,
        poll: bool,
        effects: bool,
    ) -> Result<Prepared, EngineError> {
        let settings = self.settings();
        let key = folder.key.clone();
        let k = key.clone();
        let (mut synced, mut failures, intents, unflushed, skips) = self
            .executor
            .db(move |j| {
                Ok((
                    j.entries(&k)?,
                    j.failures(&k)?,
                    j.intents(&k)?,
                    j.unflushed_to_check(&k, crate::executor::flush::boot_id())?,
                    j.remote_skips(&k)?,
                ))
            })
            .await?;

        // A download whose flush never happened is not trusted from the hash cache.
        let cache: Vec<SyncedEntry> = synced
            .iter()
            .filter(|e| !unflushed.contains(&e.local_name))
            .cloned()
            .collect();
        // When the record is listed whatever the folder holds, the list call runs while
        // the folder is read and hashed: neither waits for the other.
        let list_anyway = poll || !intents.is_empty();
        let (scanned, listed) = if list_anyway {
            tracing::debug!(record = %key, poll, intents = intents.len(), "listing attachments");
            let (scanned, listed) = tokio::join!(
                self.scan(folder, &cache, &settings),
                self.list_confirmed(&key, &synced)
            );
            (scanned, Some(listed))
        } else {
            (self.scan(folder, &cache, &settings).await, None)
        };
        let (local, skipped, fingerprint, dir) = scanned?;
        if !unflushed.is_empty()
            && let (Some(files), Some(dir)) = (&local, &dir)
        {
            let torn = self
                .check_unflushed(&key, dir, &unflushed, &synced, files, effects)
                .await?;
            synced.retain(|e| !torn.contains(&e.local_name));
        }

        let cached = self.cache().get(&key).cloned();
        // Without a cached list, a local-only hint lists the record only when the folder
        // differs from the journal: a restart does not spend one call per record.
        let must_list = list_anyway
            || (cached.is_none()
                && local
                    .as_deref()
                    .is_none_or(|l| differs_from_journal(l, &synced)));
        let mut remote_error = None;
        let remote: Option<Vec<RemoteAttachment>> = if must_list {
            let listed = match listed {
                Some(listed) => listed,
                None => {
                    tracing::debug!(record = %key, "listing attachments: the folder differs from the journal");
                    self.list_confirmed(&key, &synced).await
                }
            };
            match listed {
                Ok(list) => {
                    self.cache().insert(key.clone(), list.clone());
                    Some(list)
                }
                Err(e) => {
                    tracing::warn!(record = %key, error = %e, "could not list attachments; remote side unknown this time (nothing is deleted)");
                    remote_error = Some(e.to_string());
                    None
                }
            }
        } else {
            cached
        };

        // Replaced versions whose delete failed earlier: retry, and keep them out of
        // the planner's view (they are not new attachments to download). Their rows
        // end only when the delete succeeds or a fresh list no longer shows them.
        let mut remote = remote;
        let superseded: Vec<String> = failures
            .iter()
            .filter(|f| f.action == SUPERSEDED)
            .map(|f| f.subject.clone())
            .collect();
        failures.retain(|f| f.action != SUPERSEDED);
        if let Some(list) = remote.as_mut()
            && !superseded.is_empty()
        {
            let present: Vec<String> = superseded
                .iter()
                .filter(|id| list.iter().any(|a| &a.id == *id))
                .cloned()
                .collect();
            if effects {
                self.executor.retry_superseded(&key, &present).await;
            }
            if effects && must_list {
                let absent: Vec<String> = superseded
                    .iter()
                    .filter(|id| !present.contains(id))
                    .cloned()
                    .collect();
                let k = key.clone();
                self.executor
                    .db(move |j| absent.iter().try_for_each(|s| j.clear_failure(&k, s)))
                    .await?;
            }
            list.retain(|a| !superseded.contains(&a.id));
            self.cache().insert(key.clone(), list.clone());
        }

        // Uploads interrupted by a crash or a lost reply: adopt what Zoho stored.
        // (Only while the folder is there: a candidate is fetched into it to compare.)
        if let Some(remote) = &remote
            && let Some(dir) = &dir
            && effects
            && !intents.is_empty()
        {
            self.recover_intents(&key, dir, remote, &intents, local.as_deref(), &synced)
                .await?;
            let k = key.clone();
            synced = self.executor.db(move |j| j.entries(&k)).await?;
        }

        let stamp = chrono::Local::now().format("%Y-%m-%d %H%M%S").to_string();
        let plan = planner::plan_record(&PlanInput {
            local: local.as_deref(),
            remote: remote.as_deref(),
            synced: &synced,
            conflict_stamp: &stamp,
            direction: settings.direction,
            occupied: &skipped,
            ignore: Some(&settings.ignore),
            folding: settings.folding,
        });
        let actions = plan.actions;
        if effects && local.is_some() && remote.is_some() {
            self.record_remote_skips(&key, &skips, &plan.skipped)
                .await?;
        }
        // A failure whose action is no longer planned (the file or attachment is gone,
        // or the sides agree now) is over: drop it so `status` and `once` stop reporting
        // it. Only with both sides known; an unknown side plans less.
        if local.is_some() && remote.is_some() && !failures.is_empty() {
            let planned: HashSet<&str> = actions.iter().map(|a| describe(a).1).collect();
            let stale: Vec<String> = failures
                .iter()
                .filter(|f| !planned.contains(f.subject.as_str()))
                .map(|f| f.subject.clone())
                .collect();
            if effects && !stale.is_empty() {
                failures.retain(|f| !stale.contains(&f.subject));
                let k = key.clone();
                self.executor
                    .db(move |j| stale.iter().try_for_each(|s| j.clear_failure(&k, s)))
                    .await?;
            }
        }
        let remote_changed = remote.as_ref().is_some_and(|r| {
            // Attachments left unsynced on purpose are no change to act on.
            let remote_ids: HashSet<&str> = r
                .iter()
                .map(|a| a.id.as_str())
                .filter(|id| !plan.skipped.iter().any(|s| s.attachment_id == *id))
                .collect();
            let synced_ids: HashSet<&str> =
                synced.iter().map(|e| e.attachment_id.as_str()).collect();
            remote_ids != synced_ids
        });
        let unstable = local
            .as_ref()
            .map_or(0, |l| l.iter().filter(|f| !f.stable).count());
        let settle_in = local.as_ref().and_then(|l| settle_in(l, settings.debounce));
        let work = RecordWork {
            key,
            dir,
            local: local
                .unwrap_or_default()
                .into_iter()
                .map(|l| (l.name.clone(), l))
                .collect(),
            remote: remote
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.id.clone(), a))
                .collect(),
            synced: synced
                .into_iter()
                .map(|e| (e.local_name.clone(), e))
                .collect(),
            failures: failures
                .into_iter()
                .map(|f| (f.subject.clone(), f))
                .collect(),
        };
        Ok(Prepared {
            work,
            actions,
            unstable,
            settle_in,
            listed: must_list && remote_error.is_none(),
            remote_changed,
            remote_error,
            fingerprint,
        })
    }

    async fn scan(
        &self,
        folder: &RecordFolder,
        synced: &[SyncedEntry],
        settings: &EngineSettings,
    ) -> Result<ScanResult, EngineError> {
        let opened = folder.clone();
        let cache = synced.to_vec();
        let rules = settings.ignore.clone();
        let debounce = settings.debounce;
        let salt = settings.fingerprint_salt();
        let scanned = tokio::task::spawn_blocking(move || {
            // Opened again for every reconcile, from the root and without following a
            // link: a folder swapped for a symlink since it was found is refused here.
            let Some(dir) = opened.open()? else {
                return Ok(None);
            };
            // Before the read, so that a change during it shows as a new fingerprint.
            let fingerprint = scan::fingerprint(&opened.path, salt).ok().flatten();
            let outcome = scan::scan_record(&dir, &cache, &rules, debounce, SystemTime::now())?;
            Ok(Some((outcome, fingerprint, dir)))
        })
        .await
        .map_err(|e| crate::executor::ExecError::Task(e.to_string()))?;
        let scanned = scanned.map_err(|source| EngineError::Scan {
            path: folder.path.clone(),
            source,
        })?;
        let Some((outcome, fingerprint, dir)) = scanned else {
            return Ok((None, HashSet::new(), None, None));
        };
        let mut logged = self.logged_skips.lock().unwrap_or_else(|p| p.into_inner());
        for s in &outcome.skipped {
            let path = folder.path.join(&s.name);
            if logged.insert(path.clone()) {
                tracing::info!(path = %path.display(), reason = ?s.reason, "skipped (not synced)");
            }
        }
        let skipped = outcome.skipped.into_iter().map(|s| s.name).collect();
        Ok((Some(outcome.files), skipped, fingerprint, Some(dir)))
    }

    async fn list(
        &self,
        key: &RecordKey,
    ) -> Result<Vec<RemoteAttachment>, crate::executor::ExecError> {
        let client = self.executor.client();
        self.executor
            .with_retry("list", || async {
                Ok(client.list(&key.module, &key.record_id).await?)
            })
            .await
    }

    /// Lists a record, and lists it again when the pages may have hidden a tracked
    /// attachment.
    ///
    /// Zoho pages by number, newest first: an attachment deleted on page 1 while page 2 is
    /// being asked for moves every later one up a place, and the one that crosses the page
    /// boundary is never served. A tracked attachment missing from a list of more than one
    /// page is therefore confirmed by a second list before anything is trashed, forgotten
    /// or uploaded over it; an attachment either list showed counts as present (one really
    /// deleted in between is trashed on the next poll instead).
    async fn list_confirmed(
        &self,
        key: &RecordKey,
        synced: &[SyncedEntry],
    ) -> Result<Vec<RemoteAttachment>, crate::executor::ExecError> {
        let first = self.list(key).await?;
        if first.len() < crate::zoho::list::PER_PAGE as usize {
            return Ok(first);
        }
        let ids: HashSet<&str> = first.iter().map(|a| a.id.as_str()).collect();
        let missing = synced
            .iter()
            .filter(|e| !ids.contains(e.attachment_id.as_str()))
            .count();
        if missing == 0 {
            return Ok(first);
        }
        tracing::debug!(record = %key, missing, "tracked attachments missing from a paged list; listing again to confirm");
        let mut second = self.list(key).await?;
        let seen: HashSet<String> = second.iter().map(|a| a.id.clone()).collect();
        second.extend(first.into_iter().filter(|a| !seen.contains(&a.id)));
        Ok(second)
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
