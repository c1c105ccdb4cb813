//! Following records (issue 13), end to end through the real binary.
//!
//! The daemon-level tests (folders made, renamed, archived against the sandbox's records
//! API) come with that API; until then this file checks what `status` shows.

mod common;

use common::*;

/// `status` (text and JSON) shows how many remote changes were found through a follow
/// hint and how many by a scheduled poll, as the daemon publishes them.
#[tokio::test(flavor = "multi_thread")]
async fn status_counts_remote_changes_by_hint_and_by_poll() {
    let env = Env::new().await;
    let out = env.run_args(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(v.get("remote_changes").is_none_or(|c| c.is_null()), "{v}");

    let journal = bigin_sync::journal::Journal::open(&env.state).unwrap();
    journal
        .set_meta(
            bigin_sync::follow::REMOTE_CHANGES_META_KEY,
            r#"{"hint":3,"poll":5}"#,
        )
        .unwrap();
    drop(journal);
    let out = env.run_args(&["status", "--json"]).await;
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["remote_changes"]["through_hint"], 3, "{v}");
    assert_eq!(v["remote_changes"]["by_poll"], 5, "{v}");
    let out = env.run_args(&["status"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("remote changes found: 3 through a follow hint, 5 by a scheduled poll"),
        "{text}"
    );
}
