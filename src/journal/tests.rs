//! Journal tests against real files in temp dirs.

use super::*;
use crate::model::{ContentHash, RecordKey};
use crate::planner::SyncedEntry;
use std::os::unix::fs::PermissionsExt;

fn key(id: &str) -> RecordKey {
    RecordKey {
        module: "Contacts".into(),
        record_id: id.into(),
    }
}

fn new_intent(local: &str, remote: &str, size: u64, hash: &ContentHash) -> NewIntent {
    NewIntent {
        local_name: local.into(),
        remote_name: remote.into(),
        size,
        hash: *hash,
    }
}

fn failure(
    subject: &str,
    action: &str,
    message: &str,
    parked: bool,
    attempts: u32,
    next_attempt_unix: i64,
) -> NewFailure {
    NewFailure {
        subject: subject.into(),
        action: action.into(),
        message: message.into(),
        parked,
        attempts,
        next_attempt_unix,
    }
}

fn entry(name: &str, att: &str) -> SyncedEntry {
    SyncedEntry {
        local_name: name.into(),
        attachment_id: att.into(),
        file_id: Some(format!("f{att}")),
        remote_name: name.into(),
        size: u64::MAX - 1, // survives the i64 round trip
        hash: ContentHash::of_bytes(name.as_bytes()),
        mtime_ns: 1_700_000_000_123_456_789,
        inode: u64::MAX - 7,
        ctime_ns: 1_700_000_001_000_000_007,
        link_url: None,
    }
}

fn open_tmp() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(&dir.path().join("state")).unwrap();
    (dir, j)
}

#[test]
fn open_creates_private_dir_and_file_migrates_and_enables_wal() {
    let (dir, j) = open_tmp();
    let state = dir.path().join("state");
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let fmode = std::fs::metadata(state.join(FILE_NAME))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(fmode, 0o600);
    let conn = j.lock();
    assert_eq!(schema::version(&conn).unwrap(), schema::CURRENT_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "synchronous=NORMAL");
}

#[test]
fn reopen_is_idempotent_and_keeps_data() {
    let (dir, j) = open_tmp();
    let state = dir.path().join("state");
    j.follow(&key("100001"), "100001 Acme", 10).unwrap();
    j.upsert_entry(&key("100001"), &entry("a.pdf", "1"))
        .unwrap();
    drop(j);
    let j = Journal::open(&state).unwrap();
    assert_eq!(schema::version(&j.lock()).unwrap(), schema::CURRENT_VERSION);
    assert_eq!(j.followed().unwrap().len(), 1);
    assert_eq!(
        j.entries(&key("100001")).unwrap(),
        vec![entry("a.pdf", "1")]
    );
}

#[test]
fn too_new_schema_is_refused() {
    let (dir, j) = open_tmp();
    let state = dir.path().join("state");
    j.lock()
        .pragma_update(None, "user_version", schema::CURRENT_VERSION + 1)
        .unwrap();
    drop(j);
    assert!(matches!(
        Journal::open(&state),
        Err(JournalError::TooNew { .. })
    ));
    assert!(matches!(
        Journal::open_read_only(&state),
        Err(JournalError::TooNew { .. })
    ));
}

#[test]
fn read_only_open_of_missing_journal_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("none");
    let err = Journal::open_read_only(&state).unwrap_err();
    assert!(err.to_string().contains(FILE_NAME), "{err}");
    assert!(!state.exists());
}

#[test]
fn follow_unfollow_and_poll_schedule() {
    let (_d, j) = open_tmp();
    let k = key("200001");
    assert!(j.follow(&k, "200001", 50).unwrap());
    assert!(!j.follow(&k, "200001 Renamed", 60).unwrap());
    let rows = j.followed().unwrap();
    assert_eq!(
        rows,
        vec![RecordRow {
            key: k.clone(),
            folder_name: "200001 Renamed".into(),
            last_poll_unix: None,
            next_poll_unix: 50,
            idle_polls: 0,
            local_fingerprint: None,
        }]
    );
    j.set_poll(&k, 70, 130, 3).unwrap();
    let row = &j.followed().unwrap()[0];
    assert_eq!(
        (row.last_poll_unix, row.next_poll_unix, row.idle_polls),
        (Some(70), 130, 3)
    );
    // Fingerprints keep all 64 bits.
    j.set_fingerprint(&k, Some(u64::MAX - 1)).unwrap();
    assert_eq!(
        j.followed().unwrap()[0].local_fingerprint,
        Some(u64::MAX - 1)
    );
    j.set_fingerprints(&[(k.clone(), None)]).unwrap();
    assert_eq!(j.followed().unwrap()[0].local_fingerprint, None);

    j.upsert_entry(&k, &entry("a", "1")).unwrap();
    j.record_failure(&k, &failure("b", "upload", "boom", false, 1, 99))
        .unwrap();
    j.add_intent(
        &k,
        &new_intent("c", "c", 1, &ContentHash::of_bytes(b"c")),
        5,
    )
    .unwrap();
    let other = key("200002");
    j.follow(&other, "200002", 1).unwrap();
    j.upsert_entry(&other, &entry("a", "9")).unwrap();

    j.unfollow(&k).unwrap();
    assert_eq!(j.followed().unwrap().len(), 1);
    assert!(j.entries(&k).unwrap().is_empty());
    assert!(j.failures(&k).unwrap().is_empty());
    assert!(j.intents(&k).unwrap().is_empty());
    assert_eq!(
        j.entries(&other).unwrap().len(),
        1,
        "other record untouched"
    );
    // Setting the poll of an unfollowed record does not resurrect it.
    j.set_poll(&k, 1, 2, 0).unwrap();
    assert_eq!(j.followed().unwrap().len(), 1);
}

#[test]
fn entries_upsert_remove_replace() {
    let (_d, j) = open_tmp();
    let k = key("300001");
    let mut a = entry("a.pdf", "1");
    j.upsert_entry(&k, &a).unwrap();
    a.attachment_id = "2".into();
    a.link_url = Some("https://x".into());
    a.file_id = None;
    j.upsert_entry(&k, &a).unwrap();
    j.upsert_entry(&k, &entry("b.pdf", "3")).unwrap();
    assert_eq!(j.entries(&k).unwrap(), vec![a.clone(), entry("b.pdf", "3")]);
    assert!(j.entries(&key("300002")).unwrap().is_empty());

    j.replace_entry(&k, "a.pdf", &entry("c.pdf", "4")).unwrap();
    assert_eq!(
        j.entries(&k).unwrap(),
        vec![entry("b.pdf", "3"), entry("c.pdf", "4")]
    );
    j.remove_entry(&k, "b.pdf").unwrap();
    j.remove_entry(&k, "missing").unwrap();
    assert_eq!(j.entries(&k).unwrap(), vec![entry("c.pdf", "4")]);
}

#[test]
fn upsert_clears_failures_of_name_and_attachment() {
    let (_d, j) = open_tmp();
    let k = key("300003");
    j.record_failure(&k, &failure("a.pdf", "upload", "x", false, 1, 5))
        .unwrap();
    j.record_failure(&k, &failure("77", "download", "y", true, 1, 5))
        .unwrap();
    j.record_failure(&k, &failure("other", "upload", "z", false, 1, 5))
        .unwrap();
    j.upsert_entry(&k, &entry("a.pdf", "77")).unwrap();
    let left: Vec<_> = j
        .failures(&k)
        .unwrap()
        .into_iter()
        .map(|f| f.subject)
        .collect();
    assert_eq!(left, vec!["other"]);
}

#[test]
fn failures_record_update_and_clear() {
    let (_d, j) = open_tmp();
    let k = key("400001");
    j.record_failure(&k, &failure("a", "upload", "timeout", false, 1, 100))
        .unwrap();
    let first = j.failures(&k).unwrap();
    assert_eq!(first.len(), 1);
    let since = first[0].since_unix;
    assert!(since > 1_600_000_000, "since is a real clock: {since}");
    j.record_failure(&k, &failure("a", "upload", "too large", true, 2, 200))
        .unwrap();
    j.record_failure(&key("400002"), &failure("b", "download", "m", false, 1, 3))
        .unwrap();
    let f = &j.failures(&k).unwrap()[0];
    assert_eq!(
        f,
        &FailureRow {
            subject: "a".into(),
            action: "upload".into(),
            message: "too large".into(),
            parked: true,
            attempts: 2,
            next_attempt_unix: 200,
            since_unix: since,
        }
    );
    let all = j.all_failures().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].0, k);
    assert_eq!(all[1].0, key("400002"));
    j.clear_failure(&k, "a").unwrap();
    assert!(j.failures(&k).unwrap().is_empty());
    assert_eq!(j.all_failures().unwrap().len(), 1);
}

#[test]
fn intents_add_list_remove() {
    let (_d, j) = open_tmp();
    let k = key("500001");
    let h = ContentHash::of_bytes(b"x");
    let id1 = j
        .add_intent(&k, &new_intent("a", "A", u64::MAX, &h), 10)
        .unwrap();
    let id2 = j.add_intent(&k, &new_intent("b", "B", 2, &h), 11).unwrap();
    assert_ne!(id1, id2);
    j.add_intent(&key("500002"), &new_intent("c", "c", 3, &h), 12)
        .unwrap();
    let rows = j.intents(&k).unwrap();
    assert_eq!(
        rows[0],
        IntentRow {
            id: id1,
            local_name: "a".into(),
            remote_name: "A".into(),
            size: u64::MAX,
            hash: h,
            created_unix: 10,
        }
    );
    assert_eq!(rows.len(), 2);
    j.remove_intent(id1).unwrap();
    assert_eq!(j.intents(&k).unwrap().len(), 1);
    assert_eq!(j.intents(&k).unwrap()[0].id, id2);
}

#[test]
fn complete_upload_records_entry_and_drops_intent() {
    let (_d, j) = open_tmp();
    let k = key("600001");
    let h = ContentHash::of_bytes(b"a.pdf");
    let id = j
        .add_intent(&k, &new_intent("a.pdf", "a.pdf", 5, &h), 1)
        .unwrap();
    j.record_failure(&k, &failure("a.pdf", "upload", "x", false, 1, 5))
        .unwrap();
    j.complete_upload(&k, id, &entry("a.pdf", "1")).unwrap();
    assert!(j.intents(&k).unwrap().is_empty());
    assert!(j.failures(&k).unwrap().is_empty());
    assert_eq!(j.entries(&k).unwrap(), vec![entry("a.pdf", "1")]);
}

#[test]
fn complete_upload_is_atomic() {
    let (_d, j) = open_tmp();
    let k = key("600002");
    let h = ContentHash::of_bytes(b"a");
    let id = j
        .add_intent(&k, &new_intent("a.pdf", "a.pdf", 5, &h), 1)
        .unwrap();
    // Make the intent deletion (the second statement) fail: the entry must not stay.
    j.lock()
        .execute_batch(
            "CREATE TRIGGER no_intent_delete BEFORE DELETE ON intents
             BEGIN SELECT RAISE(ABORT, 'injected'); END;",
        )
        .unwrap();
    let err = j.complete_upload(&k, id, &entry("a.pdf", "1")).unwrap_err();
    assert!(err.to_string().contains("complete upload"), "{err}");
    assert!(j.entries(&k).unwrap().is_empty(), "entry rolled back");
    assert_eq!(j.intents(&k).unwrap().len(), 1, "intent kept");
}

#[test]
fn replace_entry_is_atomic() {
    let (_d, j) = open_tmp();
    let k = key("600003");
    j.upsert_entry(&k, &entry("old", "1")).unwrap();
    j.lock()
        .execute_batch(
            "CREATE TRIGGER no_insert BEFORE INSERT ON entries
             BEGIN SELECT RAISE(ABORT, 'injected'); END;",
        )
        .unwrap();
    assert!(j.replace_entry(&k, "old", &entry("new", "2")).is_err());
    assert_eq!(j.entries(&k).unwrap(), vec![entry("old", "1")]);
}

#[test]
fn token_and_meta() {
    let (_d, j) = open_tmp();
    assert_eq!(j.load_token().unwrap(), None);
    j.store_token("t1", 100, None).unwrap();
    j.store_token("t2", 200, Some("https://www.zohoapis.eu"))
        .unwrap();
    assert_eq!(
        j.load_token().unwrap(),
        Some(("t2".into(), 200, Some("https://www.zohoapis.eu".into())))
    );
    assert_eq!(j.meta("pid").unwrap(), None);
    j.set_meta("pid", "1").unwrap();
    j.set_meta("pid", "2").unwrap();
    assert_eq!(j.meta("pid").unwrap().as_deref(), Some("2"));
}

#[test]
fn summary_counts_per_record_and_totals() {
    let (_d, j) = open_tmp();
    assert_eq!(j.summary().unwrap(), JournalSummary::default());
    let (a, b) = (key("700001"), key("700002"));
    j.follow(&a, "700001 A", 5).unwrap();
    j.follow(&b, "700002", 6).unwrap();
    j.set_poll(&a, 7, 8, 0).unwrap();
    j.upsert_entries(&a, &[entry("x", "1"), entry("y", "2")])
        .unwrap();
    j.upsert_entry(&b, &entry("z", "3")).unwrap();
    j.record_failure(&a, &failure("q", "upload", "m", false, 1, 9))
        .unwrap();
    j.record_failure(&b, &failure("r", "upload", "m", true, 1, 9))
        .unwrap();
    j.record_failure(&b, &failure("s", "upload", "m", true, 1, 9))
        .unwrap();
    j.add_intent(&a, &new_intent("q", "q", 1, &ContentHash::of_bytes(b"")), 1)
        .unwrap();
    j.store_token("t", 1234, None).unwrap();
    let s = j.summary().unwrap();
    assert_eq!(s.records.len(), 2);
    assert_eq!(
        s.records[0],
        RecordSummary {
            key: a,
            folder_name: "700001 A".into(),
            files_in_sync: 2,
            failures: 1,
            parked: 0,
            pending_uploads: 1,
            last_poll_unix: Some(7),
            next_poll_unix: 8,
        }
    );
    assert_eq!((s.records[1].files_in_sync, s.records[1].parked), (1, 2));
    assert_eq!(
        (
            s.total_files,
            s.total_failures,
            s.total_parked,
            s.total_pending_uploads
        ),
        (3, 1, 2, 1)
    );
    assert_eq!(s.token_expires_at_unix, Some(1234));
}

#[test]
fn reader_works_while_writer_holds_a_write_transaction() {
    let (dir, j) = open_tmp();
    let state = dir.path().join("state");
    j.follow(&key("800001"), "800001", 1).unwrap();
    let reader = Journal::open_read_only(&state).unwrap();
    // The writer holds an open write transaction with uncommitted changes.
    let conn = j.lock();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn.execute(
        "INSERT INTO records (module, record_id, folder_name, followed_unix, next_poll_unix)
         VALUES ('Contacts', '800002', '800002', 1, 1)",
        [],
    )
    .unwrap();
    // The reader sees the last committed state without waiting.
    assert_eq!(reader.followed().unwrap().len(), 1);
    assert_eq!(reader.summary().unwrap().records.len(), 1);
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(reader.followed().unwrap().len(), 2);
    // And it cannot write.
    assert!(reader.set_meta("k", "v").is_err());
}

#[test]
fn journal_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Journal>();
}

#[test]
fn many_entries_in_one_transaction() {
    let (_d, j) = open_tmp();
    let k = key("900001");
    let many: Vec<SyncedEntry> = (0..100_000)
        .map(|i| entry(&format!("f{i:06}"), &i.to_string()))
        .collect();
    j.upsert_entries(&k, &many).unwrap();
    let back = j.entries(&k).unwrap();
    assert_eq!(back.len(), 100_000);
    assert_eq!(back[0], many[0]);
    assert_eq!(back[99_999], many[99_999]);
}

#[test]
fn concurrent_opens_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let state = state.clone();
            std::thread::spawn(move || Journal::open(&state).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let j = Journal::open(&state).unwrap();
    assert_eq!(schema::version(&j.lock()).unwrap(), schema::CURRENT_VERSION);
}

#[test]
fn reader_opens_after_the_writer_closed() {
    let (dir, j) = open_tmp();
    let state = dir.path().join("state");
    j.follow(&key("800003"), "800003", 1).unwrap();
    j.store_token("t", 5, None).unwrap();
    drop(j);
    let reader = Journal::open_read_only(&state).unwrap();
    assert_eq!(reader.followed().unwrap().len(), 1);
    assert_eq!(reader.load_token().unwrap().map(|t| t.1), Some(5));
}

#[test]
fn errors_name_the_file_and_the_operation() {
    let (_d, j) = open_tmp();
    j.lock().execute_batch("DROP TABLE meta").unwrap();
    let err = j.set_meta("k", "v").unwrap_err().to_string();
    assert!(err.contains(FILE_NAME) && err.contains("set meta"), "{err}");
}

#[test]
fn open_fails_with_the_path_when_state_dir_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::write(&state, b"").unwrap();
    let err = Journal::open(&state).unwrap_err().to_string();
    assert!(err.contains("create state directory"), "{err}");
}

#[test]
fn a_version_1_journal_migrates_and_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO records (module, record_id, folder_name, followed_unix, next_poll_unix)
             VALUES ('Contacts', '200001', '200001', 1, 2)",
            [],
        )
        .unwrap();
    }
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(schema::migrate(&mut conn).unwrap(), 1);
    assert_eq!(schema::version(&conn).unwrap(), schema::CURRENT_VERSION);
    let (name, fp): (String, Option<i64>) = conn
        .query_row(
            "SELECT folder_name, local_fingerprint FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((name.as_str(), fp), ("200001", None));
}

#[test]
fn unflushed_rows_until_marked_and_a_plain_upsert_is_flushed() {
    let (_d, j) = open_tmp();
    let (k, other) = (key("200001"), key("200002"));
    j.upsert_unflushed_entry(&k, &entry("a", "1"), Some("boot-1"))
        .unwrap();
    j.upsert_unflushed_entry(&k, &entry("b", "2"), Some("boot-2"))
        .unwrap();
    j.upsert_unflushed_entry(&other, &entry("c", "3"), None)
        .unwrap();
    j.upsert_unflushed_entry(&other, &entry("d", "5"), Some("boot-2"))
        .unwrap();
    assert_eq!(j.unflushed(&k).unwrap(), vec!["a", "b"]);
    // Checked by hash: what was written before this boot, or in an unknown one.
    assert_eq!(j.unflushed_to_check(&k, Some("boot-2")).unwrap(), vec!["a"]);
    assert_eq!(j.unflushed_to_check(&k, None).unwrap(), vec!["a", "b"]);
    assert_eq!(
        j.unflushed_to_check(&other, Some("boot-2")).unwrap(),
        vec!["c"]
    );
    // What this boot wrote, across records: a daemon started now flushes those.
    assert_eq!(
        j.unflushed_in_boot("boot-2").unwrap(),
        vec![
            (k.clone(), "b".to_string(), "2".to_string()),
            (other.clone(), "d".to_string(), "5".to_string())
        ]
    );
    j.mark_flushed(&[(k.clone(), "a".into(), "1".into())])
        .unwrap();
    assert_eq!(j.unflushed(&k).unwrap(), vec!["b"]);
    // A confirmed upload of the same name is the user's file: nothing to flush.
    j.upsert_entry(&k, &entry("b", "4")).unwrap();
    assert!(j.unflushed(&k).unwrap().is_empty());
    // Marked by exact row: a row since rewritten for another attachment stays unflushed.
    j.mark_flushed(&[
        (other.clone(), "c".into(), "3".into()),
        (other.clone(), "d".into(), "another attachment".into()),
    ])
    .unwrap();
    assert_eq!(j.unflushed(&other).unwrap(), vec!["d"]);
    assert_eq!(j.entries(&k).unwrap().len(), 2, "rows kept");
}

#[test]
fn a_batch_commits_every_write_and_one_failing_write_fails_alone() {
    let (_d, j) = open_tmp();
    let k = key("200001");
    let intent = |name: &str| BatchOp::AddIntent {
        key: k.clone(),
        intent: new_intent(name, name, 1, &ContentHash::of_bytes(name.as_bytes())),
        now_unix: 1,
    };
    j.lock()
        .execute_batch(
            "CREATE TRIGGER no_b BEFORE INSERT ON intents WHEN NEW.local_name = 'b'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let results = j.apply_batch(&[intent("a"), intent("b"), intent("c")]);
    assert!(matches!(results[0], Ok(BatchOut::IntentId(_))));
    let err = results[1].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("add upload intent") && err.contains("refused"),
        "{err}"
    );
    assert!(matches!(results[2], Ok(BatchOut::IntentId(_))));
    let names: Vec<String> = j
        .intents(&k)
        .unwrap()
        .into_iter()
        .map(|i| i.local_name)
        .collect();
    assert_eq!(names, vec!["a", "c"]);

    // Completing an upload and recording a download in the same batch.
    let id = j.intents(&k).unwrap()[0].id;
    let results = j.apply_batch(&[
        BatchOp::CompleteUpload {
            key: k.clone(),
            intent_id: id,
            entry: entry("a", "1"),
        },
        BatchOp::UpsertUnflushed {
            key: k.clone(),
            entry: entry("d", "2"),
            boot: None,
        },
    ]);
    assert!(results.iter().all(|r| matches!(r, Ok(BatchOut::Done))));
    assert_eq!(j.intents(&k).unwrap().len(), 1);
    assert_eq!(j.entries(&k).unwrap().len(), 2);
    assert_eq!(j.unflushed(&k).unwrap(), vec!["d"]);
}
