//! The in-memory model the property tests apply plans to: both sides, the journal and
//! the trash of one record, the random changes made to them, and the executor's
//! semantics for each action (with the safety checks an executor must never fail).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::LazyLock;

use proptest::prelude::*;

use crate::model::{AttachmentKind, ContentHash, RemoteAttachment};
use crate::planner::*;
use crate::scan::{IgnoreRules, check_link_url};

/// The scan's built-in ignore rules, as the engine passes them.
static RULES: LazyLock<IgnoreRules> =
    LazyLock::new(|| IgnoreRules::new(&[]).expect("built-in ignore rules"));

pub(super) const STAMP: &str = "2026-11-25 101500";
/// Passes allowed to reach a fixpoint: a failed compare-and-adopt needs another pass to
/// upload the local side (the executor only saves the remote copy), and same-sized
/// candidates for one name are compared one per pass.
pub(super) const MAX_PASSES: usize = 16;

pub(super) const LOCAL_NAMES: &[&str] = &[
    "a.pdf",
    "b.txt",
    "c",
    "ab.pdf",
    "a (2).pdf",
    "attachment",
    "l.url",
    "m.url",
];
/// Other spellings of [`LOCAL_NAMES`] (case, NFC/NFD), used by the hostile-name test only.
pub(super) const FOLDED_LOCAL_NAMES: &[&str] = &["A.PDF", "B.TXT", "\u{e9}.pdf", "e\u{301}.pdf"];
pub(super) const LINK_TITLES: &[&str] = &["l", "m", "a/b", ".."];
pub(super) const URLS: &[&str] = &["https://u1.test/", "https://u2.test/"];
/// Links that must never be written as `.url` files (hostile-name test only).
pub(super) const BAD_URLS: &[&str] = &[
    "javascript:alert(1)",
    "https://x.test/\r\nIconFile=\\\\h\\s\\i.ico",
    "file:///etc/passwd",
];
/// Remote names that the scan would ignore, that equal a skipped entry, or that are other
/// spellings of local names (hostile-name test only).
pub(super) const HOSTILE_REMOTE_NAMES: &[&str] = &[
    "notes.tmp",
    "Thumbs.db",
    ".x.bigin-sync.part",
    "~$x.xlsx",
    "docs",
    "A.pdf",
    "B.TXT",
    "e\u{301}.pdf",
    "\u{e9}.pdf",
    "\u{202e}fdp.exe",
    "C",
];
/// Entries the scan skips (sub-folders, symlinks, ignored files), whose names are taken.
pub(super) const SKIPPED_NAMES: &[&str] =
    &["docs", "a.pdf", "c", "notes.tmp", "A.pdf", "b (2).txt"];

/// Local name `n`: [`LOCAL_NAMES`], then [`FOLDED_LOCAL_NAMES`].
pub(super) fn local_name(n: usize) -> &'static str {
    let all: Vec<&'static str> = LOCAL_NAMES
        .iter()
        .chain(FOLDED_LOCAL_NAMES)
        .copied()
        .collect();
    all[n % all.len()]
}

/// Link URL `u`: [`URLS`], then [`BAD_URLS`].
pub(super) fn url(u: usize) -> &'static str {
    let all: Vec<&'static str> = URLS.iter().chain(BAD_URLS).copied().collect();
    all[u % all.len()]
}

/// Every remote name: [`remote_names`], then [`HOSTILE_REMOTE_NAMES`].
pub(super) fn all_remote_names() -> Vec<String> {
    let mut v = remote_names();
    v.extend(HOSTILE_REMOTE_NAMES.iter().map(|s| s.to_string()));
    v
}

pub(super) fn remote_names() -> Vec<String> {
    vec![
        "a.pdf".into(),
        "b.txt".into(),
        "a/b.pdf".into(),
        "..".into(),
        "".into(),
        "c".into(),
        " c. ".into(),
        "\u{1}b.txt".into(),
        "x\\..\\y".into(),
        format!("{}.pdf", "é".repeat(150)),
    ]
}

pub(super) fn url_bytes(url: &str) -> Vec<u8> {
    format!("[InternetShortcut]\nURL={url}\n").into_bytes()
}

#[derive(Debug, Clone)]
pub(super) struct LFile {
    pub(super) bytes: Vec<u8>,
    pub(super) link: Option<String>,
    pub(super) mtime: i64,
    pub(super) inode: u64,
}

#[derive(Debug, Clone)]
pub(super) struct RAtt {
    pub(super) name: String,
    pub(super) bytes: Vec<u8>,
    pub(super) link: Option<String>,
}

/// Both sides, the journal and the local trash of one record.
#[derive(Debug, Clone, Default)]
pub(super) struct World {
    pub(super) local: BTreeMap<String, LFile>,
    pub(super) remote: BTreeMap<String, RAtt>,
    pub(super) journal: BTreeMap<String, SyncedEntry>,
    pub(super) trash: Vec<Vec<u8>>,
    pub(super) counter: u64,
    /// Entries the scan skips (sub-folders, symlinks, ignored files).
    pub(super) skipped: BTreeSet<String>,
    /// How the modelled file system compares names: it never holds two names that fold
    /// equal, and a write under another spelling lands in the existing file.
    pub(super) folding: NameFolding,
    /// One bit per conflict rename, lowest first: set means the process dies right after
    /// that rename (before the download), dropping the rest of its pass.
    pub(super) crash_mask: u8,
    /// Set by an action that crashed; `sync` drops the rest of the pass.
    pub(super) crashed: bool,
    /// One bit per delete of a replaced version (at the replace, then at each retry),
    /// lowest first: set means that delete fails, and the old attachment stays in Zoho,
    /// kept to be deleted again by a later pass.
    pub(super) fail_superseded_mask: u8,
    /// Replaced versions whose delete failed (the journal's rows for them): the next
    /// passes delete them again and must never download them.
    pub(super) pending_superseded: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Content {
    Fresh,
    /// Copy of the other side's n-th item when there is one (so "same content" happens).
    CopyOther(usize),
}

#[derive(Debug, Clone)]
pub(super) enum Op {
    LocalAdd(usize, Content),
    LocalModify(usize),
    LocalDelete(usize),
    LocalTouch(usize, bool),
    RemoteAdd(usize, Content),
    RemoteLink(usize, usize),
    RemoteDelete(usize),
    RemoteReplace(usize),
    /// The same new file on both sides (first sync, or a copy made by hand).
    BothAdd(usize, bool),
    /// A sub-folder, symlink or ignored file appears under [`SKIPPED_NAMES`]`[n]`.
    LocalSkip(usize),
}

pub(super) fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        Just(Content::Fresh),
        (0usize..8).prop_map(Content::CopyOther)
    ]
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..LOCAL_NAMES.len(), content()).prop_map(|(n, c)| Op::LocalAdd(n, c)),
        (0usize..8).prop_map(Op::LocalModify),
        (0usize..8).prop_map(Op::LocalDelete),
        (0usize..8, any::<bool>()).prop_map(|(i, b)| Op::LocalTouch(i, b)),
        (0..remote_names().len(), content()).prop_map(|(n, c)| Op::RemoteAdd(n, c)),
        (0..LINK_TITLES.len(), 0..URLS.len()).prop_map(|(t, u)| Op::RemoteLink(t, u)),
        (0usize..8).prop_map(Op::RemoteDelete),
        (0usize..8).prop_map(Op::RemoteReplace),
        (0..LOCAL_NAMES.len(), any::<bool>()).prop_map(|(n, same)| Op::BothAdd(n, same)),
    ]
}

/// [`op`] plus other spellings, ignored remote names, unsafe links and skipped entries.
pub(super) fn hostile_op() -> impl Strategy<Value = Op> {
    let locals = LOCAL_NAMES.len() + FOLDED_LOCAL_NAMES.len();
    prop_oneof![
        2 => op(),
        1 => (0..locals, content()).prop_map(|(n, c)| Op::LocalAdd(n, c)),
        1 => (0..all_remote_names().len(), content()).prop_map(|(n, c)| Op::RemoteAdd(n, c)),
        1 => (0..LINK_TITLES.len(), 0..URLS.len() + BAD_URLS.len())
            .prop_map(|(t, u)| Op::RemoteLink(t, u)),
        1 => (0..locals, any::<bool>()).prop_map(|(n, same)| Op::BothAdd(n, same)),
        1 => (0..SKIPPED_NAMES.len()).prop_map(Op::LocalSkip),
    ]
}

pub(super) fn nth<K: Clone, V>(map: &BTreeMap<K, V>, i: usize) -> Option<K> {
    if map.is_empty() {
        None
    } else {
        map.keys().nth(i % map.len()).cloned()
    }
}

pub(super) fn assert_safe_name(name: &str) {
    assert!(!name.is_empty(), "empty name");
    assert!(name != "." && name != "..", "dot name {name:?}");
    assert!(
        !name.contains('/') && !name.contains('\0'),
        "separator in {name:?}"
    );
    assert!(name.len() <= 255, "{} bytes: {name:?}", name.len());
    assert!(!name.starts_with('.'), "hidden name {name:?}");
}

impl World {
    pub(super) fn tick(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Unique content; lengths repeat so equal sizes with different bytes are common.
    pub(super) fn fresh_bytes(&mut self) -> Vec<u8> {
        let n = self.tick();
        format!("c{:04}{}", n, "x".repeat((n % 3) as usize)).into_bytes()
    }

    /// True when the modelled file system takes `a` and `b` for one name.
    pub(super) fn same_name(&self, a: &str, b: &str) -> bool {
        self.folding.key(a) == self.folding.key(b)
    }

    /// A user's write of `name`: refused where a skipped entry holds the name, and
    /// landing in an existing file that the file system takes for the same name.
    pub(super) fn user_write(&mut self, name: &str, bytes: Vec<u8>, link: Option<String>) {
        if self.skipped.iter().any(|s| self.same_name(s, name)) {
            return;
        }
        let existing = self.local.keys().find(|k| self.same_name(k, name)).cloned();
        self.write_local(existing.as_deref().unwrap_or(name), bytes, link);
    }

    pub(super) fn write_local(&mut self, name: &str, bytes: Vec<u8>, link: Option<String>) {
        let t = self.tick();
        self.local.insert(
            name.to_string(),
            LFile {
                bytes,
                link,
                mtime: t as i64,
                inode: t,
            },
        );
    }

    pub(super) fn add_remote(
        &mut self,
        name: &str,
        bytes: Vec<u8>,
        link: Option<String>,
    ) -> String {
        let id = format!("{:019}", self.tick());
        self.remote.insert(
            id.clone(),
            RAtt {
                name: name.to_string(),
                bytes,
                link,
            },
        );
        id
    }

    pub(super) fn mutate(&mut self, op: &Op) {
        match *op {
            Op::LocalAdd(n, c) => {
                let name = local_name(n);
                if name.ends_with(".url") {
                    let url = match c {
                        Content::Fresh => format!("https://n{}.test/", self.tick()),
                        Content::CopyOther(i) => URLS[i % URLS.len()].to_string(),
                    };
                    self.user_write(name, url_bytes(&url), Some(url));
                } else {
                    let bytes = match c {
                        Content::CopyOther(i) => match nth(&self.remote, i) {
                            Some(id) if self.remote[&id].link.is_none() => {
                                self.remote[&id].bytes.clone()
                            }
                            _ => self.fresh_bytes(),
                        },
                        Content::Fresh => self.fresh_bytes(),
                    };
                    self.user_write(name, bytes, None);
                }
            }
            Op::LocalModify(i) => {
                if let Some(name) = nth(&self.local, i) {
                    if self.local[&name].link.is_some() {
                        let url = format!("https://e{}.test/", self.tick());
                        self.write_local(&name, url_bytes(&url), Some(url));
                    } else {
                        let bytes = self.fresh_bytes();
                        let t = self.tick() as i64;
                        if let Some(f) = self.local.get_mut(&name) {
                            f.bytes = bytes;
                            f.mtime = t;
                        }
                    }
                }
            }
            Op::LocalDelete(i) => {
                if let Some(name) = nth(&self.local, i) {
                    self.local.remove(&name);
                }
            }
            Op::LocalTouch(i, new_inode) => {
                if let Some(name) = nth(&self.local, i) {
                    let t = self.tick();
                    if let Some(f) = self.local.get_mut(&name) {
                        f.mtime = t as i64;
                        if new_inode {
                            f.inode = t;
                        }
                    }
                }
            }
            Op::RemoteAdd(n, c) => {
                let name = all_remote_names()[n].clone();
                let bytes = match c {
                    Content::CopyOther(i) => match nth(&self.local, i) {
                        Some(l) if self.local[&l].link.is_none() => self.local[&l].bytes.clone(),
                        _ => self.fresh_bytes(),
                    },
                    Content::Fresh => self.fresh_bytes(),
                };
                self.add_remote(&name, bytes, None);
            }
            Op::RemoteLink(t, u) => {
                let url = url(u).to_string();
                self.add_remote(LINK_TITLES[t], url_bytes(&url), Some(url));
            }
            Op::RemoteDelete(i) => {
                if let Some(id) = nth(&self.remote, i) {
                    self.remote.remove(&id);
                }
            }
            Op::BothAdd(n, same) => {
                let name = local_name(n);
                if let Some(title) = name.strip_suffix(".url") {
                    let url = URLS[usize::from(same)].to_string();
                    self.user_write(name, url_bytes(&url), Some(url));
                    self.add_remote(title, url_bytes(URLS[0]), Some(URLS[0].to_string()));
                } else {
                    let bytes = self.fresh_bytes();
                    let other = if same {
                        bytes.clone()
                    } else {
                        self.fresh_bytes()
                    };
                    self.user_write(name, bytes, None);
                    self.add_remote(name, other, None);
                }
            }
            Op::LocalSkip(n) => {
                let name = SKIPPED_NAMES[n];
                let used = self
                    .local
                    .keys()
                    .chain(self.journal.keys())
                    .chain(self.skipped.iter())
                    .any(|k| self.same_name(k, name));
                if !used {
                    self.skipped.insert(name.to_string());
                }
            }
            Op::RemoteReplace(i) => {
                if let Some(id) = nth(&self.remote, i)
                    && let Some(old) = self.remote.remove(&id)
                {
                    if old.link.is_some() {
                        let url = format!("https://r{}.test/", self.tick());
                        self.add_remote(&old.name, url_bytes(&url), Some(url));
                    } else {
                        let bytes = self.fresh_bytes();
                        self.add_remote(&old.name, bytes, None);
                    }
                }
            }
        }
    }

    pub(super) fn local_entries(&self) -> Vec<LocalEntry> {
        self.local
            .iter()
            .map(|(name, f)| LocalEntry {
                name: name.clone(),
                size: f.bytes.len() as u64,
                mtime_ns: f.mtime,
                inode: f.inode,
                ctime_ns: f.mtime,
                hash: ContentHash::of_bytes(&f.bytes),
                link_url: f.link.clone(),
                stable: true,
            })
            .collect()
    }

    pub(super) fn remote_list(&self) -> Vec<RemoteAttachment> {
        self.remote
            .iter()
            .map(|(id, a)| RemoteAttachment {
                id: id.clone(),
                file_id: a.link.is_none().then(|| format!("f{id}")),
                file_name: a.name.clone(),
                size: if a.link.is_some() {
                    0
                } else {
                    a.bytes.len() as u64
                },
                kind: match &a.link {
                    Some(url) => AttachmentKind::Link { url: url.clone() },
                    None => AttachmentKind::File,
                },
                // Ids are creation-ordered; the same stamp for all exercises the id tiebreak.
                created_time: Some("2026-01-01T00:00:00+00:00".into()),
                modified_time: None,
            })
            .collect()
    }

    pub(super) fn plan(&self) -> Vec<Action> {
        self.plan_record().actions
    }

    pub(super) fn plan_record(&self) -> Plan {
        let local = self.local_entries();
        let mut remote = self.remote_list();
        // As the engine does before planning: the model's list is always a fresh one.
        set_superseded_aside(&mut remote, &self.pending_superseded, true);
        let synced: Vec<SyncedEntry> = self.journal.values().cloned().collect();
        let occupied: HashSet<String> = self.skipped.iter().cloned().collect();
        plan_record(&PlanInput {
            local: Some(&local),
            remote: Some(&remote),
            synced: &synced,
            conflict_stamp: STAMP,
            direction: Direction::Both,
            occupied: &occupied,
            ignore: Some(&RULES),
            folding: self.folding,
        })
    }

    /// Records that `local_name` and attachment `id` now hold the same thing.
    pub(super) fn record(&mut self, local_name: &str, id: &str) {
        let f = &self.local[local_name];
        let a = &self.remote[id];
        self.journal.insert(
            local_name.to_string(),
            SyncedEntry {
                local_name: local_name.to_string(),
                attachment_id: id.to_string(),
                file_id: a.link.is_none().then(|| format!("f{id}")),
                remote_name: a.name.clone(),
                size: f.bytes.len() as u64,
                hash: ContentHash::of_bytes(&f.bytes),
                mtime_ns: f.mtime,
                inode: f.inode,
                ctime_ns: f.mtime,
                link_url: a.link.clone(),
            },
        );
    }

    /// A download never overwrites: the planner must pick a free, safe name.
    pub(super) fn download_to(&mut self, id: &str, name: &str) {
        assert_safe_name(name);
        self.assert_not_superseded(id);
        assert!(
            !self.local.keys().any(|k| self.same_name(k, name)),
            "download over existing {name:?}"
        );
        assert!(
            !self.journal.keys().any(|k| self.same_name(k, name)),
            "download over journal row {name:?}"
        );
        assert!(
            !self.skipped.iter().any(|k| self.same_name(k, name)),
            "download onto a skipped entry {name:?}"
        );
        assert!(
            !RULES.is_ignored(name),
            "download to an ignored name {name:?}"
        );
        if let Some(url) = &self.remote[id].link {
            assert!(check_link_url(url).is_ok(), "unsafe link written: {url:?}");
        }
        let a = self.remote[id].clone();
        self.write_local(name, a.bytes, a.link);
        self.record(name, id);
    }

    /// The executor's conflict rename: the local file moves to `conflict_name` (free and
    /// safe), its row (whose attachment must be gone) is dropped. Returns false when the
    /// process "crashes" right after it (see `crash_mask`).
    pub(super) fn rename_for_conflict(&mut self, local_name: &str, conflict_name: &str) -> bool {
        assert_safe_name(conflict_name);
        assert!(
            !self.local.contains_key(conflict_name) && !self.journal.contains_key(conflict_name),
            "conflict rename over {conflict_name:?}"
        );
        assert!(
            self.journal
                .get(local_name)
                .is_none_or(|r| !self.remote.contains_key(&r.attachment_id)),
            "conflict rename of a file with a live base: {local_name:?}"
        );
        self.journal.remove(local_name);
        let f = self
            .local
            .remove(local_name)
            .unwrap_or_else(|| panic!("conflict rename of a missing file {local_name:?}"));
        self.local.insert(conflict_name.to_string(), f);
        let crash = self.crash_mask & 1 == 1;
        self.crash_mask >>= 1;
        self.crashed = crash;
        !crash
    }

    /// An attachment the user superseded (a replaced version still to delete) is never
    /// brought back: not downloaded, compared, adopted or taken in a conflict.
    pub(super) fn assert_not_superseded(&self, id: &str) {
        assert!(
            !self.pending_superseded.iter().any(|s| s == id),
            "superseded version {id} taken for a new attachment"
        );
    }

    /// The engine's retry of the superseded versions before it plans (see
    /// [`set_superseded_aside`]); each delete may fail again (`fail_superseded_mask`).
    pub(super) fn retry_superseded(&mut self) {
        let mut list = self.remote_list();
        let fate = set_superseded_aside(&mut list, &self.pending_superseded, true);
        self.pending_superseded.retain(|id| !fate.gone.contains(id));
        for id in &fate.retry {
            let fails = self.fail_superseded_mask & 1 == 1;
            self.fail_superseded_mask >>= 1;
            if !fails {
                self.remote.remove(id);
                self.pending_superseded.retain(|p| p != id);
            }
        }
    }

    /// A delete must have a base: a journal row tying this name to this attachment.
    pub(super) fn assert_base(&self, local_name: &str, id: &str) {
        let row = self.journal.get(local_name);
        assert!(
            row.is_some_and(|r| r.attachment_id == id),
            "delete without base: {local_name:?} / {id}"
        );
    }

    /// The executor's semantics, one confirmed action at a time.
    pub(super) fn apply(&mut self, action: &Action) {
        match action {
            Action::Upload {
                local_name,
                remote_name,
            } => {
                let f = self.local[local_name].clone();
                assert!(f.link.is_none(), "link file uploaded as bytes");
                let id = self.add_remote(remote_name, f.bytes, None);
                self.record(local_name, &id);
            }
            Action::UploadLink {
                local_name,
                url,
                title,
            } => {
                assert_eq!(self.local[local_name].link.as_deref(), Some(url.as_str()));
                let id = self.add_remote(title, url_bytes(url), Some(url.clone()));
                self.record(local_name, &id);
            }
            Action::Replace {
                local_name,
                remote_name,
                old_attachment_id,
            } => {
                self.assert_base(local_name, old_attachment_id);
                let f = self.local[local_name].clone();
                let id = self.add_remote(remote_name, f.bytes, f.link);
                self.record(local_name, &id);
                let delete_fails = self.fail_superseded_mask & 1 == 1;
                self.fail_superseded_mask >>= 1;
                if delete_fails {
                    self.pending_superseded.push(old_attachment_id.clone());
                } else {
                    self.remote.remove(old_attachment_id);
                }
            }
            Action::Download {
                attachment_id,
                local_name,
            } => self.download_to(attachment_id, local_name),
            Action::ReplaceLocal {
                attachment_id,
                local_name,
                old_attachment_id,
            } => {
                self.assert_base(local_name, old_attachment_id);
                if let Some(old) = self.local.remove(local_name) {
                    self.trash.push(old.bytes);
                }
                self.journal.remove(local_name);
                self.download_to(attachment_id, local_name);
            }
            Action::CompareAndAdopt {
                attachment_id,
                local_name,
                conflict_name,
            } => {
                self.assert_not_superseded(attachment_id);
                // A row, if any, names an attachment that is gone: nothing to overwrite.
                assert!(
                    self.journal
                        .get(local_name)
                        .is_none_or(|r| !self.remote.contains_key(&r.attachment_id)),
                    "compare over a live base: {local_name:?}"
                );
                let same = self.remote[attachment_id].bytes == self.local[local_name].bytes;
                if same {
                    self.record(local_name, attachment_id);
                } else if self.rename_for_conflict(local_name, conflict_name) {
                    self.download_to(attachment_id, local_name);
                }
            }
            Action::Adopt {
                attachment_id,
                local_name,
            } => {
                assert!(!self.journal.contains_key(local_name));
                self.assert_not_superseded(attachment_id);
                assert_eq!(self.remote[attachment_id].link, self.local[local_name].link);
                self.record(local_name, attachment_id);
            }
            Action::RenameLocalForConflict {
                local_name,
                conflict_name,
                attachment_id,
            } => {
                self.assert_not_superseded(attachment_id);
                assert!(
                    !self
                        .journal
                        .values()
                        .any(|r| &r.attachment_id == attachment_id),
                    "conflict with a tracked attachment {attachment_id}"
                );
                if self.rename_for_conflict(local_name, conflict_name) {
                    self.download_to(attachment_id, local_name);
                }
            }
            Action::DeleteRemote {
                attachment_id,
                local_name,
            } => {
                self.assert_base(local_name, attachment_id);
                // The executor asks the file system whether the file is back, and that
                // finds it under any spelling the file system takes for its name.
                assert!(
                    !self.local.keys().any(|k| self.same_name(k, local_name)),
                    "delete of {local_name:?} while the folder holds that name"
                );
                self.remote.remove(attachment_id);
                self.journal.remove(local_name);
            }
            Action::TrashLocal {
                local_name,
                attachment_id,
            } => {
                self.assert_base(local_name, attachment_id);
                if let Some(f) = self.local.remove(local_name) {
                    self.trash.push(f.bytes);
                }
                self.journal.remove(local_name);
            }
            Action::Forget { local_name } => {
                self.journal.remove(local_name);
            }
            Action::Refresh { local_name } => {
                let id = self.journal[local_name].attachment_id.clone();
                self.record(local_name, &id);
            }
        }
    }

    /// Plans and applies until a plan comes back empty; only the first pass may delete
    /// (or the pass after a crash, which replans what the crash dropped).
    pub(super) fn sync(&mut self) {
        let mut deletes_allowed = true;
        for _ in 0..MAX_PASSES {
            self.retry_superseded();
            let Plan { actions, skipped } = self.plan_record();
            // An attachment left unsynced on purpose is left alone on both sides.
            for s in &skipped {
                assert!(
                    !actions
                        .iter()
                        .any(|a| attachment_of(a) == Some(s.attachment_id.as_str())),
                    "skipped attachment acted on: {s:?} {actions:?}"
                );
            }
            // Settled once nothing is planned and no replaced version is left to delete.
            if actions.is_empty() && self.pending_superseded.is_empty() {
                self.assert_agreement();
                return;
            }
            assert_eq!(actions, self.plan(), "plan is not deterministic");
            if !deletes_allowed {
                assert!(
                    !actions.iter().any(Action::is_delete),
                    "late delete: {actions:?}"
                );
            }
            deletes_allowed = false;
            for a in &actions {
                if std::env::var_os("PLANNER_PROPTEST_STATS").is_some() {
                    eprintln!(
                        "KIND {}",
                        format!("{a:?}").split_whitespace().next().unwrap_or("")
                    );
                }
                self.apply(a);
                if std::mem::take(&mut self.crashed) {
                    deletes_allowed = true;
                    break;
                }
            }
        }
        panic!("no fixpoint after {MAX_PASSES} passes: {:?}", self.plan());
    }

    pub(super) fn assert_agreement(&self) {
        let local: HashSet<&String> = self.local.keys().collect();
        let rows: HashSet<&String> = self.journal.keys().collect();
        assert_eq!(local, rows, "local files vs journal");
        // Only attachments that must not be written may stay unsynced, and only with the
        // reason that applies.
        let skipped = self.plan_record().skipped;
        for s in &skipped {
            let a = &self.remote[&s.attachment_id];
            match (&s.reason, &a.link) {
                (RemoteSkip::UnsafeLink(_), Some(url)) => {
                    assert!(check_link_url(url).is_err(), "{s:?}")
                }
                (RemoteSkip::IgnoredName { local_name }, _) => {
                    assert!(RULES.is_ignored(local_name), "{s:?}")
                }
                _ => panic!("wrong reason {s:?} for {a:?}"),
            }
        }
        let ids: HashSet<&String> = self
            .remote
            .keys()
            .filter(|id| !skipped.iter().any(|s| &s.attachment_id == *id))
            .collect();
        let row_ids: HashSet<&String> = self.journal.values().map(|r| &r.attachment_id).collect();
        assert_eq!(ids, row_ids, "attachments vs journal");
        assert_eq!(
            row_ids.len(),
            self.journal.len(),
            "two rows share an attachment"
        );
        for (name, row) in &self.journal {
            assert_safe_name(name);
            let f = &self.local[name];
            let a = &self.remote[&row.attachment_id];
            // Both sides list the same names: a conflict copy is one in Zoho too, and the
            // plain name is never given to a second attachment for a conflict.
            assert_eq!(
                is_conflict_copy(name),
                is_conflict_copy(&a.name),
                "{name:?} synced with attachment {:?}",
                a.name
            );
            assert_eq!(ContentHash::of_bytes(&f.bytes), row.hash, "{name}");
            assert_eq!(ContentHash::of_bytes(&a.bytes), row.hash, "{name}");
            assert_eq!(f.link, a.link, "{name}");
        }
    }

    pub(super) fn live_bytes(&self) -> HashSet<Vec<u8>> {
        self.local
            .values()
            .map(|f| f.bytes.clone())
            .chain(self.remote.values().map(|a| a.bytes.clone()))
            .collect()
    }

    pub(super) fn all_bytes(&self) -> HashSet<Vec<u8>> {
        self.local
            .values()
            .map(|f| f.bytes.clone())
            .chain(self.remote.values().map(|a| a.bytes.clone()))
            .chain(self.trash.iter().cloned())
            .collect()
    }

    /// Attachments the user superseded: their synced local file was deleted or edited,
    /// or a replace left them to delete.
    pub(super) fn superseded(&self) -> HashSet<String> {
        let pending = self.pending_superseded.iter().cloned();
        self.journal
            .values()
            .filter(|r| {
                self.local
                    .get(&r.local_name)
                    .is_none_or(|f| ContentHash::of_bytes(&f.bytes) != r.hash)
            })
            .map(|r| r.attachment_id.clone())
            .chain(pending)
            .collect()
    }
}

/// The attachment an action reads, replaces or removes, if any.
pub(super) fn attachment_of(action: &Action) -> Option<&str> {
    match action {
        Action::Replace {
            old_attachment_id: id,
            ..
        }
        | Action::Download {
            attachment_id: id, ..
        }
        | Action::ReplaceLocal {
            attachment_id: id, ..
        }
        | Action::CompareAndAdopt {
            attachment_id: id, ..
        }
        | Action::Adopt {
            attachment_id: id, ..
        }
        | Action::RenameLocalForConflict {
            attachment_id: id, ..
        }
        | Action::DeleteRemote {
            attachment_id: id, ..
        }
        | Action::TrashLocal {
            attachment_id: id, ..
        } => Some(id),
        Action::Upload { .. }
        | Action::UploadLink { .. }
        | Action::Forget { .. }
        | Action::Refresh { .. } => None,
    }
}
