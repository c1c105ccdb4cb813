//! Following records (issue 13), end to end through the real binary.
//!
//! The daemon (`run`) against the sandbox's records API over HTTP: folders made for
//! listed records, renamed with them, left alone once the user renamed them, archived
//! when a record is deleted (never on a failed listing), custom views and the `where`
//! filter with both `on_leave` choices, and hand-made folders beside followed modules.
//! Hints, the budget and crash recovery have their own modules below.

mod budget;
mod hints;
mod recovery;

use crate::common::*;
use bigin_sync::model::Product;
use bigin_sync::sandbox::{Route, SandboxOptions};
use serde_json::json;
use std::path::{Path, PathBuf};

const P: &str = "Pipelines";

/// An env whose daemon lists followed modules every second; `follow` is appended as
/// top-level `[[follow]]` tables. `slow_polls` makes scheduled attachment polls an hour
/// apart, so that only a hint can bring one forward.
async fn follow_env(follow: &str, slow_polls: bool) -> Env {
    // A listing a second is far beyond the default budget's share: the budget is raised
    // so that the loop is not stretched (the budget tests lower it again).
    follow_env_with(
        SandboxOptions::default(),
        "api_budget_per_day = 100000000\n",
        follow,
        slow_polls,
    )
    .await
}

/// [`follow_env`] with the sandbox's options and lines for `[sync]` (beside
/// `follow_interval = "1s"`) chosen by the test.
async fn follow_env_with(opts: SandboxOptions, sync: &str, follow: &str, slow_polls: bool) -> Env {
    let env = Env::with(opts, &format!("follow_interval = \"1s\"\n{sync}")).await;
    if slow_polls {
        let text = std::fs::read_to_string(&env.config).unwrap();
        let text = text.replace(
            "poll_interval = \"1s\"\npoll_interval_max = \"2s\"",
            "poll_interval = \"1h\"\npoll_interval_max = \"1h\"",
        );
        assert!(
            text.contains("\"1h\""),
            "the harness's [sync] changed:\n{text}"
        );
        std::fs::write(&env.config, text).unwrap();
    }
    append_config(&env, follow);
    env
}

/// Appends `text` (top-level tables such as `[[follow]]`) to the env's config.
fn append_config(env: &Env, text: &str) {
    let mut config = std::fs::read_to_string(&env.config).unwrap();
    config.push_str(text);
    std::fs::write(&env.config, config).unwrap();
}

/// The folders of `dir` whose name starts with the record id (one expected).
fn folders_of(dir: &Path, id: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n == id || n.starts_with(&format!("{id} ")))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits until `n` more record listings than now have been answered: the follow loop
/// has made that many passes since (each pass of one module lists once).
async fn wait_passes(env: &Env, d: &Daemon, n: u64) {
    let target = env.calls(Route::Records) + n;
    assert!(
        wait_until(DEADLINE, || env.calls(Route::Records) >= target).await,
        "the follow loop stopped listing:\n{}",
        d.log_text()
    );
}

/// Waits until `n` more attachment listings than now have been answered.
async fn wait_attachment_lists(env: &Env, d: &Daemon, n: u64) {
    let lists = env.calls(Route::List);
    assert!(
        wait_until(DEADLINE, || env.calls(Route::List) >= lists + n).await,
        "{}",
        d.log_text()
    );
}

/// Transfers charged by Zoho: uploads, downloads, deletes.
fn transfers(env: &Env) -> [u64; 3] {
    [
        env.calls(Route::Upload),
        env.calls(Route::Download),
        env.calls(Route::Delete),
    ]
}

/// Checks that every log line about a record (JSON logs) names it as the rest of the
/// daemon does: the record id in `record` and its module in `module` (journald's `RECORD`
/// and `MODULE`), so that `journalctl RECORD=<id>` finds the folder being made and renamed
/// too; and that record `id` of Pipelines has a line starting with each of `messages`.
fn assert_record_fields(log: &str, id: &str, messages: &[&str]) {
    let mut about_id = Vec::new();
    for line in log.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let Some(record) = v.get("record") else {
            continue;
        };
        let record = record.as_str().unwrap_or_default();
        assert!(
            !record.is_empty() && record.bytes().all(|b| b.is_ascii_digit()),
            "`record` is not a record id: {line}"
        );
        assert!(v["module"].is_string(), "no `module`: {line}");
        if record == id {
            assert_eq!(v["module"], P, "{line}");
            about_id.push(v["message"].as_str().unwrap_or_default().to_string());
        }
    }
    for message in messages {
        assert!(
            about_id.iter().any(|m| m.starts_with(message)),
            "no line {message:?} with record = {id}: {about_id:?}\n{log}"
        );
    }
}

fn create_deal(env: &Env, name: &str, file: Option<(&str, &[u8])>) -> String {
    let id = env.sandbox.create_record(
        Product::Bigin,
        P,
        json!({"Deal_Name": name, "Stage": "Proposal"}),
    );
    if let Some((f, bytes)) = file {
        env.sandbox
            .add_file(Product::Bigin, P, &id, f, bytes.to_vec());
    }
    id
}

/// Waits for `path` to hold `content`.
async fn wait_file(d: &Daemon, path: PathBuf, content: &[u8]) {
    assert!(
        wait_until(DEADLINE, || std::fs::read(&path)
            .is_ok_and(|b| b == content))
        .await,
        "{} never held its content:\n{}",
        path.display(),
        d.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_records_get_named_folders_and_their_attachments() {
    let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", false).await;
    let a = create_deal(&env, "Acme rollout", Some(("quote.pdf", b"quote for acme")));
    let b = create_deal(&env, "Beta/Gamma", None);
    let d = env.spawn_daemon();
    wait_file(
        &d,
        env.root
            .join(P)
            .join(format!("{a} Acme rollout"))
            .join("quote.pdf"),
        b"quote for acme",
    )
    .await;
    // A `/` from Zoho never makes a path: the label is made safe like a file name.
    assert!(
        wait_until(DEADLINE, || folders_of(&env.root.join(P), &b).len() == 1).await,
        "{}",
        d.log_text()
    );
    let names = folders_of(&env.root.join(P), &b);
    assert!(
        !names[0].contains('/') && names[0].starts_with(&format!("{b} Beta")),
        "{names:?}"
    );

    // A record created while the daemon runs gets its folder at the next listing.
    let c = create_deal(&env, "Late deal", Some(("late.txt", b"late")));
    wait_file(
        &d,
        env.root
            .join(P)
            .join(format!("{c} Late deal"))
            .join("late.txt"),
        b"late",
    )
    .await;
    assert_eq!(env.calls(Route::Upload), 0, "{}", d.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_renamed_in_zoho_renames_its_folder_and_moves_no_attachment() {
    let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", false).await;
    // JSON logs: the lines about the record are checked at the end.
    env.set_log_format("json");
    let id = create_deal(&env, "Old name", Some(("a.txt", b"aaa")));
    let d = env.spawn_daemon();
    let module = env.root.join(P);
    wait_file(
        &d,
        module.join(format!("{id} Old name")).join("a.txt"),
        b"aaa",
    )
    .await;
    env.wait_flushed(&d, P, &id).await;
    let before = transfers(&env);

    assert!(
        env.sandbox
            .edit_record(Product::Bigin, P, &id, json!({"Deal_Name": "New name"}))
    );
    wait_file(
        &d,
        module.join(format!("{id} New name")).join("a.txt"),
        b"aaa",
    )
    .await;
    // Let the record's attachments be listed again after the rename.
    wait_attachment_lists(&env, &d, 2).await;
    wait_passes(&env, &d, 2).await;
    assert_eq!(folders_of(&module, &id), vec![format!("{id} New name")]);
    assert_eq!(transfers(&env), before, "{}", d.log_text());
    assert_eq!(files(&module.join(format!("{id} New name"))), vec!["a.txt"]);
    assert_eq!(env.remote_names(P, &id), vec!["a.txt"]);
    // `status` names the folder by its new name.
    let out = env.run_args(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let folders: Vec<&str> = v["records"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["folder"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(folders, vec![format!("{id} New name")], "{v}");
    assert_record_fields(
        &d.log_text(),
        &id,
        &[
            "made a folder for a followed record",
            "following record",
            "record renamed in Zoho: folder renamed",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_the_user_renamed_is_left_alone_and_not_doubled() {
    let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", false).await;
    let id = create_deal(&env, "Given", Some(("a.txt", b"aaa")));
    let d = env.spawn_daemon();
    let module = env.root.join(P);
    wait_file(&d, module.join(format!("{id} Given")).join("a.txt"), b"aaa").await;

    std::fs::rename(
        module.join(format!("{id} Given")),
        module.join(format!("{id} Mine")),
    )
    .unwrap();
    wait_passes(&env, &d, 2).await;
    assert!(env.sandbox.edit_record(
        Product::Bigin,
        P,
        &id,
        json!({"Deal_Name": "Renamed in Zoho"})
    ));
    wait_passes(&env, &d, 3).await;
    assert_eq!(
        folders_of(&module, &id),
        vec![format!("{id} Mine")],
        "{}",
        d.log_text()
    );
    assert_eq!(files(&module.join(format!("{id} Mine"))), vec!["a.txt"]);
    assert_eq!(env.remote_names(P, &id), vec!["a.txt"]);
    assert_eq!(env.calls(Route::Delete), 0, "{}", d.log_text());
}

/// The WARN lines of the daemon log that say a deleted record's folder was archived.
fn archive_warnings(d: &Daemon) -> usize {
    d.log_text()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("record deleted in Zoho"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_record_is_archived_with_its_files_and_nothing_is_deleted() {
    let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", false).await;
    let id = create_deal(&env, "Doomed", Some(("a.txt", b"aaa")));
    let keep = create_deal(&env, "Stays", None);
    let d = env.spawn_daemon();
    let module = env.root.join(P);
    wait_file(
        &d,
        module.join(format!("{id} Doomed")).join("a.txt"),
        b"aaa",
    )
    .await;
    // A file the user added that never reached Zoho goes to the archive too.
    drop_file(&module.join(format!("{id} Doomed")), "local.txt", b"mine");
    assert!(
        wait_until(DEADLINE, || env.remote_names(P, &id).len() == 2).await,
        "{}",
        d.log_text()
    );

    assert!(env.sandbox.delete_record(Product::Bigin, P, &id));
    let archived = env
        .root
        .join(".archive")
        .join(P)
        .join(format!("{id} Doomed"));
    wait_file(&d, archived.join("a.txt"), b"aaa").await;
    assert_eq!(std::fs::read(archived.join("local.txt")).unwrap(), b"mine");
    wait_passes(&env, &d, 3).await;
    assert!(folders_of(&module, &id).is_empty(), "{}", d.log_text());
    assert_eq!(folders_of(&module, &keep).len(), 1);
    assert_eq!(env.calls(Route::Delete), 0, "{}", d.log_text());
    assert_eq!(archive_warnings(&d), 1, "{}", d.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_listing_archives_nothing() {
    let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", false).await;
    let id = create_deal(&env, "Kept", Some(("a.txt", b"aaa")));
    let d = env.spawn_daemon();
    let folder = env.root.join(P).join(format!("{id} Kept"));
    wait_file(&d, folder.join("a.txt"), b"aaa").await;

    // The next few listings fail (a 500 page) while the record is gone in Zoho: a pass
    // that took a failed listing for an empty one would confirm and archive it.
    let next = env.calls(Route::Records) + 1;
    for n in next..next + 4 {
        env.sandbox.fail_records_call(n);
    }
    assert!(env.sandbox.delete_record(Product::Bigin, P, &id));
    assert!(
        wait_until(DEADLINE, || env.calls(Route::Records) >= next + 3).await,
        "{}",
        d.log_text()
    );
    assert!(folder.join("a.txt").exists(), "{}", d.log_text());
    assert_eq!(env.calls(Route::Record), 0, "{}", d.log_text());
    assert!(d.log_text().contains("listing the followed module failed"));
    // Once listings work again the deletion is found: the test above could tell.
    let archived = env.root.join(".archive").join(P).join(format!("{id} Kept"));
    wait_file(&d, archived.join("a.txt"), b"aaa").await;
}

/// The where and view tests' turn: the deal (followed with `on_leave = "keep"`) leaves
/// its stage and the buyer contact (`"archive"`) its title; waits until the buyer's
/// folder `Ann Lee` is in the archive and gone from Contacts.
async fn deal_and_buyer_leave_scope(env: &Env, d: &Daemon, deal_in: &str, buyer: &str) {
    let (s, c) = (&env.sandbox, "Contacts");
    assert!(s.edit_record(Product::Bigin, P, deal_in, json!({"Stage": "Closed Lost"})));
    assert!(s.edit_record(Product::Bigin, c, buyer, json!({"Title": "Former buyer"})));
    let archived = env
        .root
        .join(".archive")
        .join(c)
        .join(format!("{buyer} Ann Lee"));
    assert!(
        wait_until(DEADLINE, || archived.is_dir()).await,
        "{}",
        d.log_text()
    );
    assert!(folders_of(&env.root.join(c), buyer).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_filter_with_on_leave_keep_and_archive() {
    let follow = "
[[follow]]
module = \"Pipelines\"
where = { Stage = [\"Proposal\", \"Negotiation/Review\"] }
on_leave = \"keep\"

[[follow]]
module = \"Contacts\"
where = { Title = [\"Buyer\"] }
on_leave = \"archive\"
";
    let env = follow_env(follow, false).await;
    let s = &env.sandbox;
    let deal_in = s.create_record(
        Product::Bigin,
        P,
        json!({"Deal_Name": "In", "Stage": "Proposal"}),
    );
    let deal_out = s.create_record(
        Product::Bigin,
        P,
        json!({"Deal_Name": "Out", "Stage": "Closed Won"}),
    );
    let c = "Contacts";
    let buyer = s.create_record(
        Product::Bigin,
        c,
        json!({"First_Name": "Ann", "Last_Name": "Lee", "Title": "Buyer"}),
    );
    let d = env.spawn_daemon();
    let (deals, contacts) = (env.root.join(P), env.root.join(c));
    assert!(
        wait_until(DEADLINE, || folders_of(&deals, &deal_in)
            == vec![format!("{deal_in} In")]
            && folders_of(&contacts, &buyer)
                == vec![format!("{buyer} Ann Lee")])
        .await,
        "{}",
        d.log_text()
    );
    wait_passes(&env, &d, 2).await;
    assert!(folders_of(&deals, &deal_out).is_empty(), "{}", d.log_text());

    deal_and_buyer_leave_scope(&env, &d, &deal_in, &buyer).await;
    wait_passes(&env, &d, 4).await;
    // keep: the folder stays where it is, and is no longer renamed with the record.
    assert_eq!(
        folders_of(&deals, &deal_in),
        vec![format!("{deal_in} In")],
        "{}",
        d.log_text()
    );
    assert!(!env.root.join(".archive").join(P).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_limits_the_folders_and_on_leave_keeps_or_archives() {
    let env = follow_env("", false).await;
    let (s, c) = (&env.sandbox, "Contacts");
    let deals_view = s.define_view(Product::Bigin, P, &[("Stage", &["Proposal"])]);
    let contacts_view = s.define_view(Product::Bigin, c, &[("Title", &["Buyer"])]);
    append_config(
        &env,
        &format!(
            "
[[follow]]
module = \"Pipelines\"
view = \"{deals_view}\"
on_leave = \"keep\"

[[follow]]
module = \"Contacts\"
view = \"{contacts_view}\"
on_leave = \"archive\"
"
        ),
    );
    let deal_in = create_deal(&env, "In", Some(("a.txt", b"aaa")));
    let deal_out = s.create_record(
        Product::Bigin,
        P,
        json!({"Deal_Name": "Out", "Stage": "Closed Won"}),
    );
    let buyer = s.create_record(
        Product::Bigin,
        c,
        json!({"First_Name": "Ann", "Last_Name": "Lee", "Title": "Buyer"}),
    );
    let seller = s.create_record(
        Product::Bigin,
        c,
        json!({"First_Name": "Bob", "Last_Name": "Ray", "Title": "Seller"}),
    );
    let d = env.spawn_daemon();
    let (deals, contacts) = (env.root.join(P), env.root.join(c));
    let kept = deals.join(format!("{deal_in} In"));
    wait_file(&d, kept.join("a.txt"), b"aaa").await;
    assert!(
        wait_until(DEADLINE, || folders_of(&contacts, &buyer)
            == vec![format!("{buyer} Ann Lee")])
        .await,
        "{}",
        d.log_text()
    );
    wait_passes(&env, &d, 4).await;
    // Only the views' records have folders.
    assert!(folders_of(&deals, &deal_out).is_empty(), "{}", d.log_text());
    assert!(
        folders_of(&contacts, &seller).is_empty(),
        "{}",
        d.log_text()
    );
    assert_eq!(env.calls(Route::Record), 0, "{}", d.log_text());

    // Both leave their view; each is confirmed to exist (once per listing that misses
    // it) before its folder is kept or archived.
    deal_and_buyer_leave_scope(&env, &d, &deal_in, &buyer).await;
    assert!(
        wait_until(DEADLINE, || d.log_text().contains(
            "record left the followed view or filter; its folder stays"
        ))
        .await,
        "{}",
        d.log_text()
    );
    assert!(env.calls(Route::Record) >= 2, "{}", d.log_text());

    // keep: the folder stays followed like a hand-made one (a file added in Zoho still
    // arrives), and back in the view under a new name it is neither renamed nor doubled.
    s.add_file(Product::Bigin, P, &deal_in, "b.txt", b"bbb".to_vec());
    wait_file(&d, kept.join("b.txt"), b"bbb").await;
    assert!(s.edit_record(
        Product::Bigin,
        P,
        &deal_in,
        json!({"Stage": "Proposal", "Deal_Name": "In again"})
    ));
    wait_passes(&env, &d, 6).await;
    assert_eq!(
        folders_of(&deals, &deal_in),
        vec![format!("{deal_in} In")],
        "{}",
        d.log_text()
    );
    assert_eq!(files(&kept), vec!["a.txt", "b.txt"]);
    assert!(!env.root.join(".archive").join(P).exists());
    assert_eq!(transfers(&env)[2], 0, "{}", d.log_text());
}

/// Behaviour 8: a hand-made `Contacts/<id>` folder syncs both ways while Pipelines is
/// followed, and a hand-made bare-id folder in the followed module is the record's
/// folder (not doubled, not renamed: the user named it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_made_folders_keep_syncing_beside_a_followed_module() {
    let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", false).await;
    let contact_id = "2034020000000555001";
    let contact = env.record("Contacts", contact_id);
    let listed = create_deal(&env, "Listed", Some(("deal.txt", b"deal")));
    let by_hand = create_deal(&env, "Named in Zoho", Some(("mine.txt", b"mine")));
    let deals = env.root.join(P);
    std::fs::create_dir_all(deals.join(&by_hand)).unwrap();
    let d = env.spawn_daemon();
    wait_file(
        &d,
        deals.join(format!("{listed} Listed")).join("deal.txt"),
        b"deal",
    )
    .await;
    wait_file(&d, deals.join(&by_hand).join("mine.txt"), b"mine").await;

    drop_file(&contact, "local.txt", b"from disk");
    assert!(
        wait_until(DEADLINE, || env.remote_names("Contacts", contact_id)
            == ["local.txt"])
        .await,
        "{}",
        d.log_text()
    );
    env.sandbox.add_file(
        Product::Bigin,
        "Contacts",
        contact_id,
        "remote.txt",
        b"from zoho".to_vec(),
    );
    wait_file(&d, contact.join("remote.txt"), b"from zoho").await;

    wait_passes(&env, &d, 3).await;
    assert_eq!(folders_of(&deals, &by_hand), vec![by_hand.clone()]);
    assert_eq!(
        folders_of(&env.root.join("Contacts"), contact_id),
        vec![contact_id.to_string()]
    );
    assert!(!env.root.join(".archive").exists(), "{}", d.log_text());
}

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
            bigin_sync::journal::REMOTE_CHANGES_META_KEY,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_command_makes_one_named_folder_with_one_request() {
    let env = Env::new().await;
    let c = "Contacts";
    let id = env.sandbox.create_record(
        Product::Bigin,
        c,
        json!({"First_Name": "Ann", "Last_Name": "Lee"}),
    );
    let out = env.run_args(&["follow", c, &id]).await;
    assert_ok(&out);
    let contacts = env.root.join(c);
    assert_eq!(folders_of(&contacts, &id), vec![format!("{id} Ann Lee")]);
    assert_eq!(env.calls(Route::Record), 1);
    assert_eq!(env.calls(Route::Records), 0);

    // An existing folder for the record, under any label, is the record's folder.
    std::fs::rename(
        contacts.join(format!("{id} Ann Lee")),
        contacts.join(format!("{id} my name")),
    )
    .unwrap();
    let out = env.run_args(&["follow", c, &id]).await;
    assert_ok(&out);
    assert_eq!(folders_of(&contacts, &id), vec![format!("{id} my name")]);

    // A deleted record makes no folder and says so.
    let gone = env
        .sandbox
        .create_record(Product::Bigin, c, json!({"Last_Name": "Gone"}));
    assert!(env.sandbox.delete_record(Product::Bigin, c, &gone));
    let out = env.run_args(&["follow", c, &gone]).await;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("no record"), "{}", stderr(&out));
    assert!(folders_of(&contacts, &gone).is_empty());
}

/// A `[[follow]]` added to the config and a SIGHUP: the module is followed without a
/// restart. Removed again and a SIGHUP: listings stop and the folders stay as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_starts_and_stops_following_a_module() {
    let env = follow_env("", false).await;
    let without = std::fs::read_to_string(&env.config).unwrap();
    let id = create_deal(&env, "Reloaded", Some(("r.txt", b"r")));
    let mut d = env.spawn_daemon();
    d.wait_log("bigin-sync running").await;

    std::fs::write(
        &env.config,
        format!("{without}\n[[follow]]\nmodule = \"Pipelines\"\n"),
    )
    .unwrap();
    d.hangup();
    let folder = env.root.join(P).join(format!("{id} Reloaded"));
    wait_file(&d, folder.join("r.txt"), b"r").await;

    std::fs::write(&env.config, &without).unwrap();
    d.hangup();
    d.wait_log("no module is followed any more").await;
    // Whatever listing was under way when the signal came has ended by now.
    let listings = env.calls(Route::Records);
    let later = create_deal(&env, "Not followed", None);
    // Two more scheduled polls of the followed record: time for several follow passes.
    let polls = env.calls(Route::List) + 2;
    assert!(
        wait_until(DEADLINE, || env.calls(Route::List) >= polls).await,
        "{}",
        d.log_text()
    );
    assert!(
        env.calls(Route::Records) <= listings + 1,
        "{}",
        d.log_text()
    );
    assert!(folders_of(&env.root.join(P), &later).is_empty());
    assert!(folder.join("r.txt").is_file(), "the folder stays");
    let (status, _) = d.terminate().await;
    assert!(status.success());
}

/// `follow` on a followed module makes the folder the daemon would make (the configured
/// label) and records it as the daemon's: the daemon renames it with the record. A folder
/// that already existed stays the user's: no journal row, never renamed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_made_by_the_follow_command_is_renamed_by_the_daemon() {
    let env = follow_env(
        "\n[[follow]]\nmodule = \"Pipelines\"\nlabel = \"{Deal_Name} ({Stage})\"\n",
        false,
    )
    .await;
    let made = create_deal(&env, "Acme", None);
    let theirs = create_deal(&env, "Beta", None);
    let module = env.root.join(P);
    std::fs::create_dir_all(module.join(format!("{theirs} by hand"))).unwrap();
    for id in [&made, &theirs] {
        assert_ok(&env.run_args(&["follow", P, id]).await);
    }
    assert_eq!(
        folders_of(&module, &made),
        vec![format!("{made} Acme (Proposal)")]
    );
    let journal = bigin_sync::journal::Journal::open(&env.state).unwrap();
    let rows = journal.follow_rows(P).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.id.as_str(), r.given.as_deref(), r.pending.as_deref()))
            .collect::<Vec<_>>(),
        [(
            made.as_str(),
            Some(format!("{made} Acme (Proposal)").as_str()),
            None
        )],
        "only the folder the command made is recorded"
    );
    drop(journal);

    let d = env.spawn_daemon();
    wait_passes(&env, &d, 1).await;
    for id in [&made, &theirs] {
        assert!(
            env.sandbox
                .edit_record(Product::Bigin, P, id, json!({"Deal_Name": "Renamed"}))
        );
    }
    assert!(
        wait_until(DEADLINE, || folders_of(&module, &made)
            == vec![format!("{made} Renamed (Proposal)")])
        .await,
        "{:?}\n{}",
        folders_of(&module, &made),
        d.log_text()
    );
    wait_passes(&env, &d, 2).await;
    assert_eq!(
        folders_of(&module, &theirs),
        vec![format!("{theirs} by hand")]
    );
}

/// A folder the daemon made, then the user deleted, leaves its journal row behind. When the
/// record has left the filter since, `follow` makes a folder it calls the user's: the old
/// row must not make it the daemon's again (which would archive it at the next listing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follow_command_forgets_the_daemons_old_row_for_a_folder_it_makes_the_users() {
    let env = follow_env(
        "\n[[follow]]\nmodule = \"Pipelines\"\nwhere = { Stage = [\"Won\"] }\non_leave = \"archive\"\n",
        false,
    )
    .await;
    let id = env.sandbox.create_record(
        Product::Bigin,
        P,
        json!({"Deal_Name": "Acme", "Stage": "Won"}),
    );
    let module = env.root.join(P);
    let mut d = env.spawn_daemon();
    assert!(
        wait_until(DEADLINE, || folders_of(&module, &id)
            == vec![format!("{id} Acme")])
        .await,
        "{}",
        d.log_text()
    );
    d.terminate().await;
    std::fs::remove_dir(module.join(format!("{id} Acme"))).unwrap();
    assert!(
        env.sandbox
            .edit_record(Product::Bigin, P, &id, json!({"Stage": "Lost"}))
    );

    let out = env.run_args(&["follow", P, &id]).await;
    assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("the folder is yours"), "{said}");
    let d = env.spawn_daemon();
    wait_passes(&env, &d, 4).await;
    assert_eq!(
        folders_of(&module, &id),
        vec![format!("{id} Acme")],
        "{}",
        d.log_text()
    );
    assert!(!env.root.join(".archive").exists(), "{}", d.log_text());
}

/// `follow` on a record outside the module's `where` filter or view makes its folder as
/// the user's: with `on_leave = "archive"` the daemon must not archive what was just asked
/// for. A record inside the view gets the daemon's folder, renamed with the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follow_command_outside_the_filter_or_view_makes_a_folder_the_daemon_leaves_alone() {
    let env = follow_env("", false).await;
    let c = "Contacts";
    let view = env
        .sandbox
        .define_view(Product::Bigin, c, &[("Title", &["Buyer"])]);
    append_config(
        &env,
        &format!(
            "\n[[follow]]\nmodule = \"Pipelines\"\nwhere = {{ Stage = [\"Won\"] }}\non_leave = \"archive\"\n\
             \n[[follow]]\nmodule = \"Contacts\"\nview = \"{view}\"\non_leave = \"archive\"\n"
        ),
    );
    let deal = create_deal(&env, "Outside", None);
    let contact = |first: &str, title: &str| {
        env.sandbox.create_record(
            Product::Bigin,
            c,
            json!({"First_Name": first, "Last_Name": "Doe", "Title": title}),
        )
    };
    let (outsider, buyer) = (contact("Olga", "Seller"), contact("Bea", "Buyer"));
    for (module, id) in [(P, &deal), (c, &outsider), (c, &buyer)] {
        let out = env.run_args(&["follow", module, id]).await;
        assert_ok(&out);
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(said.contains("the folder is yours"), id != &buyer, "{said}");
    }
    // A folder the record has already is the answer: no view listing is paid for.
    let listings = env.calls(Route::Records);
    let out = env.run_args(&["follow", c, &outsider]).await;
    assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("already there"), "{said}");
    assert_eq!(env.calls(Route::Records), listings, "{said}");
    let (deals, contacts) = (env.root.join(P), env.root.join(c));
    assert_eq!(folders_of(&deals, &deal), vec![format!("{deal} Outside")]);
    assert_eq!(
        folders_of(&contacts, &outsider),
        vec![format!("{outsider} Olga Doe")]
    );
    assert_eq!(
        folders_of(&contacts, &buyer),
        vec![format!("{buyer} Bea Doe")]
    );
    assert!(
        env.sandbox
            .edit_record(Product::Bigin, c, &buyer, json!({"First_Name": "Beatrice"}))
    );
    let d = env.spawn_daemon();
    // Two full listings of the view missing the outsider would archive a folder of the
    // daemon's: wait for more (a pass lists both modules).
    wait_passes(&env, &d, 10).await;
    let log = d.log_text();
    assert_eq!(
        folders_of(&deals, &deal),
        vec![format!("{deal} Outside")],
        "{log}"
    );
    assert_eq!(
        folders_of(&contacts, &outsider),
        vec![format!("{outsider} Olga Doe")],
        "{log}"
    );
    assert!(
        wait_until(DEADLINE, || folders_of(&contacts, &buyer)
            == vec![format!("{buyer} Beatrice Doe")])
        .await,
        "{}",
        d.log_text()
    );
    assert!(!env.root.join(".archive").exists(), "{}", d.log_text());
}
