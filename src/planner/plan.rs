//! The three-way comparison of one record: local files, remote attachments, journal rows.
//!
//! Order of work: journal rows first (they may claim a re-uploaded attachment), then local
//! files without a row (they may claim a same-named new attachment), then the remaining
//! new attachments, named last so that every name already in use is known.

use std::collections::{BTreeMap, HashSet};

use super::names::{
    FoldedNames, NameFolding, TakenNames, conflict_name, link_file_name, link_title_from_file,
    local_name_for,
};
use super::types::{
    Action, Direction, LocalEntry, Plan, PlanInput, RemoteSkip, SkippedRemote, SyncedEntry,
};
use crate::model::{AttachmentKind, RemoteAttachment};
use crate::scan::{IgnoreRules, check_link_url};

/// Decides the actions that bring one record's folder and attachments back in agreement.
///
/// Pure: the same input gives the same actions in the same order, whatever the order of
/// the input slices. An unknown side (`None`) never yields a delete, trash or forget:
/// with the folder unknown nothing is planned; with the list unknown only journal
/// refreshes are (uploading blind could duplicate an attachment).
pub fn plan(input: &PlanInput) -> Vec<Action> {
    plan_record(input).actions
}

/// [`plan`], with the new attachments that are deliberately not synced (an ignored local
/// name, an unsafe link) and why. Those are left alone on both sides: never downloaded,
/// so never re-downloaded or deleted either.
pub fn plan_record(input: &PlanInput) -> Plan {
    let (mut actions, mut skipped) = match (input.local, input.remote) {
        (None, _) => (Vec::new(), Vec::new()),
        (Some(local), None) => (refreshes_only(local, input.synced), Vec::new()),
        (Some(local), Some(remote)) => Planner::new(local, remote, input).run(),
    };
    actions.retain(|a| allowed(a, input.direction));
    actions.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    skipped.sort_by(|a: &SkippedRemote, b| a.attachment_id.cmp(&b.attachment_id));
    Plan { actions, skipped }
}

/// With the remote side unknown, only metadata refreshes are safe.
fn refreshes_only(local: &[LocalEntry], synced: &[SyncedEntry]) -> Vec<Action> {
    let by_name: BTreeMap<&str, &LocalEntry> = local.iter().map(|l| (l.name.as_str(), l)).collect();
    synced
        .iter()
        .filter_map(|s| {
            let l = by_name.get(s.local_name.as_str())?;
            metadata_only(l, s).then(|| Action::Refresh {
                local_name: s.local_name.clone(),
            })
        })
        .collect()
}

/// Same content, but the journal's stat data is stale (touched, copied over, new inode).
fn metadata_only(l: &LocalEntry, s: &SyncedEntry) -> bool {
    l.stable && l.hash == s.hash && (l.mtime_ns != s.mtime_ns || l.inode != s.inode)
}

/// Whether `direction` lets an action run.
fn allowed(action: &Action, direction: Direction) -> bool {
    match direction {
        Direction::Both => true,
        Direction::UploadOnly => !matches!(
            action,
            Action::Download { .. }
                | Action::ReplaceLocal { .. }
                | Action::CompareAndAdopt { .. }
                | Action::RenameLocalForConflict { .. }
                | Action::TrashLocal { .. }
        ),
        Direction::DownloadOnly => !matches!(
            action,
            Action::Upload { .. }
                | Action::UploadLink { .. }
                | Action::Replace { .. }
                | Action::DeleteRemote { .. }
        ),
    }
}

/// Journal-only steps first, then transfers that add copies, deletes after them, and
/// `Forget` last; ties broken by name and id so the order never depends on the input's.
fn sort_key(action: &Action) -> (u8, &str, &str) {
    match action {
        Action::Refresh { local_name } => (0, local_name, ""),
        Action::Adopt {
            attachment_id,
            local_name,
        } => (1, local_name, attachment_id),
        Action::CompareAndAdopt {
            attachment_id,
            local_name,
            ..
        } => (2, local_name, attachment_id),
        Action::Upload { local_name, .. } | Action::UploadLink { local_name, .. } => {
            (3, local_name, "")
        }
        Action::Replace {
            local_name,
            old_attachment_id,
            ..
        } => (3, local_name, old_attachment_id),
        Action::Download {
            attachment_id,
            local_name,
        }
        | Action::ReplaceLocal {
            attachment_id,
            local_name,
            ..
        } => (4, local_name, attachment_id),
        Action::RenameLocalForConflict {
            local_name,
            attachment_id,
            ..
        } => (4, local_name, attachment_id),
        Action::DeleteRemote {
            attachment_id,
            local_name,
        } => (5, local_name, attachment_id),
        Action::TrashLocal {
            local_name,
            attachment_id,
        } => (5, local_name, attachment_id),
        Action::Forget { local_name } => (6, local_name, ""),
    }
}

/// The local name a new attachment would get in an empty folder: what a same-named local
/// file must be called to be "the same file" on a first sync.
fn base_name(a: &RemoteAttachment) -> String {
    match &a.kind {
        AttachmentKind::File => local_name_for(&a.file_name, &HashSet::new()),
        AttachmentKind::Link { .. } => link_file_name(&a.file_name, &HashSet::new()),
    }
}

/// Why a new attachment is not to be synced at all, if it is not.
fn skip_reason(
    a: &RemoteAttachment,
    base: &str,
    ignore: Option<&IgnoreRules>,
) -> Option<RemoteSkip> {
    if let AttachmentKind::Link { url } = &a.kind
        && let Err(why) = check_link_url(url)
    {
        return Some(RemoteSkip::UnsafeLink(why));
    }
    ignored(base, ignore)
}

/// [`RemoteSkip::IgnoredName`] when the scan would ignore a file called `local_name`.
fn ignored(local_name: &str, ignore: Option<&IgnoreRules>) -> Option<RemoteSkip> {
    ignore
        .is_some_and(|rules| rules.is_ignored(local_name))
        .then(|| RemoteSkip::IgnoredName {
            local_name: local_name.to_string(),
        })
}

/// Names in use, plus the folded base names of new attachments still to be downloaded.
struct TakenOrPending<'p> {
    taken: &'p FoldedNames,
    pending: HashSet<&'p str>,
    folding: NameFolding,
}

impl TakenNames for TakenOrPending<'_> {
    fn is_taken(&self, name: &str) -> bool {
        self.taken.is_taken(name) || self.pending.contains(self.folding.key(name).as_ref())
    }
}

/// Working state of one `plan` call.
struct Planner<'a> {
    local: BTreeMap<&'a str, &'a LocalEntry>,
    remote: BTreeMap<&'a str, &'a RemoteAttachment>,
    /// Journal rows by local name (first row wins on a corrupt duplicate).
    synced: BTreeMap<&'a str, &'a SyncedEntry>,
    /// Attachments no journal row knows, ordered by (created_time, id), with base names
    /// and their folded keys; without those deliberately not synced.
    unknown: Vec<(&'a RemoteAttachment, String, String)>,
    /// Ids of unknown attachments already given a fate (or deferred) in this pass.
    claimed: HashSet<&'a str>,
    /// Local files without a row held back this pass (see [`Planner::respelled`]).
    held: HashSet<&'a str>,
    /// Every name in the folder (files and skipped entries alike), in the journal, or
    /// handed out by this plan, compared as the file system compares names.
    taken: FoldedNames,
    occupied: &'a HashSet<String>,
    ignore: Option<&'a IgnoreRules>,
    folding: NameFolding,
    stamp: &'a str,
    direction: Direction,
    out: Vec<Action>,
    skipped: Vec<SkippedRemote>,
}

impl<'a> Planner<'a> {
    fn new(local: &'a [LocalEntry], remote: &'a [RemoteAttachment], input: &PlanInput<'a>) -> Self {
        let local: BTreeMap<&str, &LocalEntry> =
            local.iter().map(|l| (l.name.as_str(), l)).collect();
        let mut remote_map = BTreeMap::new();
        for a in remote {
            remote_map.entry(a.id.as_str()).or_insert(a);
        }
        let mut synced = BTreeMap::new();
        for s in input.synced {
            synced.entry(s.local_name.as_str()).or_insert(s);
        }
        let known: HashSet<&str> = input
            .synced
            .iter()
            .map(|s| s.attachment_id.as_str())
            .collect();
        let mut unknown: Vec<&RemoteAttachment> = remote_map
            .values()
            .copied()
            .filter(|a| !known.contains(a.id.as_str()))
            .collect();
        unknown.sort_by(|a, b| (&a.created_time, &a.id).cmp(&(&b.created_time, &b.id)));
        let mut skipped = Vec::new();
        let mut kept = Vec::new();
        for a in unknown {
            let base = base_name(a);
            match skip_reason(a, &base, input.ignore) {
                Some(reason) => skipped.push(SkippedRemote {
                    attachment_id: a.id.clone(),
                    remote_name: a.file_name.clone(),
                    reason,
                }),
                None => {
                    let key = input.folding.key(&base).into_owned();
                    kept.push((a, base, key));
                }
            }
        }
        let mut taken = FoldedNames::new(input.folding);
        for name in local
            .keys()
            .copied()
            .chain(input.synced.iter().map(|s| s.local_name.as_str()))
            .chain(input.occupied.iter().map(String::as_str))
        {
            taken.insert(name);
        }
        Planner {
            local,
            remote: remote_map,
            synced,
            unknown: kept,
            claimed: HashSet::new(),
            held: HashSet::new(),
            taken,
            occupied: input.occupied,
            ignore: input.ignore,
            folding: input.folding,
            stamp: input.conflict_stamp,
            direction: input.direction,
            out: Vec::new(),
            skipped,
        }
    }

    fn run(mut self) -> (Vec<Action>, Vec<SkippedRemote>) {
        let rows: Vec<&SyncedEntry> = self.synced.values().copied().collect();
        for s in rows {
            self.synced_row(s);
        }
        let fresh: Vec<&LocalEntry> = self
            .local
            .values()
            .copied()
            .filter(|l| !self.synced.contains_key(l.name.as_str()))
            .collect();
        for l in fresh {
            self.new_local(l);
        }
        self.new_remotes();
        (self.out, self.skipped)
    }

    /// First unclaimed unknown attachment matching `pred`, in (created_time, id) order.
    /// `pred` is given the attachment and the folded key of its base name.
    fn find_unknown(
        &self,
        pred: impl Fn(&RemoteAttachment, &str) -> bool,
    ) -> Option<&'a RemoteAttachment> {
        self.unknown
            .iter()
            .find(|(a, _, key)| !self.claimed.contains(a.id.as_str()) && pred(a, key))
            .map(|(a, _, _)| *a)
    }

    fn claim(&mut self, a: &'a RemoteAttachment) {
        self.claimed.insert(a.id.as_str());
    }

    /// A fresh conflict name for `local_name`, reserved for the rest of the plan.
    ///
    /// It also avoids the names unclaimed new attachments come down under: an earlier
    /// conflict copy still in Zoho (its local copy deleted, or the journal lost) would
    /// otherwise be downloaded beside this one under a number, and the renamed file,
    /// uploaded under the copy's own name next pass, would be a second attachment of it.
    fn reserve_conflict_name(&mut self, local_name: &str) -> String {
        let pending: HashSet<&str> = self
            .unknown
            .iter()
            .filter(|(a, _, _)| !self.claimed.contains(a.id.as_str()))
            .map(|(_, _, key)| key.as_str())
            .collect();
        let avoid = TakenOrPending {
            taken: &self.taken,
            pending,
            folding: self.folding,
        };
        let name = conflict_name(local_name, self.stamp, &avoid);
        self.taken.insert(&name);
        name
    }

    /// Upload of a local file as new: a link for a parseable `.url` file, bytes otherwise.
    fn upload(&mut self, l: &LocalEntry, remote_name: &str) {
        self.out.push(match &l.link_url {
            Some(url) => Action::UploadLink {
                local_name: l.name.clone(),
                url: url.clone(),
                title: remote_name.to_string(),
            },
            None => Action::Upload {
                local_name: l.name.clone(),
                remote_name: remote_name.to_string(),
            },
        });
    }

    fn synced_row(&mut self, s: &'a SyncedEntry) {
        let l = self.local.get(s.local_name.as_str()).copied();
        let a = self.remote.get(s.attachment_id.as_str()).copied();
        if l.is_none() && self.occupied.contains(&s.local_name) {
            // The scan could not read it, or it is now ignored or no longer a regular
            // file: present but unknown, never a reason to delete or forget.
            return;
        }
        if l.is_none() && self.respelled(s) {
            return;
        }
        match (l, a) {
            (Some(l), Some(_)) => {
                if !l.stable {
                    return;
                }
                if l.hash != s.hash {
                    self.out.push(Action::Replace {
                        local_name: s.local_name.clone(),
                        remote_name: s.remote_name.clone(),
                        old_attachment_id: s.attachment_id.clone(),
                    });
                } else if metadata_only(l, s) {
                    self.out.push(Action::Refresh {
                        local_name: s.local_name.clone(),
                    });
                }
            }
            (None, Some(_)) => self.out.push(Action::DeleteRemote {
                attachment_id: s.attachment_id.clone(),
                local_name: s.local_name.clone(),
            }),
            (Some(l), None) => self.remote_gone(l, s),
            (None, None) => self.out.push(Action::Forget {
                local_name: s.local_name.clone(),
            }),
        }
    }

    /// On a folding file system, a row whose file is missing under its own spelling while
    /// the folder holds that name under another one ("A.PDF" renamed to "a.pdf", or
    /// deleted and created again): the name is not free, so the executor, which asks the
    /// file system, would refuse a delete of the attachment on every pass. The row's
    /// spelling is stale: forget it (journal only) and hold the other file back this
    /// pass, with any same-named new attachment. Next pass the file is new and meets the
    /// attachment, now unknown, as a same-named one: adopted, or a conflict; never a
    /// duplicate, never a delete. An entry the scan skipped holds the name too, and the
    /// row stays as for an exact match.
    fn respelled(&mut self, s: &SyncedEntry) -> bool {
        if self.folding == NameFolding::None {
            return false;
        }
        let key = self.folding.key(&s.local_name);
        if self.occupied.iter().any(|o| self.folding.key(o) == key) {
            return true;
        }
        let twins: Vec<&'a str> = self
            .local
            .keys()
            .copied()
            .filter(|n| self.folding.key(n) == key)
            .collect();
        if twins.is_empty() {
            return false;
        }
        self.out.push(Action::Forget {
            local_name: s.local_name.clone(),
        });
        self.held.extend(twins);
        true
    }

    /// The row's attachment is gone but its local file is still here.
    fn remote_gone(&mut self, l: &LocalEntry, s: &SyncedEntry) {
        let is_link = s.link_url.is_some();
        let successor = self.find_unknown(|a, _| {
            a.file_name == s.remote_name && matches!(a.kind, AttachmentKind::Link { .. }) == is_link
        });
        if !l.stable {
            // Being written: neither an edit to upload nor a file to trash yet. Hold the
            // successor back too: downloaded beside the file under another name, the pair
            // would never be recognised as one.
            if let Some(b) = successor {
                self.claim(b);
            }
            return;
        }
        if l.hash == s.hash {
            match successor {
                Some(b) => {
                    self.claim(b);
                    self.out.push(Action::ReplaceLocal {
                        attachment_id: b.id.clone(),
                        local_name: s.local_name.clone(),
                        old_attachment_id: s.attachment_id.clone(),
                    });
                }
                None => self.out.push(Action::TrashLocal {
                    local_name: s.local_name.clone(),
                    attachment_id: s.attachment_id.clone(),
                }),
            }
        } else if let Some(b) = successor.filter(|b| !is_link && b.size == l.size) {
            // The file may already hold the successor: a replace that was cut off between
            // placing the download and recording it leaves exactly this. Compare before
            // treating it as an edit, or the same content would be uploaded a second time.
            // Different content makes the edit the conflict copy, uploaded by the next pass.
            self.compare(b, &s.local_name);
        } else if let Some(b) = successor {
            // A remote replacement alongside an edit is a conflict.
            self.conflict(l, b);
        } else {
            // An edit beats a delete.
            self.upload(l, &s.remote_name);
        }
    }

    /// A local file with no journal row. Never yields a delete: there is no base.
    fn new_local(&mut self, l: &LocalEntry) {
        // On a folding file system a differently spelled name is still the same file.
        let key = self.folding.key(&l.name).into_owned();
        let same_name = self.find_unknown(|_, base| base == key);
        if !l.stable || self.held.contains(l.name.as_str()) {
            // Hold a same-named attachment back too, or it would be downloaded beside the
            // file under another name and the pair never recognised as one.
            if let Some(b) = same_name {
                self.claim(b);
            }
            return;
        }
        if let Some(url) = &l.link_url {
            let same_link = self.find_unknown(|a, base| {
                base == key && matches!(&a.kind, AttachmentKind::Link { url: u } if u == url)
            });
            if let Some(b) = same_link {
                self.claim(b);
                self.out.push(Action::Adopt {
                    attachment_id: b.id.clone(),
                    local_name: l.name.clone(),
                });
                return;
            }
            match same_name {
                Some(b) => self.conflict(l, b),
                None => self.upload(l, &link_title_from_file(&l.name)),
            }
            return;
        }
        let same_size = |a: &RemoteAttachment, base: &str| {
            base == key && a.kind == AttachmentKind::File && a.size == l.size
        };
        // An exact File_Name match is the likelier twin of several same-sized candidates.
        let twin = self
            .find_unknown(|a, base| same_size(a, base) && a.file_name == l.name)
            .or_else(|| self.find_unknown(same_size));
        match twin {
            Some(b) => {
                self.compare(b, &l.name);
                // Other same-sized candidates wait for the outcome: one of them may be
                // the twin, and downloading it now would end in a duplicate upload.
                while let Some(other) = self.find_unknown(same_size) {
                    self.claim(other);
                }
            }
            None => match same_name {
                Some(b) => self.conflict(l, b),
                None => self.upload(l, &l.name),
            },
        }
    }

    /// Claims `remote` to be compared with the local file: adopted when equal, else the
    /// local file becomes the conflict copy and `remote` takes its name.
    fn compare(&mut self, remote: &'a RemoteAttachment, local_name: &str) {
        self.claim(remote);
        let conflict_name = self.reserve_conflict_name(local_name);
        self.out.push(Action::CompareAndAdopt {
            attachment_id: remote.id.clone(),
            local_name: local_name.to_string(),
            conflict_name,
        });
    }

    /// `l` and `remote` differ under one name. As Dropbox and Nextcloud do, the version
    /// already in Zoho keeps the plain name on both sides and the local one becomes the
    /// conflict copy, uploaded under that name: both sides list the same names and Zoho
    /// never gets a second attachment of the plain name. Upload-only writes nothing
    /// locally, so there the local file goes up under the conflict name instead.
    fn conflict(&mut self, l: &LocalEntry, remote: &'a RemoteAttachment) {
        self.claim(remote);
        let conflict_name = self.reserve_conflict_name(&l.name);
        if self.direction == Direction::UploadOnly {
            let remote_name = match l.link_url {
                Some(_) => link_title_from_file(&conflict_name),
                None => conflict_name,
            };
            self.upload(l, &remote_name);
            return;
        }
        self.out.push(Action::RenameLocalForConflict {
            local_name: l.name.clone(),
            conflict_name,
            attachment_id: remote.id.clone(),
        });
    }

    /// Every attachment nobody claimed is new: download it under a fresh, safe name.
    fn new_remotes(&mut self) {
        let pending: Vec<&'a RemoteAttachment> = self
            .unknown
            .iter()
            .filter(|(a, _, _)| !self.claimed.contains(a.id.as_str()))
            .map(|(a, _, _)| *a)
            .collect();
        for a in pending {
            let local_name = match &a.kind {
                AttachmentKind::File => local_name_for(&a.file_name, &self.taken),
                AttachmentKind::Link { .. } => link_file_name(&a.file_name, &self.taken),
            };
            // A numbered name can match a configured glob the base name did not.
            if let Some(reason) = ignored(&local_name, self.ignore) {
                self.skipped.push(SkippedRemote {
                    attachment_id: a.id.clone(),
                    remote_name: a.file_name.clone(),
                    reason,
                });
                continue;
            }
            self.taken.insert(&local_name);
            self.out.push(Action::Download {
                attachment_id: a.id.clone(),
                local_name,
            });
        }
    }
}
