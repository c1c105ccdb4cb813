//! `[alerts]`: tells a person about events, by running a command and/or posting JSON to
//! a webhook.
//!
//! Sync never waits for an alert: events are admitted (at most one per event kind and
//! subject per hour) and put on a bounded queue without blocking; one task delivers them,
//! each hook bounded by a timeout (a hung command is killed). A full queue drops the
//! alert with a WARN. Nothing secret goes out: events carry record keys, file names and
//! messages only, and a webhook's URL (a Slack hook's path is its secret) is never logged.

use crate::config::AlertSettings;
use crate::events::{Event, EventKind, Observer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// At most one alert per (event kind, subject) in this window.
const RATE_WINDOW: Duration = Duration::from_secs(3600);
/// Alerts waiting for delivery; more are dropped (a hook that cannot keep up would
/// otherwise grow the daemon's memory without end).
const QUEUE: usize = 64;
/// The longest a command may run or a webhook may take.
const HOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Remembered subjects beyond which expired ones are dropped.
const PRUNE_AT: usize = 1024;

/// The [`Observer`] that admits events and queues them for delivery.
pub struct Alerts {
    tx: mpsc::Sender<Event>,
    /// When each (kind, subject) was last admitted.
    sent: Mutex<HashMap<(EventKind, String), Instant>>,
    /// [`RATE_WINDOW`]; a field so that tests need not wait an hour.
    window: Duration,
}

impl Alerts {
    /// Starts the delivery task, or returns `None` when no hook is configured.
    pub fn start(
        settings: &AlertSettings,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Option<Arc<Alerts>>> {
        if settings.exec.is_empty() && settings.webhook.is_none() {
            return Ok(None);
        }
        let http = reqwest::Client::builder()
            .timeout(HOOK_TIMEOUT)
            .connect_timeout(HOOK_TIMEOUT)
            // A redirect could carry the body somewhere the operator did not name.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let hooks = Hooks {
            exec: settings.exec.clone(),
            webhook: settings.webhook.clone(),
            http,
        };
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = hooks.deliver_all(rx) => {}
            }
        });
        Ok(Some(Arc::new(Alerts {
            tx,
            sent: Mutex::new(HashMap::new()),
            window: RATE_WINDOW,
        })))
    }

    /// True when no alert of this kind about this subject went out in the last hour.
    fn admit(&self, event: &Event) -> bool {
        let subject = format!(
            "{}/{}",
            event.record.as_deref().unwrap_or(""),
            event.file.as_deref().unwrap_or("")
        );
        let now = Instant::now();
        let mut sent = crate::lock(&self.sent);
        if sent.len() >= PRUNE_AT {
            sent.retain(|_, at| now.duration_since(*at) < self.window);
        }
        match sent.get(&(event.kind, subject.clone())) {
            Some(at) if now.duration_since(*at) < self.window => false,
            _ => {
                sent.insert((event.kind, subject), now);
                true
            }
        }
    }
}

impl Observer for Alerts {
    fn event(&self, event: &Event) {
        if !self.admit(event) {
            tracing::debug!(event = %event.kind, "alert already sent within the hour; not repeated");
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(e)) = self.tx.try_send(event.clone()) {
            tracing::warn!(event = %e.kind, "alert queue full (hooks too slow); alert dropped");
        }
    }
}

/// The configured hooks, owned by the delivery task.
struct Hooks {
    exec: Vec<String>,
    webhook: Option<String>,
    http: reqwest::Client,
}

impl Hooks {
    async fn deliver_all(self, mut rx: mpsc::Receiver<Event>) {
        while let Some(event) = rx.recv().await {
            if !self.exec.is_empty()
                && let Err(e) = self.run(&event).await
            {
                tracing::warn!(event = %event.kind, error = %e, "alert command failed");
            }
            if let Some(url) = &self.webhook
                && let Err(e) = self.post(url, &event).await
            {
                tracing::warn!(event = %event.kind, error = %e, "alert webhook failed");
            }
        }
    }

    /// Runs the command with the event in its environment; killed after the timeout.
    async fn run(&self, event: &Event) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new(&self.exec[0]);
        cmd.args(&self.exec[1..])
            .env("BIGIN_SYNC_EVENT", event.kind.as_str())
            .env("BIGIN_SYNC_RECORD", event.record.as_deref().unwrap_or(""))
            .env("BIGIN_SYNC_FILE", event.file.as_deref().unwrap_or(""))
            .env("BIGIN_SYNC_MESSAGE", &event.message)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        // Dropping the future on timeout drops the child, which kills it.
        let output = tokio::time::timeout(HOOK_TIMEOUT, cmd.output())
            .await
            .map_err(|_| {
                format!(
                    "{} did not finish within {} s; killed",
                    self.exec[0],
                    HOOK_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| format!("cannot run {}: {e}", self.exec[0]))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr: String = stderr.trim().chars().take(500).collect();
        Err(format!(
            "{} exited with {}: {stderr}",
            self.exec[0], output.status
        ))
    }

    /// Posts the event as JSON; the `text` field is what Slack-style hooks show.
    async fn post(&self, url: &str, event: &Event) -> Result<(), String> {
        let resp = self
            .http
            .post(url)
            .json(&body(event))
            .send()
            .await
            // The URL may be the hook's secret: the error is reported without it.
            .map_err(|e| e.without_url().to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", resp.status()))
        }
    }
}

/// The webhook body: the fields for programs, `text` for people.
fn body(event: &Event) -> serde_json::Value {
    let about = [event.record.as_deref(), event.file.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let text = if about.is_empty() {
        format!("bigin-sync {}: {}", event.kind, event.message)
    } else {
        format!("bigin-sync {} ({about}): {}", event.kind, event.message)
    };
    serde_json::json!({
        "event": event.kind.as_str(),
        "record": event.record,
        "file": event.file,
        "message": event.message,
        "text": text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts() -> (Alerts, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let a = Alerts {
            tx,
            sent: Mutex::new(HashMap::new()),
            window: RATE_WINDOW,
        };
        (a, rx)
    }

    #[test]
    fn one_alert_per_kind_and_subject_per_hour() {
        let (mut a, mut rx) = alerts();
        let parked = |file: &str| {
            Event::new(EventKind::Parked, "x")
                .record("Contacts/1")
                .file(file)
        };
        a.event(&parked("a.txt"));
        a.event(&parked("a.txt"));
        a.event(&parked("b.txt"));
        a.event(
            &Event::new(EventKind::Conflict, "x")
                .record("Contacts/1")
                .file("a.txt"),
        );
        let mut got = Vec::new();
        while let Ok(e) = rx.try_recv() {
            got.push((e.kind, e.file.unwrap_or_default()));
        }
        assert_eq!(
            got,
            vec![
                (EventKind::Parked, "a.txt".to_owned()),
                (EventKind::Parked, "b.txt".to_owned()),
                (EventKind::Conflict, "a.txt".to_owned()),
            ]
        );
        // Once the window has passed, the same subject is told again.
        a.window = Duration::ZERO;
        a.event(&parked("a.txt"));
        assert!(rx.try_recv().is_ok());
    }

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        let (a, _rx) = alerts();
        for i in 0..QUEUE * 2 {
            a.event(&Event::new(EventKind::Parked, "x").file(format!("{i}")));
        }
    }

    #[test]
    fn webhook_body_has_text_and_fields() {
        let b = body(
            &Event::new(EventKind::Conflict, "both changed")
                .record("Contacts/7")
                .file("a.pdf"),
        );
        assert_eq!(b["event"], "conflict");
        assert_eq!(b["record"], "Contacts/7");
        assert_eq!(b["file"], "a.pdf");
        assert_eq!(
            b["text"],
            "bigin-sync conflict (Contacts/7 a.pdf): both changed"
        );
        let b = body(&Event::new(EventKind::RootMissing, "gone"));
        assert_eq!(b["text"], "bigin-sync root_missing: gone");
        assert!(b["record"].is_null());
    }
}
