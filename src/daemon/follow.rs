//! Which records are followed: the record folders under the root.
//!
//! A record folder that appears starts being followed. One that disappears is
//! unfollowed: its journal rows are dropped and nothing is deleted on either side. When
//! the root itself is missing or unreadable the followed set is left as it was.

use crate::engine::Engine;
use crate::journal::Journal;
use crate::log_fields::{MODULE, RECORD};
use crate::model::RecordKey;
use crate::scan::{self, RecordFolder};
use anyhow::Context;
use std::collections::HashMap;
use std::sync::Arc;

/// Reads the root, follows new record folders and unfollows vanished ones.
pub async fn refresh_followed(
    engine: &Engine,
    journal: &Arc<Journal>,
) -> anyhow::Result<Vec<RecordFolder>> {
    let settings = engine.settings();
    let root = settings.root.clone();
    let product = settings.product;
    let extra = settings.extra_modules.clone();
    let discovery =
        tokio::task::spawn_blocking(move || scan::discover_records(&root, product, &extra))
            .await
            .context("discovery task")?
            .with_context(|| format!("reading the sync root {}", settings.root.display()))?;

    report_not_followed(journal, &discovery.ignored).await?;

    let mut seen: HashMap<RecordKey, RecordFolder> = HashMap::new();
    for folder in discovery.records {
        if let Some(first) = seen.get(&folder.key) {
            tracing::warn!(
                { RECORD } = %folder.key.record_id, { MODULE } = %folder.key.module,
                kept = %first.path.display(),
                ignored = %folder.path.display(),
                "two folders name the same record; only the first is synced"
            );
            continue;
        }
        seen.insert(folder.key.clone(), folder);
    }

    let j = journal.clone();
    let followed = tokio::task::spawn_blocking(move || j.followed())
        .await
        .context("journal task")??;
    let followed_names: HashMap<RecordKey, String> = followed
        .iter()
        .map(|r| (r.key.clone(), r.folder_name.clone()))
        .collect();
    let now = crate::model::unix_now();

    for (key, folder) in &seen {
        let known = followed_names.get(key);
        // New, or renamed (by a follow pass or the user): the journal keeps the name
        // `status` shows; a renamed folder keeps its schedule and synced tree.
        if known != Some(&folder.folder_name) {
            let (j, k, name) = (journal.clone(), key.clone(), folder.folder_name.clone());
            tokio::task::spawn_blocking(move || j.follow(&k, &name, now))
                .await
                .context("journal task")??;
            if known.is_none() {
                tracing::info!({ RECORD } = %key.record_id, { MODULE } = %key.module, folder = %folder.path.display(), "following record");
            }
        }
    }
    for row in followed {
        if !seen.contains_key(&row.key) {
            let (j, k) = (journal.clone(), row.key.clone());
            tokio::task::spawn_blocking(move || j.unfollow(&k))
                .await
                .context("journal task")??;
            engine.forget_remote(&row.key);
            tracing::warn!(
                { RECORD } = %row.key.record_id, { MODULE } = %row.key.module,
                "record folder is gone: record unfollowed; its attachments in Zoho are untouched"
            );
        }
    }
    let mut records: Vec<RecordFolder> = seen.into_values().collect();
    records.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(records)
}

/// Folders under the root that are not followed (a hand-made `Contacts/1234`, two
/// folders for one record, a folder that is not a module): one INFO line when first seen
/// (remembered in the journal, so a restart does not repeat it), and the list kept for
/// `status`. Hidden (dot) names are the daemon's or the user's own and are not listed.
async fn report_not_followed(
    journal: &Arc<Journal>,
    ignored: &[(std::path::PathBuf, String)],
) -> anyhow::Result<()> {
    use crate::journal::NOT_FOLLOWED_META_KEY;
    let now: Vec<(String, String)> = ignored
        .iter()
        .filter(|(p, _)| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .map(|(p, why)| (p.display().to_string(), why.clone()))
        .collect();
    let j = journal.clone();
    let before: Vec<(String, String)> =
        tokio::task::spawn_blocking(move || j.meta(NOT_FOLLOWED_META_KEY))
            .await
            .context("journal task")??
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
    if now == before {
        return Ok(());
    }
    for (path, why) in now.iter().filter(|n| !before.contains(n)) {
        tracing::info!(path = %path, reason = %why, "folder not followed");
    }
    let (j, json) = (journal.clone(), serde_json::to_string(&now)?);
    tokio::task::spawn_blocking(move || j.set_meta(NOT_FOLLOWED_META_KEY, &json))
        .await
        .context("journal task")??;
    Ok(())
}

/// Removes download temp files left by a crash (`.<name>.bigin-sync.part`), through
/// each record folder's handle (a folder swapped for a link is not entered).
pub fn clean_temp_files(folders: &[RecordFolder]) {
    for f in folders {
        if let Ok(Some(dir)) = f.open() {
            clean_dir(&dir);
        }
    }
}

fn clean_dir(dir: &crate::dir_handle::DirHandle) {
    let Ok(entries) = dir.entries() else {
        return;
    };
    for (name, _) in entries {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') && name.ends_with(crate::zoho::PART_SUFFIX) {
            let path = dir.display_path(name);
            match dir.remove_file(name) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed an interrupted download")
                }
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "could not remove an interrupted download")
                }
            }
        }
    }
}
