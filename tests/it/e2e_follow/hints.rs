//! Change hints under every plausible Zoho behaviour: whether an attachment change moves
//! `Last_Activity_Time`, `Modified_Time` or nothing is undocumented (the sandbox's
//! `AttachmentTouch` plays each), so for each of them and each `hint_field`, a file added
//! in Zoho must arrive through scheduled polls, and through a hint exactly when the hint
//! field moves. Also `status`'s counts of changes found each way, from a running daemon.

use super::*;
use bigin_sync::journal::{Journal, REMOTE_CHANGES_META_KEY};
use bigin_sync::sandbox::AttachmentTouch;
use std::time::Duration;

const HINT_FIELDS: [&str; 3] = ["Last_Activity_Time", "Modified_Time", "none"];

/// Adds a file in Zoho to a followed record after the first sync; true when the daemon
/// downloaded it within `passes` follow passes. `slow_polls`: scheduled polls an hour
/// apart, so that only a hint can fetch it that soon.
async fn added_file_arrives(
    touch: AttachmentTouch,
    hint_field: &str,
    slow_polls: bool,
    passes: u64,
) -> bool {
    let env = follow_env_with(
        SandboxOptions {
            attachment_touch: touch,
            ..SandboxOptions::default()
        },
        "api_budget_per_day = 100000000\n",
        &format!("\n[[follow]]\nmodule = \"Pipelines\"\nhint_field = \"{hint_field}\"\n"),
        slow_polls,
    )
    .await;
    let id = create_deal(&env, "Hinted", Some(("first.txt", b"1")));
    let d = env.spawn_daemon();
    let folder = env.root.join(P).join(format!("{id} Hinted"));
    wait_file(&d, folder.join("first.txt"), b"1").await;
    wait_passes(&env, &d, 2).await;
    // Later on Zoho's clock, so that a time the change moves surely differs.
    env.sandbox.advance_clock(Duration::from_secs(120));
    env.sandbox
        .add_file(Product::Bigin, P, &id, "second.txt", b"2".to_vec());
    let target = env.calls(Route::Records) + passes;
    let ended = wait_until(DEADLINE, || {
        folder.join("second.txt").exists() || env.calls(Route::Records) >= target
    })
    .await;
    assert!(ended, "{}", d.log_text());
    folder.join("second.txt").exists()
}

/// Whether an attachment change under `touch` moves `hint_field`.
fn hint_moves(touch: AttachmentTouch, hint_field: &str) -> bool {
    !matches!(
        (touch, hint_field),
        (_, "none")
            | (AttachmentTouch::Nothing, _)
            | (AttachmentTouch::LastActivity, "Modified_Time")
    )
}

/// Every hint field under one `touch`: with short polls the file always arrives; with
/// hour-long polls it arrives within 30 passes when the hint field moves, and not within
/// 5 when it does not.
async fn hints_under(touch: AttachmentTouch) {
    for hint_field in HINT_FIELDS {
        assert!(
            added_file_arrives(touch, hint_field, false, 30).await,
            "{touch:?}, hint {hint_field}: a scheduled poll did not fetch the file"
        );
        let moves = hint_moves(touch, hint_field);
        let passes = if moves { 30 } else { 5 };
        assert_eq!(
            added_file_arrives(touch, hint_field, true, passes).await,
            moves,
            "{touch:?}, hint {hint_field}: the hint field moved: {moves}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_when_attachment_changes_move_last_activity_time() {
    hints_under(AttachmentTouch::LastActivity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_when_attachment_changes_move_modified_time() {
    hints_under(AttachmentTouch::Modified).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_when_attachment_changes_move_no_time() {
    hints_under(AttachmentTouch::Nothing).await;
}

/// The counts the daemon published for `status`: (through a hint, by a scheduled poll).
fn published_counts(env: &Env) -> (u64, u64) {
    let counts: serde_json::Value = Journal::open_read_only(&env.state)
        .and_then(|j| j.meta(REMOTE_CHANGES_META_KEY))
        .ok()
        .flatten()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let n = |k: &str| counts[k].as_u64().unwrap_or(0);
    (n("hint"), n("poll"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_what_the_running_daemon_found_through_a_hint_and_by_a_poll() {
    // Hour-long polls: the record's first poll, due as soon as its folder is made, is the
    // only scheduled one; the later file can only come through the hint.
    let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", true).await;
    let id = create_deal(&env, "Counted", Some(("first.txt", b"1")));
    let d = env.spawn_daemon();
    let folder = env.root.join(P).join(format!("{id} Counted"));
    wait_file(&d, folder.join("first.txt"), b"1").await;
    assert!(
        wait_until(DEADLINE, || published_counts(&env).1 >= 1).await,
        "{:?}\n{}",
        published_counts(&env),
        d.log_text()
    );
    wait_passes(&env, &d, 2).await;
    env.sandbox.advance_clock(Duration::from_secs(120));
    env.sandbox
        .add_file(Product::Bigin, P, &id, "second.txt", b"2".to_vec());
    wait_file(&d, folder.join("second.txt"), b"2").await;
    assert!(
        wait_until(DEADLINE, || published_counts(&env).0 >= 1).await,
        "{:?}\n{}",
        published_counts(&env),
        d.log_text()
    );

    let out = env.run_args(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = &v["remote_changes"];
    assert!(changes["through_hint"].as_u64() >= Some(1), "{v}");
    assert!(changes["by_poll"].as_u64() >= Some(1), "{v}");
}
