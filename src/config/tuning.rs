//! Figures the daemon derives from the validated settings, computed once at load so that
//! every user of a setting sees the same value (no re-flooring at each use).

use super::{SyncSettings, ZohoSettings};
use std::time::Duration;

/// The shortest wait before a folder is looked at again, whatever `sync.debounce` says.
///
/// It bounds the three rechecks: after a file still being written (its settle time), after
/// something changed under an action, and `once` waiting for files to settle. Each recheck
/// rescans a folder (and in the daemon runs a reconcile), so with `debounce = "1ms"` a
/// smaller floor would rescan a folder being written many times a second for nothing;
/// 100 ms is still far below anything a person notices, and it is the floor the daemon
/// already used after a changed action (the 5 ms and 50 ms floors were the outliers).
pub const DEBOUNCE_FLOOR: Duration = Duration::from_millis(100);

/// Records reconciled at once per API call Zoho allows at once (`zoho.concurrency`): while
/// one record's folder is being read or its journal rows written, another's calls go out.
pub const RECONCILES_PER_REQUEST: usize = 2;

/// Actions of a pass in progress at once per API call Zoho allows at once (the client
/// itself holds calls to `zoho.concurrency`): while some actions wait for their journal
/// commit or their file, others send.
pub const ACTIONS_PER_REQUEST: usize = 8;

/// What the settings come to for the scheduler and the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Records reconciled at once: `zoho.concurrency` × [`RECONCILES_PER_REQUEST`].
    pub reconcile_slots: usize,
    /// Actions of one pass in progress at once: `zoho.concurrency` ×
    /// [`ACTIONS_PER_REQUEST`].
    pub actions_in_flight: usize,
    /// How long to wait before looking again at a folder whose files are not settled:
    /// `sync.debounce`, at least [`DEBOUNCE_FLOOR`].
    pub recheck_after: Duration,
}

impl Tuning {
    /// Derives the figures from validated settings (`zoho.concurrency` is at least 1).
    pub fn derive(zoho: &ZohoSettings, sync: &SyncSettings) -> Tuning {
        Tuning {
            reconcile_slots: zoho.concurrency * RECONCILES_PER_REQUEST,
            actions_in_flight: zoho.concurrency * ACTIONS_PER_REQUEST,
            recheck_after: sync.debounce.max(DEBOUNCE_FLOOR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tuning(zoho: &str, sync: &str) -> Tuning {
        let text = format!(
            "root = \"/srv/bigin\"\nstate_dir = \"/var/lib/bigin-sync\"\n[zoho]\nclient_id = \"1000.ABC\"\nclient_secret = \"s3cret\"\nrefresh_token = \"1000.rt\"\n{zoho}\n[sync]\n{sync}\n"
        );
        super::super::load_str(Path::new("/etc/bigin-sync/config.toml"), &text, &|_| None)
            .unwrap()
            .tuning
    }

    #[test]
    fn the_figures_are_derived_at_load() {
        assert_eq!(
            tuning("", ""),
            Tuning {
                reconcile_slots: 8,
                actions_in_flight: 32,
                recheck_after: Duration::from_secs(2),
            }
        );
        let one = tuning("concurrency = 1", "debounce = \"300ms\"");
        assert_eq!(one.reconcile_slots, 2);
        assert_eq!(one.actions_in_flight, 8);
        assert_eq!(one.recheck_after, Duration::from_millis(300));
    }

    #[test]
    fn a_debounce_below_the_floor_rechecks_at_the_floor() {
        for short in ["1ms", "99ms", "100ms"] {
            assert_eq!(
                tuning("", &format!("debounce = \"{short}\"")).recheck_after,
                DEBOUNCE_FLOOR,
                "{short}"
            );
        }
        assert_eq!(
            tuning("", "debounce = \"101ms\"").recheck_after,
            Duration::from_millis(101)
        );
    }
}
