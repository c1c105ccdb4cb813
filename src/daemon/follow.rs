//! Which records are followed: the record folders under the root.
//!
//! A record folder that appears starts being followed. One that disappears is
//! unfollowed: its journal rows are dropped and nothing is deleted on either side. When
//! the root itself is missing or unreadable the followed set is left as it was.

use crate::engine::Engine;
use crate::journal::Journal;
use crate::model::RecordKey;
use crate::scan::{self, RecordFolder};
use anyhow::Context;
use std::collections::{HashMap, HashSet};
use std::path::Path;
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

    let mut seen: HashMap<RecordKey, RecordFolder> = HashMap::new();
    for folder in discovery.records {
        if let Some(first) = seen.get(&folder.key) {
            tracing::warn!(
                record = %folder.key,
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
    let followed_keys: HashSet<RecordKey> = followed.iter().map(|r| r.key.clone()).collect();
    let now = crate::executor::unix_now();

    for (key, folder) in &seen {
        if !followed_keys.contains(key) {
            let (j, k, name) = (journal.clone(), key.clone(), folder.folder_name.clone());
            tokio::task::spawn_blocking(move || j.follow(&k, &name, now))
                .await
                .context("journal task")??;
            tracing::info!(record = %key, folder = %folder.path.display(), "following record");
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
                record = %row.key,
                "record folder is gone: record unfollowed; its attachments in Zoho are untouched"
            );
        }
    }
    let mut records: Vec<RecordFolder> = seen.into_values().collect();
    records.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(records)
}

/// Removes download temp files left by a crash (`.<name>.bigin-sync.part`).
pub fn clean_temp_files(folders: &[RecordFolder]) {
    for f in folders {
        clean_dir(&f.path);
    }
}

fn clean_dir(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') && name.ends_with(".bigin-sync.part") {
            match std::fs::remove_file(e.path()) {
                Ok(()) => {
                    tracing::info!(path = %e.path().display(), "removed an interrupted download")
                }
                Err(err) => {
                    tracing::warn!(path = %e.path().display(), error = %err, "could not remove an interrupted download")
                }
            }
        }
    }
}
