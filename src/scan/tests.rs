//! Scanner tests on real temp dirs.

use super::*;
use crate::dir_handle::DirHandle;
use crate::model::{ContentHash, Product, RecordKey};
use crate::planner::SyncedEntry;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

const DEBOUNCE: Duration = Duration::from_secs(2);

fn rules() -> IgnoreRules {
    IgnoreRules::new(&["*.bak".into()]).unwrap()
}

/// Sets a file's mtime (seconds resolution is enough here).
fn set_mtime(path: &Path, t: SystemTime) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

fn later(secs: u64) -> SystemTime {
    SystemTime::now() + Duration::from_secs(secs)
}

fn scan(dir: &Path, cache: &[SyncedEntry], now: SystemTime) -> ScanOutcome {
    scan_record(
        &DirHandle::open(dir).unwrap(),
        cache,
        &rules(),
        DEBOUNCE,
        now,
    )
    .unwrap()
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo failed");
}

#[test]
fn regular_files_are_listed_with_stat_and_hash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.pdf"), b"bee").unwrap();
    std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
    let out = scan(dir.path(), &[], later(10));
    assert!(out.skipped.is_empty());
    let names: Vec<_> = out.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "b.pdf"]);
    let a = &out.files[0];
    let meta = std::fs::metadata(dir.path().join("a.txt")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(a.size, 5);
    assert_eq!(a.inode, meta.ino());
    assert_eq!(a.mtime_ns, meta.mtime() * 1_000_000_000 + meta.mtime_nsec());
    assert_eq!(a.hash, ContentHash::of_bytes(b"hello"));
    assert_eq!(a.link_url, None);
    assert!(a.stable);
}

#[test]
fn non_regular_items_and_ignored_names_are_skipped_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("real.pdf"), b"x").unwrap();
    std::os::unix::fs::symlink(d.join("real.pdf"), d.join("link.pdf")).unwrap();
    std::os::unix::fs::symlink("/nonexistent", d.join("dangling")).unwrap();
    mkfifo(&d.join("pipe"));
    std::fs::create_dir(d.join("sub")).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
    for n in [
        ".hidden",
        "~$lock.docx",
        "x.tmp",
        "old.bak",
        ".a.pdf.bigin-sync.part",
    ] {
        std::fs::write(d.join(n), b"i").unwrap();
    }
    let not_utf8 = std::ffi::OsStr::from_bytes(b"bad\xff.pdf");
    std::fs::write(d.join(not_utf8), b"n").unwrap();

    let out = scan(d, &[], later(10));
    assert_eq!(out.files.len(), 1);
    assert_eq!(out.files[0].name, "real.pdf");
    let mut got: Vec<(String, SkipReason)> = out
        .skipped
        .into_iter()
        .map(|s| (s.name, s.reason))
        .collect();
    got.sort();
    let mut want: Vec<(String, SkipReason)> = vec![
        (".a.pdf.bigin-sync.part".into(), SkipReason::Ignored),
        (".hidden".into(), SkipReason::Ignored),
        ("bad\u{fffd}.pdf".into(), SkipReason::NotUtf8),
        ("dangling".into(), SkipReason::Symlink),
        ("link.pdf".into(), SkipReason::Symlink),
        ("old.bak".into(), SkipReason::Ignored),
        ("pipe".into(), SkipReason::Fifo),
        ("sock".into(), SkipReason::Socket),
        ("sub".into(), SkipReason::Directory),
        ("x.tmp".into(), SkipReason::Ignored),
        ("~$lock.docx".into(), SkipReason::Ignored),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn device_nodes_are_skipped() {
    // Creating a device node needs privileges; /dev/null always exists.
    let out = scan(Path::new("/dev"), &[], later(10));
    assert!(
        out.skipped
            .iter()
            .any(|s| s.name == "null" && s.reason == SkipReason::Device)
    );
    assert!(out.files.iter().all(|f| f.name != "null"));
}

fn synced_from(e: &crate::planner::LocalEntry, hash: ContentHash) -> SyncedEntry {
    SyncedEntry {
        local_name: e.name.clone(),
        attachment_id: "1".into(),
        file_id: None,
        remote_name: e.name.clone(),
        size: e.size,
        hash,
        mtime_ns: e.mtime_ns,
        inode: e.inode,
        ctime_ns: e.ctime_ns,
        link_url: None,
    }
}

#[test]
fn cache_hit_skips_reading_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.pdf"), b"content").unwrap();
    let first = scan(dir.path(), &[], later(10));
    let wrong = ContentHash::of_bytes(b"deliberately wrong");
    let cache = vec![synced_from(&first.files[0], wrong)];
    let second = scan(dir.path(), &cache, later(10));
    assert_eq!(second.files[0].hash, wrong, "hash must come from the cache");
    assert!(second.files[0].stable);
}

#[test]
fn a_young_file_exactly_as_synced_is_stable_and_an_edited_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.pdf");
    std::fs::write(&p, b"downloaded").unwrap();
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    let first = scan(dir.path(), &[], mtime);
    assert!(!first.files[0].stable, "young and unknown");
    let cache = vec![synced_from(&first.files[0], first.files[0].hash)];
    assert!(
        scan(dir.path(), &cache, mtime).files[0].stable,
        "young but exactly the journal's: nothing to wait for"
    );
    std::fs::write(&p, b"edited by the user").unwrap();
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    assert!(
        !scan(dir.path(), &cache, mtime).files[0].stable,
        "an edit waits for the debounce"
    );
}

#[test]
fn changed_file_is_rehashed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.pdf");
    std::fs::write(&p, b"content").unwrap();
    let first = scan(dir.path(), &[], later(10));
    let wrong = ContentHash::of_bytes(b"deliberately wrong");
    let cache = vec![synced_from(&first.files[0], wrong)];

    // Same size, different mtime.
    std::fs::write(&p, b"CONTENT").unwrap();
    set_mtime(&p, SystemTime::now() - Duration::from_secs(100));
    let out = scan(dir.path(), &cache, later(10));
    assert_eq!(out.files[0].hash, ContentHash::of_bytes(b"CONTENT"));

    // Same size and mtime, different inode (replaced by a rename).
    let mut c2 = cache[0].clone();
    c2.mtime_ns = out.files[0].mtime_ns;
    let tmp = dir.path().join("new");
    std::fs::write(&tmp, b"cOnTeNt").unwrap();
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    set_mtime(&tmp, mtime);
    std::fs::rename(&tmp, &p).unwrap();
    let out = scan(dir.path(), &[c2], later(10));
    assert_eq!(out.files[0].hash, ContentHash::of_bytes(b"cOnTeNt"));
}

#[test]
fn same_size_rewrite_with_the_old_mtime_put_back_is_rehashed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.pdf");
    std::fs::write(&p, b"content").unwrap();
    let first = scan(dir.path(), &[], later(10));
    let cache = vec![synced_from(&first.files[0], first.files[0].hash)];
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    std::fs::write(&p, b"CONTENT").unwrap();
    set_mtime(&p, mtime);
    let out = scan(dir.path(), &cache, later(10));
    assert_eq!(out.files[0].mtime_ns, first.files[0].mtime_ns, "same mtime");
    assert_eq!(out.files[0].inode, first.files[0].inode, "same inode");
    assert_eq!(
        out.files[0].hash,
        ContentHash::of_bytes(b"CONTENT"),
        "the ctime moved: the cache must not be trusted"
    );

    // A row from before ctime was recorded (0) is trusted on size, mtime and inode.
    let mut legacy = synced_from(&out.files[0], ContentHash::of_bytes(b"cached"));
    legacy.ctime_ns = 0;
    let out = scan(dir.path(), &[legacy], later(10));
    assert_eq!(out.files[0].hash, ContentHash::of_bytes(b"cached"));
}

#[test]
fn stability_follows_the_debounce_window() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.pdf");
    std::fs::write(&p, b"x").unwrap();
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    let at = |d: Duration| scan(dir.path(), &[], mtime + d).files[0].stable;
    assert!(!at(Duration::ZERO), "just written");
    assert!(!at(DEBOUNCE - Duration::from_millis(1)));
    assert!(at(DEBOUNCE));
    assert!(at(DEBOUNCE * 10));
}

#[test]
fn future_mtime_is_stable_when_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.pdf");
    std::fs::write(&p, b"x").unwrap();
    set_mtime(&p, SystemTime::now() + Duration::from_secs(3600));
    let out = scan(dir.path(), &[], SystemTime::now());
    assert!(out.files[0].stable);
}

#[test]
fn url_files_carry_their_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("Site.url"),
        render_url_file("https://example.com/x").unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("Broken.URL"), b"not a shortcut").unwrap();
    std::fs::write(d.join("notes.txt"), render_url_file("https://no").unwrap()).unwrap();
    std::fs::write(d.join("é.url"), render_url_file("https://e").unwrap()).unwrap();
    std::fs::write(d.join("aé"), b"multi-byte name near the suffix").unwrap();
    let out = scan(d, &[], later(10));
    let by = |n: &str| out.files.iter().find(|f| f.name == n).unwrap();
    assert_eq!(
        by("Site.url").link_url.as_deref(),
        Some("https://example.com/x")
    );
    assert_eq!(
        by("Site.url").hash,
        ContentHash::of_bytes(render_url_file("https://example.com/x").unwrap().as_bytes())
    );
    assert_eq!(by("Broken.URL").link_url, None);
    assert_eq!(by("notes.txt").link_url, None);
    assert_eq!(by("é.url").link_url.as_deref(), Some("https://e"));
    assert_eq!(by("aé").link_url, None);

    // A cached link is taken from the cache without reading.
    let mut c = synced_from(by("Site.url"), ContentHash::of_bytes(b"w"));
    c.link_url = Some("https://cached".into());
    let out = scan(d, &[c], later(10));
    let site = out.files.iter().find(|f| f.name == "Site.url").unwrap();
    assert_eq!(site.link_url.as_deref(), Some("https://cached"));
}

#[test]
fn a_missing_record_folder_is_none_and_a_file_or_a_link_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("Contacts/12345 real")).unwrap();
    std::fs::write(root.join("Contacts/23456"), b"").unwrap();
    std::os::unix::fs::symlink(
        root.join("Contacts/12345 real"),
        root.join("Contacts/34567"),
    )
    .unwrap();
    let folder = |name: &str| RecordFolder {
        key: key("Contacts", &name[..5]),
        folder_name: name.into(),
        path: root.join("Contacts").join(name),
    };
    assert!(folder("45678").open().unwrap().is_none());
    assert!(folder("12345 real").open().unwrap().is_some());
    assert!(matches!(
        folder("23456").open(),
        Err(ScanError::NotADirectory { .. })
    ));
    assert!(matches!(
        folder("34567").open(),
        Err(ScanError::Symlink { .. })
    ));
}

#[test]
fn empty_folder_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        scan(dir.path(), &[], SystemTime::now()),
        ScanOutcome::default()
    );
}

fn key(module: &str, id: &str) -> RecordKey {
    RecordKey {
        module: module.into(),
        record_id: id.into(),
    }
}

#[test]
fn record_folder_names() {
    assert_eq!(
        parse_record_folder_name("2034020000000489124"),
        Some("2034020000000489124")
    );
    assert_eq!(
        parse_record_folder_name("2034020000000489124 Acme renewal"),
        Some("2034020000000489124")
    );
    assert_eq!(parse_record_folder_name("12345"), Some("12345"));
    assert_eq!(parse_record_folder_name("1234"), None);
    assert_eq!(parse_record_folder_name("12345x"), None);
    assert_eq!(parse_record_folder_name("12345_label"), None);
    assert_eq!(parse_record_folder_name("Acme 12345"), None);
    assert_eq!(parse_record_folder_name(""), None);
}

#[test]
fn discover_finds_records_with_labels_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mk = |p: &str| std::fs::create_dir_all(root.join(p)).unwrap();
    mk("Contacts/2034020000000489124 Acme renewal");
    mk("Contacts/11111");
    mk("Contacts/notes");
    mk("Contacts/123");
    mk("Companies/22222 Big Co");
    mk("Deals/33333");
    mk("Custom_Mod/44444");
    mk("Unknown/55555");
    mk(".Trash-1000");
    std::fs::write(root.join("Contacts/66666"), b"a file").unwrap();
    std::fs::write(root.join("readme.txt"), b"").unwrap();
    std::os::unix::fs::symlink(root.join("Contacts/11111"), root.join("Contacts/77777")).unwrap();

    let d = discover_records(root, Product::Bigin, &["Custom_Mod".into()]).unwrap();
    let got: Vec<(RecordKey, &str)> = d
        .records
        .iter()
        .map(|r| (r.key.clone(), r.folder_name.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (key("Accounts", "22222"), "22222 Big Co"),
            (key("Contacts", "11111"), "11111"),
            (
                key("Contacts", "2034020000000489124"),
                "2034020000000489124 Acme renewal"
            ),
            (key("Custom_Mod", "44444"), "44444"),
            (key("Pipelines", "33333"), "33333"),
        ]
    );
    let r = d
        .records
        .iter()
        .find(|r| r.key.record_id == "22222")
        .unwrap();
    assert_eq!(r.path, root.join("Companies/22222 Big Co"));

    let ignored: Vec<_> = d
        .ignored
        .iter()
        .map(|(p, _)| p.strip_prefix(root).unwrap().to_str().unwrap().to_string())
        .collect();
    for want in [
        ".Trash-1000",
        "Contacts/123",
        "Contacts/66666",
        "Contacts/77777",
        "Contacts/notes",
        "Unknown",
        "readme.txt",
    ] {
        assert!(
            ignored.contains(&want.to_string()),
            "{want} not in {ignored:?}"
        );
    }
    assert_eq!(ignored.len(), 7, "{ignored:?}");
}

#[test]
fn discover_crm_has_no_bigin_aliases() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("Companies/22222")).unwrap();
    std::fs::create_dir_all(dir.path().join("Deals/33333")).unwrap();
    let d = discover_records(dir.path(), Product::Crm, &[]).unwrap();
    assert_eq!(d.records.len(), 1);
    assert_eq!(d.records[0].key, key("Deals", "33333"));
}

#[test]
fn discover_ignores_every_folder_of_a_duplicated_record() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("Companies/22222 A")).unwrap();
    std::fs::create_dir_all(dir.path().join("Accounts/22222")).unwrap();
    std::fs::create_dir_all(dir.path().join("Accounts/33333")).unwrap();
    let d = discover_records(dir.path(), Product::Bigin, &[]).unwrap();
    assert_eq!(d.records.len(), 1);
    assert_eq!(d.records[0].key, key("Accounts", "33333"));
    assert_eq!(d.ignored.len(), 2);
    assert!(d.ignored[0].1.contains("two or more folders for record"));
}

#[test]
fn discover_missing_root_or_file_root_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(discover_records(&dir.path().join("gone"), Product::Bigin, &[]).is_err());
    std::fs::write(dir.path().join("f"), b"").unwrap();
    assert!(discover_records(&dir.path().join("f"), Product::Bigin, &[]).is_err());
}

#[test]
fn discover_empty_root_is_ok_and_empty() {
    let dir = tempfile::tempdir().unwrap();
    let d = discover_records(dir.path(), Product::Bigin, &[]).unwrap();
    assert_eq!(d, Discovery::default());
}

#[test]
fn file_changed_while_hashing_is_unstable() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.pdf");
    std::fs::write(&p, b"first").unwrap();
    set_mtime(&p, SystemTime::now() - Duration::from_secs(100));
    let before = std::fs::metadata(&p).unwrap();
    let _hook = super::record::test_hook::set(|path: &Path| {
        std::fs::write(path, b"first and more").unwrap();
    });
    let out = scan(dir.path(), &[], later(10));
    let f = &out.files[0];
    assert!(!f.stable, "changed between hash and re-stat");
    // The entry describes the first stat, so the next scan re-hashes.
    assert_eq!(f.size, before.len());
    assert_eq!(f.hash, ContentHash::of_bytes(b"first"));
}

#[test]
fn future_mtime_changed_while_hashing_is_unstable() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.pdf");
    std::fs::write(&p, b"x").unwrap();
    set_mtime(&p, SystemTime::now() + Duration::from_secs(3600));
    let _hook = super::record::test_hook::set(|path: &Path| {
        std::fs::write(path, b"xy").unwrap();
        set_mtime(path, SystemTime::now() + Duration::from_secs(3600));
    });
    let out = scan(dir.path(), &[], SystemTime::now());
    assert!(!out.files[0].stable);
}

#[test]
fn file_vanishing_after_listing_is_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.pdf"), b"x").unwrap();
    std::fs::write(dir.path().join("b.pdf"), b"y").unwrap();
    let _hook = super::record::test_hook::set(|path: &Path| {
        // Whichever file is hashed first removes the other one (listing already done).
        let other = if path.ends_with("a.pdf") {
            "b.pdf"
        } else {
            "a.pdf"
        };
        let _ = std::fs::remove_file(path.with_file_name(other));
    });
    let out = scan(dir.path(), &[], later(10));
    assert_eq!(out.files.len(), 1);
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
}

#[test]
fn a_large_folder_of_new_files_is_hashed_in_parallel_with_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    // Over PARALLEL_HASH_BYTES in all, with a few large files among small ones.
    let mut expected = Vec::new();
    for i in 0..48u32 {
        let size = if i % 16 == 0 {
            2 * 1024 * 1024
        } else {
            64 * 1024 + i as usize
        };
        let body: Vec<u8> = (0..size).map(|b| (b as u32 ^ i) as u8).collect();
        let name = format!("f{i:02}.bin");
        std::fs::write(dir.path().join(&name), &body).unwrap();
        expected.push((name, ContentHash::of_bytes(&body)));
    }
    std::fs::write(dir.path().join("skip.bak"), b"ignored").unwrap();
    let out = scan(dir.path(), &[], later(10));
    let got: Vec<(String, ContentHash)> =
        out.files.iter().map(|f| (f.name.clone(), f.hash)).collect();
    assert_eq!(got, expected, "every file, sorted, with its own hash");
    assert!(out.files.iter().all(|f| f.stable));
    assert_eq!(out.skipped.len(), 1);
}
