//! End-to-end: logging formats, watch modes, SIGHUP, check, auth, demo, direction.

use crate::common::*;
use bigin_sync::sandbox::{Route, SandboxOptions};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const M: &str = "Contacts";
const R: &str = "2034020000000489124";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_action_fields() {
    let env = Env::new().await;
    env.set_log_format("json");
    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"abc");
    let out = env.once().await;
    assert_ok(&out);
    let err = stderr(&out);
    let mut saw_upload = false;
    for line in err.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["action"] == "upload" {
            saw_upload = true;
            for field in ["module", "record", "file", "attachment_id", "bytes", "ms"] {
                assert!(!v[field].is_null(), "missing {field}: {line}");
            }
            assert_eq!(v["bytes"], 3);
        }
    }
    assert!(saw_upload, "{err}");
    assert!(
        !err.contains("\u{1b}["),
        "no ANSI colours when not a terminal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_watch_mode_notices_new_files() {
    let env = Env::with(SandboxOptions::default(), "watch = \"poll\"").await;
    let dir = env.record(M, R);
    let mut d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;
    drop_file(&dir, "polled.txt", b"p");
    assert!(
        wait_until(DEADLINE, || env.remote_names(M, R) == vec!["polled.txt"]).await,
        "{}",
        d.log_text()
    );
    let (status, _) = d.terminate().await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_or_keeps_the_old_config() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    let good = std::fs::read_to_string(&env.config).unwrap();
    let mut d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;
    let pid = d.child.as_ref().unwrap().id() as i32;

    std::fs::write(
        &env.config,
        good.replace("debounce = \"300ms\"", "debounce = \"never\""),
    )
    .unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    d.wait_log("new config rejected").await;
    assert!(d.log_text().contains("sync.debounce"), "{}", d.log_text());

    std::fs::write(
        &env.config,
        good.replace("[sync]", "[sync]\nignore = [\"*.skip\"]"),
    )
    .unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    d.wait_log("config reloaded").await;
    drop_file(&dir, "x.skip", b"ignored now");
    drop_file(&dir, "y.txt", b"synced");
    assert!(
        wait_until(DEADLINE, || env.remote_names(M, R) == vec!["y.txt"]).await,
        "{}",
        d.log_text()
    );
    let (status, _) = d.terminate().await;
    assert!(status.success());
    assert_eq!(env.remote_names(M, R), vec!["y.txt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_says_ok_or_what_is_wrong() {
    let env = Env::new().await;
    env.record(M, R);
    let out = env.run_args(&["check"]).await;
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("got an access token") && text.contains("listed Contacts/"),
        "{text}"
    );

    // A revoked refresh token, and no cached access token.
    env.sandbox.revoke_refresh_token();
    std::fs::remove_dir_all(&env.state).unwrap();
    let out = env.run_args(&["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("refresh token") && text.contains("bigin-sync auth"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_writes_the_refresh_token_file_private() {
    let env = Env::new().await;
    let token_file = env.tmp.path().join("secrets").join("refresh_token");
    let text = std::fs::read_to_string(&env.config).unwrap();
    let refresh_line = format!(
        "refresh_token = \"{}\"",
        env.sandbox.options().refresh_token
    );
    let text = text.replace(
        &refresh_line,
        &format!("refresh_token_file = \"{}\"", token_file.display()),
    );
    std::fs::write(&env.config, text).unwrap();

    let steps = env.run_args(&["auth"]).await;
    assert_ok(&steps);
    assert!(String::from_utf8_lossy(&steps.stdout).contains("Self Client"));

    let code = env.sandbox.options().grant_code.clone();
    let out = env.run_args(&["auth", "--code", &code]).await;
    assert_ok(&out);
    let written = std::fs::read_to_string(&token_file).unwrap();
    assert!(
        written.trim().starts_with("1000.") && written.trim().len() > 10,
        "{written}"
    );
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The token works.
    env.record(M, R);
    assert_ok(&env.run_args(&["check"]).await);

    let bad = env.run_args(&["auth", "--code", "1000.wrong"]).await;
    assert!(!bad.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_only_direction_never_writes_locally() {
    let env = Env::with(SandboxOptions::default(), "direction = \"upload\"").await;
    let dir = env.record(M, R);
    drop_file(&dir, "mine.txt", b"up");
    env.sandbox
        .add_file(env.product, M, R, "theirs.txt", b"down".to_vec());
    assert_ok(&env.once().await);
    assert_eq!(files(&dir), vec!["mine.txt"]);
    assert_eq!(env.remote_names(M, R), vec!["mine.txt", "theirs.txt"]);
    assert_eq!(env.calls(Route::Download), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_syncs_and_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let log = tmp.path().join("demo.log");
    let stdout = tmp.path().join("demo.out");
    let mut child = std::process::Command::new(BIN)
        .args(["demo", "--dir"])
        .arg(&demo)
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let welcome = demo.join("root/Contacts/2034020000000489124 Demo contact/welcome.txt");
    let link = demo.join("root/Contacts/2034020000000489124 Demo contact/Zoho Bigin.url");
    let ok = wait_until(DEADLINE, || welcome.exists() && link.exists()).await;
    assert!(ok, "{}", std::fs::read_to_string(&log).unwrap_or_default());
    // Pipelines is followed: the deal's folder is made by the daemon, named after it.
    let quote = demo.join("root/Pipelines/2034020000000711002 Demo deal/quote.csv");
    let ok = wait_until(DEADLINE, || quote.exists()).await;
    assert!(ok, "{}", std::fs::read_to_string(&log).unwrap_or_default());
    // The printed curl line creates a deal whose folder then appears.
    let text = std::fs::read_to_string(&stdout).unwrap_or_default();
    let url = text
        .lines()
        .find(|l| l.contains("curl -X POST -d") && l.contains("/__sandbox/bigin/Pipelines'"))
        .and_then(|l| l.rsplit('\'').nth(1))
        .unwrap_or_else(|| panic!("no curl line creating a deal:\n{text}"))
        .to_string();
    let reply = reqwest::Client::new()
        .post(&url)
        .body(r#"{"Deal_Name": "Big order"}"#)
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{url}: {}", reply.status());
    let pipelines = demo.join("root/Pipelines");
    let ok = wait_until(DEADLINE, || {
        std::fs::read_dir(&pipelines).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(" Big order"))
        })
    })
    .await;
    assert!(ok, "{}", std::fs::read_to_string(&log).unwrap_or_default());
    // The demo's config works for status.
    let out = std::process::Command::new(BIN)
        .arg("--config")
        .arg(demo.join("config.toml"))
        .args(["status", "--json"])
        .output()
        .unwrap();
    // In sync, or still working on the sample records.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["daemon_running"], true);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    let _ = Duration::ZERO;
}

fn out_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_lists_ids_and_labels_and_refuses_unknown_modules() {
    let env = Env::new().await;
    let p = env.product;
    let won = env.sandbox.create_record(
        p,
        "Pipelines",
        serde_json::json!({"Deal_Name": "Acme renewal", "Stage": "Won"}),
    );
    let lost = env.sandbox.create_record(
        p,
        "Pipelines",
        serde_json::json!({"Deal_Name": "Old\u{7}deal", "Stage": "Lost"}),
    );
    let bare = env
        .sandbox
        .create_record(p, "Pipelines", serde_json::json!({}));
    let ann = env.sandbox.create_record(
        p,
        "Contacts",
        serde_json::json!({"First_Name": "Ann", "Last_Name": "Lee"}),
    );

    let out = env.run_args(&["records", "Pipelines"]).await;
    assert_ok(&out);
    let text = out_text(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{won}  Acme renewal"),
            format!("{lost}  Olddeal"),
            bare.clone()
        ],
        "{text}"
    );
    // Bigin's UI name for the module works too.
    let out = env.run_args(&["records", "Deals"]).await;
    assert_ok(&out);
    assert_eq!(out_text(&out), text);
    let out = env.run_args(&["records", "Contacts", "--json"]).await;
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_str(&out_text(&out)).expect("JSON");
    assert_eq!(v["module"], "Contacts");
    assert_eq!(
        v["records"],
        serde_json::json!([{"id": ann, "label": "Ann Lee"}])
    );
    let cvid = env
        .sandbox
        .define_view(p, "Pipelines", &[("Stage", &["Lost"])]);
    let out = env
        .run_args(&["records", "Pipelines", "--view", &cvid])
        .await;
    assert_ok(&out);
    assert_eq!(out_text(&out).trim(), format!("{lost}  Olddeal"));
    let calls = env.calls(Route::Records);
    assert_eq!(calls, 4);

    let out = env.run_args(&["records", "Leads"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("unknown module \"Leads\""), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        env.calls(Route::Records),
        calls,
        "no call for an unknown module"
    );
}
