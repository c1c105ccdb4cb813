//! The daemon's loop: which record to reconcile when.
//!
//! Watcher hints and poll schedules only say *which record* to look at. Each record is
//! reconciled by at most one task at a time; records run in parallel up to a limit.

use super::follow::refresh_followed;
use super::setup::Runtime;
use crate::engine::{Engine, Reconciled};
use crate::events::{Event, EventKind};
use crate::log_fields::{MODULE, RECORD};
use crate::model::RecordKey;
use crate::poller::PollPolicy;
use crate::scan::{Fingerprint, RecordFolder};
use crate::watcher::WatchEvent;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What can change at runtime (SIGHUP) besides the engine settings.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// When records are listed.
    pub poll: PollPolicy,
    /// How soon a folder is looked at again after something changed under an action
    /// ([`crate::config::Tuning::recheck_after`]).
    pub recheck_after: Duration,
    /// How often every folder is read again in full.
    pub rescan_interval: Duration,
}

#[derive(Debug)]
struct Slot {
    folder: RecordFolder,
    next_poll: Instant,
    idle_polls: u32,
    dirty_at: Option<Instant>,
    running: bool,
    /// The folder's fingerprint after its last reconcile that left nothing to do; a
    /// rescan that finds the same fingerprint does not reconcile the record.
    fingerprint: Option<Fingerprint>,
    /// A follow hint (issue 13) asked for a poll that has not started yet.
    hinted: bool,
    /// The running reconcile is the poll a hint asked for: a remote change it finds is
    /// counted as found through a hint.
    hint_served: bool,
    /// When its last listing (poll) ended in this run: its next poll is planned from it.
    listed_at: Option<Instant>,
}

/// Actions since start, for sd_notify STATUS. Counts only: a whole report kept per
/// reconcile would keep its unflushed downloads' folder handles open for the daemon's
/// life, and its per-record lists would grow without end.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    done: usize,
    deferred: usize,
    parked: usize,
}

/// Requests from outside the loop.
#[derive(Debug)]
pub enum Control {
    /// New settings after SIGHUP.
    Reload(Schedule),
    /// Follow hints moved for these records: list their attachments now.
    PollNow(Vec<RecordKey>),
    /// A follow pass made, renamed or archived folders: read the folders again.
    FoldersChanged,
}

/// Decides when each followed record is reconciled (polls, watcher hints, rescans) and
/// runs the reconciles.
pub struct Scheduler {
    rt: Arc<Runtime>,
    schedule: Schedule,
    slots: HashMap<RecordKey, Slot>,
    last_status: String,
    totals: Totals,
    /// Work left per record after its last reconcile; mirrored into the journal's meta
    /// table so that `status` can show it while the daemon runs.
    pending: HashMap<RecordKey, crate::engine::PendingCounts>,
    pending_dirty: bool,
    /// (module folder name, record folder name) → record, to map watcher hints.
    by_folder: HashMap<(String, String), RecordKey>,
    /// The start-up rescan's fingerprint comparisons, left for `run` (after READY).
    deferred_checks: Vec<(RecordKey, PathBuf, Fingerprint)>,
    /// Remote changes found since start, through a follow hint and by a scheduled poll.
    remote_changes: crate::follow::RemoteChanges,
}

/// What a batch of watcher hints asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rediscover {
    No,
    /// An unknown folder changed: read the folders, look only at new records.
    NewFolders,
    /// Events were lost: read the folders and look at every record.
    Everything,
}

/// A stable pseudo-random fraction in [0, 1) per record, to spread polls.
fn spread_fraction(key: &RecordKey) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % 10_000) as f64 / 10_000.0
}

/// What a reconcile task returns: the record, whether it polled, and its outcome.
type TaskResult = (RecordKey, bool, Result<Reconciled, String>);

/// The records whose folder no longer matches the fingerprint of their last quiet
/// reconcile (or cannot be read). One blocking task for all of them: at 10,000 records
/// this is a `readdir` and a `stat` per file, far cheaper than reconciling each.
async fn changed_folders(
    to_check: Vec<(RecordKey, PathBuf, Fingerprint)>,
    salt: u64,
) -> Vec<RecordKey> {
    if to_check.is_empty() {
        return Vec::new();
    }
    let keys: Vec<RecordKey> = to_check.iter().map(|(k, _, _)| k.clone()).collect();
    tokio::task::spawn_blocking(move || {
        to_check
            .into_iter()
            .filter(|(_, path, fp)| !matches!(crate::scan::fingerprint(path, salt), Ok(Some(now)) if now == *fp))
            .map(|(key, _, _)| key)
            .collect()
    })
    .await
    // The task panicked: look at every one of them.
    .unwrap_or(keys)
}

/// Time from a watcher hint to the reconcile: short, to gather a burst of events.
const HINT_DELAY: Duration = Duration::from_millis(20);

/// After a new folder appeared, the folders are read once more this much later: inotify
/// watches a new folder only once it has seen it created, so a record folder made inside
/// a brand-new module folder (`mkdir -p Contacts/2034…`) in that gap sends no event.
const NEW_FOLDER_RECHECK: Duration = Duration::from_secs(1);

impl Scheduler {
    /// A scheduler over `rt`'s engine with `schedule`.
    pub fn new(rt: Arc<Runtime>, schedule: Schedule) -> Self {
        Scheduler {
            rt,
            schedule,
            slots: HashMap::new(),
            last_status: String::new(),
            totals: Totals::default(),
            pending: HashMap::new(),
            pending_dirty: false,
            by_folder: HashMap::new(),
            deferred_checks: Vec::new(),
            remote_changes: Default::default(),
        }
    }

    fn engine(&self) -> &Arc<Engine> {
        &self.rt.engine
    }

    /// Re-reads the record folders; new ones are due at once. `mark_all_dirty` (the
    /// periodic full rescan) also looks at every known record's folder again, skipping
    /// those whose fingerprint is unchanged. Returns the record folders found (none when
    /// the root cannot be read).
    pub async fn rescan(&mut self, mark_all_dirty: bool) -> Vec<RecordFolder> {
        let (folders, to_check) = self.refresh_slots(mark_all_dirty).await;
        self.compare_fingerprints(to_check).await;
        folders
    }

    /// [`Scheduler::rescan`] without the fingerprint comparisons, which it returns: the
    /// folders found and the records to look at unless their fingerprint is unchanged.
    async fn refresh_slots(
        &mut self,
        mark_all_dirty: bool,
    ) -> (Vec<RecordFolder>, Vec<(RecordKey, PathBuf, Fingerprint)>) {
        let folders = match refresh_followed(self.engine(), &self.rt.journal).await {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    "cannot read the sync root; nothing is deleted anywhere until it is back"
                );
                self.rt.events.emit(Event::new(
                    EventKind::RootMissing,
                    format!(
                        "cannot read the sync root ({e:#}); nothing is deleted until it is back"
                    ),
                ));
                return (Vec::new(), Vec::new());
            }
        };
        self.rt.events.clear(EventKind::RootMissing);
        let j = self.rt.journal.clone();
        let rows = tokio::task::spawn_blocking(move || j.followed())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let stored: HashMap<RecordKey, crate::journal::RecordRow> =
            rows.into_iter().map(|r| (r.key.clone(), r)).collect();
        // Overdue polls (the daemon was stopped) are spread over the budget's interval
        // instead of all firing at start; a record never polled is polled at once.
        let floor = self.schedule.poll.budget_floor(folders.len());
        let now = Instant::now();
        let now_unix = crate::model::unix_now();
        let mut next: HashMap<RecordKey, Slot> = HashMap::new();
        // Folders to look at again, unless their fingerprint shows them unchanged.
        let mut to_check: Vec<(RecordKey, PathBuf, Fingerprint)> = Vec::new();
        for folder in folders.iter().cloned() {
            let key = folder.key.clone();
            let (mut slot, look) = match self.slots.remove(&key) {
                Some(mut s) => {
                    s.folder = folder;
                    (s, mark_all_dirty)
                }
                None => {
                    let row = stored.get(&key);
                    let (next_unix, idle, polled_before) = row.map_or((now_unix, 0, false), |r| {
                        (r.next_poll_unix, r.idle_polls, r.last_poll_unix.is_some())
                    });
                    let wait = if next_unix <= now_unix && polled_before {
                        floor.mul_f64(spread_fraction(&key))
                    } else {
                        Duration::from_secs(next_unix.saturating_sub(now_unix).max(0) as u64)
                    };
                    let slot = Slot {
                        folder,
                        next_poll: now + wait,
                        idle_polls: idle,
                        dirty_at: None,
                        running: false,
                        fingerprint: row.and_then(|r| r.local_fingerprint),
                        hinted: false,
                        hint_served: false,
                        listed_at: None,
                    };
                    (slot, true)
                }
            };
            if look {
                match slot.fingerprint {
                    Some(fp) if !slot.running && slot.dirty_at.is_none() => {
                        to_check.push((key.clone(), slot.folder.path.clone(), fp))
                    }
                    _ => {
                        slot.dirty_at.get_or_insert(now);
                    }
                }
            }
            next.insert(key, slot);
        }
        // Slots of unfollowed records that are still running finish on their own.
        for (key, slot) in self.slots.drain() {
            if slot.running {
                next.entry(key).or_insert(slot);
            }
        }
        self.slots = next;
        self.space_polls_for_all();
        self.by_folder = self
            .slots
            .iter()
            .filter_map(|(key, s)| {
                let module = s.folder.path.parent()?.file_name()?.to_str()?.to_string();
                Some(((module, s.folder.folder_name.clone()), key.clone()))
            })
            .collect();
        (folders, to_check)
    }

    /// Pushes back the next poll of records planned for fewer followed records than there
    /// are now: a follow pass makes a module's folders one by one, each is polled at once,
    /// and those polled early were spaced for the few followed then (1,000 records made
    /// cold: ~8 % polled again within minutes instead of after the budget's 25 min). A
    /// poll a hint brought forward stays where it is.
    fn space_polls_for_all(&mut self) {
        let (followed, policy) = (self.slots.len(), self.schedule.poll);
        for slot in self.slots.values_mut().filter(|s| !s.hinted) {
            if let Some(at) = slot.listed_at {
                let due = at + policy.next_delay(slot.idle_polls, followed);
                slot.next_poll = slot.next_poll.max(due);
            }
        }
    }

    /// The start-up rescan: like `rescan(true)`, but the folders are compared with their
    /// fingerprints only when `run` starts, after READY (10,000 folders take ~0.5 s).
    pub async fn rescan_at_start(&mut self) -> Vec<RecordFolder> {
        let (folders, to_check) = self.refresh_slots(true).await;
        self.deferred_checks = to_check;
        folders
    }

    /// Marks dirty every record whose folder no longer matches its fingerprint.
    async fn compare_fingerprints(&mut self, to_check: Vec<(RecordKey, PathBuf, Fingerprint)>) {
        let compared = to_check.len();
        let salt = self.engine().settings().fingerprint_salt();
        let changed = changed_folders(to_check, salt).await;
        if compared > 0 {
            tracing::debug!(
                compared,
                changed = changed.len(),
                unchanged = compared - changed.len(),
                "rescan compared folder fingerprints"
            );
        }
        let now = Instant::now();
        for key in changed {
            if let Some(slot) = self.slots.get_mut(&key) {
                slot.fingerprint = None;
                slot.dirty_at.get_or_insert(now);
            }
        }
    }

    /// Marks the hinted record dirty; says whether the folders must be read again.
    fn on_hint(&mut self, ev: WatchEvent) -> Rediscover {
        match ev {
            // Events were lost: look at every record again.
            WatchEvent::Rescan => Rediscover::Everything,
            WatchEvent::Record {
                module_folder,
                record_folder,
            } => {
                let slot = self
                    .by_folder
                    .get(&(module_folder, record_folder))
                    .and_then(|key| self.slots.get_mut(key));
                match slot {
                    Some(slot) => {
                        let at = Instant::now() + HINT_DELAY;
                        slot.dirty_at = Some(slot.dirty_at.map_or(at, |d| d.min(at)));
                        Rediscover::No
                    }
                    // A folder we do not follow yet: maybe a new record.
                    None => Rediscover::NewFolders,
                }
            }
        }
    }

    /// When the next record becomes due, or `None` while every reconcile slot is busy
    /// (a finishing task wakes the loop then).
    fn next_due(&self) -> Option<Instant> {
        let limit = self.engine().settings().tuning.reconcile_slots;
        if self.slots.values().filter(|s| s.running).count() >= limit {
            return None;
        }
        self.slots
            .values()
            .filter(|s| !s.running)
            .map(|s| s.dirty_at.map_or(s.next_poll, |d| d.min(s.next_poll)))
            .min()
    }

    fn spawn_due(&mut self, tasks: &mut JoinSet<TaskResult>) {
        let limit = self.engine().settings().tuning.reconcile_slots;
        let now = Instant::now();
        let running = self.slots.values().filter(|s| s.running).count();
        let mut due: Vec<&mut Slot> = self
            .slots
            .values_mut()
            .filter(|s| !s.running && (s.next_poll <= now || s.dirty_at.is_some_and(|d| d <= now)))
            .collect();
        due.sort_by_key(|s| s.dirty_at.unwrap_or(s.next_poll));
        // Budget spent: polls wait (looked at again after a poll interval); records with
        // local changes still reconcile, from their cached list.
        let budget_spent = !due.is_empty()
            && self
                .rt
                .credits
                .budget_spent(self.schedule.poll.api_budget_per_day);
        if !due.is_empty() {
            // /healthz and the alerts hear of it (an alert at most hourly, by their rule).
            if budget_spent {
                self.rt.events.emit(Event::new(
                    EventKind::BudgetSpent,
                    format!(
                        "the API budget of {} credits per 24 h is spent: polls wait until credits free up",
                        self.schedule.poll.api_budget_per_day
                    ),
                ));
            } else {
                self.rt.events.clear(EventKind::BudgetSpent);
            }
        }
        if budget_spent {
            due.retain_mut(|s| {
                let changed = s.dirty_at.is_some_and(|d| d <= now);
                if !changed {
                    tracing::debug!({ RECORD } = %s.folder.key.record_id, { MODULE } = %s.folder.key.module, "API budget spent: poll waits");
                    s.next_poll = now + self.schedule.poll.poll_interval;
                }
                changed
            });
        }
        let room = limit.saturating_sub(running);
        for slot in due.into_iter().take(room) {
            slot.running = true;
            slot.dirty_at = None;
            let poll = slot.next_poll <= now && !budget_spent;
            slot.hint_served = poll && std::mem::take(&mut slot.hinted);
            let engine = self.rt.engine.clone();
            let folder = slot.folder.clone();
            tasks.spawn(async move {
                let key = folder.key.clone();
                let result = engine.reconcile(&folder, poll).await;
                if let Ok(r) = &result
                    && !r.report.unflushed.is_empty()
                {
                    // The disk catches up in the background; the record's next
                    // reconcile need not wait for it (see `executor::flush`).
                    let engine = engine.clone();
                    let downloads = r.report.unflushed.clone();
                    tokio::spawn(async move { engine.flush_downloads(downloads).await });
                }
                (key, poll, result.map_err(|e| e.to_string()))
            });
        }
    }

    fn on_done(&mut self, key: RecordKey, polled: bool, result: Result<Reconciled, String>) {
        let followed = self.slots.len();
        let schedule = self.schedule;
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        slot.running = false;
        let hinted = std::mem::take(&mut slot.hint_served) && polled;
        let now = Instant::now();
        let fingerprint = result.as_ref().ok().and_then(|r| r.quiet_fingerprint);
        if slot.fingerprint != fingerprint {
            slot.fingerprint = fingerprint;
            let (j, k) = (self.rt.journal.clone(), key.clone());
            tokio::task::spawn_blocking(move || {
                if let Err(e) = j.set_fingerprint(&k, fingerprint) {
                    tracing::warn!(error = %e, "could not save the folder fingerprint");
                }
            });
        }
        match result {
            Ok(Reconciled {
                listed,
                remote_changed,
                settle_in,
                report,
                ..
            }) => {
                if listed {
                    if remote_changed {
                        self.remote_changes.count(hinted, &self.rt.journal);
                    }
                    let active = remote_changed || report.done > 0;
                    slot.idle_polls = if active {
                        0
                    } else {
                        slot.idle_polls.saturating_add(1)
                    };
                    let delay = schedule.poll.next_delay(slot.idle_polls, followed);
                    // A hint that came while this reconcile ran may be about a change
                    // made after its list: that poll is still owed.
                    slot.next_poll = if slot.hinted { now } else { now + delay };
                    slot.listed_at = Some(now);
                    let (j, k, idle) = (self.rt.journal.clone(), key.clone(), slot.idle_polls);
                    let now_unix = crate::model::unix_now();
                    let next_unix = now_unix + delay.as_secs() as i64;
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = j.set_poll(&k, now_unix, next_unix, idle) {
                            tracing::warn!(error = %e, "could not save the poll schedule");
                        }
                    });
                } else if polled {
                    // The list failed: try again after the base interval.
                    slot.next_poll = now + schedule.poll.poll_interval;
                }
                if let Some(settle) = settle_in {
                    let at = now + settle;
                    slot.dirty_at = Some(slot.dirty_at.map_or(at, |d| d.min(at)));
                }
                if report.skipped > 0 && slot.dirty_at.is_none() {
                    // Something changed under an action: look again soon.
                    slot.dirty_at = Some(now + schedule.recheck_after);
                }
                if report.blocked_deletes > 0 {
                    self.rt.events.emit(Event::new(
                        EventKind::DeleteGuard,
                        format!("refused to delete {} files in one pass (over sync.max_delete_percent); if intended, run `bigin-sync once --confirm-deletes`", report.blocked_deletes),
                    ).record(&key));
                }
                self.rt.events.pass_completed();
                if report.did_something() {
                    tracing::info!(
                        { RECORD } = %key.record_id, { MODULE } = %key.module,
                        done = report.done,
                        deferred = report.deferred,
                        parked = report.parked,
                        blocked_deletes = report.blocked_deletes,
                        bytes = report.bytes,
                        "pass complete"
                    );
                }
                for (k, v) in &report.pending {
                    if self.pending.get(k) != Some(v) {
                        self.pending.insert(k.clone(), *v);
                        self.pending_dirty = true;
                    }
                }
                self.totals.done += report.done;
                self.totals.deferred += report.deferred;
                self.totals.parked += report.parked;
            }
            Err(e) => {
                tracing::error!({ RECORD } = %key.record_id, { MODULE } = %key.module, error = %e, "reconcile failed");
                slot.dirty_at = Some(now + schedule.poll.poll_interval);
            }
        }
    }

    fn publish_pending(&mut self) {
        if !self.pending_dirty {
            return;
        }
        self.pending_dirty = false;
        self.pending.retain(|k, _| self.slots.contains_key(k));
        let map: std::collections::BTreeMap<String, crate::engine::PendingCounts> = self
            .pending
            .iter()
            .filter(|(_, v)| v.total() > 0)
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let Ok(json) = serde_json::to_string(&map) else {
            return;
        };
        let j = self.rt.journal.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = j.set_meta(crate::journal::PENDING_META_KEY, &json) {
                tracing::warn!(error = %e, "could not publish pending work for status");
            }
        });
    }

    fn publish_status(&mut self) {
        self.publish_pending();
        let running = self.slots.values().filter(|s| s.running).count();
        let pending: u32 = self.pending.values().map(|p| p.total()).sum();
        self.rt.events.pending(u64::from(pending));
        self.rt.events.followed(self.slots.len() as u64);
        let line = format!(
            "following {} records; {} reconciling; {} pending; {} actions done, {} failing, {} parked since start",
            self.slots.len(),
            running,
            pending,
            self.totals.done,
            self.totals.deferred,
            self.totals.parked
        );
        if line != self.last_status {
            super::systemd::status(&line);
            self.last_status = line;
        }
    }

    /// Runs until `shutdown` fires; then lets running reconciles finish for up to
    /// `grace` and abandons the rest (uploads keep their intent, downloads their temp
    /// file; both are resolved at the next start).
    pub async fn run(
        mut self,
        mut hints: UnboundedReceiver<WatchEvent>,
        mut control: UnboundedReceiver<Control>,
        shutdown: CancellationToken,
        grace: Duration,
    ) {
        let deferred = std::mem::take(&mut self.deferred_checks);
        self.compare_fingerprints(deferred).await;
        let mut tasks = JoinSet::new();
        let mut next_rescan = Instant::now() + self.schedule.rescan_interval;
        // A second look at the folders after new ones appeared (see NEW_FOLDER_RECHECK).
        let mut folders_recheck: Option<Instant> = None;
        let watchdog = super::systemd::watchdog_period();
        let mut next_watchdog = Instant::now();
        loop {
            self.spawn_due(&mut tasks);
            // Nothing running right after starting what was due: all caught up. The
            // wake-up below at least every poll interval keeps an idle daemon healthy.
            if tasks.is_empty() {
                self.rt.events.pass_completed();
            }
            // Sleep until the next thing is due instead of ticking: 10,000 idle records
            // must cost (almost) no CPU.
            let mut wake = next_rescan.min(Instant::now() + self.schedule.poll.poll_interval);
            if let Some(at) = folders_recheck {
                wake = wake.min(at);
            }
            if let Some(due) = self.next_due() {
                wake = wake.min(due);
            }
            if watchdog.is_some() {
                wake = wake.min(next_watchdog);
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(ev) = hints.recv() => {
                    let mut rediscover = self.on_hint(ev);
                    while let Ok(ev) = hints.try_recv() {
                        rediscover = rediscover.max(self.on_hint(ev));
                    }
                    match rediscover {
                        Rediscover::No => {}
                        Rediscover::NewFolders => {
                            self.rescan(false).await;
                            folders_recheck.get_or_insert(Instant::now() + NEW_FOLDER_RECHECK);
                        }
                        Rediscover::Everything => { self.rescan(true).await; }
                    }
                }
                Some(c) = control.recv() => match c {
                    Control::Reload(s) => {
                        self.schedule = s;
                        next_rescan = Instant::now() + s.rescan_interval;
                        self.rescan(true).await;
                    }
                    Control::PollNow(keys) => {
                        let now = Instant::now();
                        for key in keys {
                            if let Some(slot) = self.slots.get_mut(&key) {
                                slot.next_poll = slot.next_poll.min(now);
                                slot.hinted = true;
                            }
                        }
                    }
                    Control::FoldersChanged => { self.rescan(false).await; }
                },
                Some(done) = tasks.join_next() => {
                    match done {
                        Ok((key, polled, result)) => self.on_done(key, polled, result),
                        Err(e) => tracing::error!(error = %e, "reconcile task panicked"),
                    }
                    self.publish_status();
                }
                _ = tokio::time::sleep_until(wake) => {
                    if folders_recheck.is_some_and(|at| Instant::now() >= at) {
                        folders_recheck = None;
                        self.rescan(false).await;
                    }
                    if Instant::now() >= next_rescan {
                        next_rescan = Instant::now() + self.schedule.rescan_interval;
                        self.rescan(true).await;
                    }
                    if let Some(period) = watchdog && Instant::now() >= next_watchdog {
                        super::systemd::watchdog();
                        next_watchdog = Instant::now() + period;
                    }
                }
            }
        }
        super::systemd::stopping();
        let pending = tasks.len();
        if pending > 0 {
            tracing::info!(pending, "stopping: letting running transfers finish");
        }
        let finished =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tracing::warn!(
                "stopping: abandoning transfers still running; they resume safely at the next start"
            );
            tasks.abort_all();
        }
    }
}
