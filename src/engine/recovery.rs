//! Recovery of what a crash or a lost reply left half done: uploads that may have
//! reached Zoho (their intent rows), and downloads that may not have reached the disk
//! (rows not yet marked flushed).

use super::{Engine, EngineError};
use crate::dir_handle::DirHandle;
use crate::executor::adopt::{Sent, UploadIntent, adoption_candidates};
use crate::log_fields::{ATTACHMENT_ID, FILE, MODULE, RECORD};
use crate::model::{RecordKey, RemoteAttachment};
use crate::planner::{LocalEntry, SyncedEntry};
use crate::scan::RecordFolder;
use std::collections::{HashMap, HashSet};

/// A download recorded in the journal as not yet flushed to disk.
#[derive(Debug, Clone)]
pub struct UnflushedDownload {
    /// The record it belongs to.
    pub key: RecordKey,
    /// The record folder, opened without following links.
    pub dir: DirHandle,
    /// The downloaded file's name in the folder.
    pub local_name: String,
    /// The attachment it was downloaded from.
    pub attachment_id: String,
}

impl Engine {
    /// Downloads recorded but not known to be flushed, written before a reboot (or in an
    /// unknown boot), so a power cut may have damaged them: a file whose
    /// content still hashes to what was downloaded is synced and marked flushed; any other
    /// (empty, torn, gone) loses its row, so the planner compares it with Zoho as an
    /// unknown file instead of taking the damage for a local edit or delete. Returns the
    /// names whose rows were dropped.
    pub(super) async fn check_unflushed(
        &self,
        key: &RecordKey,
        dir: &DirHandle,
        unflushed: &[String],
        synced: &[SyncedEntry],
        files: &[LocalEntry],
        effects: bool,
    ) -> Result<Vec<String>, EngineError> {
        // By name: after a reboot a record may hold thousands of unflushed downloads.
        let synced: HashMap<&str, &SyncedEntry> =
            synced.iter().map(|e| (e.local_name.as_str(), e)).collect();
        let files: HashMap<&str, &LocalEntry> =
            files.iter().map(|f| (f.name.as_str(), f)).collect();
        // (local name, attachment id) of the files whose content is what was downloaded.
        let mut intact: Vec<(String, String)> = Vec::new();
        let mut torn = Vec::new();
        for name in unflushed {
            let Some(entry) = synced.get(name.as_str()) else {
                continue;
            };
            match files.get(name.as_str()) {
                Some(f) if f.hash == entry.hash && f.size == entry.size => {
                    intact.push((name.clone(), entry.attachment_id.clone()))
                }
                _ => torn.push(name.clone()),
            }
        }
        if !effects {
            return Ok(torn);
        }
        for name in &torn {
            tracing::warn!({ RECORD } = %key.record_id, { MODULE } = %key.module, { FILE } = %name,
                "a download did not reach the disk intact before a crash; comparing the file with Zoho again");
        }
        if !intact.is_empty() {
            let names: Vec<String> = intact.iter().map(|(n, _)| n.clone()).collect();
            let dir = dir.clone();
            let synced_ok = tokio::task::spawn_blocking(move || {
                names
                    .iter()
                    .try_for_each(|n| crate::executor::flush::sync_file(&dir, n))
            })
            .await
            .map_err(|e| EngineError::Task(e.to_string()))?;
            if synced_ok.is_err() {
                intact.clear();
            }
        }
        let rows: Vec<(RecordKey, String, String)> = intact
            .into_iter()
            .map(|(name, id)| (key.clone(), name, id))
            .collect();
        let (k, t) = (key.clone(), torn.clone());
        self.db(move |j| {
            t.iter().try_for_each(|n| j.remove_entry(&k, n))?;
            j.mark_flushed(&rows)
        })
        .await?;
        Ok(torn)
    }

    /// Uploads interrupted by a crash or a lost reply (an intent row is left): adopts the
    /// attachment Zoho stored when one matches what was sent, else drops the intent so
    /// that the planner uploads the file again.
    pub(super) async fn recover_intents(
        &self,
        key: &RecordKey,
        dir: &DirHandle,
        remote: &[RemoteAttachment],
        intents: &[crate::journal::IntentRow],
        local: Option<&[LocalEntry]>,
        synced: &[SyncedEntry],
    ) -> Result<(), EngineError> {
        let mut known: HashSet<String> = synced.iter().map(|e| e.attachment_id.clone()).collect();
        for intent in intents {
            let wanted = UploadIntent {
                remote_name: &intent.remote_name,
                sent: Sent::File {
                    size: intent.size,
                    hash: &intent.hash,
                },
                created_unix: intent.created_unix,
            };
            let id = intent.id;
            let candidates = adoption_candidates(remote, &wanted, &known);
            // An error here (Zoho unreachable) fails the reconcile: neither adopting nor
            // uploading again is safe until the candidates can be compared.
            let confirmed = self
                .executor
                .confirm_adoptable(key, dir, candidates, &intent.hash)
                .await?;
            match confirmed {
                Some(att) => {
                    known.insert(att.id.clone());
                    // Record what was sent; a file changed since then shows up as a
                    // local change at the next plan and is replaced.
                    let same_local = local
                        .and_then(|l| l.iter().find(|f| f.name == intent.local_name))
                        .filter(|f| f.hash == intent.hash);
                    let entry = SyncedEntry {
                        local_name: intent.local_name.clone(),
                        attachment_id: att.id.clone(),
                        file_id: att.file_id.clone(),
                        remote_name: att.file_name.clone(),
                        size: intent.size,
                        hash: intent.hash,
                        mtime_ns: same_local.map_or(0, |f| f.mtime_ns),
                        inode: same_local.map_or(0, |f| f.inode),
                        ctime_ns: same_local.map_or(0, |f| f.ctime_ns),
                        link_url: None,
                    };
                    tracing::info!({ RECORD } = %key.record_id, { MODULE } = %key.module, { FILE } = %intent.local_name, { ATTACHMENT_ID } = %att.id,
                        "interrupted upload had reached Zoho; adopted instead of uploading again");
                    let k = key.clone();
                    self.db(move |j| j.complete_upload(&k, id, &entry)).await?;
                }
                None => {
                    self.db(move |j| j.remove_intent(id)).await?;
                }
            }
        }
        Ok(())
    }

    /// Flushes and marks the downloads an earlier `once` of this boot left unflushed
    /// (it does not wait for the disk): otherwise they would stay unflushed until the
    /// next boot, which would then check each by hash. Rows of records not in `folders`
    /// are left to that check.
    pub async fn flush_earlier_downloads(&self, folders: &[RecordFolder]) {
        let Some(boot) = crate::executor::flush::boot_id() else {
            return;
        };
        let rows = match self.db(move |j| j.unflushed_in_boot(boot)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the downloads left unflushed; they are checked by hash after a reboot");
                return;
            }
        };
        let folders: HashMap<RecordKey, RecordFolder> =
            folders.iter().map(|f| (f.key.clone(), f.clone())).collect();
        // Each record's folder is opened once (from the root, no link followed).
        let opened = tokio::task::spawn_blocking(move || {
            let mut dirs: HashMap<RecordKey, DirHandle> = HashMap::new();
            rows.into_iter()
                .filter_map(|(key, local_name, attachment_id)| {
                    let dir = match dirs.get(&key) {
                        Some(d) => d.clone(),
                        None => {
                            let d = folders.get(&key)?.open().ok().flatten()?;
                            dirs.insert(key.clone(), d.clone());
                            d
                        }
                    };
                    Some(UnflushedDownload {
                        key,
                        dir,
                        local_name,
                        attachment_id,
                    })
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(downloads) = opened else {
            return;
        };
        if !downloads.is_empty() {
            tracing::debug!(
                downloads = downloads.len(),
                "flushing downloads left unflushed earlier in this boot"
            );
        }
        self.flush_downloads(downloads).await;
    }

    /// Makes downloads durable with one flush per file system (instead of two fsyncs
    /// per file), then marks their rows flushed. Nothing waits for this: until it runs,
    /// the rows are trusted during this boot only (see `executor::flush`). If the flush
    /// fails the rows stay unflushed and are checked by hash after a reboot.
    pub async fn flush_downloads(&self, downloads: Vec<UnflushedDownload>) {
        if downloads.is_empty() {
            return;
        }
        // One folder per record, not per file: each is asked for its file system.
        let dirs: Vec<DirHandle> = downloads
            .iter()
            .map(|d| (&d.key, &d.dir))
            .collect::<HashMap<_, _>>()
            .into_values()
            .cloned()
            .collect();
        let flushed =
            tokio::task::spawn_blocking(move || crate::executor::flush::flush_file_systems(&dirs))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r);
        match flushed {
            Ok(()) => {
                let rows: Vec<(RecordKey, String, String)> = downloads
                    .into_iter()
                    .map(|d| (d.key, d.local_name, d.attachment_id))
                    .collect();
                if let Err(e) = self.db(move |j| j.mark_flushed(&rows)).await {
                    tracing::warn!(error = %e, "could not mark downloads as flushed; they are checked by hash after a reboot");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not flush downloads to disk; they are checked by hash after a reboot");
            }
        }
    }
}
