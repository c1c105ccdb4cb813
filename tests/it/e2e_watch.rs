//! Watching the daemon: `/metrics` parsed as Prometheus text and matched against what
//! happened, `/healthz` on each cause, alerts by command and webhook (issue 14).

use crate::common::*;
use bigin_sync::sandbox::Faults;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const M: &str = "Contacts";
const R: &str = "3652397000000624001";

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Appends tables to the env's config file.
fn append_config(env: &Env, text: &str) {
    let mut config = std::fs::read_to_string(&env.config).unwrap();
    config.push('\n');
    config.push_str(text);
    std::fs::write(&env.config, config).unwrap();
}

/// Starts the env with `[metrics]` on a free port; returns the base URL.
fn with_metrics(env: &Env) -> String {
    let port = free_port();
    append_config(env, &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    format!("http://127.0.0.1:{port}")
}

/// GET `url`: status and body, or `None` while nothing answers.
async fn get(url: &str) -> Option<(u16, String)> {
    let resp = reqwest::get(url).await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

/// Polls an async condition every 100 ms until it holds or the deadline passes.
async fn eventually<F, Fut>(mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The samples of a scrape by `name{label=value,…}` (labels sorted), parsed by a real
/// exposition-format parser.
async fn scrape(base: &str) -> Option<HashMap<String, f64>> {
    let (status, body) = get(&format!("{base}/metrics")).await?;
    assert_eq!(status, 200, "{body}");
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let mut out = HashMap::new();
    for s in scrape.samples {
        let mut labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        let value = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            other => panic!("unexpected sample {other:?}"),
        };
        out.insert(format!("{}{{{}}}", s.metric, labels.join(",")), value);
    }
    Some(out)
}

async fn health(base: &str) -> Option<(u16, String)> {
    get(&format!("{base}/healthz")).await
}

/// Waits until `/healthz` answers 503 with `reason` in its line; returns the last answer.
async fn wait_unhealthy(base: &str, reason: &str) -> (bool, Option<(u16, String)>) {
    let end = Instant::now() + DEADLINE;
    loop {
        let seen = health(base).await;
        if matches!(&seen, Some((503, r)) if r.contains(reason)) {
            return (true, seen);
        }
        if Instant::now() >= end {
            return (false, seen);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every `want`ed sample has its value; returns the last scrape.
async fn wait_scrape(base: &str, want: &[(&str, f64)]) -> (bool, HashMap<String, f64>) {
    let end = Instant::now() + DEADLINE;
    let mut last = HashMap::new();
    loop {
        if let Some(s) = scrape(base).await {
            last = s;
            if want.iter().all(|(k, v)| last.get(*k) == Some(v)) {
                return (true, last);
            }
        }
        if Instant::now() >= end {
            return (false, last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_match_the_transfers_and_healthz_names_each_cause() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    let up = vec![b'u'; 1234];
    let down = vec![b'd'; 4321];
    drop_file(&dir, "local.txt", &up);
    env.sandbox
        .add_file(env.product, M, R, "remote.txt", down.clone());
    let base = with_metrics(&env);
    let d = env.spawn_daemon();

    let want = [
        ("bigin_sync_transferred_files_total{direction=upload}", 1.0),
        (
            "bigin_sync_transferred_bytes_total{direction=upload}",
            up.len() as f64,
        ),
        (
            "bigin_sync_transferred_files_total{direction=download}",
            1.0,
        ),
        (
            "bigin_sync_transferred_bytes_total{direction=download}",
            down.len() as f64,
        ),
        // Every API request is counted by the client's usage observer.
        (
            "bigin_sync_api_calls_total{operation=upload,result=ok}",
            1.0,
        ),
        (
            "bigin_sync_api_credits_total{operation=upload,result=ok}",
            1.0,
        ),
        (
            "bigin_sync_api_calls_total{operation=download,result=ok}",
            1.0,
        ),
        ("bigin_sync_records_followed{}", 1.0),
        ("bigin_sync_actions_pending{}", 0.0),
        ("bigin_sync_conflicts_total{}", 0.0),
        ("bigin_sync_entries_parked_total{}", 0.0),
        ("bigin_sync_delete_guard_trips_total{}", 0.0),
    ];
    let (matched, last) = wait_scrape(&base, &want).await;
    assert!(
        matched,
        "scrape never matched {want:?}:\n{last:#?}\n{}",
        d.log_text()
    );
    assert!(last["bigin_sync_token_grants_total{}"] >= 1.0, "{last:#?}");
    let modes: f64 = ["inotify", "poll", "none"]
        .iter()
        .map(|m| last[&format!("bigin_sync_watch_mode{{mode={m}}}")])
        .sum();
    assert_eq!(modes, 1.0, "exactly one watcher mode is current: {last:#?}");
    assert!(last.contains_key("bigin_sync_last_pass_age_seconds{}"));
    assert!(
        !last
            .keys()
            .any(|k| k.contains(R) || k.contains("local.txt")),
        "no per-record labels"
    );
    assert_eq!(health(&base).await, Some((200, "ok\n".to_owned())));

    // The root goes away: unhealthy until it is back.
    let aside = env.tmp.path().join("root-aside");
    std::fs::rename(&env.root, &aside).unwrap();
    let (down_for_root, seen) = wait_unhealthy(&base, "sync root").await;
    assert!(down_for_root, "{seen:?}\n{}", d.log_text());
    std::fs::rename(&aside, &env.root).unwrap();
    assert!(
        eventually(|| async { health(&base).await == Some((200, "ok\n".to_owned())) }).await,
        "{}",
        d.log_text()
    );

    // The refresh token is revoked in Zoho: unhealthy, with the reason.
    env.sandbox.revoke_refresh_token();
    drop_file(&dir, "later.txt", b"needs a call");
    let (down_for_auth, seen) = wait_unhealthy(&base, "refresh token").await;
    assert!(down_for_auth, "{seen:?}\n{}", d.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pass_for_three_poll_intervals_is_unhealthy() {
    let env = Env::new().await;
    env.record(M, R);
    // Every API call takes 8 s: the first reconcile runs longer than 3 × the 1 s poll.
    env.sandbox.set_faults(Faults {
        latency: Duration::from_secs(8),
        ..Faults::default()
    });
    let base = with_metrics(&env);
    let d = env.spawn_daemon();
    let (stalled, seen) = wait_unhealthy(&base, "no pass completed").await;
    assert!(stalled, "{seen:?}\n{}", d.log_text());
    env.sandbox.set_faults(Faults::default());
    assert!(
        eventually(|| async { health(&base).await == Some((200, "ok\n".to_owned())) }).await,
        "{}",
        d.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_on_a_public_address_is_refused() {
    let env = Env::new().await;
    append_config(&env, "[metrics]\nlisten = \"0.0.0.0:9464\"\n");
    let out = env.run_args(&["run"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("metrics.listen") && err.contains("allow_remote"),
        "{err}"
    );
}

/// A one-route HTTP server that keeps each POST body.
async fn webhook_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]);
                        kept.lock().unwrap().push(body.into_owned());
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

fn alert_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_run_the_command_and_post_the_webhook_once_per_subject_per_hour() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    // A conflict: the same name with different content on both sides, never synced.
    drop_file(&dir, "a.txt", b"the local version");
    env.sandbox
        .add_file(env.product, M, R, "a.txt", b"Zoho's version".to_vec());
    let out = env.tmp.path().join("alerts.txt");
    let envs = env.tmp.path().join("alert-env.txt");
    let script = env.tmp.path().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s|%s|%s|%s\\n' \"$BIGIN_SYNC_EVENT\" \"$BIGIN_SYNC_RECORD\" \"$BIGIN_SYNC_FILE\" \"$BIGIN_SYNC_MESSAGE\" >> {out}\nenv >> {envs}\n",
            out = out.display(),
            envs = envs.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (hook, bodies) = webhook_server().await;
    append_config(
        &env,
        &format!(
            "[alerts]\nexec = [\"{}\"]\nwebhook = \"{hook}\"\n",
            script.display()
        ),
    );
    let d = env.spawn_daemon();

    let conflict = |l: &String| l.starts_with(&format!("conflict|{M}/{R}|a.txt|"));
    assert!(
        wait_until(DEADLINE, || alert_lines(&out).iter().any(conflict)).await,
        "{:?}\n{}",
        alert_lines(&out),
        d.log_text()
    );
    assert!(
        wait_until(DEADLINE, || bodies
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains("\"conflict\"")))
        .await,
        "{}",
        d.log_text()
    );
    let body: serde_json::Value = {
        let bodies = bodies.lock().unwrap();
        let b = bodies.iter().find(|b| b.contains("\"conflict\"")).unwrap();
        serde_json::from_str(b).unwrap()
    };
    assert_eq!(body["event"], "conflict");
    assert_eq!(body["record"], format!("{M}/{R}"));
    assert_eq!(body["file"], "a.txt");
    assert!(
        body["text"].as_str().unwrap().contains("conflict"),
        "{body}"
    );

    // The root goes missing: each rescan (every 3 s) reports it again, one alert goes out.
    let aside = env.tmp.path().join("root-aside");
    std::fs::rename(&env.root, &aside).unwrap();
    let root_missing = |l: &String| l.starts_with("root_missing|||");
    assert!(
        wait_until(DEADLINE, || alert_lines(&out).iter().any(root_missing)).await,
        "{:?}\n{}",
        alert_lines(&out),
        d.log_text()
    );
    let reports = |d: &Daemon| d.log_text().matches("cannot read the sync root").count();
    let before = reports(&d);
    assert!(
        wait_until(DEADLINE, || reports(&d) >= before + 2).await,
        "{}",
        d.log_text()
    );
    // Alerts go out in order: once an alert about a later conflict has arrived, any
    // repeated root_missing alert would have arrived before it. The later conflict is in a
    // record new to the daemon, whose first pass lists Zoho before uploading anything.
    const R2: &str = "3652397000000624002";
    env.sandbox.add_record(env.product, M, R2);
    let moved = aside.join(M).join(R2);
    std::fs::create_dir_all(&moved).unwrap();
    drop_file(&moved, "b.txt", b"local b");
    env.sandbox
        .add_file(env.product, M, R2, "b.txt", b"Zoho's b".to_vec());
    std::fs::rename(&aside, &env.root).unwrap();
    let later = |l: &String| l.starts_with(&format!("conflict|{M}/{R2}|b.txt|"));
    assert!(
        wait_until(DEADLINE, || alert_lines(&out).iter().any(later)).await,
        "{:?}\n{}",
        alert_lines(&out),
        d.log_text()
    );
    let lines = alert_lines(&out);
    assert_eq!(
        lines.iter().filter(|l| root_missing(l)).count(),
        1,
        "{lines:?}"
    );
    assert_eq!(lines.iter().filter(|l| conflict(l)).count(), 1, "{lines:?}");
    let webhook_root: usize = bodies
        .lock()
        .unwrap()
        .iter()
        .filter(|b| b.contains("\"root_missing\""))
        .count();
    assert!(webhook_root <= 1, "at most one root_missing post");

    // No secret in any alert.
    let o = env.sandbox.options();
    let everything = format!(
        "{}\n{}\n{}",
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&envs).unwrap_or_default(),
        bodies.lock().unwrap().join("\n")
    );
    for secret in [o.client_secret.as_str(), o.refresh_token.as_str()] {
        assert!(
            !everything.contains(secret),
            "a secret leaked into an alert"
        );
    }
}
