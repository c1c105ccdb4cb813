//! What a pass did: the counts behind the summary log line, `once`'s exit code, the
//! daemon's sd_notify STATUS and `status`'s pending work.

use super::UnflushedDownload;
use crate::model::RecordKey;
use crate::planner::Action;
use crate::scan;
use std::collections::{HashMap, HashSet};

/// What a pass did, for the summary log line, `once`'s exit code and sd_notify STATUS.
#[derive(Debug, Default, Clone)]
pub struct PassReport {
    /// Records read and planned.
    pub records: usize,
    /// Actions completed.
    pub done: usize,
    /// Actions not attempted or abandoned without harm (planned again next time).
    pub skipped: usize,
    /// Actions that failed retryably and wait for a later pass.
    pub deferred: usize,
    /// Actions that failed permanently and wait for a change or `retry`.
    pub parked: usize,
    /// Deletes held back by `sync.max_delete_percent`.
    pub blocked_deletes: usize,
    /// Files still being written, left for a later look.
    pub unstable: usize,
    /// Records whose attachment list failed.
    pub list_errors: usize,
    /// Bytes transferred.
    pub bytes: u64,
    /// What the pass left in error, per record, for `once` to print and judge.
    pub errors: Vec<RecordError>,
    /// Records whose attachments were listed in this pass.
    pub polled: Vec<RecordKey>,
    /// Actions planned but not completed, per record (for `status`).
    pub pending: HashMap<RecordKey, PendingCounts>,
    /// Downloads recorded as not yet on disk; see [`super::Engine::flush_downloads`].
    pub unflushed: Vec<UnflushedDownload>,
    /// Per record of the pass: the folder fingerprint taken before it was read when the
    /// pass left it with nothing to do (every action done, no failure, nothing still being
    /// written, remote side known), else `None`. Kept in the journal so that an unchanged
    /// folder is not read again by the daemon's rescans.
    pub quiet: HashMap<RecordKey, Option<scan::Fingerprint>>,
    /// Records with actions planned in this pass, whatever came of them.
    pub acted: HashSet<RecordKey>,
}

/// Something a pass left in error in one record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record could not be read or planned (its folder, its journal rows, the
    /// recovery of an interrupted upload): nothing was done in it.
    #[error("{key}: {message}")]
    Unread {
        /// The record.
        key: RecordKey,
        /// Why it could not be read.
        message: String,
    },
    /// Zoho's list of its attachments failed: the remote side was unknown, so nothing
    /// that depends on it was done.
    #[error("{key}: list failed: {message}")]
    ListFailed {
        /// The record.
        key: RecordKey,
        /// Why the list failed.
        message: String,
    },
    /// An action did not complete in this pass (it is retried later, or parked); the
    /// journal keeps its failure row.
    #[error("{key}: {action} {subject}: {message}")]
    Action {
        /// The record.
        key: RecordKey,
        /// The action, as the journal's failure rows name it (`upload`, `download`…).
        action: &'static str,
        /// The local name or attachment id it is about.
        subject: String,
        /// Why it failed.
        message: String,
    },
}

impl RecordError {
    /// The record in error.
    pub fn key(&self) -> &RecordKey {
        match self {
            RecordError::Unread { key, .. }
            | RecordError::ListFailed { key, .. }
            | RecordError::Action { key, .. } => key,
        }
    }

    /// True when the record as a whole was not synced (it could not be read or listed),
    /// as opposed to one action in it that failed.
    pub fn is_record_unsynced(&self) -> bool {
        matches!(
            self,
            RecordError::Unread { .. } | RecordError::ListFailed { .. }
        )
    }
}

/// Work left for a record, by direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingCounts {
    /// Uploads, replaces and link uploads.
    pub uploads: u32,
    /// Downloads, including compares and conflict renames.
    pub downloads: u32,
    /// Remote deletes and local trashings.
    pub deletes: u32,
}

impl PendingCounts {
    /// Counts `action` under its direction (journal-only actions count nowhere).
    pub fn add(&mut self, action: &Action) {
        match action {
            Action::Upload { .. } | Action::UploadLink { .. } | Action::Replace { .. } => {
                self.uploads += 1
            }
            Action::Download { .. }
            | Action::ReplaceLocal { .. }
            | Action::CompareAndAdopt { .. }
            | Action::RenameLocalForConflict { .. } => self.downloads += 1,
            Action::DeleteRemote { .. } | Action::TrashLocal { .. } => self.deletes += 1,
            Action::Adopt { .. } | Action::Forget { .. } | Action::Refresh { .. } => {}
        }
    }

    /// All pending actions.
    pub fn total(&self) -> u32 {
        self.uploads + self.downloads + self.deletes
    }
}

impl PassReport {
    /// Adds another pass's counts, lists and pending work to this one.
    pub fn merge(&mut self, other: PassReport) {
        self.records += other.records;
        self.done += other.done;
        self.skipped += other.skipped;
        self.deferred += other.deferred;
        self.parked += other.parked;
        self.blocked_deletes += other.blocked_deletes;
        self.unstable += other.unstable;
        self.list_errors += other.list_errors;
        self.bytes += other.bytes;
        self.errors.extend(other.errors);
        self.polled.extend(other.polled);
        self.unflushed.extend(other.unflushed);
        self.quiet.extend(other.quiet);
        self.acted.extend(other.acted);
        for (k, v) in other.pending {
            let e = self.pending.entry(k).or_default();
            e.uploads += v.uploads;
            e.downloads += v.downloads;
            e.deletes += v.deletes;
        }
    }

    /// True when the pass did, deferred, parked or held back an action, or a list failed:
    /// worth a log line.
    pub fn did_something(&self) -> bool {
        self.done + self.deferred + self.parked + self.blocked_deletes + self.list_errors > 0
    }
}
