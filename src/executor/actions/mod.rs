//! One function per action kind, by kind: `upload` (files and links, with the intent and
//! adoption loop), `download` (fetch, replace and compare), `delete` (remote deletes,
//! superseded versions, the trash) and `conflict` (the conflict rename). Each checks that
//! the disk still looks the way the reconcile saw it before touching anything, and commits
//! to the journal only once both sides are confirmed.

mod conflict;
mod delete;
mod download;
mod upload;

use super::{Done, ExecError, Executor, PassIntents, RecordWork, RemoteDelta};
use crate::dir_handle::DirHandle;
use crate::model::Stat;
use crate::model::{AttachmentKind, RemoteAttachment};
use crate::planner::{Action, LocalEntry, SyncedEntry};

/// What `stat` says of `name` in the record folder (a link is stat-ed, not followed).
fn stat(dir: &DirHandle, name: &str) -> std::io::Result<Stat> {
    dir.stat(name).map(|s| s.stat)
}

impl Executor {
    pub(super) async fn perform(
        &self,
        w: &RecordWork,
        action: &Action,
        intents: &PassIntents,
    ) -> Result<Done, ExecError> {
        match action {
            Action::Upload {
                local_name,
                remote_name,
            } => self.upload(w, local_name, remote_name, None, intents).await,
            Action::UploadLink {
                local_name,
                url,
                title,
            } => self.upload_link(w, local_name, url, title).await,
            Action::Replace {
                local_name,
                remote_name,
                old_attachment_id,
            } => {
                // An edited `.url` file replaces a link attachment with a link.
                match self.local(w, local_name)?.link_url.clone() {
                    Some(url) => {
                        let title = crate::planner::link_title_from_file(local_name);
                        let mut done = self.upload_link(w, local_name, &url, &title).await?;
                        self.delete_superseded(w, old_attachment_id).await;
                        done.deltas
                            .push(RemoteDelta::Removed(old_attachment_id.clone()));
                        Ok(done)
                    }
                    None => {
                        self.upload(w, local_name, remote_name, Some(old_attachment_id), intents)
                            .await
                    }
                }
            }
            Action::Download {
                attachment_id,
                local_name,
            } => self.download(w, attachment_id, local_name).await,
            Action::RenameLocalForConflict {
                local_name,
                conflict_name,
                attachment_id,
            } => {
                self.rename_local_for_conflict(w, local_name, conflict_name)
                    .await?;
                self.download(w, attachment_id, local_name).await
            }
            Action::ReplaceLocal {
                attachment_id,
                local_name,
                old_attachment_id,
            } => {
                self.replace_local(w, attachment_id, local_name, old_attachment_id)
                    .await
            }
            Action::CompareAndAdopt {
                attachment_id,
                local_name,
                conflict_name,
            } => {
                self.compare_and_adopt(w, attachment_id, local_name, conflict_name)
                    .await
            }
            Action::Adopt {
                attachment_id,
                local_name,
            } => {
                let local = self.local(w, local_name)?;
                let att = self.remote(w, attachment_id)?;
                self.commit_entry(w, entry_for(local, att)).await?;
                Ok(Done {
                    attachment_id: Some(att.id.clone()),
                    ..Done::default()
                })
            }
            Action::DeleteRemote {
                attachment_id,
                local_name,
            } => self.delete_remote(w, attachment_id, local_name).await,
            Action::TrashLocal {
                local_name,
                attachment_id,
            } => self.trash_local(w, local_name, attachment_id).await,
            Action::Forget { local_name } => {
                let key = w.key.clone();
                let name = local_name.clone();
                self.db(move |j| j.remove_entry(&key, &name)).await?;
                Ok(Done::default())
            }
            Action::Refresh { local_name } => {
                let local = self.local(w, local_name)?;
                let mut entry = w.synced.get(local_name).cloned().ok_or_else(|| {
                    ExecError::Inconsistent(format!("no journal row for {local_name}"))
                })?;
                entry.size = local.size;
                entry.mtime_ns = local.mtime_ns;
                entry.inode = local.inode;
                entry.hash = local.hash;
                self.commit_entry(w, entry).await?;
                Ok(Done::default())
            }
        }
    }

    fn local<'w>(&self, w: &'w RecordWork, name: &str) -> Result<&'w LocalEntry, ExecError> {
        w.local
            .get(name)
            .ok_or_else(|| ExecError::Inconsistent(format!("local file {name} not scanned")))
    }

    fn remote<'w>(&self, w: &'w RecordWork, id: &str) -> Result<&'w RemoteAttachment, ExecError> {
        w.remote
            .get(id)
            .ok_or_else(|| ExecError::Inconsistent(format!("attachment {id} not listed")))
    }

    async fn commit_entry(&self, w: &RecordWork, entry: SyncedEntry) -> Result<(), ExecError> {
        let key = w.key.clone();
        self.db(move |j| j.upsert_entry(&key, &entry)).await
    }

    /// Checks that a scanned file is still exactly as scanned.
    fn ensure_unchanged(&self, w: &RecordWork, local: &LocalEntry) -> Result<(), ExecError> {
        let dir = w.dir()?;
        match stat(dir, &local.name) {
            Ok(s) if s.same_file_version(&local.stat()) => Ok(()),
            Ok(_) => Err(ExecError::Changed(local.name.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ExecError::Changed(local.name.clone()))
            }
            Err(e) => Err(ExecError::io("stat", &dir.display_path(&local.name), e)),
        }
    }
}

fn entry_for(local: &LocalEntry, att: &RemoteAttachment) -> SyncedEntry {
    SyncedEntry {
        local_name: local.name.clone(),
        attachment_id: att.id.clone(),
        file_id: att.file_id.clone(),
        remote_name: att.file_name.clone(),
        size: local.size,
        hash: local.hash,
        mtime_ns: local.mtime_ns,
        inode: local.inode,
        ctime_ns: local.ctime_ns,
        link_url: link_url_of(att),
    }
}

fn link_url_of(att: &RemoteAttachment) -> Option<String> {
    match &att.kind {
        AttachmentKind::Link { url } => Some(url.clone()),
        AttachmentKind::File => None,
    }
}
