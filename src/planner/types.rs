//! Inputs and outputs of the planner. Defined apart from the planner logic because the
//! scanner produces [`LocalEntry`], the journal layer produces [`SyncedEntry`] and the
//! executor consumes [`Action`].

use super::names::NameFolding;
use crate::model::{ContentHash, RemoteAttachment, Stat};
use crate::scan::{IgnoreRules, UnsafeLink};
use std::collections::HashSet;

/// One regular file in a record folder, as the scanner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry {
    /// File name inside the record folder (never a path).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Inode number (a rename keeps it).
    pub inode: u64,
    /// Status-change time, nanoseconds: moves on every write, even one that puts the old
    /// mtime back.
    pub ctime_ns: i64,
    /// BLAKE3 of the content (taken from the hash cache when size, mtime, inode and ctime
    /// match).
    pub hash: ContentHash,
    /// For a `.url` file (`[InternetShortcut]` / `URL=`): the link it holds.
    pub link_url: Option<String>,
    /// Unchanged (size and mtime) for at least the debounce window, or exactly as last
    /// synced (the journal's stat); unstable files are neither uploaded nor treated as
    /// deleted.
    pub stable: bool,
}

impl LocalEntry {
    /// The stat the scan saw.
    pub fn stat(&self) -> Stat {
        Stat {
            size: self.size,
            mtime_ns: self.mtime_ns,
            inode: self.inode,
            ctime_ns: self.ctime_ns,
        }
    }
}

/// What both sides held when they last agreed, one row per local file / attachment pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedEntry {
    /// File name in the record folder.
    pub local_name: String,
    /// The Zoho attachment id it is tied to.
    pub attachment_id: String,
    /// Zoho's file id of that attachment, when the list gave one.
    pub file_id: Option<String>,
    /// `File_Name` on the Zoho side (may differ from `local_name` after name mapping).
    pub remote_name: String,
    /// Size in bytes at the last sync.
    pub size: u64,
    /// BLAKE3 of the content at the last sync.
    pub hash: ContentHash,
    /// Modification time at the last sync, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Inode number at the last sync.
    pub inode: u64,
    /// 0 when unknown (rows written before journal schema 4): then size, mtime and inode
    /// alone decide whether the cached hash is trusted.
    pub ctime_ns: i64,
    /// Set for link attachments synced as `.url` files.
    pub link_url: Option<String>,
}

impl SyncedEntry {
    /// The stat recorded at the last sync.
    pub fn stat(&self) -> Stat {
        Stat {
            size: self.size,
            mtime_ns: self.mtime_ns,
            inode: self.inode,
            ctime_ns: self.ctime_ns,
        }
    }
}

/// Which way changes flow (config `sync.direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Changes flow both ways (the default).
    #[default]
    Both,
    /// Local changes go up; nothing local is written or trashed.
    UploadOnly,
    /// Remote changes come down; nothing remote is created or deleted.
    DownloadOnly,
}

/// Everything the planner looks at for one record.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The record folder's files; `None` when the folder could not be read (unknown,
    /// never "empty").
    pub local: Option<&'a [LocalEntry]>,
    /// The record's attachments; `None` when the list call failed or was partial.
    pub remote: Option<&'a [RemoteAttachment]>,
    /// What both sides held at the last sync (the journal's rows).
    pub synced: &'a [SyncedEntry],
    /// Stamp used in conflict names, e.g. `2026-11-25 101500` (the planner reads no clock).
    pub conflict_stamp: &'a str,
    /// Which way changes may flow.
    pub direction: Direction,
    /// Names in the folder the scan skipped (ignored files, sub-folders, symlinks,
    /// unreadable entries): present but unknown. Never a download target, and never a
    /// reason to delete or forget what the journal tied to that name.
    pub occupied: &'a HashSet<String>,
    /// The scan's ignore rules: an attachment whose local name they would ignore is not
    /// downloaded (the scan would never see it again, so it could never be tracked) but
    /// listed in [`Plan::skipped`]. `None`: nothing is ignored.
    pub ignore: Option<&'a IgnoreRules>,
    /// How the folder's file system compares names.
    pub folding: NameFolding,
}

/// The planner's answer for one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What to do, in execution order.
    pub actions: Vec<Action>,
    /// New attachments that are deliberately not synced, sorted by id; empty when the
    /// remote side is unknown.
    pub skipped: Vec<SkippedRemote>,
}

/// An attachment that is not downloaded, and why (shown by `status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRemote {
    /// The attachment's Zoho id.
    pub attachment_id: String,
    /// `File_Name` as Zoho lists it.
    pub remote_name: String,
    /// Why it is not downloaded.
    pub reason: RemoteSkip,
}

/// Why an attachment is not synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteSkip {
    /// Its local name would match the ignore rules.
    #[error("not downloaded: its name {local_name:?} matches the ignore rules")]
    IgnoredName {
        /// The name the attachment would have in the folder.
        local_name: String,
    },
    /// A link whose URL is not written as a `.url` file.
    #[error("not downloaded: {0}")]
    UnsafeLink(UnsafeLink),
}

/// One step the executor performs. Each one, once confirmed, moves the journal forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A local file with no synced base and no same-named attachment: upload it.
    Upload {
        /// The file in the folder.
        local_name: String,
        /// The `File_Name` to give the attachment.
        remote_name: String,
    },
    /// A local `.url` file with no base: upload it as a link attachment.
    UploadLink {
        /// The `.url` file in the folder.
        local_name: String,
        /// The link it holds.
        url: String,
        /// The link attachment's title.
        title: String,
    },
    /// The local file changed since the last sync: upload the new version, record it,
    /// then delete `old_attachment_id` (never a moment with zero copies).
    Replace {
        /// The changed file in the folder.
        local_name: String,
        /// The `File_Name` to give the new attachment.
        remote_name: String,
        /// The attachment it replaces, deleted once the new one is recorded.
        old_attachment_id: String,
    },
    /// A new attachment: download it to `local_name` (a `.url` file for links).
    Download {
        /// The attachment to download.
        attachment_id: String,
        /// The name to write it under in the folder.
        local_name: String,
    },
    /// The attachment behind an unchanged local file was replaced remotely (old id gone,
    /// new id with the same name): fetch the new one; the old local version goes to trash.
    ReplaceLocal {
        /// The new attachment to download.
        attachment_id: String,
        /// The file it replaces in the folder.
        local_name: String,
        /// The attachment that was replaced in Zoho.
        old_attachment_id: String,
    },
    /// New on both sides with the same name and size: fetch the remote bytes, compare
    /// hashes; equal → adopt as one, different → as [`Action::RenameLocalForConflict`]
    /// with the bytes already fetched.
    CompareAndAdopt {
        /// The attachment whose bytes are compared.
        attachment_id: String,
        /// The same-named local file.
        local_name: String,
        /// Where the local file goes if the contents differ.
        conflict_name: String,
    },
    /// A same-named link/.url pair pointing at the same URL: adopt without transfer.
    Adopt {
        /// The link attachment.
        attachment_id: String,
        /// The `.url` file that points at the same URL.
        local_name: String,
    },
    /// Different content under one name on both sides: the version already in Zoho keeps
    /// the plain name on both sides. The local file (exactly as scanned) moves to
    /// `conflict_name` in its folder, never over an existing file, and its journal row, if
    /// any, goes; then the attachment is downloaded under `local_name`. The renamed file
    /// is then simply a new local file, uploaded under its own name by the next pass.
    RenameLocalForConflict {
        /// The local file that moves aside.
        local_name: String,
        /// Its new name in the same folder.
        conflict_name: String,
        /// The attachment then downloaded under `local_name`.
        attachment_id: String,
    },
    /// The user deleted the local file: delete the attachment.
    DeleteRemote {
        /// The attachment to delete.
        attachment_id: String,
        /// The local file the user deleted.
        local_name: String,
    },
    /// The attachment was deleted in Zoho: move the local file to the trash.
    TrashLocal {
        /// The file to move to the trash.
        local_name: String,
        /// The attachment Zoho no longer has.
        attachment_id: String,
    },
    /// Gone on both sides: drop the journal row.
    Forget {
        /// The journal row's local name.
        local_name: String,
    },
    /// Metadata-only change (touched, same hash, or renamed inode): update the journal.
    Refresh {
        /// The file whose journal row is brought up to date.
        local_name: String,
    },
}

impl Action {
    /// True for the actions the delete guard counts (they remove something a user holds).
    pub fn is_delete(&self) -> bool {
        matches!(
            self,
            Action::DeleteRemote { .. } | Action::TrashLocal { .. }
        )
    }
}
