//! End-to-end: the real binary's `once` against the sandbox over HTTP, with real folders.

use crate::common::*;
use bigin_sync::sandbox::{Faults, Route};

const M: &str = "Contacts";
const R: &str = "2034020000000489124";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_download_and_both_deletes() {
    let env = Env::new().await;
    let dir = env.record(M, R);

    // Upload.
    drop_file(&dir, "report.pdf", b"local report");
    assert_ok(&env.once().await);
    let remote = env.remote(M, R);
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].file_name, "report.pdf");
    assert_eq!(
        env.sandbox.content(&remote[0].id).unwrap().as_ref(),
        b"local report"
    );

    // Download.
    env.sandbox.add_file(
        env.product,
        M,
        R,
        "from-bigin.txt",
        b"remote bytes".to_vec(),
    );
    assert_ok(&env.once().await);
    assert_eq!(
        std::fs::read(dir.join("from-bigin.txt")).unwrap(),
        b"remote bytes"
    );

    // Local delete → attachment deleted.
    std::fs::remove_file(dir.join("report.pdf")).unwrap();
    assert_ok(&env.once().await);
    assert_eq!(env.remote_names(M, R), vec!["from-bigin.txt"]);

    // Remote delete → local file moved to trash, not unlinked.
    let id = env.remote(M, R)[0].id.clone();
    assert!(env.sandbox.delete_attachment(env.product, M, R, &id));
    assert_ok(&env.once().await);
    assert!(!dir.join("from-bigin.txt").exists());
    let trash = env.state.join("trash").join(M).join(R);
    let trashed = files(&trash);
    assert_eq!(trashed.len(), 1, "trash: {trashed:?}");
    assert!(trashed[0].ends_with("from-bigin.txt"));
    assert_eq!(
        std::fs::read(trash.join(&trashed[0])).unwrap(),
        b"remote bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_does_no_repeated_transfer() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"aaa");
    env.sandbox
        .add_file(env.product, M, R, "b.txt", b"bbb".to_vec());
    assert_ok(&env.once().await);
    let (up, down) = (env.calls(Route::Upload), env.calls(Route::Download));
    assert_eq!((up, down), (1, 1));
    for _ in 0..2 {
        assert_ok(&env.once().await);
    }
    assert_eq!(env.calls(Route::Upload), up);
    assert_eq!(env.calls(Route::Download), down);
    assert_eq!(env.calls(Route::Delete), 0);
    assert_eq!(files(&dir), vec!["a.txt", "b.txt"]);
    // The access token is cached in the journal: three runs, one grant.
    assert_eq!(env.calls(Route::Token), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_modification_replaces_the_attachment() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "quote.pdf", b"version 1");
    assert_ok(&env.once().await);
    let old_id = env.remote(M, R)[0].id.clone();
    drop_file(&dir, "quote.pdf", b"version 2, longer");
    assert_ok(&env.once().await);
    let remote = env.remote(M, R);
    assert_eq!(remote.len(), 1, "exactly one copy after the replace");
    assert_ne!(remote[0].id, old_id);
    assert_eq!(
        env.sandbox.content(&remote[0].id).unwrap().as_ref(),
        b"version 2, longer"
    );
}

/// When Zoho refuses to delete the version a local edit replaced, the new version still
/// stands, the old one is never downloaded as if it were a new file, and later passes
/// retry its delete until it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_version_zoho_will_not_delete_yet_is_retried_and_never_downloaded() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "quote.pdf", b"version 1");
    assert_ok(&env.once().await);
    let old_id = env.remote(M, R)[0].id.clone();

    env.sandbox.set_faults(Faults {
        error_500_rate: 1.0,
        routes: vec![Route::Delete],
        ..Faults::default()
    });
    drop_file(&dir, "quote.pdf", b"version 2, longer");
    let out = env.once().await;
    assert!(
        stderr(&out).contains("could not delete the replaced version yet"),
        "{}",
        stderr(&out)
    );
    let remote = env.remote(M, R);
    assert_eq!(remote.len(), 2, "the old version is still there");
    let new_id = remote
        .iter()
        .find(|a| a.id != old_id)
        .map(|a| a.id.clone())
        .unwrap();
    assert_eq!(
        env.sandbox.content(&new_id).unwrap().as_ref(),
        b"version 2, longer"
    );
    // Another pass while deletes still fail: the old version stays out of the folder.
    let _ = env.once().await;
    assert_eq!(files(&dir), vec!["quote.pdf"]);
    assert_eq!(
        std::fs::read(dir.join("quote.pdf")).unwrap(),
        b"version 2, longer"
    );
    assert_eq!(env.calls(Route::Download), 0, "never fetched");
    assert!(env.calls(Route::Delete) >= 2, "the delete was retried");

    // Zoho deletes again: the next pass removes the old version, and only it.
    env.sandbox.set_faults(Faults::default());
    assert_ok(&env.once().await);
    let remote = env.remote(M, R);
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].id, new_id);
    assert_eq!(files(&dir), vec!["quote.pdf"]);
}

/// A replace of a local file (Zoho deleted the attachment and a new one took its name)
/// that was cut off after the download was placed but before it was recorded leaves the
/// folder holding the new version under a row naming the old. The next run must see the
/// two are one: no upload, no conflict copy. A real edit there still keeps both: Zoho's
/// version under the plain name, the edit as the conflict copy, on both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_cut_off_before_it_was_recorded_is_adopted_not_uploaded_again() {
    let env = Env::new().await;
    let placed = env.record(M, R);
    let edited = env.record(M, "2034020000000489125");
    for dir in [&placed, &edited] {
        drop_file(dir, "f.bin", b"version one");
    }
    assert_ok(&env.once().await);
    let uploads = env.calls(Route::Upload);
    for (dir, record, local) in [
        (&placed, R, &b"version two"[..]),
        (&edited, "2034020000000489125", &b"version 2!!"[..]),
    ] {
        let old = env.remote(M, record)[0].id.clone();
        assert!(env.sandbox.delete_attachment(env.product, M, record, &old));
        env.sandbox
            .add_file(env.product, M, record, "f.bin", b"version two".to_vec());
        drop_file(dir, "f.bin", local);
    }
    assert_ok(&env.once().await);

    assert_eq!(files(&placed), vec!["f.bin"]);
    assert_eq!(env.remote_names(M, R), vec!["f.bin"]);
    assert_eq!(
        env.calls(Route::Upload),
        uploads + 1,
        "only the real edit is uploaded"
    );

    let local = files(&edited);
    assert_eq!(local.len(), 2, "{local:?}");
    let conflict = conflict_copy(&local);
    assert_eq!(
        std::fs::read(edited.join(conflict)).unwrap(),
        b"version 2!!"
    );
    assert_eq!(std::fs::read(edited.join("f.bin")).unwrap(), b"version two");
    assert_eq!(
        remote_by_name(&env, "2034020000000489125"),
        vec![
            (conflict.clone(), b"version 2!!".to_vec()),
            ("f.bin".to_string(), b"version two".to_vec()),
        ],
        "both sides list the same names"
    );

    // Converged: another run transfers nothing.
    assert_converged(&env).await;
}

/// Zoho pages attachment lists by number: a delete on page 1 while page 2 is asked for
/// hides the attachment that moves across the boundary. Its file must not be trashed for
/// that; the attachment really deleted is trashed on the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_while_the_list_is_paged_trashes_only_what_was_deleted() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    for i in 0..205 {
        env.sandbox.add_file(
            env.product,
            M,
            R,
            &format!("f{i:03}.txt"),
            format!("n{i}").into_bytes(),
        );
    }
    assert_ok(&env.once().await);
    assert_eq!(files(&dir).len(), 205);
    let newest_first = env.remote(M, R);
    let deleted = newest_first[0].clone();
    let hidden = newest_first[200].clone();
    env.sandbox
        .delete_after_list_page(env.product, M, R, 1, &deleted.id);

    let lists = env.calls(Route::List);
    assert_ok(&env.once().await);
    assert!(
        dir.join(&hidden.file_name).exists(),
        "{} was trashed though only its place in the list changed",
        hidden.file_name
    );
    assert_eq!(env.calls(Route::List) - lists, 4, "two pages, read twice");
    let trash = env.state.join("trash").join(M).join(R);
    assert!(files(&trash).is_empty(), "trash: {:?}", files(&trash));

    assert_ok(&env.once().await);
    assert!(dir.join(&hidden.file_name).exists());
    assert!(!dir.join(&deleted.file_name).exists());
    let trashed = files(&trash);
    assert_eq!(trashed.len(), 1, "trash: {trashed:?}");
    assert!(trashed[0].ends_with(&deleted.file_name), "{trashed:?}");
    assert_eq!(files(&dir).len(), 204);
}

/// The one conflict copy among `names` (panics when there is none or several).
fn conflict_copy(names: &[String]) -> &String {
    let copies: Vec<&String> = names
        .iter()
        .filter(|n| n.contains(" (conflicted copy "))
        .collect();
    assert_eq!(copies.len(), 1, "one conflict copy expected: {names:?}");
    copies[0]
}

/// A record's attachments as (File_Name, content), sorted.
fn remote_by_name(env: &Env, record: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = env
        .remote(M, record)
        .iter()
        .map(|a| {
            (
                a.file_name.clone(),
                env.sandbox.content(&a.id).unwrap().to_vec(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A record folder's files as (name, content), sorted.
fn local_by_name(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    files(dir)
        .into_iter()
        .map(|n| {
            let content = std::fs::read(dir.join(&n)).unwrap();
            (n, content)
        })
        .collect()
}

/// The record folder's files as (name, content), asserted to be what Zoho holds for `R`.
fn local_as_on_zoho(env: &Env, dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let local = local_by_name(dir);
    assert_eq!(
        local,
        remote_by_name(env, R),
        "both sides list the same names"
    );
    local
}

/// The names of (name, content) pairs.
fn names_of(files: &[(String, Vec<u8>)]) -> Vec<String> {
    files.iter().map(|(n, _)| n.clone()).collect()
}

/// Another `once` transfers nothing either way: the runs before it converged.
async fn assert_converged(env: &Env) {
    let (up, down) = (env.calls(Route::Upload), env.calls(Route::Download));
    assert_ok(&env.once().await);
    assert_eq!(
        (env.calls(Route::Upload), env.calls(Route::Download)),
        (up, down)
    );
}

/// New on both sides (issue 11 item 12): equal content is adopted as one; different
/// content keeps the version already in Zoho under the plain name on both sides, while
/// the local version becomes the conflict copy locally and is uploaded under that name.
/// Both sides then list the same names, and Zoho never holds two attachments of one
/// name. Different sizes and equal sizes (compared first) take different paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_on_both_sides_keeps_zohos_version_under_the_plain_name_or_adopts_equal_content() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    // Same name, different sizes.
    drop_file(&dir, "quote.pdf", b"local version");
    let quote_id = env
        .sandbox
        .add_file(env.product, M, R, "quote.pdf", b"remote version".to_vec());
    // Same name and size, different content.
    drop_file(&dir, "memo.txt", b"local!");
    let memo_id = env
        .sandbox
        .add_file(env.product, M, R, "memo.txt", b"remote".to_vec());
    // Same name, same content: adopted as one, no upload.
    drop_file(&dir, "same.txt", b"identical");
    env.sandbox
        .add_file(env.product, M, R, "same.txt", b"identical".to_vec());
    assert_ok(&env.once().await);

    let local = local_as_on_zoho(&env, &dir);
    let names = names_of(&local);
    assert_eq!(names.len(), 5, "{names:?}");
    for (plain, ours, theirs, id) in [
        (
            "quote.pdf",
            &b"local version"[..],
            &b"remote version"[..],
            &quote_id,
        ),
        ("memo.txt", &b"local!"[..], &b"remote"[..], &memo_id),
    ] {
        let (stem, ext) = plain.split_once('.').unwrap();
        let copy = names
            .iter()
            .find(|n| n.starts_with(&format!("{stem} (conflicted copy ")))
            .unwrap_or_else(|| panic!("no conflict copy of {plain}: {names:?}"));
        assert!(copy.ends_with(&format!(").{ext}")), "{copy}");
        assert_eq!(std::fs::read(dir.join(plain)).unwrap(), theirs);
        assert_eq!(std::fs::read(dir.join(copy)).unwrap(), ours);
        // Zoho's attachment keeps its id: it was neither replaced nor uploaded again.
        let att = env.remote(M, R);
        let plain_att = att.iter().find(|a| a.file_name == plain).unwrap();
        assert_eq!(&plain_att.id, id);
    }
    assert_eq!(std::fs::read(dir.join("same.txt")).unwrap(), b"identical");
    // Converged: another pass transfers nothing.
    assert_converged(&env).await;
}

/// Changed on both sides (a synced file edited locally while its attachment was
/// replaced in Zoho): Zoho's version keeps the name, the local edit becomes the conflict
/// copy on both sides. An app that still has the document open and saves it by name
/// writes to the plain name: an ordinary edit of Zoho's version, which replaces it (one
/// attachment of that name). Writes through a handle opened before the rename follow the
/// file into the conflict copy, which is then an edit of that copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_on_both_sides_keeps_zohos_version_and_a_later_save_edits_it() {
    use std::io::Write;
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "doc.txt", b"version one");
    assert_ok(&env.once().await);
    let old = env.remote(M, R)[0].id.clone();
    assert!(env.sandbox.delete_attachment(env.product, M, R, &old));
    let theirs = env
        .sandbox
        .add_file(env.product, M, R, "doc.txt", b"zoho's version two".to_vec());
    // The app edits the document in place and keeps it open.
    let mut held = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("doc.txt"))
        .unwrap();
    held.write_all(b", edited locally").unwrap();
    assert_ok(&env.once().await);

    let local = local_as_on_zoho(&env, &dir);
    let names = names_of(&local);
    let copy = conflict_copy(&names).clone();
    assert_eq!(
        std::fs::read(dir.join(&copy)).unwrap(),
        b"version one, edited locally"
    );
    assert_eq!(
        std::fs::read(dir.join("doc.txt")).unwrap(),
        b"zoho's version two"
    );
    assert_eq!(
        env.remote(M, R).iter().filter(|a| a.id == theirs).count(),
        1
    );

    // The app writes on: through its handle (the renamed file), then saves by name.
    held.write_all(b", more").unwrap();
    drop(held);
    drop_file(&dir, "doc.txt", b"saved by the app over zoho's version");
    assert_ok(&env.once().await);
    let local = local_as_on_zoho(&env, &dir);
    assert_eq!(
        local,
        vec![
            (copy.clone(), b"version one, edited locally, more".to_vec()),
            (
                "doc.txt".to_string(),
                b"saved by the app over zoho's version".to_vec()
            ),
        ]
    );
    assert!(
        env.remote(M, R).iter().all(|a| a.id != theirs),
        "the save replaced Zoho's version"
    );
}

/// A crash (kill -9) between the conflict rename and the download of Zoho's version:
/// the next run sees a new local file to upload and an attachment with no local file to
/// download, and converges with nothing lost and no second attachment of the plain name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_conflict_rename_and_the_download_converges() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "doc.txt", b"local version");
    let theirs = env.sandbox.add_file(
        env.product,
        M,
        R,
        "doc.txt",
        b"zoho's version, longer".to_vec(),
    );
    // Downloads fail: the run renames, then cannot fetch Zoho's version.
    env.sandbox.set_faults(Faults {
        error_500_rate: 1.0,
        routes: vec![Route::Download],
        ..Faults::default()
    });
    let mut run = env
        .cmd()
        .arg("once")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let renamed = wait_until(DEADLINE, || {
        let names = files(&dir);
        !names.contains(&"doc.txt".to_string())
            && names.iter().any(|n| n.contains(" (conflicted copy "))
    })
    .await;
    let _ = run.kill();
    let _ = run.wait();
    assert!(
        renamed,
        "the local version was never renamed: {:?}",
        files(&dir)
    );

    env.sandbox.set_faults(Faults::default());
    assert_ok(&env.once().await);
    let local = local_as_on_zoho(&env, &dir);
    let names = names_of(&local);
    let copy = conflict_copy(&names);
    assert_eq!(std::fs::read(dir.join(copy)).unwrap(), b"local version");
    assert_eq!(
        std::fs::read(dir.join("doc.txt")).unwrap(),
        b"zoho's version, longer"
    );
    assert_eq!(
        env.remote(M, R).iter().filter(|a| a.id == theirs).count(),
        1
    );
    assert_eq!(env.remote(M, R).len(), 2);
}

/// Back-dates a file so the scan counts it as settled at once.
fn settle_now(path: &std::path::Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(10))
        .unwrap();
}

/// The conflict rename is guarded: a file that changed after the scan (an app still
/// writing it) is not renamed; the action is given up for the pass, and the next pass
/// renames the file as it is then. Driven through the library's engine, which is the only
/// way to change the file between the scan and the action deterministically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_rename_leaves_a_file_changed_since_the_scan_for_the_next_pass() {
    use bigin_sync::daemon::{follow, setup};
    let env = Env::new().await;
    let dir = env.record(M, R);
    let doc = dir.join("doc.txt");
    std::fs::write(&doc, b"local version").unwrap();
    settle_now(&doc);
    env.sandbox.add_file(
        env.product,
        M,
        R,
        "doc.txt",
        b"zoho's version, longer".to_vec(),
    );
    let cfg = bigin_sync::config::load(&env.config).unwrap();
    let journal = setup::open_journal(&cfg).unwrap();
    let app = setup::build(
        &cfg,
        journal.clone(),
        bigin_sync::executor::RetryPolicy::once(),
    )
    .unwrap();
    let folders = follow::refresh_followed(&app.engine, &journal)
        .await
        .unwrap();
    assert_eq!(folders.len(), 1);
    let prepared = app.engine.prepare(&folders[0], true).await.unwrap();
    assert_eq!(prepared.actions.len(), 1, "{:?}", prepared.actions);

    // Written again between the scan and the action.
    std::fs::write(&doc, b"local version, written on").unwrap();
    settle_now(&doc);
    let report = app.engine.execute(vec![prepared], false).await;
    assert_eq!((report.done, report.skipped), (0, 1), "{report:?}");
    assert_eq!(files(&dir), vec!["doc.txt"]);
    assert_eq!(std::fs::read(&doc).unwrap(), b"local version, written on");

    // The next passes act on the file as it is now.
    for _ in 0..5 {
        let r = app.engine.pass(&folders, false, false).await;
        if r.done == 0 && r.skipped == 0 {
            break;
        }
    }
    let local = local_as_on_zoho(&env, &dir);
    let names = names_of(&local);
    assert_eq!(
        std::fs::read(dir.join(conflict_copy(&names))).unwrap(),
        b"local version, written on"
    );
    assert_eq!(std::fs::read(&doc).unwrap(), b"zoho's version, longer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_remote_names_get_distinct_stable_local_names() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    env.sandbox
        .add_file(env.product, M, R, "a.pdf", b"first".to_vec());
    env.sandbox
        .add_file(env.product, M, R, "a.pdf", b"second".to_vec());
    env.sandbox
        .add_file(env.product, M, R, "../../etc/evil", b"nope".to_vec());
    assert_ok(&env.once().await);
    let local = files(&dir);
    assert!(
        local.contains(&"a.pdf".to_string()) && local.contains(&"a (2).pdf".to_string()),
        "{local:?}"
    );
    assert_eq!(local.len(), 3, "{local:?}");
    assert!(!env.tmp.path().join("etc").exists());
    let mut contents: Vec<Vec<u8>> = ["a.pdf", "a (2).pdf"]
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    contents.sort();
    assert_eq!(contents, vec![b"first".to_vec(), b"second".to_vec()]);
    let downloads = env.calls(Route::Download);
    assert_ok(&env.once().await);
    assert_eq!(files(&dir), local, "names are stable across runs");
    assert_eq!(env.calls(Route::Download), downloads);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_sync_as_url_files() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    env.sandbox.add_link(
        env.product,
        M,
        R,
        "Bigin home",
        "https://www.zoho.com/bigin/",
    );
    drop_file(
        &dir,
        "Docs.url",
        b"[InternetShortcut]\r\nURL=https://example.com/docs\r\n",
    );
    assert_ok(&env.once().await);
    let text = std::fs::read_to_string(dir.join("Bigin home.url")).unwrap();
    assert!(text.contains("URL=https://www.zoho.com/bigin/"), "{text}");
    let remote = env.remote(M, R);
    let docs = remote
        .iter()
        .find(|a| a.link_url.as_deref() == Some("https://example.com/docs"));
    assert!(docs.is_some(), "{remote:?}");
    assert_eq!(remote.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_record_folder_is_unfollowed_and_bigin_untouched() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "keep.txt", b"keep me");
    assert_ok(&env.once().await);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_ok(&env.once().await);
    assert_eq!(env.remote_names(M, R), vec!["keep.txt"]);
    assert_eq!(env.calls(Route::Delete), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_guard_holds_back_mass_deletes() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    for i in 0..12 {
        drop_file(&dir, &format!("f{i}.txt"), format!("file {i}").as_bytes());
    }
    assert_ok(&env.once().await);
    assert_eq!(env.remote(M, R).len(), 12);
    for i in 0..8 {
        std::fs::remove_file(dir.join(format!("f{i}.txt"))).unwrap();
    }
    drop_file(&dir, "new.txt", b"still synced");
    let out = env.once().await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--confirm-deletes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.remote(M, R).len(),
        13,
        "nothing deleted, the new file uploaded"
    );
    assert_ok(&env.run_args(&["once", "--confirm-deletes"]).await);
    assert_eq!(env.remote(M, R).len(), 5);
}

/// A link upload whose reply is lost (Zoho stored it, then the connection dropped) is
/// found and adopted before any retry: one link, not one per attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_upload_with_a_lost_reply_is_adopted_not_sent_again() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(
        &dir,
        "Docs.url",
        b"[InternetShortcut]\r\nURL=https://example.com/docs\r\n",
    );
    env.sandbox.set_faults(Faults {
        drop_after_upload_rate: 1.0,
        routes: vec![Route::Upload],
        ..Faults::default()
    });
    assert_ok(&env.once().await);
    let links: Vec<_> = env
        .remote(M, R)
        .into_iter()
        .filter(|a| a.link_url.as_deref() == Some("https://example.com/docs"))
        .collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(env.calls(Route::Upload), 1, "sent once");

    env.sandbox.set_faults(Faults::default());
    assert_ok(&env.once().await);
    assert_eq!(env.calls(Route::Upload), 1, "the adopted link is synced");
    assert_eq!(env.remote(M, R).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_converge_without_duplicates() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    for i in 0..15 {
        drop_file(
            &dir,
            &format!("up{i}.bin"),
            format!("upload {i}").as_bytes(),
        );
        env.sandbox.add_file(
            env.product,
            M,
            R,
            &format!("down{i}.bin"),
            format!("download {i}").into_bytes(),
        );
    }
    env.sandbox.set_faults(Faults {
        seed: 7,
        error_500_rate: 0.05,
        error_429_rate: 0.05,
        retry_after_secs: Some(1),
        drop_before_rate: 0.05,
        drop_after_upload_rate: 0.05,
        truncate_download_rate: 0.05,
        ..Faults::default()
    });
    env.once_until_clean(10).await;
    env.sandbox.set_faults(Faults::default());
    assert_ok(&env.once().await);
    let names = env.remote_names(M, R);
    assert_eq!(names.len(), 30, "no duplicates: {names:?}");
    let local = files(&dir);
    assert_eq!(local.len(), 30, "{local:?}");
    for i in 0..15 {
        assert_eq!(
            std::fs::read(dir.join(format!("down{i}.bin"))).unwrap(),
            format!("download {i}").as_bytes()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"a");
    env.sandbox
        .add_file(env.product, M, R, "b.txt", b"b".to_vec());
    let out = env.run_args(&["once", "--dry-run"]).await;
    assert_ok(&out);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("upload a.txt") && plan.contains("b.txt"),
        "{plan}"
    );
    assert_eq!(env.calls(Route::Upload) + env.calls(Route::Download), 0);
    assert_eq!(files(&dir), vec!["a.txt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configs_fail_naming_the_key() {
    let env = Env::new().await;
    let text = std::fs::read_to_string(&env.config).unwrap();
    for (bad, key) in [
        (
            text.replace("debounce = \"300ms\"", "debounce = \"soon\""),
            "sync.debounce",
        ),
        (
            text.replace("[sync]", "[sync]\npoll_intervall = \"1s\""),
            "poll_intervall",
        ),
        (
            text.replace("product = \"bigin\"", "product = \"desk\""),
            "zoho.product",
        ),
        (
            text.replace("timeout = \"10s\"", "timeout = 10"),
            "zoho.timeout",
        ),
    ] {
        std::fs::write(&env.config, &bad).unwrap();
        let out = env.once().await;
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(key), "error should name {key}: {err}");
        assert!(
            err.contains("config.toml"),
            "error should name the file: {err}"
        );
    }
    assert!(
        !env.state.join("journal.sqlite3").exists(),
        "nothing touched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_records_and_parked_errors() {
    let env = Env::with_upload_limit(1000).await;
    let dir = env.record(M, R);
    drop_file(&dir, "small.txt", b"ok");
    drop_file(&dir, "big.bin", &vec![7u8; 5000]);
    let out = env.once().await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "an over-size file stays in error"
    );
    assert!(stderr(&out).contains("big.bin"), "{}", stderr(&out));
    let out = env.run_args(&["status", "--json"]).await;
    assert_eq!(out.status.code(), Some(2), "a parked entry needs a person");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["daemon_running"], false);
    assert_eq!(v["totals"]["files_in_sync"], 1);
    assert_eq!(v["totals"]["parked"], 1);
    let rec = &v["records"][0];
    assert_eq!(rec["record_id"], R);
    // `once` records its poll, so a daemon started next continues the schedule.
    assert!(rec["last_poll_unix"].as_i64().is_some(), "{rec}");
    assert!(
        rec["next_poll_unix"].as_i64() > rec["last_poll_unix"].as_i64(),
        "{rec}"
    );
    assert_eq!(rec["errors"][0]["subject"], "big.bin");
    let text = env.run_args(&["status"]).await;
    assert!(String::from_utf8_lossy(&text.stdout).contains("PARKED"));
    // Parked entries are not retried every pass.
    let uploads = env.calls(Route::Upload);
    let _ = env.once().await;
    assert_eq!(env.calls(Route::Upload), uploads);
}

/// A power cut after a download's journal row but before the disk caught up can leave
/// the file empty or torn. The row is still marked unflushed, and after the reboot (another
/// boot id) it is checked by hash, so the damage is never taken for a local edit: the
/// attachment is not replaced, and its content comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_torn_before_its_flush_never_replaces_the_attachment() {
    use bigin_sync::journal::Journal;
    let env = Env::new().await;
    let dir = env.record(M, R);
    let good = b"the real report, as stored in Bigin".to_vec();
    let id = env
        .sandbox
        .add_file(env.product, M, R, "report.pdf", good.clone());
    let other = env
        .sandbox
        .add_file(env.product, M, R, "intact.txt", b"intact".to_vec());
    assert_ok(&env.once().await);
    assert_eq!(std::fs::read(dir.join("report.pdf")).unwrap(), good);

    // Replay the crash: both rows unflushed, written in an earlier boot, and one file
    // emptied by the power cut.
    {
        let j = Journal::open(&env.state).unwrap();
        let key = record_key(M, R);
        assert_eq!(
            j.unflushed(&key).unwrap().len(),
            2,
            "once does not wait for the disk"
        );
        for e in j.entries(&key).unwrap() {
            j.upsert_unflushed_entry(&key, &e, Some("an earlier boot"))
                .unwrap();
        }
        assert_eq!(j.unflushed(&key).unwrap().len(), 2);
    }
    std::fs::write(dir.join("report.pdf"), b"").unwrap();

    let out = env.once().await;
    assert!(
        stderr(&out).contains("did not reach the disk intact"),
        "{}",
        stderr(&out)
    );
    // The attachment was neither replaced nor deleted.
    assert_eq!(env.sandbox.content(&id).unwrap().as_ref(), good.as_slice());
    assert_eq!(env.sandbox.content(&other).unwrap().as_ref(), b"intact");
    assert_eq!(env.calls(Route::Delete), 0, "nothing deleted in Zoho");
    // The real content is on disk again (under its name or a conflict name), and the
    // intact file was trusted as it was.
    let restored = files(&dir)
        .iter()
        .any(|n| std::fs::read(dir.join(n)).is_ok_and(|c| c == good));
    assert!(restored, "files: {:?}", files(&dir));
    assert_eq!(std::fs::read(dir.join("intact.txt")).unwrap(), b"intact");
    let unflushed = env.unflushed(M, R).unwrap();
    assert!(
        !unflushed.contains(&"intact.txt".to_string()),
        "the intact file was checked, synced and marked: {unflushed:?}"
    );
}

/// Issue 11.11: a file time past 2262 (`touch -d @10000000000`) no longer overflows the
/// executor's stat (the scanner saturated, the executor wrapped, so every upload saw the
/// file as "changed meanwhile", forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dated_past_2262_is_uploaded_once() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "future.txt", b"from the far future");
    let far = std::time::UNIX_EPOCH + std::time::Duration::from_secs(10_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(dir.join("future.txt"))
        .unwrap()
        .set_modified(far)
        .unwrap();
    assert_ok(&env.once().await);
    assert_eq!(env.remote_names(M, R), ["future.txt"]);
    // Settled: another pass changes nothing.
    let uploads = env.calls(Route::Upload);
    assert_ok(&env.once().await);
    assert_eq!(env.calls(Route::Upload), uploads);
}

/// Issue 11.15: a link's `.url` file gets the mode of any other download (0666 less the
/// umask), not a temp file's 0600, so the group that shares the tree can open it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_file_has_the_mode_of_other_downloads() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new().await;
    let dir = env.record(M, R);
    env.sandbox
        .add_link(env.product, M, R, "Site", "https://example.com/a");
    env.sandbox
        .add_file(env.product, M, R, "plain.txt", b"plain".to_vec());
    let mut cmd = env.cmd();
    cmd.arg("once");
    // SAFETY: umask is async-signal-safe; set in the child between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::umask(0o022);
            Ok(())
        });
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_ok(&out);
    let mode = |n: &str| std::fs::metadata(dir.join(n)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("plain.txt"), 0o644);
    assert_eq!(mode("Site.url"), 0o644);
}

/// Runs the binary, killing it if it has not ended within `deadline`; `None` then.
async fn run_with_deadline(
    mut cmd: std::process::Command,
    deadline: std::time::Duration,
) -> Option<std::process::Output> {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id() as i32;
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"));
    match tokio::time::timeout(deadline, waiter).await {
        Ok(out) => Some(out.unwrap()),
        Err(_) => {
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            None
        }
    }
}

/// A `Retry-After: 100000` stalled `once` for good. `once` must end, reporting the
/// record as failing, instead of sleeping for what the server asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_never_sleeps_for_a_huge_retry_after() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    std::fs::write(dir.join("a.txt"), b"hello").unwrap();
    env.sandbox.set_faults(Faults {
        error_429_rate: 1.0,
        retry_after_secs: Some(100_000),
        routes: vec![Route::List],
        ..Faults::default()
    });
    let mut cmd = env.cmd();
    cmd.arg("once");
    let out = run_with_deadline(cmd, std::time::Duration::from_secs(90))
        .await
        .expect("once slept for the server's Retry-After instead of ending");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("list failed") && stderr.contains("429"),
        "{stderr}"
    );
    assert!(env.remote_names(M, R).is_empty());
    // With the fault gone the next run syncs.
    env.sandbox.set_faults(Faults::default());
    env.once_until_clean(3).await;
    assert_eq!(env.remote_names(M, R), vec!["a.txt"]);
}

/// A tmpfs mounted on `dir` (we run as root in CI); unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` (after saying why) where mounting is not permitted.
    fn mount(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_path_buf())),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs here: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("mount")
            .success();
        assert!(ok, "remount");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Disk full during a download parked the entry for good. It must be retried (and
/// succeed once there is room), with a warning naming the space needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_onto_a_full_disk_is_retried_not_parked() {
    let env = Env::new().await;
    let Some(fs) = Tmpfs::mount(&env.root, "2m") else {
        return;
    };
    let dir = env.record(M, R);
    let body: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    env.sandbox
        .add_file(env.product, M, R, "big.bin", body.clone());
    let out = env.once().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(retrying)"), "not retried: {stderr}");
    assert!(!stderr.contains("(parked)"), "parked: {stderr}");
    let warn = stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains("will retry"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(
        warn.contains("3145728 bytes"),
        "space needed not named: {warn}"
    );
    assert!(!dir.join("big.bin").exists());
    // Room appears: the next run downloads it.
    fs.resize("16m");
    env.once_until_clean(3).await;
    assert!(std::fs::read(dir.join("big.bin")).unwrap() == body);
}

/// Issue 12: a folder under the root that is not followed gets one INFO line when first
/// seen (not again on the next run), and `status` lists it with the reason in plain words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_that_are_not_followed_are_said_once_and_listed_by_status() {
    let env = Env::new().await;
    env.record(M, R);
    std::fs::create_dir_all(env.root.join(M).join("1234")).unwrap();
    std::fs::create_dir_all(env.root.join("Contacts-old")).unwrap();
    std::fs::create_dir_all(env.root.join("Accounts/2034020000000555001 a")).unwrap();
    std::fs::create_dir_all(env.root.join("Companies/2034020000000555001 b")).unwrap();
    std::fs::create_dir_all(env.root.join(".hidden")).unwrap();
    let first = env.once().await;
    assert_ok(&first);
    let log = stderr(&first);
    assert_eq!(log.matches("folder not followed").count(), 4, "{log}");
    assert!(log.contains("id too short"), "{log}");
    let again = env.once().await;
    assert_ok(&again);
    assert!(
        !stderr(&again).contains("folder not followed"),
        "{}",
        stderr(&again)
    );

    let out = env.run_args(&["status"]).await;
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1234\": id too short"), "{text}");
    assert!(
        text.contains("Contacts-old\": not a module folder"),
        "{text}"
    );
    assert_eq!(
        text.matches("two or more folders for record").count(),
        2,
        "{text}"
    );
    assert!(!text.contains(".hidden"), "{text}");
    let out = env.run_args(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["not_followed"].as_array().unwrap().len(), 4, "{v}");
}

/// A record whose attachments cannot be listed (Zoho refuses the list for good: here the
/// record does not exist) is not in sync: `once` must exit non-zero and name it, while the
/// other records still sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_fails_and_names_a_record_it_cannot_read() {
    const GONE: &str = "2034020000000489999";
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"hello");
    // A folder for a record Zoho does not know: every list of it is refused.
    let gone = env.root.join(M).join(GONE);
    std::fs::create_dir_all(&gone).unwrap();
    drop_file(&gone, "b.txt", b"orphan");
    let out = env.once().await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(GONE), "{err}");
    assert_eq!(env.remote_names(M, R), vec!["a.txt"]);
}

/// A record that cannot be read at all (here: an upload interrupted earlier left an
/// intent, and the attachment that may be it cannot be fetched to compare, so neither
/// adopting nor uploading again is safe) is not in sync: `once` must exit non-zero and
/// name it. It exited 0, deciding failure by the words "list failed" in the errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_fails_and_names_a_record_whose_reconcile_failed() {
    use bigin_sync::journal::{Journal, NewIntent};
    use bigin_sync::model::ContentHash;
    const OTHER: &str = "2034020000000489777";
    let env = Env::new().await;
    let dir = env.record(M, R);
    drop_file(&dir, "a.txt", b"hello");
    let other = env.record(M, OTHER);
    drop_file(&other, "b.txt", b"orphan");
    // An upload of b.txt whose reply was lost: Zoho may hold it.
    env.sandbox
        .add_file(env.product, M, OTHER, "b.txt", b"orphan".to_vec());
    let journal = Journal::open(&env.state).unwrap();
    let intent = NewIntent {
        local_name: "b.txt".into(),
        remote_name: "b.txt".into(),
        size: 6,
        hash: ContentHash::of_bytes(b"orphan"),
    };
    journal
        .add_intent(&record_key(M, OTHER), &intent, 0)
        .unwrap();
    drop(journal);
    // The candidate cannot be fetched to compare it.
    env.sandbox.set_faults(Faults {
        error_500_rate: 1.0,
        routes: vec![Route::Download],
        ..Faults::default()
    });
    let out = env.once().await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(OTHER), "{err}");
    assert_eq!(env.remote_names(M, R), vec!["a.txt"]);
}
