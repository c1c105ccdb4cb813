//! One unit test per planner rule (issue 3).

use super::*;
use crate::model::{AttachmentKind, ContentHash, RemoteAttachment};
use std::collections::HashSet;

const STAMP: &str = "2026-11-25 101500";

fn hash(content: &str) -> ContentHash {
    ContentHash::of_bytes(content.as_bytes())
}

fn local(name: &str, content: &str) -> LocalEntry {
    LocalEntry {
        name: name.into(),
        size: content.len() as u64,
        mtime_ns: 1,
        inode: 1,
        ctime_ns: 1,
        hash: hash(content),
        link_url: None,
        stable: true,
    }
}

fn unstable(mut l: LocalEntry) -> LocalEntry {
    l.stable = false;
    l
}

fn url_file(name: &str, url: &str) -> LocalEntry {
    let mut l = local(name, &format!("[InternetShortcut]\nURL={url}\n"));
    l.link_url = Some(url.into());
    l
}

fn remote(id: &str, name: &str, content: &str) -> RemoteAttachment {
    RemoteAttachment {
        id: id.into(),
        file_id: Some(format!("f{id}")),
        file_name: name.into(),
        size: content.len() as u64,
        kind: AttachmentKind::File,
        created_time: Some("2026-01-01T00:00:00+00:00".into()),
        modified_time: None,
    }
}

fn remote_at(id: &str, name: &str, content: &str, created: &str) -> RemoteAttachment {
    let mut r = remote(id, name, content);
    r.created_time = Some(created.into());
    r
}

fn link(id: &str, title: &str, url: &str) -> RemoteAttachment {
    RemoteAttachment {
        id: id.into(),
        file_id: None,
        file_name: title.into(),
        size: 0,
        kind: AttachmentKind::Link { url: url.into() },
        created_time: Some("2026-01-01T00:00:00+00:00".into()),
        modified_time: None,
    }
}

fn synced(name: &str, id: &str, content: &str) -> SyncedEntry {
    SyncedEntry {
        local_name: name.into(),
        attachment_id: id.into(),
        file_id: Some(format!("f{id}")),
        remote_name: name.into(),
        size: content.len() as u64,
        hash: hash(content),
        mtime_ns: 1,
        inode: 1,
        ctime_ns: 1,
        link_url: None,
    }
}

fn run_dir(
    local: &[LocalEntry],
    remote: &[RemoteAttachment],
    synced: &[SyncedEntry],
    direction: Direction,
) -> Vec<Action> {
    plan(&PlanInput {
        local: Some(local),
        remote: Some(remote),
        synced,
        conflict_stamp: STAMP,
        direction,
        occupied: &HashSet::new(),
        ignore: None,
        folding: NameFolding::None,
    })
}

fn run(local: &[LocalEntry], remote: &[RemoteAttachment], synced: &[SyncedEntry]) -> Vec<Action> {
    run_dir(local, remote, synced, Direction::Both)
}

fn upload(name: &str) -> Action {
    Action::Upload {
        local_name: name.into(),
        remote_name: name.into(),
    }
}

fn download(id: &str, name: &str) -> Action {
    Action::Download {
        attachment_id: id.into(),
        local_name: name.into(),
    }
}

// ---- steady state and simple one-sided changes -------------------------------------

#[test]
fn in_sync_plans_nothing() {
    let acts = run(
        &[local("a.pdf", "A")],
        &[remote("1", "a.pdf", "A")],
        &[synced("a.pdf", "1", "A")],
    );
    assert!(acts.is_empty(), "{acts:?}");
}

#[test]
fn new_local_file_is_uploaded() {
    assert_eq!(run(&[local("a.pdf", "A")], &[], &[]), vec![upload("a.pdf")]);
}

#[test]
fn unstable_new_local_file_waits() {
    assert!(run(&[unstable(local("a.pdf", "A"))], &[], &[]).is_empty());
}

#[test]
fn new_remote_attachment_is_downloaded() {
    assert_eq!(
        run(&[], &[remote("1", "a.pdf", "A")], &[]),
        vec![download("1", "a.pdf")]
    );
}

#[test]
fn new_remote_link_is_downloaded_as_url_file() {
    let acts = run(&[], &[link("1", "Site", "https://x.test/")], &[]);
    assert_eq!(acts, vec![download("1", "Site.url")]);
}

#[test]
fn new_local_url_file_is_uploaded_as_link() {
    let acts = run(&[url_file("Site.url", "https://x.test/")], &[], &[]);
    assert_eq!(
        acts,
        vec![Action::UploadLink {
            local_name: "Site.url".into(),
            url: "https://x.test/".into(),
            title: "Site".into()
        }]
    );
}

#[test]
fn url_file_without_parseable_url_is_an_ordinary_file() {
    assert_eq!(
        run(&[local("Site.url", "garbage")], &[], &[]),
        vec![upload("Site.url")]
    );
}

#[test]
fn url_file_matching_unknown_link_is_adopted() {
    let acts = run(
        &[url_file("Site.url", "https://x.test/")],
        &[link("1", "Site", "https://x.test/")],
        &[],
    );
    assert_eq!(
        acts,
        vec![Action::Adopt {
            attachment_id: "1".into(),
            local_name: "Site.url".into()
        }]
    );
}

fn rename_for_conflict(local_name: &str, conflict_name: &str, id: &str) -> Action {
    Action::RenameLocalForConflict {
        local_name: local_name.into(),
        conflict_name: conflict_name.into(),
        attachment_id: id.into(),
    }
}

#[test]
fn url_file_and_link_with_different_urls_keep_both() {
    let acts = run(
        &[url_file("Site.url", "https://a.test/")],
        &[link("1", "Site", "https://b.test/")],
        &[],
    );
    // Zoho's link keeps the name; the local file becomes the conflict copy.
    assert_eq!(
        acts,
        vec![rename_for_conflict(
            "Site.url",
            &format!("Site (conflicted copy {STAMP}).url"),
            "1"
        )]
    );
}

#[test]
fn upload_only_uploads_a_conflicting_link_file_under_the_conflict_title() {
    let acts = run_dir(
        &[url_file("Site.url", "https://a.test/")],
        &[link("1", "Site", "https://b.test/")],
        &[],
        Direction::UploadOnly,
    );
    assert_eq!(
        acts,
        vec![Action::UploadLink {
            local_name: "Site.url".into(),
            url: "https://a.test/".into(),
            title: format!("Site (conflicted copy {STAMP})")
        }]
    );
}

// ---- synced rows -------------------------------------------------------------------

#[test]
fn local_edit_replaces_attachment() {
    let acts = run(
        &[local("a.pdf", "A2")],
        &[remote("1", "a.pdf", "A")],
        &[synced("a.pdf", "1", "A")],
    );
    assert_eq!(
        acts,
        vec![Action::Replace {
            local_name: "a.pdf".into(),
            remote_name: "a.pdf".into(),
            old_attachment_id: "1".into()
        }]
    );
}

#[test]
fn replace_keeps_the_remote_name() {
    let mut s = synced("ab.pdf", "1", "A");
    s.remote_name = "a/b.pdf".into();
    let acts = run(
        &[local("ab.pdf", "A2")],
        &[remote("1", "a/b.pdf", "A")],
        &[s],
    );
    assert!(matches!(&acts[..], [Action::Replace { remote_name, .. }] if remote_name == "a/b.pdf"));
}

#[test]
fn unstable_local_edit_waits() {
    let acts = run(
        &[unstable(local("a.pdf", "A2"))],
        &[remote("1", "a.pdf", "A")],
        &[synced("a.pdf", "1", "A")],
    );
    assert!(acts.is_empty(), "{acts:?}");
}

#[test]
fn metadata_only_change_refreshes() {
    let mut l = local("a.pdf", "A");
    l.mtime_ns = 99;
    l.inode = 7;
    let acts = run(
        &[l],
        &[remote("1", "a.pdf", "A")],
        &[synced("a.pdf", "1", "A")],
    );
    assert_eq!(
        acts,
        vec![Action::Refresh {
            local_name: "a.pdf".into()
        }]
    );
}

#[test]
fn local_delete_deletes_attachment() {
    let acts = run(
        &[],
        &[remote("1", "a.pdf", "A")],
        &[synced("a.pdf", "1", "A")],
    );
    assert_eq!(
        acts,
        vec![Action::DeleteRemote {
            attachment_id: "1".into(),
            local_name: "a.pdf".into()
        }]
    );
}

#[test]
fn remote_delete_trashes_unchanged_local() {
    let acts = run(&[local("a.pdf", "A")], &[], &[synced("a.pdf", "1", "A")]);
    assert_eq!(
        acts,
        vec![Action::TrashLocal {
            local_name: "a.pdf".into(),
            attachment_id: "1".into()
        }]
    );
}

#[test]
fn remote_delete_of_unstable_local_waits() {
    let acts = run(
        &[unstable(local("a.pdf", "A"))],
        &[],
        &[synced("a.pdf", "1", "A")],
    );
    assert!(acts.is_empty(), "{acts:?}");
}

#[test]
fn remote_replacement_with_same_name_replaces_local() {
    let acts = run(
        &[local("a.pdf", "A")],
        &[remote("2", "a.pdf", "B")],
        &[synced("a.pdf", "1", "A")],
    );
    assert_eq!(
        acts,
        vec![Action::ReplaceLocal {
            attachment_id: "2".into(),
            local_name: "a.pdf".into(),
            old_attachment_id: "1".into()
        }]
    );
}

#[test]
fn edit_beats_remote_delete() {
    let acts = run(&[local("a.pdf", "A2")], &[], &[synced("a.pdf", "1", "A")]);
    assert_eq!(acts, vec![upload("a.pdf")]);
}

#[test]
fn edit_of_a_link_file_beats_remote_delete_as_link() {
    let mut s = synced("Site.url", "1", "old");
    s.remote_name = "Site".into();
    s.link_url = Some("https://old.test/".into());
    let acts = run(&[url_file("Site.url", "https://new.test/")], &[], &[s]);
    assert_eq!(
        acts,
        vec![Action::UploadLink {
            local_name: "Site.url".into(),
            url: "https://new.test/".into(),
            title: "Site".into()
        }]
    );
}

#[test]
fn edit_beside_a_same_sized_remote_replacement_is_compared_first() {
    // A replace cut off after placing "BB" but before recording it looks like this.
    let acts = run(
        &[local("a.pdf", "BB")],
        &[remote("2", "a.pdf", "BB")],
        &[synced("a.pdf", "1", "A")],
    );
    assert_eq!(
        acts,
        vec![Action::CompareAndAdopt {
            attachment_id: "2".into(),
            local_name: "a.pdf".into(),
            conflict_name: format!("a (conflicted copy {STAMP}).pdf")
        }]
    );
}

#[test]
fn unstable_local_holds_back_the_remote_replacement_of_a_gone_attachment() {
    let acts = run(
        &[unstable(local("a.pdf", "BB"))],
        &[remote("2", "a.pdf", "BB")],
        &[synced("a.pdf", "1", "A")],
    );
    assert!(acts.is_empty(), "{acts:?}");
}

#[test]
fn changed_on_both_sides_keeps_zohos_version_under_the_plain_name() {
    let acts = run(
        &[local("a.pdf", "A2")],
        &[remote("2", "a.pdf", "B")],
        &[synced("a.pdf", "1", "A")],
    );
    assert_eq!(
        acts,
        vec![rename_for_conflict(
            "a.pdf",
            &format!("a (conflicted copy {STAMP}).pdf"),
            "2"
        )]
    );
}

#[test]
fn gone_on_both_sides_is_forgotten() {
    assert_eq!(
        run(&[], &[], &[synced("a.pdf", "1", "A")]),
        vec![Action::Forget {
            local_name: "a.pdf".into()
        }]
    );
}

// ---- new on both sides -------------------------------------------------------------

#[test]
fn new_on_both_sides_same_size_is_compared() {
    let acts = run(
        &[local("a.pdf", "AAA")],
        &[remote("1", "a.pdf", "BBB")],
        &[],
    );
    assert_eq!(
        acts,
        vec![Action::CompareAndAdopt {
            attachment_id: "1".into(),
            local_name: "a.pdf".into(),
            conflict_name: format!("a (conflicted copy {STAMP}).pdf")
        }]
    );
}

#[test]
fn new_on_both_sides_different_size_keeps_zohos_version_under_the_plain_name() {
    let acts = run(&[local("a.pdf", "A")], &[remote("1", "a.pdf", "BBBB")], &[]);
    assert_eq!(
        acts,
        vec![rename_for_conflict(
            "a.pdf",
            &format!("a (conflicted copy {STAMP}).pdf"),
            "1"
        )]
    );
}

#[test]
fn conflict_name_avoids_every_name_in_use() {
    let taken = format!("a (conflicted copy {STAMP}).pdf");
    let acts = run(
        &[local("a.pdf", "A"), local(&taken, "older copy")],
        &[
            remote("1", "a.pdf", "BBBB"),
            remote("9", &taken, "older copy"),
        ],
        &[synced(&taken, "9", "older copy")],
    );
    assert!(
        acts.contains(&rename_for_conflict(
            "a.pdf",
            &format!("a (conflicted copy {STAMP}) (2).pdf"),
            "1"
        )),
        "{acts:?}"
    );
}

#[test]
fn upload_only_uploads_a_conflicting_file_under_the_conflict_name() {
    // Nothing local may be written: the local version goes up under the conflict name,
    // beside Zoho's, instead of as a second attachment of the plain name.
    for synced_rows in [vec![], vec![synced("a.pdf", "0", "A0")]] {
        let acts = run_dir(
            &[local("a.pdf", "A")],
            &[remote("1", "a.pdf", "BBBB")],
            &synced_rows,
            Direction::UploadOnly,
        );
        assert_eq!(
            acts,
            vec![Action::Upload {
                local_name: "a.pdf".into(),
                remote_name: format!("a (conflicted copy {STAMP}).pdf")
            }]
        );
    }
}

#[test]
fn new_on_both_sides_matches_by_mapped_name() {
    let acts = run(
        &[local("ab.pdf", "AAA")],
        &[remote("1", "a/b.pdf", "BBB")],
        &[],
    );
    assert!(
        matches!(&acts[..], [Action::CompareAndAdopt { local_name, .. }] if local_name == "ab.pdf")
    );
}

#[test]
fn same_sized_twins_are_compared_one_at_a_time() {
    let acts = run(
        &[local("b.txt", "WWW")],
        &[
            remote("1", "b.txt", "XXX"),
            remote("2", "b.txt", "WWW"),
            remote("3", "b.txt", "Z"),
        ],
        &[],
    );
    // 2 waits for the outcome of comparing 1; 3 (other size) is downloaded beside.
    assert_eq!(
        acts,
        vec![
            Action::CompareAndAdopt {
                attachment_id: "1".into(),
                local_name: "b.txt".into(),
                conflict_name: format!("b (conflicted copy {STAMP}).txt")
            },
            download("3", "b (2).txt"),
        ]
    );
}

#[test]
fn exact_file_name_twin_is_preferred_over_mapped_one() {
    let acts = run(
        &[local("b.txt", "WWW")],
        &[
            remote("1", "\u{1}b.txt", "XXX"),
            remote("2", "b.txt", "WWW"),
        ],
        &[],
    );
    assert!(
        matches!(&acts[0], Action::CompareAndAdopt { attachment_id, .. } if attachment_id == "2"),
        "{acts:?}"
    );
}

#[test]
fn unstable_local_holds_back_same_named_remote() {
    let acts = run(
        &[unstable(local("a.pdf", "A"))],
        &[remote("1", "a.pdf", "A")],
        &[],
    );
    assert!(acts.is_empty(), "{acts:?}");
}

#[test]
fn no_base_never_deletes() {
    let locals = [
        local("a.pdf", "A"),
        local("b.pdf", "B"),
        url_file("l.url", "https://l/"),
    ];
    let remotes = [
        remote("1", "a.pdf", "X"),
        remote("2", "c.pdf", "C"),
        link("3", "l", "https://other/"),
    ];
    let acts = run(&locals, &remotes, &[]);
    assert!(!acts.is_empty());
    assert!(
        acts.iter()
            .all(|a| !a.is_delete() && !matches!(a, Action::Forget { .. })),
        "{acts:?}"
    );
}

// ---- names -------------------------------------------------------------------------

#[test]
fn hostile_remote_names_become_safe_distinct_names() {
    let remotes = [
        remote("1", "../../x", "1"),
        remote("2", "..", "2"),
        remote("3", "a/b", "3"),
        remote("4", "ab", "4"),
        remote("5", "\0\u{1}", "5"),
        remote("6", &format!("{}.pdf", "n".repeat(300)), "6"),
    ];
    let acts = run(&[], &remotes, &[]);
    let names: Vec<&str> = acts
        .iter()
        .map(|a| match a {
            Action::Download { local_name, .. } => local_name.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(names.len(), 6);
    let distinct: HashSet<&str> = names.iter().copied().collect();
    assert_eq!(distinct.len(), 6, "{names:?}");
    for n in names {
        assert!(!n.contains('/') && n != "." && n != ".." && n.len() <= 255 && !n.starts_with('.'));
    }
}

#[test]
fn duplicate_file_names_get_stable_distinct_names() {
    let remotes = vec![
        remote_at("30", "a.pdf", "3", "2026-01-03T00:00:00+00:00"),
        remote_at("10", "a.pdf", "1", "2026-01-01T00:00:00+00:00"),
        remote_at("20", "a.pdf", "2", "2026-01-02T00:00:00+00:00"),
    ];
    // Output is sorted by name (' ' sorts before '.'); the naming follows creation order.
    let expected = vec![
        download("20", "a (2).pdf"),
        download("30", "a (3).pdf"),
        download("10", "a.pdf"),
    ];
    assert_eq!(run(&[], &remotes, &[]), expected);
    let mut reversed = remotes.clone();
    reversed.reverse();
    assert_eq!(run(&[], &reversed, &[]), expected);
}

#[test]
fn download_name_avoids_local_and_journal_names() {
    let acts = run(
        &[local("a.pdf", "A")],
        &[
            remote("1", "a.pdf", "A"),
            remote("2", "a.pdf", "B"),
            remote("3", "b.pdf", "B"),
        ],
        &[synced("a.pdf", "1", "A"), synced("b.pdf", "9", "old")],
    );
    // b.pdf's row: local missing, remote missing → forget; its name stays reserved.
    assert!(acts.contains(&download("2", "a (2).pdf")), "{acts:?}");
    assert!(acts.contains(&download("3", "b (2).pdf")), "{acts:?}");
}

#[test]
fn journal_keeps_the_name_once_downloaded() {
    // "a (2).pdf" is synced with id 20; a later pass must leave it alone.
    let mut s = synced("a (2).pdf", "20", "2");
    s.remote_name = "a.pdf".into();
    let acts = run(
        &[local("a.pdf", "1"), local("a (2).pdf", "2")],
        &[remote("10", "a.pdf", "1"), remote("20", "a.pdf", "2")],
        &[synced("a.pdf", "10", "1"), s],
    );
    assert!(acts.is_empty(), "{acts:?}");
}

// ---- unknown sides -----------------------------------------------------------------

#[test]
fn unknown_local_plans_nothing() {
    let remotes = [remote("2", "new.pdf", "N")];
    let synced_rows = [synced("a.pdf", "1", "A")];
    let acts = plan(&PlanInput {
        local: None,
        remote: Some(&remotes),
        synced: &synced_rows,
        conflict_stamp: STAMP,
        direction: Direction::Both,
        occupied: &HashSet::new(),
        ignore: None,
        folding: NameFolding::None,
    });
    assert!(acts.is_empty(), "{acts:?}");
}

#[test]
fn unknown_remote_never_deletes_trashes_or_downloads() {
    let mut touched = local("b.pdf", "B");
    touched.mtime_ns = 5;
    let locals = [local("new.pdf", "N"), touched, local("c.pdf", "C2")];
    let synced_rows = [
        synced("a.pdf", "1", "A"),
        synced("b.pdf", "2", "B"),
        synced("c.pdf", "3", "C"),
    ];
    let acts = plan(&PlanInput {
        local: Some(&locals),
        remote: None,
        synced: &synced_rows,
        conflict_stamp: STAMP,
        direction: Direction::Both,
        occupied: &HashSet::new(),
        ignore: None,
        folding: NameFolding::None,
    });
    assert_eq!(
        acts,
        vec![Action::Refresh {
            local_name: "b.pdf".into()
        }]
    );
}

// ---- direction ---------------------------------------------------------------------

fn mixed_case() -> (Vec<LocalEntry>, Vec<RemoteAttachment>, Vec<SyncedEntry>) {
    (
        vec![
            local("up.pdf", "U"),
            local("edit.pdf", "E2"),
            local("trash.pdf", "T"),
        ],
        vec![
            remote("1", "down.pdf", "D"),
            remote("2", "edit.pdf", "E"),
            remote("3", "del.pdf", "X"),
        ],
        vec![
            synced("edit.pdf", "2", "E"),
            synced("del.pdf", "3", "X"),
            synced("trash.pdf", "4", "T"),
        ],
    )
}

#[test]
fn upload_only_drops_local_writes() {
    let (l, r, s) = mixed_case();
    let acts = run_dir(&l, &r, &s, Direction::UploadOnly);
    assert!(
        acts.iter().all(|a| matches!(
            a,
            Action::Upload { .. } | Action::Replace { .. } | Action::DeleteRemote { .. }
        )),
        "{acts:?}"
    );
    assert_eq!(acts.len(), 3, "{acts:?}");
}

#[test]
fn download_only_drops_remote_writes() {
    let (l, r, s) = mixed_case();
    let acts = run_dir(&l, &r, &s, Direction::DownloadOnly);
    assert!(
        acts.iter()
            .all(|a| matches!(a, Action::Download { .. } | Action::TrashLocal { .. })),
        "{acts:?}"
    );
    assert_eq!(acts.len(), 2, "{acts:?}");
}

// ---- determinism -------------------------------------------------------------------

#[test]
fn output_order_does_not_depend_on_input_order() {
    let (mut l, mut r, mut s) = mixed_case();
    let first = run(&l, &r, &s);
    l.reverse();
    r.reverse();
    s.reverse();
    assert_eq!(run(&l, &r, &s), first);
    // Additions before deletes so a pass never drops below one copy.
    let first_delete = first
        .iter()
        .position(Action::is_delete)
        .unwrap_or(first.len());
    assert!(
        first[first_delete..]
            .iter()
            .all(|a| a.is_delete() || matches!(a, Action::Forget { .. }))
    );
}

#[test]
fn conflict_copies_sync_like_any_file() {
    let name = format!("a (conflicted copy {STAMP}).pdf");
    assert!(is_conflict_copy(&name));
    assert_eq!(run(&[local(&name, "B")], &[], &[]), vec![upload(&name)]);
}

// ---- names the folder cannot hold (issue 11) ----------------------------------------

fn run_names(
    local: &[LocalEntry],
    remote: &[RemoteAttachment],
    synced: &[SyncedEntry],
    occupied: &[&str],
    folding: NameFolding,
) -> Plan {
    let occupied: HashSet<String> = occupied.iter().map(|s| s.to_string()).collect();
    let rules = crate::scan::IgnoreRules::new(&[]).unwrap();
    plan_record(&PlanInput {
        local: Some(local),
        remote: Some(remote),
        synced,
        conflict_stamp: STAMP,
        direction: Direction::Both,
        occupied: &occupied,
        ignore: Some(&rules),
        folding,
    })
}

#[test]
fn a_name_held_by_a_skipped_entry_is_never_a_download_target() {
    let p = run_names(
        &[],
        &[remote("1", "docs", "x"), remote("2", "a.pdf", "y")],
        &[],
        &["docs", "a.pdf"],
        NameFolding::None,
    );
    assert_eq!(
        p.actions,
        vec![download("2", "a (2).pdf"), download("1", "docs (2)")]
    );
    assert!(p.skipped.is_empty());
}

#[test]
fn a_synced_name_now_skipped_is_neither_deleted_nor_forgotten() {
    let rows = [synced("a.pdf", "1", "A"), synced("b.pdf", "2", "B")];
    let p = run_names(
        &[],
        &[remote("1", "a.pdf", "A")],
        &rows,
        &["a.pdf", "b.pdf"],
        NameFolding::None,
    );
    assert_eq!(p.actions, vec![]);
}

#[test]
fn ignored_names_and_unsafe_links_are_listed_not_downloaded() {
    let p = run_names(
        &[],
        &[
            remote("1", "report.tmp", "x"),
            remote("2", ".q.pdf.bigin-sync.part", "y"),
            link("3", "evil", "javascript:alert(1)"),
            link("4", "crlf", "https://x.test/\r\nIconFile=\\\\h\\s"),
            link("5", "ok", "https://x.test/"),
        ],
        &[],
        &[],
        NameFolding::None,
    );
    assert_eq!(p.actions, vec![download("5", "ok.url")]);
    let reasons: Vec<(&str, String)> = p
        .skipped
        .iter()
        .map(|s| (s.attachment_id.as_str(), s.reason.to_string()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons[0]
            .1
            .contains("\"report.tmp\" matches the ignore rules")
    );
    assert!(reasons[1].1.contains("\"_.q.pdf.bigin-sync.part\""));
    assert!(reasons[2].1.contains("not an http"));
    assert!(reasons[3].1.contains("control"));
}

#[test]
fn on_a_folding_file_system_other_spellings_clash_and_twins_match() {
    // Two remote spellings of one name: the second gets a number, not the same file.
    let p = run_names(
        &[],
        &[remote("1", "A.pdf", "x"), remote("2", "a.pdf", "y")],
        &[],
        &[],
        NameFolding::Case,
    );
    assert_eq!(
        p.actions,
        vec![download("1", "A.pdf"), download("2", "a (2).pdf")]
    );
    // NFC on disk, NFD in Zoho, same size: compared as one file.
    let p = run_names(
        &[local("\u{e9}.pdf", "same")],
        &[remote("1", "e\u{301}.pdf", "same")],
        &[],
        &[],
        NameFolding::CaseAndUnicode,
    );
    assert!(
        matches!(&p.actions[..], [Action::CompareAndAdopt { local_name, .. }] if local_name == "\u{e9}.pdf"),
        "{:?}",
        p.actions
    );
}

#[test]
fn on_a_folding_file_system_a_respelled_synced_file_is_forgotten_not_deleted() {
    // "A.PDF" was synced; the folder now holds "a.pdf" (renamed, or deleted and created
    // again) while a new "a.pdf" appeared in Zoho. The file system still finds "A.PDF",
    // so a delete of attachment 1 would be refused on every pass: the row goes, and the
    // file and the new attachment wait for the next pass to meet 1 as a same-named one.
    let rows = [synced("A.PDF", "1", "X")];
    let remotes = [remote("1", "A.PDF", "X"), remote("2", "a.pdf", "Z")];
    let p = run_names(
        &[local("a.pdf", "Y")],
        &remotes,
        &rows,
        &[],
        NameFolding::Case,
    );
    assert_eq!(
        p.actions,
        vec![Action::Forget {
            local_name: "A.PDF".into()
        }]
    );
    // A skipped entry under another spelling holds the name too: the row stays.
    let p = run_names(&[], &remotes[..1], &rows, &["a.pdf"], NameFolding::Case);
    assert_eq!(p.actions, vec![]);
}
