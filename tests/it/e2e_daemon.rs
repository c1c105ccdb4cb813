//! End-to-end: the real binary's `run` (the daemon) against the sandbox over HTTP.

use crate::common::*;
use bigin_sync::sandbox::{Faults, Route, SandboxOptions};
use std::io::Write;
use std::time::Duration;

const M: &str = "Contacts";
const R: &str = "2034020000000489124";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_syncs_both_ways_and_stops_on_sigterm() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    let mut d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;

    drop_file(&dir, "dropped.txt", b"dropped while running");
    assert!(
        wait_until(DEADLINE, || env.remote_names(M, R) == vec!["dropped.txt"]).await,
        "{}",
        d.log_text()
    );

    env.sandbox
        .add_file(env.product, M, R, "added-in-bigin.txt", b"hello".to_vec());
    assert!(
        wait_until(DEADLINE, || dir.join("added-in-bigin.txt").exists()).await,
        "{}",
        d.log_text()
    );
    // The download reaches the disk in the background, and its row is then marked.
    env.wait_flushed(&d, M, R).await;

    // A new record folder is followed at once.
    let dir2 = env.record("Accounts", "2034020000000999001");
    env.sandbox.add_file(
        env.product,
        "Accounts",
        "2034020000000999001",
        "x.txt",
        b"x".to_vec(),
    );
    assert!(
        wait_until(DEADLINE, || dir2.join("x.txt").exists()).await,
        "{}",
        d.log_text()
    );

    // Status works while the daemon runs (in sync, or work still pending).
    let out = env.run_args(&["status", "--json"]).await;
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["daemon_running"], true);

    let (status, took) = d.terminate().await;
    assert!(status.success(), "exit {status:?}\n{}", d.log_text());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Log lines carry the contract fields.
    let log = d.log_text();
    assert!(
        log.contains("action=\"upload\"") || log.contains("action=upload"),
        "{log}"
    );
    assert!(log.contains("attachment_id="), "{log}");
    // Secrets never reach the log.
    let o = env.sandbox.options();
    assert!(!log.contains(&o.client_secret) && !log.contains(&o.refresh_token));
}

/// `once` does not wait for its downloads to reach the disk; a daemon started in the
/// same boot flushes and marks them, so that no reboot has to check them by hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_once_left_unflushed_are_flushed_by_the_daemon() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    env.sandbox.add_file(
        env.product,
        M,
        R,
        "from-once.txt",
        b"fetched by once".to_vec(),
    );
    assert_ok(&env.once().await);
    assert!(dir.join("from-once.txt").exists());
    assert_eq!(
        env.unflushed(M, R).unwrap(),
        vec!["from-once.txt"],
        "once left writeback to the kernel"
    );

    let mut d = env.spawn_daemon();
    env.wait_flushed(&d, M, R).await;
    let (status, _) = d.terminate().await;
    assert!(status.success(), "exit {status:?}\n{}", d.log_text());
}

/// `status` says how a running daemon watches the tree: inotify, or polling and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_how_the_tree_is_watched() {
    for (extra, want) in [
        ("", "inotify"),
        ("watch = \"poll\"", "polling every 2 s (watch = \"poll\")"),
    ] {
        let env = Env::with(SandboxOptions::default(), extra).await;
        env.record(M, R);
        let mut d = env.spawn_daemon();
        d.wait_log("bigin-sync running").await;
        let mut shown = serde_json::Value::Null;
        let found = wait_until(DEADLINE, || {
            let out = env.cmd().args(["status", "--json"]).output().unwrap();
            shown =
                serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["watch"].clone();
            shown == want
        })
        .await;
        assert!(found, "watch {shown}, want {want:?}\n{}", d.log_text());
        let (status, _) = d.terminate().await;
        assert!(status.success(), "exit {status:?}\n{}", d.log_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowly_written_file_is_uploaded_once_with_final_content() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    let mut d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;
    let path = dir.join("slow.log");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut expected = Vec::new();
    for i in 0..25 {
        let chunk = format!("line {i}\n");
        f.write_all(chunk.as_bytes()).unwrap();
        f.flush().unwrap();
        expected.extend_from_slice(chunk.as_bytes());
        tokio::time::sleep(Duration::from_millis(100)).await; // the writer's pace, not a wait
    }
    drop(f);
    let ok = wait_until(DEADLINE, || {
        env.remote(M, R).iter().any(|a| {
            env.sandbox
                .content(&a.id)
                .is_some_and(|c| c.as_ref() == expected.as_slice())
        })
    })
    .await;
    assert!(ok, "{}", d.log_text());
    // Give a later (wrong) re-upload every chance to show up before counting.
    let (status, _) = d.terminate().await;
    assert!(status.success());
    let remote = env.remote(M, R);
    assert_eq!(remote.len(), 1, "one attachment: {remote:?}");
    assert_eq!(env.calls(Route::Upload), 1, "uploaded exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_40_uploads_ends_with_exactly_40() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    for i in 0..40 {
        drop_file(
            &dir,
            &format!("doc{i:02}.txt"),
            format!("document {i}").as_bytes(),
        );
    }
    env.sandbox.set_faults(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let mut d = env.spawn_daemon();
    assert!(
        wait_until(DEADLINE, || env.remote(M, R).len() >= 10).await,
        "{}",
        d.log_text()
    );
    d.kill9();
    env.sandbox.set_faults(Faults::default());
    let mut d = env.spawn_daemon();
    assert!(
        wait_until(DEADLINE, || env.remote(M, R).len() >= 40).await,
        "{}",
        d.log_text()
    );
    let (status, _) = d.terminate().await;
    assert!(status.success());
    let names = env.remote_names(M, R);
    assert_eq!(names.len(), 40, "no duplicates: {names:?}");
    let mut dedup = names.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 40);
    assert_eq!(files(&dir).len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_mid_run_is_refreshed() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    let mut d = env.spawn_daemon();
    drop_file(&dir, "one.txt", b"1");
    assert!(
        wait_until(DEADLINE, || env.remote(M, R).len() == 1).await,
        "{}",
        d.log_text()
    );
    let grants = env.calls(Route::Token);
    env.sandbox.expire_tokens();
    drop_file(&dir, "two.txt", b"2");
    assert!(
        wait_until(DEADLINE, || env.remote(M, R).len() == 2).await,
        "{}",
        d.log_text()
    );
    assert_eq!(env.calls(Route::Token), grants + 1, "one refresh");
    let (status, _) = d.terminate().await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_down_at_start_then_up() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    env.sandbox
        .add_file(env.product, M, R, "remote.txt", b"r".to_vec());
    drop_file(&dir, "local.txt", b"l");
    env.sandbox.set_down(true);
    let mut d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;
    d.wait_log("unreachable").await;
    env.sandbox.set_down(false);
    assert!(
        wait_until(DEADLINE, || env.remote(M, R).len() == 2
            && dir.join("remote.txt").exists())
        .await,
        "{}",
        d.log_text()
    );
    let (status, _) = d.terminate().await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_while_running_converge_without_duplicates() {
    let env = Env::with(SandboxOptions::default(), "").await;
    let dir = env.record(M, R);
    env.sandbox.set_faults(Faults {
        seed: 11,
        error_500_rate: 0.1,
        drop_before_rate: 0.05,
        drop_after_upload_rate: 0.05,
        ..Faults::default()
    });
    let mut d = env.spawn_daemon();
    for i in 0..20 {
        drop_file(
            &dir,
            &format!("f{i}.txt"),
            format!("content {i}").as_bytes(),
        );
    }
    assert!(
        wait_until(Duration::from_secs(120), || env.remote(M, R).len() >= 20).await,
        "{}",
        d.log_text()
    );
    env.sandbox.set_faults(Faults::default());
    let (status, _) = d.terminate().await;
    assert!(status.success());
    assert_ok(&env.once().await);
    assert_eq!(env.remote(M, R).len(), 20, "{:?}", env.remote_names(M, R));
}

/// The start-up rescan skips folders whose fingerprint is unchanged since the last quiet
/// reconcile; a change made while the daemon was stopped must still be seen, even one
/// that keeps the size and puts the old mtime back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_stopped_are_synced_and_only_changed_folders_are_read() {
    let env = Env::new().await;
    let (a, b, c) = (
        "2034020000000000701",
        "2034020000000000702",
        "2034020000000000703",
    );
    let dir_a = env.record(M, a);
    let dir_b = env.record(M, b);
    let dir_c = env.record(M, c);
    for i in 0..4 {
        drop_file(&dir_a, &format!("a{i}.txt"), b"in a");
    }
    drop_file(&dir_b, "b.txt", b"version 1");
    drop_file(&dir_c, "c.txt", b"untouched");
    assert_ok(&env.once_until_clean(3).await);
    assert_eq!(env.remote(M, a).len(), 4);

    // While stopped: a delete in A; in B a same-size rewrite that puts the old mtime back
    // (as `rsync -t` would): only the ctime tells.
    std::fs::remove_file(dir_a.join("a0.txt")).unwrap();
    let b_path = dir_b.join("b.txt");
    let mtime = std::fs::metadata(&b_path).unwrap().modified().unwrap();
    std::fs::write(&b_path, b"version 2").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&b_path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let mut d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;
    let synced = wait_until(DEADLINE, || {
        let names = env.remote_names(M, a);
        let b_remote = env.remote(M, b);
        names == vec!["a1.txt", "a2.txt", "a3.txt"]
            && b_remote.len() == 1
            && env
                .sandbox
                .content(&b_remote[0].id)
                .is_some_and(|c| c.as_ref() == b"version 2")
    })
    .await;
    assert!(synced, "{}", d.log_text());
    let (status, _) = d.terminate().await;
    assert!(status.success());
    let log = d.log_text();
    assert!(
        log.contains("compared=3 changed=2 unchanged=1"),
        "start-up rescan should read only A and B:\n{log}"
    );
    assert_eq!(env.remote(M, c).len(), 1);
}

/// Issue 11.1: a followed record folder swapped for a symlink (to a folder of secrets, or
/// to the daemon's own state dir) is never followed, neither to read (the refresh token
/// or the journal uploaded as attachments) nor to write (a download placed there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_folder_swapped_for_a_symlink_is_never_followed() {
    const R2: &str = "2034020000000489125";
    let env = Env::new().await;
    let dir = env.record(M, R);
    let dir2 = env.record(M, R2);
    let creds = env.tmp.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("refresh_token"), b"1000.not-for-zoho").unwrap();
    let d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;
    drop_file(&dir, "a.txt", b"a");
    drop_file(&dir2, "b.txt", b"b");
    assert!(
        wait_until(DEADLINE, || env.remote_names(M, R) == ["a.txt"]
            && env.remote_names(M, R2) == ["b.txt"])
        .await,
        "{}",
        d.log_text()
    );

    std::fs::rename(&dir, env.tmp.path().join("moved-1")).unwrap();
    std::fs::rename(&dir2, env.tmp.path().join("moved-2")).unwrap();
    std::os::unix::fs::symlink(&creds, &dir).unwrap();
    std::os::unix::fs::symlink(&env.state, &dir2).unwrap();
    env.sandbox
        .add_file(env.product, M, R, "from-zoho.txt", b"z".to_vec());
    env.sandbox
        .add_file(env.product, M, R2, "from-zoho.txt", b"z".to_vec());

    let leaked = || {
        let only = |names: Vec<String>, mine: &str| {
            names.iter().all(|n| n == mine || n == "from-zoho.txt")
        };
        !only(env.remote_names(M, R), "a.txt")
            || !only(env.remote_names(M, R2), "b.txt")
            || creds.join("from-zoho.txt").exists()
            || env.state.join("from-zoho.txt").exists()
    };
    // Both records are reconciled (the watcher's hint and the polls) and refused.
    assert!(
        wait_until(DEADLINE, || leaked()
            || d.log_text().matches("is a symlink now").count() >= 2)
        .await,
        "{}",
        d.log_text()
    );
    assert!(!leaked(), "followed a link\n{}", d.log_text());
    // A few more attempts (one a poll interval, 1 s) to give a leak every chance.
    assert!(
        wait_until(DEADLINE, || d
            .log_text()
            .matches("is a symlink now")
            .count()
            >= 6)
        .await,
        "{}",
        d.log_text()
    );
    assert!(
        !leaked(),
        "{:?} {:?}\n{}",
        env.remote_names(M, R),
        env.remote_names(M, R2),
        d.log_text()
    );
    assert_eq!(std::fs::read_dir(&creds).unwrap().count(), 1);
}

/// Issue 11.2: a file swapped for a symlink between the scan and the upload (here
/// during a 429's `Retry-After`) is never followed: nothing is sent, the next scan
/// skips the link, and the secret it points to never reaches Zoho.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_swapped_for_a_symlink_before_its_upload_is_never_sent() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    let secret = env.tmp.path().join("client_secret");
    std::fs::write(&secret, b"secret-value").unwrap();
    env.sandbox.set_faults(Faults {
        error_429_rate: 1.0,
        retry_after_secs: Some(2),
        routes: vec![Route::Upload],
        ..Faults::default()
    });
    let d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;
    drop_file(&dir, "a.txt", b"harmless");
    assert!(
        wait_until(DEADLINE, || env.calls(Route::Upload) >= 1).await,
        "{}",
        d.log_text()
    );
    std::fs::remove_file(dir.join("a.txt")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("a.txt")).unwrap();
    env.sandbox.set_faults(Faults::default());
    let sent = || {
        env.remote(M, R).iter().any(|a| {
            env.sandbox
                .content(&a.id)
                .is_some_and(|c| &c[..] == b"secret-value")
        })
    };
    assert!(
        wait_until(DEADLINE, || sent()
            || d.log_text().contains("reason=Symlink"))
        .await,
        "{}",
        d.log_text()
    );
    assert!(!sent(), "the secret was uploaded\n{}", d.log_text());
    assert!(
        env.remote_names(M, R).is_empty(),
        "{:?}",
        env.remote_names(M, R)
    );
}

/// A conflict found by the daemon converges without a restart (issue 11 item 12): Zoho's
/// version keeps the plain name, the local one is renamed to the conflict copy and then
/// uploaded by a later reconcile, so both sides end up listing the same names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_resolves_a_conflict_to_the_same_names_on_both_sides() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "doc.txt", b"local version");
    env.sandbox.add_file(
        env.product,
        M,
        R,
        "doc.txt",
        b"zoho's version, longer".to_vec(),
    );
    let mut d = env.spawn_daemon();
    let same_names = || {
        let local = files(&dir);
        local.len() == 2 && local == env.remote_names(M, R)
    };
    assert!(wait_until(DEADLINE, same_names).await, "{}", d.log_text());
    assert_eq!(
        std::fs::read(dir.join("doc.txt")).unwrap(),
        b"zoho's version, longer"
    );
    let copy = files(&dir)
        .into_iter()
        .find(|n| n.starts_with("doc (conflicted copy "))
        .unwrap();
    assert_eq!(std::fs::read(dir.join(copy)).unwrap(), b"local version");
    let (status, _) = d.terminate().await;
    assert!(status.success(), "{}", d.log_text());
}

/// Descriptors the process `pid` holds open on `dir` itself.
fn fds_open_on(pid: u32, dir: &std::path::Path) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(Result::ok)
                .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == dir))
                .count()
        })
        .unwrap_or(0)
}

/// Every reconcile opens the record folder afresh; a daemon that downloads again and
/// again must not keep those handles (it would run out of descriptors in time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_running_daemon_does_not_keep_record_folders_open() {
    let env = Env::new().await;
    let dir = env.record(M, R).canonicalize().unwrap();
    let mut d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;
    let pid = d.child.as_ref().expect("running").id();
    const ROUNDS: usize = 4;
    for i in 0..ROUNDS {
        let name = format!("round-{i}.txt");
        env.sandbox
            .add_file(env.product, M, R, &name, name.as_bytes().to_vec());
        assert!(
            wait_until(DEADLINE, || dir.join(&name).exists() && env.flushed(M, R)).await,
            "{}",
            d.log_text()
        );
    }
    // A reconcile may be running (it holds the folder open while it does): wait for a
    // quiet moment rather than sampling once.
    assert!(
        wait_until(DEADLINE, || fds_open_on(pid, &dir) <= 1).await,
        "{} descriptors open on the record folder after {ROUNDS} downloads\n{}",
        fds_open_on(pid, &dir),
        d.log_text()
    );
    let (status, _) = d.terminate().await;
    assert!(status.success(), "exit {status:?}\n{}", d.log_text());
}
