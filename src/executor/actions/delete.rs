//! Deletes: of an attachment the user deleted locally, of a version a replace superseded
//! (retried across passes), and of a local file whose attachment is gone (to the trash).

use super::super::trash::move_to_trash;
use super::super::{Done, ExecError, Executor, RecordWork, RemoteDelta};
use super::stat;
use crate::dir_handle::DirHandle;
use crate::journal::NewFailure;
use crate::log_fields::{ATTACHMENT_ID, FILE, MODULE, RECORD};
use crate::model::unix_now;

impl Executor {
    /// Deletes the attachment a new version replaced. When that fails the replace still
    /// stands (the new version is recorded); the old id is remembered in the journal so
    /// that later reconciles retry the delete and never download it as a new file.
    pub(super) async fn delete_superseded(&self, w: &RecordWork, old: &str) {
        if let Err(e) = self.delete_attachment(&w.key, old).await {
            tracing::warn!({ RECORD } = %w.key.record_id, { MODULE } = %w.key.module, { ATTACHMENT_ID } = old, error = %e,
                "could not delete the replaced version yet; will retry");
            let key = w.key.clone();
            let failure = NewFailure::superseded(
                old,
                e.to_string(),
                unix_now() + self.policy.persisted_delay(1).as_secs() as i64,
            );
            let _ = self.db(move |j| j.record_failure(&key, &failure)).await;
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
                    tracing::warn!({ RECORD } = %key.record_id, { MODULE } = %key.module, { ATTACHMENT_ID } = %id, error = %e,
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

    pub(super) async fn delete_remote(
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

    pub(super) async fn trash_local(
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
            tracing::info!({ RECORD } = %w.key.record_id, { MODULE } = %w.key.module, { FILE } = local_name, trash = %dest.display(), "attachment deleted in Zoho; local file moved to trash");
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

    /// Moves `local_name` out of the record folder into the trash (off the async
    /// workers); returns where it went.
    pub(super) async fn trash(
        &self,
        w: &RecordWork,
        dir: &DirHandle,
        local_name: &str,
    ) -> Result<std::path::PathBuf, ExecError> {
        let trash = self.trash_dir.clone();
        let key = w.key.clone();
        let (d, name) = (dir.clone(), local_name.to_string());
        let stamp = super::super::trash::stamp_now();
        tokio::task::spawn_blocking(move || move_to_trash(&trash, &key, &d, &name, &stamp))
            .await
            .map_err(|e| ExecError::Task(e.to_string()))?
            .map_err(|e| ExecError::io("move to trash", &dir.display_path(local_name), e))
    }
}
