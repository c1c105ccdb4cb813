//! Following records from Zoho (`[[follow]]`): every record of a followed module gets a
//! folder `<id> <label>` made by the daemon, renamed when the record is renamed (unless
//! the user renamed it), and moved to `<root>/.archive/` when the record is deleted.
//!
//! - [`template`]: label templates (`{Deal_Name}`);
//! - [`plan`]: the pure planner deciding what to do with the folders;
//! - [`folders`]: the folder operations, all through directory handles.

pub mod folders;
pub mod plan;
pub mod run;
pub mod template;

#[cfg(test)]
mod proptests;

use crate::journal::Journal;
use std::sync::Arc;

/// Journal meta key of [`RemoteChanges`], written by the daemon and shown by `status`.
pub const REMOTE_CHANGES_META_KEY: &str = "remote_changes";

/// Remote changes found since the daemon started: through a follow hint (the poll was
/// brought forward) and by a scheduled poll, so an operator can see whether hints work
/// in their org.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteChangeCounts {
    pub hint: u64,
    pub poll: u64,
}

/// The daemon's [`RemoteChangeCounts`], published to the journal for `status`.
#[derive(Debug, Default)]
pub struct RemoteChanges {
    counts: Arc<std::sync::Mutex<RemoteChangeCounts>>,
}

impl RemoteChanges {
    /// Counts one change and publishes the counts (off the async workers). Each write
    /// reads the counts when it runs, so the last one to run writes the latest counts
    /// whatever order the blocking pool runs them in.
    pub fn count(&mut self, through_hint: bool, journal: &Arc<Journal>) {
        {
            let mut c = crate::lock(&self.counts);
            if through_hint {
                c.hint += 1;
            } else {
                c.poll += 1;
            }
        }
        let (j, counts) = (journal.clone(), self.counts.clone());
        tokio::task::spawn_blocking(move || {
            let Ok(json) = serde_json::to_string(&*crate::lock(&counts)) else {
                return;
            };
            if let Err(e) = j.set_meta(REMOTE_CHANGES_META_KEY, &json) {
                tracing::warn!(error = %e, "could not publish the remote change counts for status");
            }
        });
    }
}
