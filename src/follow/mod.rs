//! Following records from Zoho (`[[follow]]`): every record of a followed module gets a
//! folder `<id> <label>` made by the daemon, renamed when the record is renamed (unless
//! the user renamed it), and moved to `<root>/.archive/` when the record is deleted.
//!
//! - [`template`]: label templates (`{Deal_Name}`);
//! - [`plan`]: the pure planner deciding what to do with the folders;
//! - [`folders`]: the folder operations, all through directory handles;
//! - [`source`]: Zoho's records API as the passes' record source.

pub mod folders;
pub mod plan;
pub mod run;
pub mod source;
pub mod template;

#[cfg(test)]
mod proptests;

use crate::journal::Journal;
use std::sync::Arc;

/// Remote changes found since the daemon started: through a follow hint (the poll was
/// brought forward) and by a scheduled poll, so an operator can see whether hints work
/// in their org.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteChangeCounts {
    /// Found by a poll a follow hint brought forward.
    pub hint: u64,
    /// Found by a scheduled poll.
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
            if let Err(e) = j.set_meta(crate::journal::REMOTE_CHANGES_META_KEY, &json) {
                tracing::warn!(error = %e, "could not publish the remote change counts for status");
            }
        });
    }
}

/// The followed modules of the config, each with its label template: the configured one,
/// or the module's default (`default_fields`, e.g. `First_Name Last_Name` for Contacts,
/// joined by spaces; none: the folder is just the id).
pub fn followed_modules(
    cfg: &[crate::config::FollowSettings],
    default_fields: impl Fn(&str) -> Vec<String>,
) -> Vec<run::FollowedModule> {
    cfg.iter()
        .map(|s| {
            let label = s.label.clone().or_else(|| {
                let fields = default_fields(&s.module);
                let text: Vec<String> = fields.iter().map(|f| format!("{{{f}}}")).collect();
                (!fields.is_empty())
                    .then(|| template::LabelTemplate::parse(&text.join(" ")).ok())
                    .flatten()
            });
            run::FollowedModule {
                settings: s.clone(),
                label,
                other_folders: Vec::new(),
            }
        })
        .collect()
}

/// Starts the daemon's follow loop: hinted records go to the scheduler's "poll now"
/// path, changed folders make it read the folders again. The loop runs even when nothing
/// is followed yet, so that a SIGHUP can add a `[[follow]]`; a new [`run::FollowConfig`]
/// sent on the returned channel replaces the old one.
pub fn start<S: run::RecordSource + 'static>(
    source: S,
    root: std::path::PathBuf,
    journal: Arc<Journal>,
    config: run::FollowConfig,
    control: tokio::sync::mpsc::UnboundedSender<crate::daemon::scheduler::Control>,
    budget_spent: impl Fn(u32) -> bool + Send + 'static,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::sync::watch::Sender<run::FollowConfig> {
    use crate::daemon::scheduler::Control;
    let notify = move |o: run::PassOutcome| {
        if !o.poll_now.is_empty() {
            let _ = control.send(Control::PollNow(o.poll_now));
        }
        if o.folders_changed {
            let _ = control.send(Control::FoldersChanged);
        }
    };
    let (tx, rx) = tokio::sync::watch::channel(config);
    tokio::spawn(run::run_follows(
        source,
        journal,
        root,
        rx,
        budget_spent,
        notify,
        shutdown,
    ));
    tx
}
