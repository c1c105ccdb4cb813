//! When each followed record is listed again.
//!
//! Zoho has no change notification for attachments, so remote changes are found by
//! listing, and every list costs an API credit. Each record therefore gets its own
//! schedule: every `poll_interval` while it is active, doubling towards
//! `poll_interval_max` while nothing changes, and never faster than what keeps the
//! planned calls per day within `api_budget_per_day`.

use std::time::Duration;

/// Share of the daily budget the poller may plan for; the rest is left for transfers.
const POLL_BUDGET_SHARE: f64 = 0.8;

/// Inputs of the schedule, taken from `[sync]` in the config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollPolicy {
    /// The fastest a record is listed (`sync.poll_interval`).
    pub poll_interval: Duration,
    /// The slowest an idle record is listed (`sync.poll_interval_max`).
    pub poll_interval_max: Duration,
    /// API calls per day the schedule stays within (`sync.api_budget_per_day`).
    pub api_budget_per_day: u32,
}

impl PollPolicy {
    /// The shortest interval at which `followed` records can all be polled within the
    /// budget share reserved for polling.
    pub fn budget_floor(&self, followed: usize) -> Duration {
        if followed == 0 || self.api_budget_per_day == 0 {
            return Duration::ZERO;
        }
        let polls_per_day = f64::from(self.api_budget_per_day) * POLL_BUDGET_SHARE;
        Duration::from_secs_f64(followed as f64 * 86_400.0 / polls_per_day)
    }

    /// The delay until the next poll of a record that has been idle for `idle_polls`
    /// consecutive polls (0 = something changed at the last one).
    pub fn next_delay(&self, idle_polls: u32, followed: usize) -> Duration {
        let base = self.poll_interval.max(Duration::from_millis(1));
        let factor = 1u32.checked_shl(idle_polls.min(20)).unwrap_or(u32::MAX);
        let backed_off = base
            .saturating_mul(factor)
            .min(self.poll_interval_max.max(base));
        backed_off.max(self.budget_floor(followed))
    }

    /// Planned list calls per day for `followed` records all at their fastest rate.
    pub fn planned_calls_per_day(&self, followed: usize) -> f64 {
        let delay = self.next_delay(0, followed).as_secs_f64().max(0.001);
        followed as f64 * 86_400.0 / delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PollPolicy {
        PollPolicy {
            poll_interval: Duration::from_secs(60),
            poll_interval_max: Duration::from_secs(900),
            api_budget_per_day: 20_000,
        }
    }

    #[test]
    fn active_record_polls_at_the_base_interval() {
        assert_eq!(policy().next_delay(0, 5), Duration::from_secs(60));
    }

    #[test]
    fn idle_record_backs_off_to_the_maximum() {
        let p = policy();
        assert_eq!(p.next_delay(1, 5), Duration::from_secs(120));
        assert_eq!(p.next_delay(3, 5), Duration::from_secs(480));
        assert_eq!(p.next_delay(4, 5), Duration::from_secs(900));
        assert_eq!(p.next_delay(40, 5), Duration::from_secs(900));
    }

    #[test]
    fn many_records_are_stretched_to_fit_the_budget() {
        let p = policy();
        // 10,000 records at one poll a minute would be 14.4M calls a day.
        let delay = p.next_delay(0, 10_000);
        assert!(delay > Duration::from_secs(900));
        assert!(p.planned_calls_per_day(10_000) <= 20_000.0 * POLL_BUDGET_SHARE + 1.0);
    }

    #[test]
    fn budget_is_never_exceeded_for_any_count() {
        let p = policy();
        for n in [1usize, 10, 100, 1000, 13_000, 100_000] {
            assert!(
                p.planned_calls_per_day(n) <= f64::from(p.api_budget_per_day),
                "{n} records"
            );
        }
    }
}
