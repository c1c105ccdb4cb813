//! Downloads: into a free name, over the synced version (which goes to the trash), or
//! after comparing with a local file of the same name; links become `.url` files.

use super::super::{Done, ExecError, Executor, RecordWork};
use super::{entry_for, link_url_of, stat};
use crate::dir_handle::DirHandle;
use crate::journal::BatchOp;
use crate::log_fields::{ATTACHMENT_ID, FILE, MODULE, RECORD};
use crate::model::{AttachmentKind, ContentHash, RemoteAttachment};
use crate::planner::SyncedEntry;
use crate::scan::render_url_file;
use crate::zoho::Persist;
use std::path::Path;

impl Executor {
    /// Fetches an attachment into `local_name` (never over an existing file).
    pub(super) async fn download(
        &self,
        w: &RecordWork,
        attachment_id: &str,
        local_name: &str,
    ) -> Result<Done, ExecError> {
        let att = self.remote(w, attachment_id)?;
        let dir = w.dir()?;
        if dir
            .exists(local_name)
            .map_err(|e| ExecError::io("stat", &dir.display_path(local_name), e))?
        {
            return Err(ExecError::Changed(local_name.to_string()));
        }
        let (hash, bytes) = self.place(w, att, local_name, None).await?;
        self.commit_downloaded(w, att, local_name, hash, bytes)
            .await
    }

    /// Writes an attachment's content to `dest` in the record folder, never over an
    /// existing file: a `.url` file for a link, else the bytes (`fetched` when already in
    /// a temp file).
    async fn place(
        &self,
        w: &RecordWork,
        att: &RemoteAttachment,
        dest: &str,
        fetched: Option<crate::zoho::TempDownload>,
    ) -> Result<(ContentHash, u64), ExecError> {
        let dir = w.dir()?;
        if let AttachmentKind::Link { url } = &att.kind {
            return self.write_url_file(dir, dest, url).await;
        }
        let tmp = match fetched {
            Some(tmp) => tmp,
            None => self.fetch_to_temp(w, &att.id).await?,
        };
        self.self_writes.note(&dir.display_path(dest));
        // The rename may block on the folder's lock: off the async workers.
        let (target, shown) = (dest.to_string(), dir.display_path(dest));
        let d = tokio::task::spawn_blocking(move || persist(tmp, &target, &shown))
            .await
            .map_err(|e| ExecError::Task(e.to_string()))??;
        Ok((d.hash, d.bytes))
    }

    async fn fetch_to_temp(
        &self,
        w: &RecordWork,
        attachment_id: &str,
    ) -> Result<crate::zoho::TempDownload, ExecError> {
        self.with_retry("download", || async {
            Ok(self
                .client
                .download_to_temp(&w.key.module, &w.key.record_id, attachment_id, w.dir()?)
                .await?)
        })
        .await
    }

    async fn commit_downloaded(
        &self,
        w: &RecordWork,
        att: &RemoteAttachment,
        local_name: &str,
        hash: ContentHash,
        bytes: u64,
    ) -> Result<Done, ExecError> {
        let dir = w.dir()?;
        let s = stat(dir, local_name)
            .map_err(|e| ExecError::io("stat", &dir.display_path(local_name), e))?;
        let entry = SyncedEntry {
            local_name: local_name.to_string(),
            attachment_id: att.id.clone(),
            file_id: att.file_id.clone(),
            remote_name: att.file_name.clone(),
            size: s.size,
            hash,
            mtime_ns: s.mtime_ns,
            inode: s.inode,
            ctime_ns: s.ctime_ns,
            link_url: link_url_of(att),
        };
        // Not fsynced one by one: the row is unflushed, tagged with this boot, until a
        // later flush of the file system marks it (see `flush`).
        self.commits
            .write(BatchOp::UpsertUnflushed {
                key: w.key.clone(),
                entry,
                boot: super::super::flush::boot_id().map(str::to_owned),
            })
            .await?;
        Ok(Done {
            bytes,
            attachment_id: Some(att.id.clone()),
            unflushed: Some(local_name.to_string()),
            ..Done::default()
        })
    }

    /// Writes a `.url` file for a link attachment through a temp file in the record
    /// folder, never over an existing file, with the mode of any other download (0666
    /// less the umask).
    async fn write_url_file(
        &self,
        dir: &DirHandle,
        dest: &str,
        url: &str,
    ) -> Result<(ContentHash, u64), ExecError> {
        // The planner never plans an unsafe link; this is the second guard.
        let content = render_url_file(url).map_err(|e| ExecError::Inconsistent(e.to_string()))?;
        let hash = ContentHash::of_bytes(content.as_bytes());
        let shown = dir.display_path(dest);
        self.self_writes.note(&shown);
        let (dir, dest) = (dir.clone(), dest.to_string());
        tokio::task::spawn_blocking(move || -> Result<(), ExecError> {
            use std::io::Write;
            let tmp = format!(
                ".link-{:016x}{}",
                rand::random::<u64>(),
                crate::zoho::PART_SUFFIX
            );
            let written = dir.create_new(&tmp).and_then(|mut f| {
                f.write_all(content.as_bytes())?;
                f.sync_all()
            });
            let placed = written.and_then(|()| dir.rename_noreplace(&tmp, &dir, &dest));
            if let Err(e) = placed {
                let _ = dir.remove_file(&tmp);
                return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                    ExecError::Changed(shown.display().to_string())
                } else {
                    ExecError::io("write", &shown, e)
                });
            }
            Ok(())
        })
        .await
        .map_err(|e| ExecError::Task(e.to_string()))??;
        Ok((hash, render_len(url)))
    }

    pub(super) async fn replace_local(
        &self,
        w: &RecordWork,
        attachment_id: &str,
        local_name: &str,
        old_attachment_id: &str,
    ) -> Result<Done, ExecError> {
        let att = self.remote(w, attachment_id)?;
        let entry = w
            .synced
            .get(local_name)
            .ok_or_else(|| ExecError::Inconsistent(format!("no journal row for {local_name}")))?;
        let dir = w.dir()?;
        let check = || match stat(dir, local_name) {
            Ok(s) if s.same_file_version(&entry.stat()) => Ok(()),
            Ok(_) => Err(ExecError::Changed(local_name.to_string())),
            Err(e) => Err(ExecError::io("stat", &dir.display_path(local_name), e)),
        };
        check()?;
        let tmp = match &att.kind {
            AttachmentKind::File => Some(self.fetch_to_temp(w, attachment_id).await?),
            AttachmentKind::Link { .. } => None,
        };
        // Check again right before the old version goes to the trash.
        check()?;
        self.trash(w, dir, local_name).await?;
        let (hash, bytes) = self.place(w, att, local_name, tmp).await?;
        let done = self
            .commit_downloaded(w, att, local_name, hash, bytes)
            .await?;
        tracing::info!({ RECORD } = %w.key.record_id, { MODULE } = %w.key.module, { FILE } = local_name, old_attachment_id, "attachment replaced in Zoho; previous local version moved to trash");
        Ok(done)
    }

    pub(super) async fn compare_and_adopt(
        &self,
        w: &RecordWork,
        attachment_id: &str,
        local_name: &str,
        conflict_name: &str,
    ) -> Result<Done, ExecError> {
        let local = self.local(w, local_name)?;
        let att = self.remote(w, attachment_id)?;
        self.ensure_unchanged(w, local)?;
        let mut tmp = self.fetch_to_temp(w, attachment_id).await?;
        // A body held in memory (up to 1 MiB) is hashed here, as it used to be while it
        // arrived; a streamed one was hashed on the way.
        let dir = w.dir()?;
        if tmp
            .hash()
            .map_err(|e| ExecError::io("hash", dir.path(), e))?
            == local.hash
        {
            drop(tmp);
            self.ensure_unchanged(w, local)?;
            self.commit_entry(w, entry_for(local, att)).await?;
            tracing::info!({ RECORD } = %w.key.record_id, { MODULE } = %w.key.module, { FILE } = local_name, { ATTACHMENT_ID } = attachment_id, "same content on both sides; adopted without upload");
            return Ok(Done {
                attachment_id: Some(att.id.clone()),
                ..Done::default()
            });
        }
        self.rename_local_for_conflict(w, local_name, conflict_name)
            .await?;
        let (hash, bytes) = self.place(w, att, local_name, Some(tmp)).await?;
        self.commit_downloaded(w, att, local_name, hash, bytes)
            .await
    }
}

/// Places a download under `dest` in its folder, never over an existing file.
fn persist(
    tmp: crate::zoho::TempDownload,
    dest: &str,
    shown: &Path,
) -> Result<crate::zoho::Downloaded, ExecError> {
    tmp.persist(dest, Persist::NoClobber).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            ExecError::Changed(shown.display().to_string())
        } else {
            ExecError::io("rename into place", shown, e)
        }
    })
}

fn render_len(url: &str) -> u64 {
    render_url_file(url).map_or(0, |s| s.len() as u64)
}
