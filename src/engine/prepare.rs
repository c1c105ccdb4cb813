//! Planning a record: its three trees read, what a crash left half done recovered, the
//! plan made, and the journal's bookkeeping of the plan (skipped attachments, failures
//! that are over) kept up to date.

use super::read::{JournalRows, LocalSide, RemoteSide};
use super::{Engine, EngineError, EngineSettings};
use crate::config::DEBOUNCE_FLOOR;
use crate::dir_handle::DirHandle;
use crate::executor::{RecordWork, describe};
use crate::journal::FailureRow;
use crate::log_fields::{MODULE, RECORD};
use crate::model::{RecordKey, RemoteAttachment};
use crate::planner::{self, Action, LocalEntry, Plan, PlanInput, SkippedRemote, SyncedEntry};
use crate::scan::{self, RecordFolder};
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

/// A record read and planned, ready to execute.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The record's three sides, for the executor.
    pub work: RecordWork,
    /// What the planner decided, in execution order.
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

/// How long until the earliest unstable file has been unchanged for `debounce`: never
/// sooner than [`DEBOUNCE_FLOOR`], never later than `recheck_after` (a file stamped in the
/// future would otherwise wait until then).
fn settle_in(
    local: &[LocalEntry],
    debounce: Duration,
    recheck_after: Duration,
) -> Option<Duration> {
    let now_ns = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let debounce_ns = debounce.as_nanos() as i64;
    let floor_ns = DEBOUNCE_FLOOR.as_nanos() as i64;
    let ceiling_ns = recheck_after.as_nanos() as i64;
    local
        .iter()
        .filter(|f| !f.stable)
        .map(|f| {
            let ns = (f.mtime_ns + debounce_ns - now_ns).clamp(floor_ns, ceiling_ns);
            Duration::from_nanos(ns as u64)
        })
        .min()
}

/// Whether Zoho's side differs from the journal (something to download, trash or
/// adopt). Attachments left unsynced on purpose are no change to act on.
fn remote_changed(
    remote: Option<&[RemoteAttachment]>,
    skipped: &[SkippedRemote],
    synced: &[SyncedEntry],
) -> bool {
    remote.is_some_and(|r| {
        let remote_ids: HashSet<&str> = r
            .iter()
            .map(|a| a.id.as_str())
            .filter(|id| !skipped.iter().any(|s| s.attachment_id == *id))
            .collect();
        let synced_ids: HashSet<&str> = synced.iter().map(|e| e.attachment_id.as_str()).collect();
        remote_ids != synced_ids
    })
}

/// Runs the planner over the three trees.
fn plan(
    settings: &EngineSettings,
    local: Option<&[LocalEntry]>,
    remote: Option<&[RemoteAttachment]>,
    synced: &[SyncedEntry],
    occupied: &HashSet<String>,
) -> Plan {
    let stamp = chrono::Local::now().format("%Y-%m-%d %H%M%S").to_string();
    planner::plan_record(&PlanInput {
        local,
        remote,
        synced,
        conflict_stamp: &stamp,
        direction: settings.direction,
        occupied,
        ignore: Some(&settings.ignore),
        folding: settings.folding,
    })
}

/// The three trees by key, as the executor works on them.
fn record_work(
    key: RecordKey,
    dir: Option<DirHandle>,
    local: Option<Vec<LocalEntry>>,
    remote: Option<Vec<RemoteAttachment>>,
    synced: Vec<SyncedEntry>,
    failures: Vec<FailureRow>,
) -> RecordWork {
    RecordWork {
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
        refused: Default::default(),
    }
}

impl Engine {
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

    /// [`Engine::prepare`]; without `effects`, nothing is written or sent.
    async fn prepare_with(
        &self,
        folder: &RecordFolder,
        poll: bool,
        effects: bool,
    ) -> Result<Prepared, EngineError> {
        let settings = self.settings();
        let key = folder.key.clone();
        let JournalRows {
            mut synced,
            mut failures,
            intents,
            unflushed,
            skips,
        } = self.read_journal(&key).await?;

        // A download whose flush never happened is not trusted from the hash cache.
        let cache: Vec<SyncedEntry> = synced
            .iter()
            .filter(|e| !unflushed.contains(&e.local_name))
            .cloned()
            .collect();
        // An upload left half done is resolved against a fresh list.
        let list_anyway = poll || !intents.is_empty();
        if list_anyway {
            tracing::debug!({ RECORD } = %key.record_id, { MODULE } = %key.module, poll, intents = intents.len(), "listing attachments");
        }
        let (scanned, listed) = self
            .read_folder_and_list(folder, &cache, &synced, list_anyway, &settings)
            .await;
        let LocalSide {
            files: local,
            skipped,
            fingerprint,
            dir,
        } = scanned?;
        if !unflushed.is_empty()
            && let (Some(files), Some(dir)) = (&local, &dir)
        {
            let torn = self
                .check_unflushed(&key, dir, &unflushed, &synced, files, effects)
                .await?;
            synced.retain(|e| !torn.contains(&e.local_name));
        }
        let RemoteSide {
            list: mut remote,
            asked,
            error: remote_error,
        } = self
            .remote_side(&key, local.as_deref(), &synced, list_anyway, listed)
            .await;
        self.set_superseded_aside(&key, remote.as_mut(), &mut failures, asked, effects)
            .await?;

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
            synced = self.db(move |j| j.entries(&k)).await?;
        }

        let plan = plan(
            &settings,
            local.as_deref(),
            remote.as_deref(),
            &synced,
            &skipped,
        );
        let both_known = local.is_some() && remote.is_some();
        if effects && both_known {
            self.record_remote_skips(&key, &skips, &plan.skipped)
                .await?;
        }
        if both_known {
            self.clear_stale_failures(&key, &mut failures, &plan.actions, effects)
                .await?;
        }
        let refused = self
            .refused_uploads(
                &settings,
                &plan.actions,
                local.as_deref(),
                remote.as_deref(),
            )
            .await?;
        let remote_changed = remote_changed(remote.as_deref(), &plan.skipped, &synced);
        let unstable = local
            .as_ref()
            .map_or(0, |l| l.iter().filter(|f| !f.stable).count());
        let settle_in = local
            .as_ref()
            .and_then(|l| settle_in(l, settings.debounce, settings.tuning.recheck_after));
        let mut work = record_work(key, dir, local, remote, synced, failures);
        work.refused = refused;
        Ok(Prepared {
            work,
            actions: plan.actions,
            unstable,
            settle_in,
            listed: asked && remote_error.is_none(),
            remote_changed,
            remote_error,
            fingerprint,
        })
    }

    /// The planned uploads Zoho is known to refuse (`planner::preflight`), with the limit
    /// Zoho stated earlier when none is configured or documented (Bigin).
    async fn refused_uploads(
        &self,
        settings: &EngineSettings,
        actions: &[Action],
        local: Option<&[LocalEntry]>,
        remote: Option<&[RemoteAttachment]>,
    ) -> Result<std::collections::HashMap<String, String>, EngineError> {
        let uploads = actions.iter().any(|a| {
            matches!(
                a,
                Action::Upload { .. } | Action::Replace { .. } | Action::UploadLink { .. }
            )
        });
        let (Some(local), true) = (local, uploads) else {
            return Ok(Default::default());
        };
        let max_bytes = match settings.max_upload_size {
            Some(m) => Some(m),
            None => self
                .db(|j| j.meta(crate::journal::UPLOAD_LIMIT_META_KEY))
                .await?
                .and_then(|v| v.parse().ok()),
        };
        let rules = planner::UploadRules {
            product: settings.product,
            max_bytes,
        };
        let by_name = local.iter().map(|l| (l.name.clone(), l.clone())).collect();
        Ok(planner::preflight(
            actions,
            &by_name,
            remote.unwrap_or_default(),
            &rules,
        ))
    }

    /// Takes the replaced versions whose delete failed earlier out of `failures` and,
    /// by the planner's rule ([`planner::set_superseded_aside`]), out of `remote`: they
    /// are deleted again, never downloaded as new attachments. Their rows end only when
    /// the delete succeeds or a fresh list (`listed_now`) no longer shows them.
    async fn set_superseded_aside(
        &self,
        key: &RecordKey,
        remote: Option<&mut Vec<RemoteAttachment>>,
        failures: &mut Vec<FailureRow>,
        listed_now: bool,
        effects: bool,
    ) -> Result<(), EngineError> {
        let superseded: Vec<String> = failures
            .iter()
            .filter(|f| f.is_superseded())
            .map(|f| f.subject.clone())
            .collect();
        failures.retain(|f| !f.is_superseded());
        let Some(list) = remote else {
            return Ok(());
        };
        if superseded.is_empty() {
            return Ok(());
        }
        let fate = planner::set_superseded_aside(list, &superseded, listed_now);
        if effects {
            self.executor.retry_superseded(key, &fate.retry).await;
        }
        if effects && !fate.gone.is_empty() {
            let (k, gone) = (key.clone(), fate.gone);
            self.db(move |j| gone.iter().try_for_each(|s| j.clear_failure(&k, s)))
                .await?;
        }
        self.cache().insert(key.clone(), list.clone());
        Ok(())
    }

    /// A failure whose action is no longer planned (the file or attachment is gone, or
    /// the sides agree now) is over: its row is dropped so `status` and `once` stop
    /// reporting it. Only with both sides known; an unknown side plans less.
    async fn clear_stale_failures(
        &self,
        key: &RecordKey,
        failures: &mut Vec<FailureRow>,
        actions: &[Action],
        effects: bool,
    ) -> Result<(), EngineError> {
        if failures.is_empty() {
            return Ok(());
        }
        let planned: HashSet<&str> = actions.iter().map(|a| describe(a).1).collect();
        let stale: Vec<String> = failures
            .iter()
            .filter(|f| !planned.contains(f.subject.as_str()))
            .map(|f| f.subject.clone())
            .collect();
        if effects && !stale.is_empty() {
            failures.retain(|f| !stale.contains(&f.subject));
            let k = key.clone();
            self.db(move |j| stale.iter().try_for_each(|s| j.clear_failure(&k, s)))
                .await?;
        }
        Ok(())
    }
}
