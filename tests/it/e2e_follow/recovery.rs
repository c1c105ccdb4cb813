//! A crash during a follow rename or archive move, through the real binary: the daemon
//! is killed (SIGKILL) once the record's folder is synced, the journal row is set the way
//! the interrupted step left it (the step writes its row before touching the folder),
//! with the folder moved or not, and `run` starts again. Exactly one folder for the
//! record, in the right place, with its files; nothing deleted, nothing moved twice.

use super::*;
use bigin_sync::follow::plan::RowState;
use bigin_sync::journal::Journal;

/// Starts the daemon until the deal's folder holds `a.txt` on disk, then kills it.
async fn synced_then_killed(env: &Env, folder: &Path) {
    let mut d = env.spawn_daemon();
    wait_file(&d, folder.join("a.txt"), b"aaa").await;
    env.wait_flushed(&d, P, &id_of(folder)).await;
    d.kill9();
}

/// The folder holds `a.txt` as synced ("aaa"), and no other file.
fn assert_only_a_txt(folder: &Path) {
    assert_eq!(files(folder), vec!["a.txt"]);
    assert_eq!(std::fs::read(folder.join("a.txt")).unwrap(), b"aaa");
}

/// The record id a folder name starts with.
fn id_of(folder: &Path) -> String {
    let name = folder.file_name().unwrap().to_string_lossy();
    name.split(' ').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_rename_leaves_one_folder_with_its_files() {
    for renamed_before_crash in [false, true] {
        let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", false).await;
        let id = create_deal(&env, "Old", Some(("a.txt", b"aaa")));
        let module = env.root.join(P);
        let (old, new) = (format!("{id} Old"), format!("{id} New"));
        synced_then_killed(&env, &module.join(&old)).await;
        let before = transfers(&env);

        // The record was renamed in Zoho; the rename step had written its pending name
        // and was killed before or after rename(2).
        assert!(
            env.sandbox
                .edit_record(Product::Bigin, P, &id, json!({"Deal_Name": "New"}))
        );
        Journal::open(&env.state)
            .unwrap()
            .follow_pending(P, &id, &new)
            .unwrap();
        if renamed_before_crash {
            std::fs::rename(module.join(&old), module.join(&new)).unwrap();
        }

        let d = env.spawn_daemon();
        let settled = || {
            Journal::open_read_only(&env.state)
                .and_then(|j| j.follow_rows(P))
                .is_ok_and(|rows| {
                    rows.iter().any(|r| {
                        r.id == id && r.given.as_deref() == Some(&new) && r.pending.is_none()
                    })
                })
        };
        assert!(
            wait_until(DEADLINE, settled).await,
            "renamed before the crash: {renamed_before_crash}\n{}",
            d.log_text()
        );
        // Let the record's attachments be listed again after the restart.
        wait_attachment_lists(&env, &d, 2).await;
        wait_passes(&env, &d, 2).await;
        assert_eq!(
            folders_of(&module, &id),
            vec![new.clone()],
            "{}",
            d.log_text()
        );
        assert_only_a_txt(&module.join(&new));
        assert_eq!(env.remote_names(P, &id), vec!["a.txt"]);
        assert_eq!(transfers(&env), before, "{}", d.log_text());
        assert!(!env.root.join(".archive").exists(), "{}", d.log_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_an_archive_move_leaves_one_folder_with_its_files() {
    for moved_before_crash in [false, true] {
        let env = follow_env("\n[[follow]]\nmodule = \"Pipelines\"\n", false).await;
        let id = create_deal(&env, "Doomed", Some(("a.txt", b"aaa")));
        let module = env.root.join(P);
        let name = format!("{id} Doomed");
        synced_then_killed(&env, &module.join(&name)).await;
        let before = transfers(&env);

        // The record was deleted in Zoho; the archive step had marked its row and was
        // killed before or after the move.
        assert!(env.sandbox.delete_record(Product::Bigin, P, &id));
        Journal::open(&env.state)
            .unwrap()
            .follow_set_state(P, &id, RowState::Archiving)
            .unwrap();
        let archive = env.root.join(".archive").join(P);
        if moved_before_crash {
            std::fs::create_dir_all(&archive).unwrap();
            std::fs::rename(module.join(&name), archive.join(&name)).unwrap();
        }

        let d = env.spawn_daemon();
        let archived = || {
            Journal::open_read_only(&env.state)
                .and_then(|j| j.follow_rows(P))
                .is_ok_and(|rows| {
                    rows.iter()
                        .any(|r| r.id == id && r.state == RowState::Archived)
                })
        };
        assert!(
            wait_until(DEADLINE, archived).await,
            "moved before the crash: {moved_before_crash}\n{}",
            d.log_text()
        );
        wait_passes(&env, &d, 3).await;
        assert!(folders_of(&module, &id).is_empty(), "{}", d.log_text());
        assert_eq!(
            folders_of(&archive, &id),
            vec![name.clone()],
            "{}",
            d.log_text()
        );
        assert_only_a_txt(&archive.join(&name));
        assert_eq!(transfers(&env), before, "{}", d.log_text());
        // One WARN for the finished move; none when the move had already happened.
        let resumed = d
            .log_text()
            .matches("finishing an interrupted archive move")
            .count();
        assert_eq!(
            resumed,
            usize::from(!moved_before_crash),
            "{}",
            d.log_text()
        );
    }
}
