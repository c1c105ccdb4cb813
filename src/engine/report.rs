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
    pub records: usize,
    pub done: usize,
    pub skipped: usize,
    pub deferred: usize,
    pub parked: usize,
    pub blocked_deletes: usize,
    pub unstable: usize,
    pub list_errors: usize,
    pub bytes: u64,
    /// One line per entry left in error, for `once` to print.
    pub errors: Vec<String>,
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

/// Work left for a record, by direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingCounts {
    pub uploads: u32,
    pub downloads: u32,
    pub deletes: u32,
}

impl PendingCounts {
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

    pub fn total(&self) -> u32 {
        self.uploads + self.downloads + self.deletes
    }
}

impl PassReport {
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

    pub fn did_something(&self) -> bool {
        self.done + self.deferred + self.parked + self.blocked_deletes + self.list_errors > 0
    }
}
