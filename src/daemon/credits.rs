//! The credits this daemon spent over the last rolling 24 h: every API request the client
//! completes is added to the journal (by a writer thread of its own, so the request's
//! task never waits for SQLite) and to an in-memory window the scheduler asks before each
//! poll. The window starts from the journal, so a restart does not forget the day's use.

use crate::journal::{CREDIT_WINDOW_SECS, Journal};
use crate::zoho::{ApiCall, UsageObserver};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Counts credits for the budget and records every request in the journal.
pub struct CreditMeter {
    /// Credits per minute (minute start, credits), oldest first, none older than 24 h.
    window: Mutex<VecDeque<(i64, u64)>>,
    /// To the journal writer; `None` once closed.
    tx: Mutex<Option<Sender<(i64, ApiCall)>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Whether the last budget check found the budget spent (to log the changes once).
    spent: AtomicBool,
}

impl std::fmt::Debug for CreditMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreditMeter").finish_non_exhaustive()
    }
}

impl CreditMeter {
    /// A meter whose window starts with the journal's last 24 h, writing to `journal`.
    /// Reads the journal once (a small indexed query) before any request is made.
    pub fn start(journal: Arc<Journal>) -> Arc<CreditMeter> {
        let now = crate::model::unix_now();
        let window = match journal.credits_per_minute_since(now - CREDIT_WINDOW_SECS) {
            Ok(rows) => rows.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the credits spent in the last 24 h; counting from zero");
                VecDeque::new()
            }
        };
        let (tx, rx) = channel();
        let writer = std::thread::Builder::new()
            .name("credits-journal".into())
            .spawn(move || write_calls(&journal, rx))
            .map_err(|e| tracing::warn!(error = %e, "cannot start the credits writer; API calls are counted in memory only"))
            .ok();
        Arc::new(CreditMeter {
            window: Mutex::new(window),
            tx: Mutex::new(writer.as_ref().map(|_| tx)),
            writer: Mutex::new(writer),
            spent: AtomicBool::new(false),
        })
    }

    /// Credits spent in the 24 h before `now_unix`.
    pub fn used_at(&self, now_unix: i64) -> u64 {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = now_unix - CREDIT_WINDOW_SECS;
        while w.front().is_some_and(|(minute, _)| *minute + 60 <= oldest) {
            w.pop_front();
        }
        w.iter().map(|(_, c)| c).sum()
    }

    /// Credits spent in the last 24 h.
    pub fn used(&self) -> u64 {
        self.used_at(crate::model::unix_now())
    }

    /// Whether `budget` is spent; says so once (WARN) when it becomes spent and once
    /// (INFO) when credits come back into the window.
    pub fn budget_spent(&self, budget: u32) -> bool {
        let used = self.used();
        let spent = used >= u64::from(budget);
        if self.spent.swap(spent, Ordering::Relaxed) != spent {
            if spent {
                tracing::warn!(
                    used,
                    budget,
                    "API budget for the last 24 h spent: polls wait until credits free up; \
                     uploads of local changes and downloads already planned still go \
                     (sync.api_budget_per_day / sync.api_budget_share)"
                );
            } else {
                tracing::info!(used, budget, "API budget available again: polls resume");
            }
        }
        spent
    }

    /// Adds a call completed at `at_unix` (the window only; see `on_call`).
    fn add(&self, at_unix: i64, credits: u64) {
        if credits == 0 {
            return;
        }
        let minute = at_unix - at_unix.rem_euclid(60);
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        match w.back_mut() {
            Some((m, c)) if *m == minute => *c += credits,
            _ => w.push_back((minute, credits)),
        }
    }

    /// Stops taking calls and waits until every call so far is in the journal (before
    /// the process exits).
    pub fn close(&self) {
        drop(self.tx.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(writer) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take()
            && writer.join().is_err()
        {
            tracing::warn!("the credits writer panicked; the last API calls may be uncounted");
        }
    }
}

impl UsageObserver for CreditMeter {
    fn on_call(&self, call: &ApiCall) {
        let now = crate::model::unix_now();
        self.add(now, u64::from(call.credits));
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            // The writer only stops when the meter is closed.
            let _ = tx.send((now, *call));
        }
    }
}

/// The writer thread: each wake-up writes everything queued in one transaction.
fn write_calls(journal: &Journal, rx: Receiver<(i64, ApiCall)>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        if let Err(e) = journal.record_api_calls(&batch) {
            tracing::warn!(error = %e, calls = batch.len(), "could not record API calls in the journal");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoho::ApiOp;

    #[test]
    fn the_window_rolls_and_the_journal_keeps_every_call() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(Journal::open(dir.path()).unwrap());
        let now = crate::model::unix_now();
        // Spent earlier today, by a previous run.
        journal
            .record_api_calls(&[(now - 3600, ApiCall::replied(ApiOp::Upload, 200, false))])
            .unwrap();
        let meter = CreditMeter::start(journal.clone());
        assert_eq!(meter.used(), 1);
        meter.on_call(&ApiCall::replied(ApiOp::ListRecords, 200, true));
        meter.on_call(&ApiCall::replied(ApiOp::Token, 200, false));
        assert_eq!(meter.used(), 4);
        assert!(!meter.budget_spent(5));
        assert!(meter.budget_spent(4));
        // A day later, the calls have left the window.
        assert_eq!(meter.used_at(now + CREDIT_WINDOW_SECS + 120), 0);
        meter.close();
        let usage = journal.api_usage_since(now - CREDIT_WINDOW_SECS).unwrap();
        assert_eq!((usage.calls(), usage.credits()), (3, 4));
    }
}
