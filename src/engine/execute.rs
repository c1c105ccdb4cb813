//! Executing a pass: the pass-wide delete guard, then every planned action at once (up to
//! the concurrency), and the tally of what came of them.

use super::{Engine, PassReport, PendingCounts, Prepared, RecordError, UnflushedDownload};
use crate::executor::{ActionReport, Outcome, RecordWork, RemoteDelta};
use crate::model::RecordKey;
use crate::planner::{self, Action};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// An action carried out, with the record it belongs to and what came of it.
type Ran = (Arc<RecordWork>, Action, ActionReport);

/// The report's counts known before anything runs: records, files still being written,
/// records whose list failed.
fn start_report(prepared: &[Prepared]) -> PassReport {
    let mut report = PassReport {
        records: prepared.len(),
        ..PassReport::default()
    };
    report.unstable = prepared.iter().map(|p| p.unstable).sum();
    report.list_errors = prepared.iter().filter(|p| p.remote_error.is_some()).count();
    for p in prepared {
        if let Some(e) = &p.remote_error {
            report.errors.push(RecordError::ListFailed {
                key: p.work.key.clone(),
                message: e.clone(),
            });
        }
    }
    report
}

/// Per record whose Zoho side was listed, how many deletes the pass planned (a record
/// whose list failed says nothing about the guard either way).
fn planned_deletes(prepared: &[Prepared]) -> Vec<(RecordKey, u64)> {
    prepared
        .iter()
        .filter(|p| p.remote_error.is_none())
        .map(|p| {
            let n = p.actions.iter().filter(|a| a.is_delete()).count();
            (p.work.key.clone(), n as u64)
        })
        .collect()
}

/// Per record, what is known once the guard has spoken: whether the folder is settled
/// (its fingerprint kept), whether it was listed, whether anything is to be done.
fn note_records(report: &mut PassReport, prepared: &[Prepared]) {
    for p in prepared {
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
}

/// The error an action left in `key`.
fn action_error(key: &RecordKey, r: &ActionReport, message: &str) -> RecordError {
    RecordError::Action {
        key: key.clone(),
        action: r.action,
        subject: r.subject.clone(),
        message: message.to_string(),
    }
}

/// Counts what came of each action into `report`; returns the changes to Zoho's side
/// per record, for the cached lists.
fn tally(report: &mut PassReport, ran: Vec<Ran>) -> HashMap<RecordKey, Vec<RemoteDelta>> {
    let mut deltas: HashMap<RecordKey, Vec<RemoteDelta>> = HashMap::new();
    for (work, action, r) in ran {
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
                report.errors.push(action_error(&key, &r, message));
            }
            Outcome::Parked(message) => {
                report.parked += 1;
                report.errors.push(action_error(&key, &r, message));
            }
        }
    }
    deltas
}

impl Engine {
    /// Applies the delete guard across `prepared`, then runs every action.
    pub async fn execute(&self, mut prepared: Vec<Prepared>, confirm_deletes: bool) -> PassReport {
        let settings = self.settings();
        let mut report = start_report(&prepared);
        let deletes = planned_deletes(&prepared);
        if !confirm_deletes {
            report.blocked_deletes = self
                .hold_back_deletes(&mut prepared, settings.max_delete_percent)
                .await;
        }
        self.note_delete_guard(deletes, report.blocked_deletes > 0)
            .await;
        note_records(&mut report, &prepared);
        let ran = self
            .run_actions(prepared, settings.tuning.actions_in_flight)
            .await;
        let deltas = tally(&mut report, ran);
        for (key, d) in &deltas {
            self.apply_deltas(key, d);
        }
        report
    }

    /// The delete guard over the whole pass (see [`planner::guard_deletes`]): when it
    /// holds the deletes back (too many of the tracked files, or the count cannot be
    /// read), their folders also lose their fingerprint (they are looked at again).
    /// Returns how many deletes were held back.
    async fn hold_back_deletes(&self, prepared: &mut [Prepared], max_delete_percent: u8) -> usize {
        let deleting: Vec<bool> = prepared
            .iter()
            .map(|p| p.actions.iter().any(Action::is_delete))
            .collect();
        if !deleting.contains(&true) {
            return 0;
        }
        let tracked = match self.db(|j| j.count_entries()).await {
            Ok(tracked) => Some(tracked),
            Err(e) => {
                tracing::error!(error = %e, "cannot count tracked files; holding back deletes");
                None
            }
        };
        let deletes = planner::guard_deletes(
            prepared.iter_mut().map(|p| &mut p.actions),
            tracked,
            max_delete_percent,
        );
        if deletes == 0 {
            return 0;
        }
        for (p, deleting) in prepared.iter_mut().zip(deleting) {
            if deleting {
                p.fingerprint = None;
            }
        }
        let tracked = tracked.unwrap_or(0);
        tracing::error!(
            deletes,
            tracked,
            max_delete_percent,
            "refusing to delete {deletes} of {tracked} tracked files in one pass (over sync.max_delete_percent); \
             nothing was deleted, the rest of the sync goes on. If these deletes are intended, run \
             `bigin-sync once --confirm-deletes` (or raise sync.max_delete_percent)"
        );
        deletes
    }

    /// Remembers in the journal, for `status`, which records' deletes the guard holds
    /// back (`blocked`: all of `deletes` with a count above zero) and which records it no
    /// longer holds back (the rest).
    async fn note_delete_guard(&self, deletes: Vec<(RecordKey, u64)>, blocked: bool) {
        let (tripped, passed): (Vec<_>, Vec<_>) =
            deletes.into_iter().partition(|(_, n)| blocked && *n > 0);
        let passed: Vec<RecordKey> = passed.into_iter().map(|(k, _)| k).collect();
        let now = crate::model::unix_now();
        if let Err(e) = self
            .db(move |j| j.note_delete_guard(&passed, &tripped, now))
            .await
        {
            tracing::warn!(error = %e, "could not record the delete guard's state for status");
        }
    }

    /// Runs every action of the pass, `in_flight` at once ([`crate::config::Tuning`]),
    /// with the upload intents reserved for the whole pass.
    async fn run_actions(&self, prepared: Vec<Prepared>, in_flight: usize) -> Vec<Ran> {
        // Owned jobs: the stream's futures borrow nothing, so a spawned reconcile stays Send.
        let jobs: Vec<(Arc<RecordWork>, Action)> = prepared
            .into_iter()
            .flat_map(|p| {
                let work = Arc::new(p.work);
                p.actions.into_iter().map(move |a| (work.clone(), a))
            })
            .collect();
        let intents = self.executor.reserve_intents(&jobs).await;
        let ran: Vec<Ran> = futures_util::stream::iter(jobs)
            .map(|(work, action)| {
                let executor = self.executor.clone();
                let intents = &intents;
                async move {
                    let r = executor.run(&work, &action, intents).await;
                    (work, action, r)
                }
            })
            // More actions than requests in flight (the client holds those to
            // `zoho.concurrency`): while some wait for their journal commit, others send.
            .buffer_unordered(in_flight)
            .collect()
            .await;
        self.executor.release_intents(intents).await;
        ran
    }

    /// Brings the cached list of a record up to date with what the pass's actions
    /// changed in Zoho, so that the next local hint needs no list call.
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
}
