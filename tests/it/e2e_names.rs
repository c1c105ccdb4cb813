//! End-to-end: remote names and links that could never settle locally (issue 11, items 7,
//! 8 and 13), with the real binary's `once` and `status` against the sandbox over HTTP.

use crate::common::*;
use bigin_sync::sandbox::Route;

const M: &str = "Contacts";
const R: &str = "2034020000000489124";

/// A remote name equal to something the scan skips (a sub-folder, a symlink) is
/// downloaded under the next free name, once, and `once` settles instead of retrying
/// "changed meanwhile" every pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_name_taken_by_a_skipped_entry_gets_the_next_free_name() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    std::fs::create_dir(dir.join("docs")).unwrap();
    std::os::unix::fs::symlink("/nonexistent-target", dir.join("link.pdf")).unwrap();
    env.sandbox
        .add_file(env.product, M, R, "docs", b"folder twin".to_vec());
    env.sandbox
        .add_file(env.product, M, R, "link.pdf", b"symlink twin".to_vec());
    assert_ok(&env.once().await);
    assert_eq!(files(&dir), vec!["docs (2)", "link (2).pdf"]);
    assert_eq!(
        std::fs::read(dir.join("docs (2)")).unwrap(),
        b"folder twin".to_vec()
    );
    assert!(dir.join("docs").is_dir(), "the folder is left alone");
    assert!(
        std::fs::symlink_metadata(dir.join("link.pdf"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink is left alone"
    );
    let downloads = env.calls(Route::Download);
    assert_ok(&env.once().await);
    assert_eq!(env.calls(Route::Download), downloads, "settled");
    assert_eq!(env.remote(M, R).len(), 2, "nothing uploaded back");
}

/// Attachments whose name the scan would ignore, and links whose URL is not a plain
/// http(s) URL, are not written at all: they are listed by `status` with the reason, never
/// re-downloaded, and never deleted in Zoho.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_names_and_unsafe_links_are_skipped_and_listed_by_status() {
    let env = Env::new().await;
    let dir = env.record(M, R);
    for name in [
        "report.tmp",
        "Thumbs.db",
        "~$x.xlsx",
        "x.part",
        "desktop.ini",
        ".q.pdf.bigin-sync.part",
    ] {
        env.sandbox
            .add_file(env.product, M, R, name, b"ignored".to_vec());
    }
    env.sandbox
        .add_file(env.product, M, R, "kept.pdf", b"kept".to_vec());
    for (title, url) in [
        ("crlf", "https://x.test/\r\nIconFile=\\\\host\\share\\i.ico"),
        ("script", "javascript:alert(1)"),
        ("local", "file:///etc/passwd"),
        ("unc", "\\\\host\\share\\doc"),
        ("space", "https://x.test/a b"),
    ] {
        env.sandbox.add_link(env.product, M, R, title, url);
    }
    env.sandbox
        .add_link(env.product, M, R, "good", "https://www.zoho.com/bigin/");
    assert_ok(&env.once().await);
    assert_eq!(files(&dir), vec!["good.url", "kept.pdf"]);
    let text = std::fs::read_to_string(dir.join("good.url")).unwrap();
    assert_eq!(
        text,
        "[InternetShortcut]\r\nURL=https://www.zoho.com/bigin/\r\n"
    );

    let out = env.run_args(&["status", "--json"]).await;
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skipped = v["records"][0]["skipped_attachments"]
        .as_array()
        .unwrap_or_else(|| panic!("no skipped_attachments: {v}"))
        .clone();
    assert_eq!(skipped.len(), 11, "{skipped:?}");
    let reason_of = |name: &str| {
        skipped
            .iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["reason"].as_str())
            .unwrap_or_else(|| panic!("{name} not listed: {skipped:?}"))
            .to_string()
    };
    assert!(reason_of("report.tmp").contains("ignore"), "{skipped:?}");
    assert!(reason_of("script").contains("http"), "{skipped:?}");
    assert!(reason_of("crlf").contains("control"), "{skipped:?}");
    let text = env.run_args(&["status"]).await;
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("report.tmp"), "{text}");
    assert!(text.contains("not downloaded"), "{text}");

    // Settled: nothing downloaded again, nothing deleted or uploaded in Zoho.
    let downloads = env.calls(Route::Download);
    assert_ok(&env.once().await);
    assert_eq!(env.calls(Route::Download), downloads);
    assert_eq!(env.remote(M, R).len(), 13);
    assert_eq!(files(&dir), vec!["good.url", "kept.pdf"]);
}
