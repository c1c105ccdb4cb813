//! What `/metrics` exports and what `/healthz` answers, kept as one [`Observer`] of the
//! daemon's events.
//!
//! Families are written by `prometheus-client` in the Prometheus text format. No label
//! names a file or a record: a label value per record would make one time series per
//! record (thousands) in the operator's Prometheus.

use crate::events::{Direction, Event, EventKind, Observer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    operation: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

/// The watcher modes, so that every one is exported (0 or 1) and a query can compare.
const WATCH_MODES: [&str; 3] = ["inotify", "poll", "none"];

/// What `/healthz` weighs.
#[derive(Debug)]
struct Health {
    auth_failed: bool,
    root_missing: bool,
    budget_spent: bool,
    last_pass: Instant,
    /// Unhealthy when no pass completed for this long (3 × `sync.poll_interval`).
    stall_after: Duration,
}

/// The daemon's metrics and health. Cheap to update from any task; encoded on scrape.
pub struct Metrics {
    registry: Registry,
    api_calls: Family<ApiLabels, Counter>,
    api_credits: Family<ApiLabels, Counter>,
    token_grants: Counter,
    bytes: Family<DirectionLabels, Counter>,
    files: Family<DirectionLabels, Counter>,
    pending: Gauge,
    parked: Counter,
    conflicts: Counter,
    delete_guard_trips: Counter,
    followed: Gauge,
    last_pass_age: Gauge<f64, AtomicU64>,
    watch_mode: Family<ModeLabels, Gauge>,
    health: Mutex<Health>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every family; `stall_after` is how long without a completed pass makes
    /// `/healthz` unhealthy.
    pub fn new(stall_after: Duration) -> Self {
        let m = Metrics {
            registry: Registry::with_prefix("bigin_sync"),
            api_calls: Family::default(),
            api_credits: Family::default(),
            token_grants: Counter::default(),
            bytes: Family::default(),
            files: Family::default(),
            pending: Gauge::default(),
            parked: Counter::default(),
            conflicts: Counter::default(),
            delete_guard_trips: Counter::default(),
            followed: Gauge::default(),
            last_pass_age: Gauge::default(),
            watch_mode: Family::default(),
            health: Mutex::new(Health {
                auth_failed: false,
                root_missing: false,
                budget_spent: false,
                last_pass: Instant::now(),
                stall_after,
            }),
        };
        m.register()
    }

    fn register(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "api_calls",
            "Zoho API calls by operation and result",
            self.api_calls.clone(),
        );
        r.register(
            "api_credits",
            "Zoho API credits spent by operation and result",
            self.api_credits.clone(),
        );
        r.register(
            "token_grants",
            "Access tokens granted by Zoho's OAuth server",
            self.token_grants.clone(),
        );
        r.register(
            "transferred_bytes",
            "Bytes of file content moved, by direction",
            self.bytes.clone(),
        );
        r.register(
            "transferred_files",
            "Files moved, by direction",
            self.files.clone(),
        );
        r.register(
            "actions_pending",
            "Actions planned and not done yet, over all records",
            self.pending.clone(),
        );
        r.register(
            "entries_parked",
            "Entries that failed permanently and were parked",
            self.parked.clone(),
        );
        r.register(
            "conflicts",
            "Conflict copies made (different content on both sides)",
            self.conflicts.clone(),
        );
        r.register(
            "delete_guard_trips",
            "Passes whose deletes were held back by sync.max_delete_percent",
            self.delete_guard_trips.clone(),
        );
        r.register(
            "records_followed",
            "Record folders followed",
            self.followed.clone(),
        );
        r.register(
            "last_pass_age_seconds",
            "Seconds since the scheduler last completed what was due",
            self.last_pass_age.clone(),
        );
        r.register(
            "watch_mode",
            "How local changes are noticed (1 for the current mode)",
            self.watch_mode.clone(),
        );
        for mode in WATCH_MODES {
            let _ = self.watch_mode.get_or_create(&ModeLabels { mode });
        }
        for direction in [Direction::Upload, Direction::Download] {
            let l = DirectionLabels {
                direction: direction.as_str(),
            };
            let _ = self.bytes.get_or_create(&l);
            let _ = self.files.get_or_create(&l);
        }
        self
    }

    /// Counts one Zoho API call of `operation` (`list`, `upload`, …) that ended in
    /// `result` (`ok`, or an error class) and cost `credits`.
    pub fn record_api_call(&self, operation: &str, result: &str, credits: u64) {
        let labels = ApiLabels {
            operation: operation.to_owned(),
            result: result.to_owned(),
        };
        self.api_calls.get_or_create(&labels).inc();
        self.api_credits.get_or_create(&labels).inc_by(credits);
    }

    /// Sets how many records are followed.
    pub fn set_records_followed(&self, records: u64) {
        self.followed
            .set(i64::try_from(records).unwrap_or(i64::MAX));
    }

    /// Changes the stall limit of `/healthz` (after SIGHUP changed the poll interval).
    pub fn set_stall_after(&self, stall_after: Duration) {
        crate::lock(&self.health).stall_after = stall_after;
    }

    /// The Prometheus text exposition of every family.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let age = crate::lock(&self.health).last_pass.elapsed();
        self.last_pass_age.set(age.as_secs_f64());
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// `Ok` when healthy, else the one-line reason `/healthz` gives with its 503.
    pub fn health(&self) -> Result<(), String> {
        let h = crate::lock(&self.health);
        if h.auth_failed {
            return Err(
                "Zoho refused the refresh token; run `bigin-sync auth` to get a new one".into(),
            );
        }
        if h.root_missing {
            return Err("the sync root is missing or cannot be read".into());
        }
        if h.budget_spent {
            return Err("the daily API budget is spent; polls wait until credits free up".into());
        }
        let age = h.last_pass.elapsed();
        if age >= h.stall_after {
            return Err(format!(
                "no pass completed for {} s (limit {} s, 3 × sync.poll_interval)",
                age.as_secs(),
                h.stall_after.as_secs()
            ));
        }
        Ok(())
    }

    fn set_condition(&self, kind: EventKind, on: bool) {
        let mut h = crate::lock(&self.health);
        match kind {
            EventKind::AuthFailed => h.auth_failed = on,
            EventKind::RootMissing => h.root_missing = on,
            EventKind::BudgetSpent => h.budget_spent = on,
            EventKind::Conflict | EventKind::Parked | EventKind::DeleteGuard => {}
        }
    }
}

/// Every API request the client completes is counted by operation and result.
impl crate::zoho::usage::UsageObserver for Metrics {
    fn on_call(&self, call: &crate::zoho::usage::ApiCall) {
        self.record_api_call(call.op.name(), call.outcome.name(), u64::from(call.credits));
    }
}

impl Observer for Metrics {
    fn event(&self, event: &Event) {
        match event.kind {
            EventKind::Conflict => {
                self.conflicts.inc();
            }
            EventKind::Parked => {
                self.parked.inc();
            }
            EventKind::DeleteGuard => {
                self.delete_guard_trips.inc();
            }
            EventKind::AuthFailed | EventKind::RootMissing | EventKind::BudgetSpent => {
                self.set_condition(event.kind, true)
            }
        }
    }

    fn cleared(&self, kind: EventKind) {
        self.set_condition(kind, false);
    }

    fn transferred(&self, direction: Direction, bytes: u64) {
        let l = DirectionLabels {
            direction: direction.as_str(),
        };
        self.files.get_or_create(&l).inc();
        self.bytes.get_or_create(&l).inc_by(bytes);
    }

    fn token_granted(&self) {
        self.token_grants.inc();
    }

    fn pass_completed(&self) {
        crate::lock(&self.health).last_pass = Instant::now();
    }

    fn pending(&self, actions: u64) {
        self.pending.set(i64::try_from(actions).unwrap_or(i64::MAX));
    }

    fn followed(&self, records: u64) {
        self.set_records_followed(records);
    }

    fn watch_mode(&self, mode: &'static str) {
        for m in WATCH_MODES {
            self.watch_mode
                .get_or_create(&ModeLabels { mode: m })
                .set(i64::from(m == mode));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_names_the_first_cause_and_recovers() {
        let m = Metrics::new(Duration::from_secs(3600));
        assert_eq!(m.health(), Ok(()));
        m.event(&Event::new(EventKind::RootMissing, "gone"));
        assert!(m.health().unwrap_err().contains("sync root"));
        m.event(&Event::new(EventKind::AuthFailed, "no"));
        assert!(m.health().unwrap_err().contains("refresh token"));
        m.cleared(EventKind::AuthFailed);
        m.cleared(EventKind::RootMissing);
        m.event(&Event::new(EventKind::BudgetSpent, "spent"));
        assert!(m.health().unwrap_err().contains("budget"));
        m.cleared(EventKind::BudgetSpent);
        assert_eq!(m.health(), Ok(()));
        // Events about entries never make the daemon unhealthy.
        m.event(&Event::new(EventKind::Parked, "p"));
        assert_eq!(m.health(), Ok(()));
    }

    #[test]
    fn no_pass_for_the_stall_limit_is_unhealthy() {
        let m = Metrics::new(Duration::ZERO);
        assert!(m.health().unwrap_err().contains("no pass completed"));
        m.set_stall_after(Duration::from_secs(3600));
        m.pass_completed();
        assert_eq!(m.health(), Ok(()));
    }
}
