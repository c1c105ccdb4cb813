//! `bigin-sync follow MODULE ID`: makes one record's folder `<id> <label>` without waiting
//! for the daemon, after one `GET /{module}/{id}` that proves the record exists and gives
//! its name. The folder is the one the daemon would make (the module's `[[follow]]` folder
//! and label, else the default label) and is recorded as the daemon's, so the daemon
//! renames it with the record and archives it when the record is deleted. A record outside
//! the module's `where` filter or `view` gets a folder that stays the user's: the daemon
//! would neither make it nor keep it, and as its own would archive it with
//! `on_leave = "archive"`. Zoho cannot say whether one record is in a view, so with a
//! `view` the view is listed (its pages, 3 credits each).

use super::records::resolve_module;
use crate::config::Config;
use crate::daemon::setup;
use crate::dir_handle::DirHandle;
use crate::follow::folders::{make_folder, make_recorded_folder};
use crate::follow::plan::folder_name;
use crate::follow::run::{Fetched, FetchedRecord, RecordSource, read_module_folder};
use crate::follow::source::module_as_followed;
use anyhow::Context;

pub async fn run(cfg: &Config, folder: &str, id: &str) -> anyhow::Result<()> {
    let module = resolve_module(cfg, folder)?.to_string();
    let journal = setup::open_journal(cfg)?;
    // The daemon's runtime: its token cache (a one-off command must not spend one of
    // Zoho's few grants) and its credit meter (the call counts against the budget).
    let rt = setup::build(cfg, journal.clone(), crate::executor::RetryPolicy::once())?;
    let client = &rt.client;
    let m = module_as_followed(cfg, folder, &module);
    let record: FetchedRecord = client
        .get(&module, id, &m.fields())
        .await
        .with_context(|| format!("reading record {id} of {module}"))?
        .with_context(|| format!("{module} has no record {id} (deleted, or never existed)"))?;
    let listed = m.listed(&record);
    let name = folder_name(id, &listed.label);
    // A folder the record has already is the answer: no view listing for it.
    let (root, module_folder, others) = (
        cfg.root.clone(),
        m.settings.folder.clone(),
        m.other_folders.clone(),
    );
    let (id_owned, found_id) = (id.to_string(), id.to_string());
    let found = tokio::task::spawn_blocking(move || {
        record_folder(&root, &module_folder, &others, &found_id).map(|(_, found)| found)
    })
    .await
    .context("folder task")??;
    if let Some(path) = found {
        outln!("already there: {}", path.display());
        return Ok(());
    }
    let in_view = match m.settings.view.as_deref() {
        None => true,
        Some(view) => {
            match RecordSource::list(client, &module, &["id".to_string()], Some(view), None)
                .await
                .with_context(|| format!("listing view {view} of {module}"))?
            {
                Fetched::Records(records) => records.iter().any(|r| r.id == id),
                // Not asked for (no If-Modified-Since): taken as "not shown in the view".
                Fetched::NotModified => false,
            }
        }
    };
    let ours = listed.in_scope && in_view;

    let root = cfg.root.clone();
    let (path, made) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        // Again: the daemon may have made it meanwhile.
        let (dir, found) = record_folder(&root, &m.settings.folder, &m.other_folders, &id_owned)?;
        if let Some(path) = found {
            return Ok((path, false));
        }
        let making = || format!("making {}", dir.display_path(&name).display());
        // An old row (the daemon's folder the user removed, or an archived one) would
        // decide whose the new folder is: the daemon's when it carries the old name (to be
        // archived if the record left the view or filter), never its own when it does not.
        // Start from scratch either way.
        journal.follow_forget(&module, &id_owned)?;
        if ours {
            make_recorded_folder(
                &journal,
                &dir,
                &module,
                &id_owned,
                &name,
                listed.hint.as_deref(),
            )
            .with_context(making)?;
        } else {
            // Asked for by hand, it is the user's, like a hand-made folder.
            make_folder(&dir, &name).with_context(making)?;
        }
        Ok((dir.display_path(&name), true))
    })
    .await
    .context("folder task")??;
    if made && !ours {
        outln!(
            "made {} (outside the {}: the folder is yours, never renamed or archived by the daemon)",
            path.display(),
            if in_view {
                "module's `where` filter"
            } else {
                "module's view"
            }
        );
    } else if made {
        outln!("made {}", path.display());
    } else {
        outln!("already there: {}", path.display());
    }
    Ok(())
}

/// The module folder, and the folder record `id` has in it or in one of the module's other
/// folders, under any label: the record's folder, never a second. It stays whoever's it
/// is (the daemon's only with its journal row). Other folders' entries are
/// `<folder>/<name>`.
fn record_folder(
    root: &std::path::Path,
    module_folder: &str,
    others: &[String],
    id: &str,
) -> anyhow::Result<(DirHandle, Option<std::path::PathBuf>)> {
    let (_, dir, folders) = read_module_folder(root, module_folder, others)
        .with_context(|| format!("opening {}", root.join(module_folder).display()))?;
    let found =
        folders
            .iter()
            .find(|f| f.id == id)
            .map(|existing| match existing.name.contains('/') {
                true => root.join(&existing.name),
                false => dir.display_path(&existing.name),
            });
    Ok((dir, found))
}
