//! Property tests: random trees and random changes on both sides, planned and applied in an
//! in-memory model of the executor's semantics, must converge without losing anything.

mod model;

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::model::ContentHash;
use model::*;

/// One scenario: sync the tree built by `initial`, maybe lose the journal, apply `changes`
/// on both sides, sync again; then nothing may be lost or duplicated. `crash_mask` kills
/// the process right after some conflict renames (see `World::crash_mask`).
fn check(initial: &[Op], lose_journal: bool, changes: &[Op], crash_mask: u8) {
    let w = World {
        crash_mask,
        ..World::default()
    };
    check_in(w, initial, lose_journal, changes);
}

/// [`check`] in a given (empty) world: another name folding, a crash mask.
fn check_in(mut w: World, initial: &[Op], lose_journal: bool, changes: &[Op]) {
    for op in initial {
        w.mutate(op);
    }
    w.sync();
    if lose_journal {
        // A lost or reset journal: everything is "new on both sides" and nothing may go.
        w.journal.clear();
        w.pending_superseded.clear();
    }
    for op in changes {
        w.mutate(op);
    }
    let before = w.clone();
    let superseded = before.superseded();
    w.sync();

    let after = w.all_bytes();
    let live = w.live_bytes();
    for (name, f) in &before.local {
        assert!(after.contains(&f.bytes), "local {name:?} lost");
        // Only an unchanged file whose attachment was deleted may end up in the trash
        // alone: an edit beats a delete, and a file without base is never trashed.
        let trashable = before.journal.get(name).is_some_and(|r| {
            r.hash == ContentHash::of_bytes(&f.bytes)
                && !before.remote.contains_key(&r.attachment_id)
        });
        if !trashable {
            assert!(live.contains(&f.bytes), "local {name:?} only in trash");
        }
    }
    // Never duplicate: when a name is new on both sides (no journal row for it), no upload
    // may copy a same-named attachment (that is what compare-and-adopt and link adoption
    // are for). A synced name edited locally while a same-named twin appeared remotely is
    // a conflict, not a duplicate, and is left out. "Same-named" as the file system
    // compares names: on a folding one the row may keep the user's spelling ("A.PDF")
    // for an attachment named "a.pdf"; and by the row's remote name, which the edit is
    // uploaded under even when the local name was numbered ("a (2).pdf" beside a
    // skipped "a.pdf").
    let known: HashSet<&String> = before.journal.values().map(|r| &r.attachment_id).collect();
    let new_on_both = |a: &RAtt| {
        let base = match a.link {
            Some(_) => link_file_name(&a.name, &HashSet::new()),
            None => local_name_for(&a.name, &HashSet::new()),
        };
        !before
            .journal
            .values()
            .any(|r| before.same_name(&r.local_name, &base) || r.remote_name == a.name)
    };
    let added = w
        .remote
        .iter()
        .filter(|(id, _)| !before.remote.contains_key(*id));
    for (id, new) in added {
        let twins = before
            .remote
            .iter()
            .filter(|(i, a)| !known.contains(i) && new_on_both(a) && w.remote.contains_key(*i));
        for (old_id, old) in twins {
            let dup = old.name == new.name && old.bytes == new.bytes;
            assert!(!dup, "attachment {id} duplicates {old_id} {:?}", old.name);
        }
    }
    for (id, a) in &before.remote {
        if !superseded.contains(id) {
            assert!(
                after.contains(&a.bytes),
                "attachment {id} {:?} lost",
                a.name
            );
        }
    }
}

/// Actions for the delete-guard property: deletes on both sides among others.
fn guard_action() -> impl Strategy<Value = Action> {
    let name = |i: usize| format!("f{i}");
    prop_oneof![
        (0usize..8).prop_map(move |i| Action::DeleteRemote {
            attachment_id: format!("{i}"),
            local_name: name(i),
        }),
        (0usize..8).prop_map(move |i| Action::TrashLocal {
            local_name: name(i),
            attachment_id: format!("{i}"),
        }),
        (0usize..8).prop_map(move |i| Action::Upload {
            local_name: name(i),
            remote_name: name(i),
        }),
        (0usize..8).prop_map(move |i| Action::Refresh {
            local_name: name(i)
        }),
    ]
}

/// The local file an action reads, replaces or removes, if any.
fn touched_local(action: &Action) -> Option<&str> {
    match action {
        Action::Upload { local_name, .. }
        | Action::UploadLink { local_name, .. }
        | Action::Replace { local_name, .. }
        | Action::ReplaceLocal { local_name, .. }
        | Action::CompareAndAdopt { local_name, .. }
        | Action::Adopt { local_name, .. }
        | Action::TrashLocal { local_name, .. }
        | Action::RenameLocalForConflict { local_name, .. }
        | Action::Refresh { local_name } => Some(local_name),
        Action::Download { .. } | Action::DeleteRemote { .. } | Action::Forget { .. } => None,
    }
}

/// Plans `w` with some files unstable, some synced files skipped by the scan (`hidden_mask`,
/// one bit per journal row: a sub-folder, symlink or unreadable entry now holds the name),
/// maybe an unknown side and a one-way direction.
fn check_restricted(
    w: &World,
    unstable_mask: u8,
    hidden_mask: u8,
    local_known: bool,
    remote_known: bool,
    direction: Direction,
) {
    let occupied: HashSet<String> = w
        .journal
        .keys()
        .enumerate()
        .filter(|(i, _)| hidden_mask & (1 << (i % 8)) != 0)
        .map(|(_, name)| name.clone())
        .collect();
    let mut local = w.local_entries();
    local.retain(|l| !occupied.contains(&l.name));
    let mut unstable = HashSet::new();
    for (i, l) in local.iter_mut().enumerate() {
        if unstable_mask & (1 << (i % 8)) != 0 {
            l.stable = false;
            unstable.insert(l.name.clone());
        }
    }
    let remote = w.remote_list();
    let synced: Vec<SyncedEntry> = w.journal.values().cloned().collect();
    let actions = plan(&PlanInput {
        local: local_known.then_some(&local[..]),
        remote: remote_known.then_some(&remote[..]),
        synced: &synced,
        conflict_stamp: STAMP,
        direction,
        occupied: &occupied,
        ignore: None,
        folding: NameFolding::None,
    });
    if !local_known {
        assert!(actions.is_empty(), "unknown folder: {actions:?}");
    }
    if !remote_known {
        assert!(
            actions.iter().all(|a| matches!(a, Action::Refresh { .. })),
            "unknown list: {actions:?}"
        );
    }
    for a in &actions {
        if let Some(name) = touched_local(a) {
            assert!(!unstable.contains(name), "unstable file touched: {a:?}");
        }
        // A name the scan skipped is present but unknown: nothing tied to it is deleted,
        // on either side, or forgotten.
        if let Action::DeleteRemote { local_name: n, .. }
        | Action::TrashLocal { local_name: n, .. }
        | Action::Forget { local_name: n } = a
        {
            assert!(!occupied.contains(n), "skipped name deleted: {a:?}");
        }
        match a {
            Action::Download { local_name: n, .. }
            | Action::RenameLocalForConflict {
                conflict_name: n, ..
            } => {
                assert_safe_name(n);
                assert!(
                    !w.local.contains_key(n) && !occupied.contains(n),
                    "download over existing file: {a:?}"
                );
            }
            Action::CompareAndAdopt { conflict_name, .. } => assert_safe_name(conflict_name),
            _ => {}
        }
        let forbidden = match direction {
            Direction::Both => false,
            Direction::UploadOnly => matches!(
                a,
                Action::Download { .. }
                    | Action::ReplaceLocal { .. }
                    | Action::CompareAndAdopt { .. }
                    | Action::RenameLocalForConflict { .. }
                    | Action::TrashLocal { .. }
            ),
            Direction::DownloadOnly => matches!(
                a,
                Action::Upload { .. }
                    | Action::UploadLink { .. }
                    | Action::Replace { .. }
                    | Action::DeleteRemote { .. }
            ),
        };
        assert!(!forbidden, "{direction:?} allowed {a:?}");
        if a.is_delete() {
            let (name, id) = match a {
                Action::DeleteRemote {
                    attachment_id,
                    local_name,
                }
                | Action::TrashLocal {
                    local_name,
                    attachment_id,
                } => (local_name, attachment_id),
                _ => unreachable!(),
            };
            assert!(
                w.journal.get(name).is_some_and(|r| &r.attachment_id == id),
                "delete without base: {a:?}"
            );
        }
    }
}

proptest! {
    // Failures print the minimal input; they are kept as plain tests below rather than
    // in a regression file outside the module.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn converges_without_loss(
        initial in prop::collection::vec(op(), 0..14),
        lose_journal in prop::bool::weighted(0.2),
        changes in prop::collection::vec(op(), 0..14),
        crash_mask in prop_oneof![Just(0u8), any::<u8>()],
    ) {
        check(&initial, lose_journal, &changes, crash_mask);
    }

    #[test]
    fn unknown_sides_unstable_files_and_direction_are_respected(
        initial in prop::collection::vec(op(), 0..12),
        changes in prop::collection::vec(op(), 0..12),
        unstable_mask in any::<u8>(),
        hidden_mask in prop_oneof![Just(0u8), any::<u8>()],
        local_known in prop::bool::weighted(0.7),
        remote_known in prop::bool::weighted(0.7),
        direction in prop_oneof![
            Just(Direction::Both),
            Just(Direction::UploadOnly),
            Just(Direction::DownloadOnly),
        ],
    ) {
        let mut w = World::default();
        for op in &initial {
            w.mutate(op);
        }
        w.sync();
        for op in &changes {
            w.mutate(op);
        }
        check_restricted(&w, unstable_mask, hidden_mask, local_known, remote_known, direction);
    }

    /// Remote names equal to skipped entries, names the scan ignores, unsafe links and
    /// other spellings on case- or normalisation-insensitive file systems: every sync
    /// reaches a fixpoint (no loop), never downloads onto a skipped or clashing name
    /// (checked by the model's executor), and loses nothing.
    #[test]
    fn hostile_names_converge_without_loss(
        folding in prop_oneof![
            Just(NameFolding::None),
            Just(NameFolding::Case),
            Just(NameFolding::CaseAndUnicode),
        ],
        initial in prop::collection::vec(hostile_op(), 0..14),
        lose_journal in prop::bool::weighted(0.2),
        changes in prop::collection::vec(hostile_op(), 0..14),
    ) {
        let w = World { folding, ..World::default() };
        check_in(w, &initial, lose_journal, &changes);
    }

    /// Replaces whose delete of the old version fails: the old version stays in Zoho
    /// until a later pass deletes it, and is never downloaded back meanwhile (checked by
    /// the model's executor), nor kept when the sync settles.
    #[test]
    fn superseded_versions_are_deleted_and_never_downloaded_back(
        initial in prop::collection::vec(op(), 0..14),
        changes in prop::collection::vec(op(), 0..14),
        fail_superseded_mask in any::<u8>(),
    ) {
        let w = World { fail_superseded_mask, ..World::default() };
        check_in(w, &initial, false, &changes);
    }

    /// The delete guard across a pass: the deletes it lets through are never more than
    /// `max_delete_percent` of the tracked entries (journals of 10 or fewer aside), an
    /// unknown count lets none through, and every other action goes on in its order.
    #[test]
    fn the_delete_guard_never_lets_a_pass_delete_more_than_its_share(
        plans in prop::collection::vec(prop::collection::vec(guard_action(), 0..8), 0..6),
        tracked in prop::option::weighted(0.9, 0usize..60),
        max_delete_percent in 0u8..=100,
    ) {
        let mut after = plans.clone();
        let blocked = guard_deletes(after.iter_mut(), tracked, max_delete_percent);
        let deletes = plans.iter().flatten().filter(|a| a.is_delete()).count();
        let kept = after.iter().flatten().filter(|a| a.is_delete()).count();
        for (b, a) in plans.iter().zip(&after) {
            let others: Vec<&Action> = b.iter().filter(|x| !x.is_delete()).collect();
            let left: Vec<&Action> = a.iter().filter(|x| !x.is_delete()).collect();
            prop_assert_eq!(others, left);
        }
        if blocked == 0 {
            prop_assert_eq!(&after, &plans);
            if deletes > 0 {
                let tracked = tracked.expect("deletes let through with an unknown count");
                prop_assert!(
                    tracked <= 10
                        || kept as f64 <= tracked as f64 * f64::from(max_delete_percent) / 100.0,
                    "{kept} deletes of {tracked} at {max_delete_percent}%"
                );
            }
        } else {
            prop_assert_eq!(blocked, deletes);
            prop_assert_eq!(kept, 0);
        }
    }

    #[test]
    fn mapped_names_are_safe_and_free(raw in ".{0,300}", taken in prop::collection::hash_set("[a-c .]{0,4}", 0..8)) {
        let name = local_name_for(&raw, &taken);
        assert_safe_name(&name);
        prop_assert!(!taken.contains(&name));
        let link = link_file_name(&raw, &taken);
        assert_safe_name(&link);
        prop_assert!(!taken.contains(&link));
        let conflict = conflict_name(&name, &raw, &taken);
        assert_safe_name(&conflict);
        prop_assert!(!taken.contains(&conflict));
    }
}

/// Found by the property test: a remote name that maps onto a local name ("\u{1}b.txt"
/// → "b.txt") was compared before the exact twin, which then got uploaded again.
#[test]
fn regression_mapped_name_candidate_does_not_hide_exact_twin() {
    check(
        &[Op::BothAdd(2, false)],
        false,
        &[Op::RemoteAdd(7, Content::Fresh), Op::BothAdd(1, true)],
        0,
    );
}

/// A lost journal turns every pair into "new on both sides": all adopted, nothing lost.
#[test]
fn regression_lost_journal_adopts_everything() {
    let initial = [
        Op::LocalAdd(0, Content::Fresh),
        Op::LocalAdd(6, Content::CopyOther(0)),
        Op::RemoteAdd(2, Content::Fresh),
        Op::RemoteLink(1, 1),
    ];
    let mut w = World::default();
    for op in &initial {
        w.mutate(op);
    }
    w.sync();
    let ids: Vec<String> = w.remote.keys().cloned().collect();
    w.journal.clear();
    w.sync();
    assert_eq!(
        w.remote.keys().cloned().collect::<Vec<_>>(),
        ids,
        "no upload, no delete"
    );
}

/// Conflicts (issue 11 item 12), new on both sides and changed on both sides, with
/// different or equal sizes, a link among them: Zoho's version keeps the plain name on
/// both sides and the local one becomes the conflict copy there too (checked by
/// `assert_agreement`), whether or not the process dies right after each rename.
#[test]
fn conflicts_keep_zohos_version_under_the_plain_name_even_across_a_crash() {
    let initial = [
        Op::LocalAdd(0, Content::Fresh),
        Op::LocalAdd(1, Content::Fresh),
    ];
    let changes = [
        // Changed on both sides: a.pdf edited here, replaced in Zoho.
        Op::LocalModify(0),
        Op::RemoteReplace(0),
        // New on both sides: c (different content), l.url (different URL).
        Op::BothAdd(2, false),
        Op::BothAdd(6, true),
    ];
    for crash_mask in [0, 0b1, 0b10, 0b111] {
        check(&initial, false, &changes, crash_mask);
        let mut w = World {
            crash_mask,
            ..World::default()
        };
        for op in &initial {
            w.mutate(op);
        }
        w.sync();
        for op in &changes {
            w.mutate(op);
        }
        w.sync();
        let names: Vec<&String> = w.remote.values().map(|a| &a.name).collect();
        let unique: HashSet<&String> = names.iter().copied().collect();
        assert_eq!(
            names.len(),
            unique.len(),
            "two attachments of one name: {names:?}"
        );
        assert!(
            names.iter().filter(|n| is_conflict_copy(n)).count() >= 2,
            "{names:?}"
        );
        // And each local name is its attachment's, even after a crash: the plain name
        // was free again for Zoho's version, not taken by a leftover row.
        for (name, row) in &w.journal {
            let a = &w.remote[&row.attachment_id];
            let expected = match a.link {
                Some(_) => link_file_name(&a.name, &HashSet::new()),
                None => a.name.clone(),
            };
            assert_eq!(name, &expected, "crash_mask {crash_mask:#b}");
        }
    }
}

/// Found by the property test on a case-insensitive file system: a conflict leaves Zoho's
/// "a.pdf" synced as the user's "A.PDF"; the file is then edited while an identical
/// "a.pdf" appears in Zoho. The edit goes up as a replacement of "a.pdf" and the new
/// attachment comes down beside it, exactly as without folding: the "same-named twin of
/// an edited synced file" the duplicate check exempts, which it must recognise under the
/// file system's spelling rules too.
#[test]
fn regression_edited_synced_name_under_another_spelling_is_not_a_new_twin() {
    let w = World {
        folding: NameFolding::Case,
        ..World::default()
    };
    check_in(
        w,
        &[
            Op::RemoteAdd(0, Content::Fresh),
            Op::LocalAdd(8, Content::Fresh),
            Op::BothAdd(0, false),
        ],
        false,
        &[
            Op::LocalTouch(0, false),
            Op::RemoteReplace(1),
            Op::LocalAdd(0, Content::Fresh),
            Op::LocalAdd(0, Content::Fresh),
            Op::LocalAdd(0, Content::Fresh),
            Op::BothAdd(0, true),
        ],
    );
}

/// Found by the property test on a case-insensitive file system: the synced "A.PDF" is
/// deleted and "a.pdf" created while a new "a.pdf" appears in Zoho. Deleting "A.PDF"'s
/// attachment is refused by the file system's answer (the name is held) and downloading
/// into "a.pdf" while "A.PDF"'s row exists would tie two rows to one file.
#[test]
fn regression_respelled_synced_name_beside_a_same_named_new_attachment() {
    let w = World {
        folding: NameFolding::Case,
        ..World::default()
    };
    check_in(
        w,
        &[Op::BothAdd(8, true)],
        false,
        &[Op::LocalDelete(0), Op::BothAdd(0, false)],
    );
}

/// Found by the property test: a conflict copy from an earlier conflict is still in Zoho
/// (its local copy deleted) when the journal is lost and "l.url" conflicts again under
/// the same stamp. The new conflict name took the old copy's name, the old copy came
/// down beside it as "… (2).url", and the renamed file went up as a second copy.
#[test]
fn regression_conflict_name_avoids_an_earlier_copy_still_in_zoho() {
    check(
        &[
            Op::LocalAdd(7, Content::Fresh),
            Op::BothAdd(6, true),
            Op::LocalAdd(0, Content::Fresh),
        ],
        true,
        &[
            Op::LocalAdd(6, Content::CopyOther(1)),
            Op::LocalAdd(1, Content::Fresh),
            Op::LocalDelete(7),
        ],
        0,
    );
}

/// Found by the property test: "a (2).pdf" is synced with attachment "a.pdf" (a skipped
/// entry holds "a.pdf" locally), edited while an identical "a.pdf" appears in Zoho; the
/// edit goes up as "a.pdf" beside it: the exempted edited-synced-name case, by remote name.
#[test]
fn regression_edited_synced_file_with_a_numbered_local_name_is_not_a_new_twin() {
    check(
        &[
            Op::BothAdd(1, false),
            Op::RemoteAdd(1, Content::Fresh),
            Op::RemoteAdd(0, Content::Fresh),
            Op::LocalSkip(1),
            Op::BothAdd(2, true),
        ],
        false,
        &[
            Op::RemoteAdd(0, Content::Fresh),
            Op::LocalAdd(4, Content::Fresh),
            Op::LocalAdd(3, Content::Fresh),
            Op::RemoteAdd(0, Content::CopyOther(6)),
        ],
        0,
    );
}
