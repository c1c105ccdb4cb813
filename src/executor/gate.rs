//! The executor-wide gate that stops every queued action while Zoho is unreachable.
//!
//! Without it, an outage turns into one failing request per queued action, each with its
//! own backoff: a storm at the outage's end and a log full of noise. With it, the first
//! failure closes the gate, one probe at a time is let through at growing intervals, and
//! the first success reopens it for everyone.

use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

const FIRST_PROBE_DELAY: Duration = Duration::from_secs(1);
const MAX_PROBE_DELAY: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug)]
struct GateState {
    /// Set while the API is considered unreachable.
    down_since: Option<Instant>,
    next_probe_at: Instant,
    probing: bool,
    /// When the current probe was let through; a probe that never reports back (its
    /// task was cancelled) must not keep the gate shut forever.
    probe_started: Instant,
    consecutive_failures: u32,
    reason: String,
}

/// What the gate let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The API is up: go ahead.
    Open,
    /// The API was down: this caller is the single probe.
    Probe,
}

/// Shared by all executor tasks (cheap to share behind an `Arc`).
#[derive(Debug)]
pub struct ApiGate {
    state: Mutex<GateState>,
    changed: watch::Sender<u64>,
}

impl Default for ApiGate {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiGate {
    /// An open gate.
    pub fn new() -> Self {
        ApiGate {
            state: Mutex::new(GateState {
                down_since: None,
                next_probe_at: Instant::now(),
                probing: false,
                probe_started: Instant::now(),
                consecutive_failures: 0,
                reason: String::new(),
            }),
            changed: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // A panic while holding this small lock leaves consistent data; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while the API is considered unreachable.
    pub fn is_down(&self) -> bool {
        self.lock().down_since.is_some()
    }

    /// Waits until a request may be sent.
    pub async fn enter(&self) -> Pass {
        loop {
            let mut rx = self.changed.subscribe();
            let wait_until = {
                let mut s = self.lock();
                if s.down_since.is_none() {
                    return Pass::Open;
                }
                let now = Instant::now();
                let probe_lost = s.probing && now >= s.probe_started + PROBE_TIMEOUT;
                if (!s.probing || probe_lost) && now >= s.next_probe_at {
                    s.probing = true;
                    s.probe_started = now;
                    return Pass::Probe;
                }
                if s.probing {
                    s.probe_started + PROBE_TIMEOUT
                } else {
                    s.next_probe_at
                }
            };
            tokio::select! {
                _ = rx.changed() => {}
                _ = tokio::time::sleep_until(wait_until) => {}
            }
        }
    }

    /// Reports that a request reached Zoho (whatever it answered).
    pub fn report_reachable(&self) {
        let mut s = self.lock();
        // The common case, on every successful request: nothing to change or wake.
        if s.down_since.is_none() && !s.probing {
            return;
        }
        if let Some(since) = s.down_since.take() {
            tracing::info!(
                down_for_s = since.elapsed().as_secs(),
                "Zoho API reachable again; resuming queued work"
            );
        }
        s.probing = false;
        s.consecutive_failures = 0;
        drop(s);
        self.changed.send_modify(|v| *v += 1);
    }

    /// Reports that a request could not reach Zoho (connection refused, reset, timeout)
    /// or was refused for a reason every request shares (revoked token).
    pub fn report_unreachable(&self, reason: &str) {
        let mut s = self.lock();
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        let exp = s.consecutive_failures.min(7);
        let delay = FIRST_PROBE_DELAY
            .saturating_mul(1 << (exp - 1))
            .min(MAX_PROBE_DELAY);
        if s.down_since.is_none() {
            s.down_since = Some(Instant::now());
            tracing::warn!(
                reason,
                "Zoho API unreachable: pausing all transfers, probing with one request at a time"
            );
        } else if s.reason != reason {
            tracing::warn!(reason, "Zoho API still unreachable");
        }
        s.reason = reason.to_string();
        s.next_probe_at = Instant::now() + delay;
        s.probing = false;
        drop(s);
        self.changed.send_modify(|v| *v += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn open_gate_lets_everyone_through() {
        let gate = ApiGate::new();
        assert_eq!(gate.enter().await, Pass::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn only_one_probe_while_down_and_all_resume_after_success() {
        let gate = Arc::new(ApiGate::new());
        gate.report_unreachable("connection refused");
        let probes = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let gate = gate.clone();
            let probes = probes.clone();
            tasks.push(tokio::spawn(async move {
                if gate.enter().await == Pass::Probe {
                    probes.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        // Let the probe delay pass; exactly one task becomes the probe.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(probes.load(Ordering::SeqCst), 1);
        gate.report_reachable();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(probes.load(Ordering::SeqCst), 1);
        assert!(!gate.is_down());
    }
}
