//! Settings that are valid but probably not what the operator wants.

use super::Config;
use super::duration::format_duration;
use std::time::Duration;

const DAY_SECS: f64 = 86_400.0;

/// Warnings to log at start-up (WARN level). Each names the key involved. They never stop
/// the daemon: tests legitimately run with a 1 s poll interval.
pub fn warnings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let s = &cfg.sync;
    let budget = s.api_budget_per_day;
    let per_record_fast = calls_per_day(s.poll_interval);
    let per_record_idle = calls_per_day(s.poll_interval_max);

    if s.poll_interval < Duration::from_secs(30) {
        out.push(format!(
            "sync.poll_interval = {} spends API credits fast: one active record alone costs \
             about {} calls a day (sync.api_budget_per_day = {budget} stretches polls to stay within budget)",
            format_duration(s.poll_interval),
            per_record_fast.round() as u64,
        ));
    }
    // A derived budget stretching polls is the intended behaviour (the start-up line
    // says how far); only a budget someone chose is worth a warning here.
    if per_record_fast > 0.0 && s.api_budget_explicit {
        let records = (f64::from(budget) / per_record_fast).floor() as u64;
        if records < 10 {
            out.push(format!(
                "sync.api_budget_per_day = {budget} allows only {records} record(s) to be polled every {} \
                 (sync.poll_interval); more followed records will be polled less often",
                format_duration(s.poll_interval),
            ));
        }
    }
    if per_record_idle > f64::from(budget) {
        out.push(format!(
            "sync.api_budget_per_day = {budget} is below one idle record's {} calls a day at \
             sync.poll_interval_max = {}; remote changes will be seen late",
            per_record_idle.round() as u64,
            format_duration(s.poll_interval_max),
        ));
    }
    let allowance = cfg.zoho.edition.daily_credits(cfg.zoho.users);
    if u64::from(budget) > allowance {
        out.push(format!(
            "sync.api_budget_per_day = {budget} exceeds the {allowance} credits a day Zoho allows {} \
             (zoho.edition, zoho.users); Zoho will answer 429 before the budget is reached",
            cfg.zoho.edition
        ));
    }
    // Where the edition publishes a limit, the config refuses more; elsewhere, warn.
    if (cfg.zoho.edition_assumed || cfg.zoho.edition.concurrency_limit().is_none())
        && cfg.zoho.concurrency > 5
    {
        out.push(format!(
            "zoho.concurrency = {} is above the 5 concurrent calls Zoho allows free editions; \
             expect 429 TOO_MANY_REQUESTS unless your edition allows more",
            cfg.zoho.concurrency
        ));
    }
    if s.debounce < Duration::from_secs(1) {
        out.push(format!(
            "sync.debounce = {} is short: a file still being written may be uploaded more than once",
            format_duration(s.debounce)
        ));
    }
    if cfg.zoho.connect_timeout > cfg.zoho.timeout {
        out.push(format!(
            "zoho.connect_timeout = {} is longer than zoho.timeout = {}, so it never applies",
            format_duration(cfg.zoho.connect_timeout),
            format_duration(cfg.zoho.timeout)
        ));
    }
    out
}

fn calls_per_day(interval: Duration) -> f64 {
    let secs = interval.as_secs_f64();
    if secs <= 0.0 { 0.0 } else { DAY_SECS / secs }
}
