//! End-to-end: running unattended (issue 14, part C): `status` exit codes and verdict,
//! trash retention, native journald logging.

use crate::common::*;
use bigin_sync::sandbox::{Faults, Route, SandboxOptions};
use std::path::Path;

const M: &str = "Contacts";
const R: &str = "2034020000000489124";

/// `status` (exit code) and `status --json` (parsed), which must agree.
async fn status(env: &Env) -> (i32, serde_json::Value) {
    let text = env.run_args(&["status"]).await;
    let json = env.run_args(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {}", stderr(&json)));
    let code = text.status.code().expect("exit code");
    assert_eq!(json.status.code(), Some(code), "text and JSON agree: {v}");
    assert_eq!(v["exit_code"], code, "{v}");
    (code, v)
}

fn reasons(v: &serde_json::Value) -> String {
    v["reasons"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exit_3_without_a_journal_then_0_in_sync() {
    let env = Env::new().await;
    let (code, v) = status(&env).await;
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["verdict"], "cannot_tell", "{v}");

    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"abc");
    assert_ok(&env.once().await);
    let (code, v) = status(&env).await;
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "in_sync", "{v}");
    assert_eq!(v["reasons"].as_array().map(Vec::len), Some(0), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exit_1_while_a_failure_is_retried() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    env.sandbox.set_faults(Faults {
        error_500_rate: 1.0,
        routes: vec![Route::Upload],
        ..Faults::default()
    });
    drop_file(&dir, "a.txt", b"abc");
    let out = env.once().await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (code, v) = status(&env).await;
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["verdict"], "work_pending", "{v}");
    assert!(reasons(&v).contains("retried"), "{v}");

    env.sandbox.set_faults(Faults::default());
    assert_ok(&env.once().await);
    assert_eq!(status(&env).await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exit_2_for_a_parked_entry() {
    let env = Env::with_upload_limit(1000).await;
    let dir = env.record(M, R);
    drop_file(&dir, "big.bin", &vec![7u8; 5000]);
    let _ = env.once().await;
    let (code, v) = status(&env).await;
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["verdict"], "needs_person", "{v}");
    assert!(reasons(&v).contains("parked"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exit_2_while_a_conflict_copy_is_on_disk() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "quote.pdf", b"local version");
    env.sandbox
        .add_file(env.product, M, R, "quote.pdf", b"remote version".to_vec());
    assert_ok(&env.once().await);
    let copy = files(&dir)
        .into_iter()
        .find(|n| n.contains(" (conflicted copy "))
        .expect("a conflict copy");
    let (code, v) = status(&env).await;
    assert_eq!(code, 2, "{v}");
    assert!(reasons(&v).contains("conflict"), "{v}");
    // Running status again does not clear it: only dealing with the copy does.
    assert_eq!(status(&env).await.0, 2);
    std::fs::remove_file(dir.join(&copy)).unwrap();
    assert_ok(&env.once().await);
    let (code, v) = status(&env).await;
    assert_eq!(code, 0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exit_2_while_the_delete_guard_holds_deletes_back() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    for i in 0..12 {
        drop_file(&dir, &format!("f{i}.txt"), format!("file {i}").as_bytes());
    }
    assert_ok(&env.once().await);
    for i in 0..8 {
        std::fs::remove_file(dir.join(format!("f{i}.txt"))).unwrap();
    }
    let _ = env.once().await;
    let (code, v) = status(&env).await;
    assert_eq!(code, 2, "{v}");
    assert!(reasons(&v).contains("delete guard"), "{v}");
    assert_ok(&env.run_args(&["once", "--confirm-deletes"]).await);
    let (code, v) = status(&env).await;
    assert_eq!(code, 0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exit_2_while_zoho_refuses_the_refresh_token() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"abc");
    env.sandbox.revoke_refresh_token();
    let _ = env.once().await;
    let (code, v) = status(&env).await;
    assert_eq!(code, 2, "{v}");
    assert!(reasons(&v).contains("refresh token"), "{v}");
}

/// `<stamp> <name>` as the trash names entries, `days` days ago (local time).
fn stamped(days: i64, name: &str) -> String {
    let when = chrono::Local::now() - chrono::Duration::days(days);
    format!("{} {name}", when.format("%Y-%m-%d %H%M%S"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trash_retention_removes_old_entries_and_never_follows_a_link() {
    let env = Env::with(SandboxOptions::default(), "trash_retention = \"30d\"").await;
    env.record(M, R);
    let trash = env.state.join("trash").join(M).join(R);
    std::fs::create_dir_all(&trash).unwrap();
    let outside = env.tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("inner")).unwrap();
    std::fs::write(outside.join("precious.txt"), b"keep").unwrap();
    std::fs::write(outside.join("inner/deep.txt"), b"keep too").unwrap();

    let old = stamped(40, "old.pdf");
    let young = stamped(2, "young.pdf");
    let link = stamped(40, "link.pdf");
    let old_dir = stamped(40, "folder");
    let undated = "no stamp.txt";
    std::fs::write(trash.join(&old), b"old").unwrap();
    std::fs::write(trash.join(&young), b"young").unwrap();
    std::fs::write(trash.join(undated), b"?").unwrap();
    std::os::unix::fs::symlink(outside.join("precious.txt"), trash.join(&link)).unwrap();
    std::fs::create_dir_all(trash.join(&old_dir).join("sub")).unwrap();
    std::fs::write(trash.join(&old_dir).join("sub/x.txt"), b"x").unwrap();
    std::os::unix::fs::symlink(&outside, trash.join(&old_dir).join("to-outside")).unwrap();
    // A module folder swapped for a link out of the trash: never entered.
    std::fs::create_dir_all(outside.join("1234567890")).unwrap();
    let outside_old = outside.join("1234567890").join(stamped(40, "victim.txt"));
    std::fs::write(&outside_old, b"victim").unwrap();
    std::os::unix::fs::symlink(&outside, env.state.join("trash").join("Deals")).unwrap();

    let (_, v) = status(&env).await;
    assert_eq!(v["trash"], serde_json::Value::Null, "no journal yet: {v}");
    assert_ok(&env.once().await);
    let (_, v) = status(&env).await;
    assert_eq!(v["trash"]["entries"], 5, "{v}");
    assert_eq!(
        v["trash"]["bytes"].as_u64().map(|b| b >= 9),
        Some(true),
        "{v}"
    );
    let text = env.run_args(&["status"]).await;
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("trash: 5 entries"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    // `once` does not expire the trash: the daemon does.
    assert!(trash.join(&old).exists());

    let mut daemon = env.spawn_daemon();
    let gone = wait_until(DEADLINE, || {
        !exists_no_follow(&trash.join(&old))
            && !exists_no_follow(&trash.join(&link))
            && !exists_no_follow(&trash.join(&old_dir))
    })
    .await;
    assert!(gone, "old entries still there:\n{}", daemon.log_text());
    assert_eq!(std::fs::read(trash.join(&young)).unwrap(), b"young");
    assert_eq!(std::fs::read(trash.join(undated)).unwrap(), b"?");
    assert_eq!(
        std::fs::read(outside.join("precious.txt")).unwrap(),
        b"keep"
    );
    assert_eq!(
        std::fs::read(outside.join("inner/deep.txt")).unwrap(),
        b"keep too"
    );
    assert_eq!(std::fs::read(&outside_old).unwrap(), b"victim");
    assert!(exists_no_follow(&env.state.join("trash").join("Deals")));
    daemon.wait_log("removed from the trash").await;
    let (status_code, _) = daemon.terminate().await;
    assert!(status_code.success());
    let (_, v) = status(&env).await;
    assert_eq!(v["trash"]["entries"], 2, "{v}");
}

fn exists_no_follow(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journald_fields_when_a_journal_is_available() {
    let socket = Path::new("/run/systemd/journal/socket");
    let journalctl_works = std::process::Command::new("journalctl")
        .args(["-n", "0", "-q"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !socket.exists() || !journalctl_works {
        eprintln!(
            "SKIPPED journald_fields_when_a_journal_is_available: no journal here \
             (/run/systemd/journal/socket missing or journalctl failing)"
        );
        return;
    }
    let env = Env::new().await;
    env.set_log_format("journald");
    let dir = env.record(M, R);
    // A file name unique to this run, to find its entries among everything else.
    let name = format!("journald-{}.txt", std::process::id());
    drop_file(&dir, &name, b"abcd");
    let mut daemon = env.spawn_daemon();
    let ok = wait_until(DEADLINE, || env.remote_names(M, R).contains(&name)).await;
    assert!(ok, "{}", daemon.log_text());
    let mut found = None;
    wait_until(DEADLINE, || {
        let out = std::process::Command::new("journalctl")
            .args(["-o", "json", "--no-pager", &format!("FILE={name}")])
            .output()
            .expect("journalctl");
        found = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["ACTION"] == "upload");
        found.is_some()
    })
    .await;
    let _ = daemon.terminate().await;
    let v = found.expect("the upload's journal entry");
    assert_eq!(v["RECORD"], R, "{v}");
    assert_eq!(v["MODULE"], M, "{v}");
    assert_eq!(v["BYTES"], "4", "{v}");
    assert!(
        v["ATTACHMENT_ID"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journald_falls_back_to_text_with_one_warning_without_a_journal() {
    if Path::new("/run/systemd/journal/socket").exists() {
        eprintln!(
            "SKIPPED journald_falls_back_to_text_with_one_warning_without_a_journal: \
             this machine has a journal"
        );
        return;
    }
    let env = Env::new().await;
    let text = std::fs::read_to_string(&env.config).unwrap();
    env.set_log_format("journald");
    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"abc");
    let out = env.once().await;
    assert_ok(&out);
    let err = stderr(&out);
    assert_eq!(
        err.matches("cannot reach the systemd journal").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("upload done"),
        "the log goes on as text: {err}"
    );

    // The default ("auto") with a JOURNAL_STREAM that is not our stderr: text, no warning.
    std::fs::write(&env.config, &text).unwrap();
    drop_file(&dir, "b.txt", b"abc");
    let mut cmd = env.cmd();
    cmd.arg("once").env("JOURNAL_STREAM", "1:1");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("systemd journal"), "{err}");
    assert!(err.contains("upload done"), "{err}");
}
