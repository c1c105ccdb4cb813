//! Uploads: a file (intent row → POST → journal) or a link, and the send loop that adopts
//! what an attempt with an unknown outcome stored instead of sending it twice.

use super::super::adopt::{Sent, UploadIntent, adoption_candidates};
use super::super::{Done, ExecError, Executor, PassIntents, RecordWork, RemoteDelta};
use super::stat;
use crate::dir_handle::{self, DirHandle};
use crate::journal::{BatchOp, BatchOut, NewIntent};
use crate::log_fields::{ATTACHMENT_ID, FILE, MODULE, RECORD};
use crate::model::{AttachmentKind, ContentHash, RemoteAttachment, unix_now};
use crate::planner::SyncedEntry;
use crate::zoho::{UploadSource, Uploaded};
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Upload (or, with `replaces`, replace): intent → POST → journal → delete the old one.
    pub(super) async fn upload(
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
            tracing::info!({ RECORD } = %w.key.record_id, { MODULE } = %w.key.module, { FILE } = local_name, "file changed during upload; the final version follows");
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

    pub(super) async fn upload_link(
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
                            tracing::info!({ RECORD } = %w.key.record_id, { MODULE } = %w.key.module, { FILE } = local_name, { ATTACHMENT_ID } = %a.id,
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
}
