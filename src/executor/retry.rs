//! Retries within a pass (exponential backoff with full jitter, honouring `Retry-After`)
//! and the persisted backoff between passes.

use super::gate::Pass;
use super::{ExecError, Executor};
use crate::zoho::{ErrorClass, ZohoError};
use backon::{BackoffBuilder, ExponentialBuilder};
use rand::Rng;
use std::future::Future;
use std::time::Duration;

/// How hard the executor tries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries of a retryable error within one pass.
    pub attempts_per_pass: usize,
    /// The first delay between retries within a pass.
    pub min_delay: Duration,
    /// The longest delay between retries within a pass.
    pub max_delay: Duration,
    /// Wait at the gate while Zoho is unreachable instead of failing (the daemon does;
    /// `once` fails so that it ends).
    pub wait_when_unreachable: bool,
    /// Cap of the persisted delay between passes.
    pub max_persisted_delay: Duration,
    /// Skip entries whose persisted next attempt lies in the future. The daemon does, so
    /// a restart does not reset backoff into a storm; `once`, run by hand, retries now
    /// (its own attempts are still spaced by the in-pass backoff).
    pub honor_persisted_backoff: bool,
    /// The longest a pass sleeps before retrying. A server asking for a longer wait ends
    /// the attempt as a retryable failure, persisted with the time asked, rather than
    /// holding the pass: `once` must end, whatever `Retry-After` says.
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// The daemon's policy: waits at the gate, honours persisted backoff.
    pub fn daemon() -> Self {
        RetryPolicy {
            attempts_per_pass: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            wait_when_unreachable: true,
            max_persisted_delay: Duration::from_secs(3600),
            honor_persisted_backoff: true,
            max_wait: crate::zoho::error::MAX_RETRY_AFTER,
        }
    }

    /// `once`'s policy: fails when Zoho is unreachable, retries deferred entries now and
    /// waits at most 30 s for a `Retry-After`.
    pub fn once() -> Self {
        RetryPolicy {
            wait_when_unreachable: false,
            honor_persisted_backoff: false,
            // A one-shot run is waited for by a person or a timer: no wait longer than
            // the in-pass backoff's own ceiling.
            max_wait: Duration::from_secs(30),
            ..Self::daemon()
        }
    }

    /// Delay before the next pass may retry an entry that failed `attempts` times:
    /// 10 s doubling per attempt up to `max_persisted_delay`, with full jitter over the
    /// upper half so that entries that failed together do not return together.
    pub fn persisted_delay(&self, attempts: u32) -> Duration {
        let jitter: f64 = rand::rng().random_range(0.5..=1.0);
        self.persisted_base(attempts).mul_f64(jitter)
    }

    /// `persisted_delay` before the jitter: backon's exponential schedule, doubling at
    /// most 16 times. backon's own jitter adds up to one more delay on top (a wait in
    /// `[d, 2d)`), which is not the jitter over `[d/2, d]` wanted here, so that part is
    /// applied by `persisted_delay`.
    fn persisted_base(&self, attempts: u32) -> Duration {
        let steps = attempts.saturating_sub(1).min(16) as usize;
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs(10))
            .with_max_delay(self.max_persisted_delay)
            .without_max_times()
            .build()
            .nth(steps)
            .unwrap_or(self.max_persisted_delay)
            // backon starts at the minimum delay even when the cap is below it.
            .min(self.max_persisted_delay)
    }
}

/// What a failure means: the one classification of [`ExecError`]. It answers both
/// questions asked of a failure, "try again in this pass?" (`with_retry`) and "park it,
/// or try again in a later pass?" (`is_retryable`, used when the failure is recorded).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Class {
    /// Zoho cannot be used right now: no HTTP reply at all, or the credentials were
    /// refused. The daemon waits at the gate (without using up an attempt); `once`
    /// retries like `Transient`. Persisted as retryable.
    Unreachable(String),
    /// Retried in this pass with backoff, never sooner than `retry_after` (the server's
    /// `Retry-After` or the token throttle); then persisted as retryable.
    Transient { retry_after: Option<Duration> },
    /// Not retried in this pass, but by a later one after the persisted backoff: a full
    /// disk (retrying at once would download the whole file again into the same full
    /// disk), a local I/O hiccup (interrupted, would block, timed out), or a file that
    /// changed or a view that no longer holds (the next pass plans again).
    Later,
    /// Will not succeed as it is: parked until the file changes or the user runs `retry`.
    Permanent,
}

/// Classifies a failure (see [`Class`]).
pub(super) fn classify(err: &ExecError) -> Class {
    match err {
        ExecError::Zoho(z) if z.is_disk_full() => Class::Later,
        ExecError::Zoho(z) => match z.class() {
            ErrorClass::Retryable { .. } if is_connection_problem(z) => {
                Class::Unreachable(z.to_string())
            }
            ErrorClass::Retryable { retry_after } => Class::Transient { retry_after },
            ErrorClass::Auth => Class::Unreachable(z.to_string()),
            ErrorClass::Permanent => Class::Permanent,
        },
        ExecError::Journal(_) | ExecError::Task(_) => Class::Transient { retry_after: None },
        ExecError::Io { source, .. } => {
            if crate::zoho::error::is_disk_full(source)
                || matches!(
                    source.kind(),
                    std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                )
            {
                Class::Later
            } else {
                Class::Permanent
            }
        }
        ExecError::Changed(_) | ExecError::Inconsistent(_) => Class::Later,
        ExecError::Refused(_) => Class::Permanent,
    }
}

/// True when a failure is to be tried again by a later pass; false parks it.
pub(super) fn is_retryable(err: &ExecError) -> bool {
    classify(err) != Class::Permanent
}

/// The wait the server asked for (`Retry-After`, the token throttle), if any.
pub(super) fn requested_wait(err: &ExecError) -> Option<Duration> {
    match classify(err) {
        Class::Transient { retry_after } => retry_after,
        _ => None,
    }
}

/// True for failures where no HTTP reply came back at all.
fn is_connection_problem(z: &ZohoError) -> bool {
    matches!(z, ZohoError::Network { .. } | ZohoError::Timeout { .. })
}

impl Executor {
    /// Runs `op` until it succeeds, gives up, or this pass's retries are used up.
    ///
    /// The delays come from backon's exponential schedule; the loop around them is not
    /// backon's `Retryable::retry`, which cannot express two things this needs: a wait
    /// at the gate while Zoho is unreachable must not use up an attempt (backon spends
    /// one backoff step per retried error), and full jitter (backon's jitter adds up to
    /// one more delay on top, a wait in `[d, 2d)`, never one below `d`). The
    /// `Retry-After` floor and the `max_wait` cap would fit its `adjust` hook, but are
    /// kept next to the jitter they bound.
    pub(crate) async fn with_retry<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, ExecError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ExecError>>,
    {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.policy.min_delay)
            .with_max_delay(self.policy.max_delay)
            .with_max_times(self.policy.attempts_per_pass)
            .build();
        loop {
            let pass = self.gate.enter().await;
            let err = match op().await {
                Ok(v) => {
                    self.gate.report_reachable();
                    return Ok(v);
                }
                Err(e) => e,
            };
            let retry_after = match classify(&err) {
                Class::Unreachable(reason) if self.policy.wait_when_unreachable => {
                    self.gate.report_unreachable(&reason);
                    continue;
                }
                Class::Later | Class::Permanent => {
                    if pass == Pass::Probe {
                        self.gate.report_reachable();
                    }
                    return Err(err);
                }
                // Without the gate (`once`), an unreachable API is retried like any
                // transient failure, then reported.
                Class::Unreachable(_) => None,
                Class::Transient { retry_after } => retry_after,
            };
            if pass == Pass::Probe {
                self.gate.report_reachable();
            }
            let Some(delay) = backoff.next() else {
                return Err(err);
            };
            // Full jitter: anywhere between zero and the exponential delay, but never
            // sooner than the server asked.
            let jittered = delay.mul_f64(rand::rng().random_range(0.0..=1.0));
            let wait = jittered.max(retry_after.unwrap_or_default());
            if wait > self.policy.max_wait {
                // Recorded as a retryable failure, not before the time asked.
                return Err(err);
            }
            tracing::warn!(what, error = %err, retry_in_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_ends_the_pass_but_is_retried_later() {
        for errno in [libc::ENOSPC, libc::EDQUOT] {
            let err = ExecError::Zoho(ZohoError::Io(std::io::Error::from_raw_os_error(errno)));
            assert_eq!(classify(&err), Class::Later, "{err}");
            assert!(is_retryable(&err), "{err}");
            let err = ExecError::io(
                "write",
                std::path::Path::new("/x"),
                std::io::Error::from_raw_os_error(errno),
            );
            assert!(is_retryable(&err), "{err}");
        }
        let denied = ExecError::Zoho(ZohoError::Io(std::io::Error::from_raw_os_error(
            libc::EACCES,
        )));
        assert!(!is_retryable(&denied));
    }

    /// In this pass, the wait asked for, and later (see `behaviour`).
    type Behaviour = (&'static str, Option<Duration>, bool);

    /// What happens to a failure: in this pass (`gate` waits while Zoho is unusable,
    /// `retry` backs off and tries again, `stop` ends the attempts), the wait the server
    /// asked for, and whether the failure is persisted as retryable (else parked).
    fn behaviour(err: &ExecError) -> (&'static str, Option<Duration>, bool) {
        let (now, after) = match classify(err) {
            Class::Unreachable(_) => ("gate", None),
            Class::Transient { retry_after } => ("retry", retry_after),
            Class::Later | Class::Permanent => ("stop", None),
        };
        assert_eq!(requested_wait(err), after, "{err}");
        (now, after, is_retryable(err))
    }

    /// Pins the classification of every kind of `ExecError`, so that one classifier can
    /// replace the two that used to answer "retry now?" and "park?" separately.
    #[test]
    fn every_error_kind_is_classified_once_for_the_pass_and_for_later() {
        use crate::zoho::error::Op;
        let io = |kind: std::io::ErrorKind| std::io::Error::new(kind, "x");
        let os = std::io::Error::from_raw_os_error;
        let local = |e: std::io::Error| ExecError::io("write", std::path::Path::new("/x"), e);
        let api = |status: u16, code: &str, retry_after: Option<Duration>| {
            ExecError::Zoho(ZohoError::Api {
                op: Op::Upload,
                status,
                code: code.into(),
                message: String::new(),
                details: serde_json::Value::Null,
                retry_after,
            })
        };
        let journal = ExecError::Journal(crate::journal::JournalError::Io {
            path: "/j".into(),
            op: "open",
            source: io(std::io::ErrorKind::Other),
        });
        let wait = Some(Duration::from_secs(7));
        let cases: Vec<(ExecError, Behaviour)> = vec![
            (
                ExecError::Zoho(ZohoError::Network {
                    op: Op::Upload,
                    message: "reset".into(),
                    outcome_unknown: true,
                }),
                ("gate", None, true),
            ),
            (
                ExecError::Zoho(ZohoError::Timeout {
                    op: Op::List,
                    outcome_unknown: false,
                }),
                ("gate", None, true),
            ),
            (api(503, "HTTP_503", None), ("retry", None, true)),
            (api(429, "TOO_MANY_REQUESTS", wait), ("retry", wait, true)),
            (api(401, "INVALID_TOKEN", None), ("gate", None, true)),
            (
                ExecError::Zoho(ZohoError::TokenRejected("no".into())),
                ("gate", None, true),
            ),
            (api(400, "INVALID_DATA", None), ("stop", None, false)),
            (
                api(403, "OAUTH_SCOPE_MISMATCH", None),
                ("stop", None, false),
            ),
            (
                ExecError::Zoho(ZohoError::InvalidResponse {
                    op: Op::List,
                    message: "html".into(),
                }),
                ("retry", None, true),
            ),
            (
                ExecError::Zoho(ZohoError::Truncated {
                    id: "1".into(),
                    expected: 2,
                    got: 1,
                }),
                ("retry", None, true),
            ),
            (
                ExecError::Zoho(ZohoError::MissingAttachment { id: "1".into() }),
                ("stop", None, false),
            ),
            (
                ExecError::Zoho(ZohoError::Io(os(libc::ENOSPC))),
                ("stop", None, true),
            ),
            (
                ExecError::Zoho(ZohoError::Io(os(libc::EACCES))),
                ("stop", None, false),
            ),
            (
                ExecError::Zoho(ZohoError::Io(io(std::io::ErrorKind::TimedOut))),
                ("stop", None, false),
            ),
            (journal, ("retry", None, true)),
            (ExecError::Task("panicked".into()), ("retry", None, true)),
            (local(os(libc::EDQUOT)), ("stop", None, true)),
            (
                local(io(std::io::ErrorKind::TimedOut)),
                ("stop", None, true),
            ),
            (
                local(io(std::io::ErrorKind::Interrupted)),
                ("stop", None, true),
            ),
            (
                local(io(std::io::ErrorKind::WouldBlock)),
                ("stop", None, true),
            ),
            (local(os(libc::EACCES)), ("stop", None, false)),
            (
                local(io(std::io::ErrorKind::NotFound)),
                ("stop", None, false),
            ),
            (ExecError::Changed("a.pdf".into()), ("stop", None, true)),
            (ExecError::Inconsistent("gone".into()), ("stop", None, true)),
        ];
        for (err, expected) in cases {
            assert_eq!(behaviour(&err), expected, "{err}");
        }
    }

    #[test]
    fn persisted_backoff_doubles_from_ten_seconds_up_to_its_cap() {
        let p = RetryPolicy::daemon();
        let secs: Vec<u64> = (0..=12).map(|n| p.persisted_base(n).as_secs()).collect();
        let expected = [
            10, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600,
        ];
        assert_eq!(secs, expected);
        assert_eq!(p.persisted_base(u32::MAX), Duration::from_secs(3600));
        let wide = RetryPolicy {
            max_persisted_delay: Duration::from_secs(30 * 86_400),
            ..p
        };
        // The doubling stops after 16 steps (10 s × 2^16, about 7.6 days).
        assert_eq!(wide.persisted_base(17), Duration::from_secs(655_360));
        assert_eq!(wide.persisted_base(40), Duration::from_secs(655_360));
        let narrow = RetryPolicy {
            max_persisted_delay: Duration::from_secs(4),
            ..p
        };
        assert_eq!(narrow.persisted_base(1), Duration::from_secs(4));
    }

    #[test]
    fn persisted_delay_grows_and_is_capped() {
        let p = RetryPolicy::daemon();
        let d1 = p.persisted_delay(1);
        assert!(d1 >= Duration::from_secs(5) && d1 <= Duration::from_secs(10));
        let d4 = p.persisted_delay(4);
        assert!(d4 >= Duration::from_secs(40) && d4 <= Duration::from_secs(80));
        assert!(p.persisted_delay(100) <= Duration::from_secs(3600));
    }
}
