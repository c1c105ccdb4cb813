//! Reading the three trees of a record: the journal's rows, the folder, and Zoho's list
//! of its attachments (or the cached one, when a list call is not worth its credit).

use super::{Engine, EngineError, EngineSettings};
use crate::dir_handle::DirHandle;
use crate::executor::ExecError;
use crate::journal::{FailureRow, IntentRow, RemoteSkipRow};
use crate::log_fields::{MODULE, RECORD};
use crate::model::{RecordKey, RemoteAttachment};
use crate::planner::{LocalEntry, SyncedEntry};
use crate::scan::{self, RecordFolder};
use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

/// The journal's rows for a record, read in one go.
pub(super) struct JournalRows {
    /// What was last synced, by local name.
    pub synced: Vec<SyncedEntry>,
    /// Actions that failed and are retried (or parked).
    pub failures: Vec<FailureRow>,
    /// Uploads that were started and not confirmed.
    pub intents: Vec<IntentRow>,
    /// Local names of downloads not known to have reached the disk.
    pub unflushed: Vec<String>,
    /// Attachments left unsynced on purpose, as last stored.
    pub skips: Vec<RemoteSkipRow>,
}

/// A record folder as read.
pub(super) struct LocalSide {
    /// The folder's files; `None`: the folder is gone.
    pub files: Option<Vec<LocalEntry>>,
    /// Names in the folder that are not synced (the planner keeps them free).
    pub skipped: HashSet<String>,
    /// The folder's fingerprint taken just before it was read.
    pub fingerprint: Option<scan::Fingerprint>,
    /// The handle every later access to the folder goes through.
    pub dir: Option<DirHandle>,
}

/// Zoho's side of a record as this reconcile knows it.
pub(super) struct RemoteSide {
    /// The attachments; `None`: unknown this time (the list failed, or none is cached).
    pub list: Option<Vec<RemoteAttachment>>,
    /// True when this reconcile asked Zoho rather than trusting the cached list.
    pub asked: bool,
    /// Why the list call failed.
    pub error: Option<String>,
}

/// True when the folder holds something the journal does not (or lacks something it
/// has): only then is a list call worth spending on a local hint.
fn differs_from_journal(local: &[LocalEntry], synced: &[SyncedEntry]) -> bool {
    if local.len() != synced.len() {
        return true;
    }
    let by_name: HashMap<&str, &SyncedEntry> =
        synced.iter().map(|e| (e.local_name.as_str(), e)).collect();
    local.iter().any(|l| {
        by_name
            .get(l.name.as_str())
            .is_none_or(|e| e.hash != l.hash || e.size != l.size)
    })
}

impl Engine {
    /// Reads the journal's rows for a record.
    pub(super) async fn read_journal(&self, key: &RecordKey) -> Result<JournalRows, EngineError> {
        let k = key.clone();
        let (synced, failures, intents, unflushed, skips) = self
            .db(move |j| {
                Ok((
                    j.entries(&k)?,
                    j.failures(&k)?,
                    j.intents(&k)?,
                    j.unflushed_to_check(&k, crate::executor::flush::boot_id())?,
                    j.remote_skips(&k)?,
                ))
            })
            .await?;
        Ok(JournalRows {
            synced,
            failures,
            intents,
            unflushed,
            skips,
        })
    }

    /// Reads the folder, hashing only what `cache` cannot vouch for; with `list_now`,
    /// lists the record while the folder is read and hashed: neither waits for the other.
    pub(super) async fn read_folder_and_list(
        &self,
        folder: &RecordFolder,
        cache: &[SyncedEntry],
        synced: &[SyncedEntry],
        list_now: bool,
        settings: &EngineSettings,
    ) -> (
        Result<LocalSide, EngineError>,
        Option<Result<Vec<RemoteAttachment>, ExecError>>,
    ) {
        if list_now {
            let (scanned, listed) = tokio::join!(
                self.scan(folder, cache, settings),
                self.list_confirmed(&folder.key, synced)
            );
            (scanned, Some(listed))
        } else {
            (self.scan(folder, cache, settings).await, None)
        }
    }

    /// Zoho's side of the record: `listed` when the record was listed already, else a
    /// list when one is needed, else the cached list. Without a cached list, a
    /// local-only hint lists the record only when the folder differs from the journal:
    /// a restart does not spend one call per record.
    pub(super) async fn remote_side(
        &self,
        key: &RecordKey,
        local: Option<&[LocalEntry]>,
        synced: &[SyncedEntry],
        list_anyway: bool,
        listed: Option<Result<Vec<RemoteAttachment>, ExecError>>,
    ) -> RemoteSide {
        let cached = self.cache().get(key).cloned();
        let must_list = list_anyway
            || (cached.is_none() && local.is_none_or(|l| differs_from_journal(l, synced)));
        if !must_list {
            return RemoteSide {
                list: cached,
                asked: false,
                error: None,
            };
        }
        let listed = match listed {
            Some(listed) => listed,
            None => {
                tracing::debug!({ RECORD } = %key.record_id, { MODULE } = %key.module, "listing attachments: the folder differs from the journal");
                self.list_confirmed(key, synced).await
            }
        };
        match listed {
            Ok(list) => {
                self.cache().insert(key.clone(), list.clone());
                RemoteSide {
                    list: Some(list),
                    asked: true,
                    error: None,
                }
            }
            Err(e) => {
                tracing::warn!({ RECORD } = %key.record_id, { MODULE } = %key.module, error = %e, "could not list attachments; remote side unknown this time (nothing is deleted)");
                RemoteSide {
                    list: None,
                    asked: true,
                    error: Some(e.to_string()),
                }
            }
        }
    }

    /// Reads a record folder: opens it (from the root, no link followed), takes its
    /// fingerprint, then hashes what the journal's rows in `synced` cannot vouch for.
    /// Each skipped name is logged once per daemon.
    async fn scan(
        &self,
        folder: &RecordFolder,
        synced: &[SyncedEntry],
        settings: &EngineSettings,
    ) -> Result<LocalSide, EngineError> {
        let opened = folder.clone();
        let cache = synced.to_vec();
        let rules = settings.ignore.clone();
        let debounce = settings.debounce;
        let salt = settings.fingerprint_salt();
        let scanned = tokio::task::spawn_blocking(move || {
            // Opened again for every reconcile, from the root and without following a
            // link: a folder swapped for a symlink since it was found is refused here.
            let Some(dir) = opened.open()? else {
                return Ok(None);
            };
            // Before the read, so that a change during it shows as a new fingerprint.
            let fingerprint = scan::fingerprint(&opened.path, salt).ok().flatten();
            let outcome = scan::scan_record(&dir, &cache, &rules, debounce, SystemTime::now())?;
            Ok(Some((outcome, fingerprint, dir)))
        })
        .await
        .map_err(|e| EngineError::Task(e.to_string()))?;
        let scanned = scanned.map_err(|source| EngineError::Scan {
            path: folder.path.clone(),
            source,
        })?;
        let Some((outcome, fingerprint, dir)) = scanned else {
            return Ok(LocalSide {
                files: None,
                skipped: HashSet::new(),
                fingerprint: None,
                dir: None,
            });
        };
        let mut logged = self.logged_skips.lock().unwrap_or_else(|p| p.into_inner());
        for s in &outcome.skipped {
            let path = folder.path.join(&s.name);
            if logged.insert(path.clone()) {
                tracing::info!(path = %path.display(), reason = ?s.reason, "skipped (not synced)");
            }
        }
        let skipped = outcome.skipped.into_iter().map(|s| s.name).collect();
        Ok(LocalSide {
            files: Some(outcome.files),
            skipped,
            fingerprint,
            dir: Some(dir),
        })
    }

    /// Lists a record's attachments, with the executor's retries.
    async fn list(&self, key: &RecordKey) -> Result<Vec<RemoteAttachment>, ExecError> {
        let client = self.executor.client();
        self.executor
            .with_retry("list", || async {
                Ok(client.list(&key.module, &key.record_id).await?)
            })
            .await
    }

    /// Lists a record, and lists it again when the pages may have hidden a tracked
    /// attachment.
    ///
    /// Zoho pages by number, newest first: an attachment deleted on page 1 while page 2 is
    /// being asked for moves every later one up a place, and the one that crosses the page
    /// boundary is never served. A tracked attachment missing from a list of more than one
    /// page is therefore confirmed by a second list before anything is trashed, forgotten
    /// or uploaded over it; an attachment either list showed counts as present (one really
    /// deleted in between is trashed on the next poll instead).
    async fn list_confirmed(
        &self,
        key: &RecordKey,
        synced: &[SyncedEntry],
    ) -> Result<Vec<RemoteAttachment>, ExecError> {
        let first = self.list(key).await?;
        if first.len() < crate::zoho::list::PER_PAGE as usize {
            return Ok(first);
        }
        let ids: HashSet<&str> = first.iter().map(|a| a.id.as_str()).collect();
        let missing = synced
            .iter()
            .filter(|e| !ids.contains(e.attachment_id.as_str()))
            .count();
        if missing == 0 {
            return Ok(first);
        }
        tracing::debug!({ RECORD } = %key.record_id, { MODULE } = %key.module, missing, "tracked attachments missing from a paged list; listing again to confirm");
        let mut second = self.list(key).await?;
        let seen: HashSet<String> = second.iter().map(|a| a.id.clone()).collect();
        second.extend(first.into_iter().filter(|a| !seen.contains(&a.id)));
        Ok(second)
    }
}
