//! One function per action kind. Each checks that the disk still looks the way the
//! reconcile saw it before touching anything, and commits to the journal only once both
//! sides are confirmed.

use super::adopt::{Sent, UploadIntent, adoption_candidates};
use super::trash::move_to_trash;
use super::{Done, ExecError, Executor, PassIntents, RecordWork, RemoteDelta, unix_now};
use crate::dir_handle::{self, DirHandle};
use crate::journal::{BatchOp, BatchOut, NewIntent};
use crate::model::Stat;
use crate::model::{AttachmentKind, ContentHash, RemoteAttachment};
use crate::planner::{Action, LocalEntry, SyncedEntry};
use crate::scan::render_url_file;
use crate::zoho::{Persist, UploadSource, Uploaded};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Failure-row action of a replaced attachment whose delete is still pending.
pub const SUPERSEDED: &str = "delete_superseded";

/// What `stat` says of `name` in the record folder (a link is stat-ed, not followed).
fn stat(dir: &DirHandle, name: &str) -> std::io::Result<Stat> {
    dir.stat(name).map(|s| s.stat)
}

/// An upload whose file was swapped or rewritten between the scan and a send is not an
/// error to retry or park: the next reconcile plans again from a fresh scan.
fn changed_during_send(e: ExecError, local_name: &str) -> ExecError {
    match e {
        ExecError::Zoho(crate::zoho::ZohoError::Io(io)) if dir_handle::is_changed(&io) => {
            ExecError::Changed(local_name.to_string())
        }
        e => e,
    }
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

    /// Upload (or, with `replaces`, replace): intent → POST → journal → delete the old one.
    async fn upload(
        &self,
        w: &RecordWork,
        local_name: &str,
        remote_name: &str,
        replaces: Option<&String>,
        intents: &PassIntents,
    ) -> Result<Done, ExecError> {
        let local = self.local(w, local_name)?;
        self.ensure_unchanged(w, local)?;
        let dir = w.dir()?;
        // Every attempt opens the file afresh through the folder's handle and sends it
        // only while it is the version scanned (same inode, size and mtime).
        let source = UploadSource {
            dir: dir.clone(),
            name: local_name.to_string(),
            scanned: Some(local.stat()),
        };
        let (size, hash) = (local.size, local.hash);
        let intent = NewIntent {
            local_name: local_name.to_string(),
            remote_name: remote_name.to_string(),
            size,
            hash,
        };
        let uploaded = self
            .upload_with_intent(w, intent, intents, || {
                let source = &source;
                async move {
                    self.client
                        .upload_from(&w.key.module, &w.key.record_id, source, remote_name)
                        .await
                }
            })
            .await
            .map_err(|e| changed_during_send(e, local_name))?;
        // Stat after the upload: a file that changed while it was sent is recorded with
        // the version that was hashed, so the next reconcile sees the change and replaces
        // the attachment with the final content.
        if !stat(dir, local_name).is_ok_and(|s| s.same_file_version(&local.stat())) {
            tracing::info!(record = %w.key, file = local_name, "file changed during upload; the final version follows");
        }
        let entry = SyncedEntry {
            local_name: local_name.to_string(),
            attachment_id: uploaded.0.id.clone(),
            file_id: None,
            remote_name: remote_name.to_string(),
            size,
            hash,
            mtime_ns: local.mtime_ns,
            inode: local.inode,
            ctime_ns: local.ctime_ns,
            link_url: None,
        };
        self.commits
            .write(BatchOp::CompleteUpload {
                key: w.key.clone(),
                intent_id: uploaded.1,
                entry,
            })
            .await?;
        let mut done = Done {
            bytes: size,
            attachment_id: Some(uploaded.0.id.clone()),
            deltas: vec![RemoteDelta::Added(RemoteAttachment {
                id: uploaded.0.id.clone(),
                file_id: None,
                file_name: remote_name.to_string(),
                size,
                kind: AttachmentKind::File,
                created_time: uploaded.0.created_time.clone(),
                modified_time: None,
            })],
            unflushed: None,
        };
        if let Some(old) = replaces {
            // The new version is recorded; only now may the old one go.
            self.delete_superseded(w, old).await;
            done.deltas.push(RemoteDelta::Removed(old.clone()));
        }
        Ok(done)
    }

    async fn upload_link(
        &self,
        w: &RecordWork,
        local_name: &str,
        url: &str,
        title: &str,
    ) -> Result<Done, ExecError> {
        let local = self.local(w, local_name)?;
        self.ensure_unchanged(w, local)?;
        let sought = UploadIntent {
            remote_name: title,
            sent: Sent::Link { url },
            created_unix: unix_now(),
        };
        // No intent row: a link left behind by a crash is adopted by the planner, which
        // matches a `.url` file to a link by its URL.
        let uploaded = self
            .send_adopting(w, "upload_link", local_name, sought, || {
                self.client
                    .upload_link(&w.key.module, &w.key.record_id, url, title)
            })
            .await
            .map_err(|(e, _)| e)?;
        let entry = SyncedEntry {
            local_name: local_name.to_string(),
            attachment_id: uploaded.id.clone(),
            file_id: None,
            remote_name: title.to_string(),
            size: local.size,
            hash: local.hash,
            mtime_ns: local.mtime_ns,
            inode: local.inode,
            ctime_ns: local.ctime_ns,
            link_url: Some(url.to_string()),
        };
        self.commit_entry(w, entry).await?;
        Ok(Done {
            bytes: 0,
            attachment_id: Some(uploaded.id.clone()),
            deltas: vec![RemoteDelta::Added(RemoteAttachment {
                id: uploaded.id,
                file_id: None,
                file_name: title.to_string(),
                size: 0,
                kind: AttachmentKind::Link {
                    url: url.to_string(),
                },
                created_time: uploaded.created_time,
                modified_time: None,
            })],
            unflushed: None,
        })
    }

    /// Takes the pass's reserved intent (or writes one), runs the upload with retries,
    /// and when an attempt's outcome is unknown lists the record and adopts the
    /// attachment it created before retrying.
    async fn upload_with_intent<F, Fut>(
        &self,
        w: &RecordWork,
        intent: NewIntent,
        intents: &PassIntents,
        send: F,
    ) -> Result<(Uploaded, i64), ExecError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Uploaded, crate::zoho::ZohoError>>,
    {
        // Only attachments created after this instant can be this upload's; a reserved
        // intent's own (earlier) time would only widen that window.
        let created_unix = unix_now();
        let intent_id = match intents.take(&w.key, &intent) {
            Some(id) => id,
            None => self.write_intent(&w.key, &intent, created_unix).await?,
        };
        let sought = UploadIntent {
            remote_name: &intent.remote_name,
            sent: Sent::File {
                size: intent.size,
                hash: &intent.hash,
            },
            created_unix,
        };
        match self
            .send_adopting(w, "upload", &intent.local_name, sought, send)
            .await
        {
            Ok(u) => Ok((u, intent_id)),
            Err((e, outcome_unknown)) => {
                // An intent only matters while Zoho may hold the upload; otherwise drop it
                // so a later reconcile plans a clean upload.
                if !outcome_unknown {
                    let _ = self.db(move |j| j.remove_intent(intent_id)).await;
                }
                Err(e)
            }
        }
    }

    /// Sends an upload with retries. When an attempt's outcome is unknown (Zoho may have
    /// stored it), the record is listed before the next attempt, and what that attempt
    /// stored is adopted instead of sent a second time. An error comes with whether the
    /// last attempt's outcome was unknown.
    async fn send_adopting<F, Fut>(
        &self,
        w: &RecordWork,
        op: &'static str,
        local_name: &str,
        sought: UploadIntent<'_>,
        mut send: F,
    ) -> Result<Uploaded, (ExecError, bool)>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Uploaded, crate::zoho::ZohoError>>,
    {
        let known = w.known_attachment_ids();
        let outcome_unknown = AtomicBool::new(false);
        let result = self
            .with_retry(op, || {
                let unknown = &outcome_unknown;
                let known = &known;
                let sought = &sought;
                let sent = send();
                async move {
                    if unknown.load(Ordering::SeqCst) {
                        let listed = self.client.list(&w.key.module, &w.key.record_id).await?;
                        // Zoho answered: reopen the gate now. This attempt may be the gate's
                        // single probe, and the downloads that confirm a candidate go
                        // through the gate themselves; they would wait for this probe to
                        // end, that is for themselves (a stall of the probe timeout).
                        self.gate.report_reachable();
                        let candidates = adoption_candidates(&listed, sought, known);
                        let adopted = match sought.sent {
                            Sent::File { hash, .. } => {
                                self.confirm_adoptable(&w.key, w.dir()?, candidates, hash)
                                    .await?
                            }
                            // The URL is a link's whole content: nothing to fetch.
                            Sent::Link { .. } => candidates.first().copied(),
                        };
                        if let Some(a) = adopted {
                            tracing::info!(record = %w.key, file = local_name, attachment_id = %a.id,
                                "upload outcome was unknown; adopting the attachment Zoho stored");
                            return Ok(Uploaded { id: a.id.clone(), created_time: a.created_time.clone() });
                        }
                        unknown.store(false, Ordering::SeqCst);
                    }
                    match sent.await {
                        Err(e) if e.outcome_unknown() => {
                            unknown.store(true, Ordering::SeqCst);
                            Err(e.into())
                        }
                        other => Ok(other?),
                    }
                }
            })
            .await;
        result.map_err(|e| (e, outcome_unknown.load(Ordering::SeqCst)))
    }

    async fn write_intent(
        &self,
        key: &crate::model::RecordKey,
        intent: &NewIntent,
        now_unix: i64,
    ) -> Result<i64, ExecError> {
        let op = BatchOp::AddIntent {
            key: key.clone(),
            intent: intent.clone(),
            now_unix,
        };
        match self.commits.write(op).await? {
            BatchOut::IntentId(id) => Ok(id),
            BatchOut::Done => Err(ExecError::Task("the journal returned no intent id".into())),
        }
    }

    /// Of `candidates` (see `adoption_candidates`), the one whose content is `hash`:
    /// each is fetched into a temp file in `dir` and compared. Only a content match is
    /// proof that an interrupted upload reached Zoho.
    pub async fn confirm_adoptable<'r>(
        &self,
        key: &crate::model::RecordKey,
        dir: &DirHandle,
        candidates: Vec<&'r RemoteAttachment>,
        hash: &ContentHash,
    ) -> Result<Option<&'r RemoteAttachment>, ExecError> {
        for candidate in candidates {
            let mut fetched = self
                .with_retry("download", || async {
                    Ok(self
                        .client
                        .download_to_temp(&key.module, &key.record_id, &candidate.id, dir)
                        .await?)
                })
                .await?;
            // Rare (an interrupted upload's candidates); a body held in memory (up to
            // 1 MiB) is hashed here.
            if fetched
                .hash()
                .map_err(|e| ExecError::io("hash", dir.path(), e))?
                == *hash
            {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// Deletes the attachment a new version replaced. When that fails the replace still
    /// stands (the new version is recorded); the old id is remembered in the journal so
    /// that later reconciles retry the delete and never download it as a new file.
    async fn delete_superseded(&self, w: &RecordWork, old: &str) {
        if let Err(e) = self.delete_attachment(&w.key, old).await {
            tracing::warn!(record = %w.key, attachment_id = old, error = %e,
                "could not delete the replaced version yet; will retry");
            let (key, id, msg) = (w.key.clone(), old.to_string(), e.to_string());
            let next = unix_now() + self.policy.persisted_delay(1).as_secs() as i64;
            let _ = self
                .db(move |j| j.record_failure(&key, &id, SUPERSEDED, &msg, false, 1, next))
                .await;
        }
    }

    /// Retries the deletes of replaced versions (see `delete_superseded`); a success
    /// clears the journal's row, a failure leaves it for the next reconcile.
    pub async fn retry_superseded(&self, key: &crate::model::RecordKey, ids: &[String]) {
        for id in ids {
            match self.delete_attachment(key, id).await {
                Ok(()) => {
                    let (k, s) = (key.clone(), id.clone());
                    let _ = self.db(move |j| j.clear_failure(&k, &s)).await;
                }
                Err(e) => {
                    tracing::warn!(record = %key, attachment_id = %id, error = %e,
                        "replaced version still not deleted; will retry");
                }
            }
        }
    }

    /// Deletes an attachment; one that is already gone counts as deleted.
    async fn delete_attachment(
        &self,
        key: &crate::model::RecordKey,
        id: &str,
    ) -> Result<(), ExecError> {
        self.with_retry("delete", || async {
            match self.client.delete(&key.module, &key.record_id, id).await {
                Err(e) if e.is_missing_attachment() => Ok(()),
                other => Ok(other?),
            }
        })
        .await
    }

    async fn delete_remote(
        &self,
        w: &RecordWork,
        attachment_id: &str,
        local_name: &str,
    ) -> Result<Done, ExecError> {
        // The user deleted the file; if it is back, the delete is off.
        let dir = w.dir()?;
        if dir
            .exists(local_name)
            .map_err(|e| ExecError::io("stat", &dir.display_path(local_name), e))?
        {
            return Err(ExecError::Changed(local_name.to_string()));
        }
        self.delete_attachment(&w.key, attachment_id).await?;
        let key = w.key.clone();
        let name = local_name.to_string();
        self.db(move |j| j.remove_entry(&key, &name)).await?;
        Ok(Done {
            attachment_id: Some(attachment_id.to_string()),
            deltas: vec![RemoteDelta::Removed(attachment_id.to_string())],
            ..Done::default()
        })
    }

    async fn trash_local(
        &self,
        w: &RecordWork,
        local_name: &str,
        attachment_id: &str,
    ) -> Result<Done, ExecError> {
        let entry = w
            .synced
            .get(local_name)
            .ok_or_else(|| ExecError::Inconsistent(format!("no journal row for {local_name}")))?;
        let dir = w.dir()?;
        let path = dir.display_path(local_name);
        // Only a file that is exactly as last synced is trashed: an edit beats a delete.
        let present = match stat(dir, local_name) {
            Ok(s) if s.same_file_version(&entry.stat()) => true,
            Ok(_) => return Err(ExecError::Changed(local_name.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(ExecError::io("stat", &path, e)),
        };
        let bytes = entry.size;
        if present {
            let dest = self.trash(w, dir, local_name).await?;
            tracing::info!(record = %w.key, file = local_name, trash = %dest.display(), "attachment deleted in Zoho; local file moved to trash");
        }
        let key = w.key.clone();
        let name = local_name.to_string();
        self.db(move |j| j.remove_entry(&key, &name)).await?;
        Ok(Done {
            bytes,
            attachment_id: Some(attachment_id.to_string()),
            ..Done::default()
        })
    }

    /// Fetches an attachment into `local_name` (never over an existing file).
    async fn download(
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

    /// Moves `local_name` out of the record folder into the trash (off the async
    /// workers); returns where it went.
    async fn trash(
        &self,
        w: &RecordWork,
        dir: &DirHandle,
        local_name: &str,
    ) -> Result<std::path::PathBuf, ExecError> {
        let trash = self.trash_dir.clone();
        let key = w.key.clone();
        let (d, name) = (dir.clone(), local_name.to_string());
        let stamp = trash_stamp();
        tokio::task::spawn_blocking(move || move_to_trash(&trash, &key, &d, &name, &stamp))
            .await
            .map_err(|e| ExecError::Task(e.to_string()))?
            .map_err(|e| ExecError::io("move to trash", &dir.display_path(local_name), e))
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
                boot: super::flush::boot_id().map(str::to_owned),
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

    async fn replace_local(
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
        tracing::info!(record = %w.key, file = local_name, old_attachment_id, "attachment replaced in Zoho; previous local version moved to trash");
        Ok(done)
    }

    async fn compare_and_adopt(
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
            tracing::info!(record = %w.key, file = local_name, attachment_id, "same content on both sides; adopted without upload");
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

    /// First half of resolving a conflict: moves the scanned local file `local_name` to
    /// `conflict_name` in its folder, so that Zoho's version can take the plain name.
    ///
    /// Only the exact file the scan saw moves (size, mtime and inode checked right before
    /// the rename), and never over an existing file (RENAME_NOREPLACE); otherwise
    /// `Changed`, and the next pass plans again. The row of `local_name`, if any (its
    /// attachment is gone, or the planner would not ask), is dropped first: a crash at any
    /// point then leaves either the unrenamed file without a row (a conflict again) or a
    /// new local file to upload plus an attachment to download under the free plain name,
    /// never a row that would keep the plain name taken. The path is not noted as the
    /// daemon's own write: the watcher's event is what brings the pass that uploads it.
    async fn rename_local_for_conflict(
        &self,
        w: &RecordWork,
        local_name: &str,
        conflict_name: &str,
    ) -> Result<(), ExecError> {
        let local = self.local(w, local_name)?.clone();
        self.ensure_unchanged(w, &local)?;
        if w.synced.contains_key(local_name) {
            let (key, name) = (w.key.clone(), local_name.to_string());
            self.db(move |j| j.remove_entry(&key, &name)).await?;
        }
        let dir = w.dir()?.clone();
        let to = conflict_name.to_string();
        tokio::task::spawn_blocking(move || {
            let from = dir.display_path(&local.name);
            match stat(&dir, &local.name) {
                Ok(s) if s.same_file_version(&local.stat()) => {
                    match dir.rename_noreplace(&local.name, &dir, &to) {
                        Ok(()) => Ok(()),
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(
                            ExecError::Changed(dir.display_path(&to).display().to_string()),
                        ),
                        Err(e) => Err(ExecError::io("rename to the conflict name", &from, e)),
                    }
                }
                Ok(_) => Err(ExecError::Changed(local.name.clone())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(ExecError::Changed(local.name.clone()))
                }
                Err(e) => Err(ExecError::io("stat", &from, e)),
            }
        })
        .await
        .map_err(|e| ExecError::Task(e.to_string()))??;
        tracing::warn!(record = %w.key, file = local_name, conflict = conflict_name,
            "different content on both sides: Zoho's version keeps the name, the local one is now the conflict copy");
        Ok(())
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

fn render_len(url: &str) -> u64 {
    render_url_file(url).map_or(0, |s| s.len() as u64)
}

/// The stamp that prefixes trashed files: local time, sortable.
pub(crate) fn trash_stamp() -> String {
    chrono::Local::now().format("%Y-%m-%d %H%M%S").to_string()
}
