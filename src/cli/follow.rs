//! `bigin-sync follow MODULE ID`: makes one record's folder `<id> <label>` (the module's
//! default label) without waiting for the daemon, after one `GET /{module}/{id}` that
//! proves the record exists and gives its name.

use super::records::resolve_module;
use crate::config::{Config, FollowSettings};
use crate::daemon::setup;
use crate::follow::folders::make_folder;
use crate::follow::plan::{OnLeave, folder_name};
use crate::follow::run::{FetchedRecord, RecordSource, read_module_folder};
use anyhow::Context;

pub async fn run(cfg: &Config, folder: &str, id: &str) -> anyhow::Result<()> {
    let module = resolve_module(cfg, folder)?.to_string();
    let journal = setup::open_journal(cfg)?;
    // The daemon's runtime: its token cache (a one-off command must not spend one of
    // Zoho's few grants) and its credit meter (the call counts against the budget).
    let rt = setup::build(cfg, journal, crate::executor::RetryPolicy::once())?;
    let client = &rt.client;
    // The module as the daemon would follow it with no settings: its default label.
    let settings = FollowSettings {
        folder: folder.to_string(),
        module: module.clone(),
        label: None,
        view: None,
        filter: Default::default(),
        on_leave: OnLeave::Keep,
        hint_field: None,
    };
    let followed = crate::follow::source::modules_with_default_labels(&[settings]);
    let Some(m) = followed.first() else {
        anyhow::bail!("no module to follow");
    };
    let record: FetchedRecord = client
        .get(&module, id, &m.fields())
        .await
        .with_context(|| format!("reading record {id} of {module}"))?
        .with_context(|| format!("{module} has no record {id} (deleted, or never existed)"))?;
    let name = folder_name(id, &m.listed(&record).label);

    let others: Vec<String> = cfg
        .zoho
        .product
        .folders_of_module(&module)
        .into_iter()
        .filter(|f| *f != folder)
        .map(str::to_owned)
        .collect();
    let (root, folder, id_owned) = (cfg.root.clone(), folder.to_string(), id.to_string());
    let (path, made) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let (_, dir, folders) = read_module_folder(&root, &folder, &others)
            .with_context(|| format!("opening {}", root.join(&folder).display()))?;
        // A folder for this record under any label, in any folder of the module, is the
        // record's folder: never a second. (Other folders' entries are `<folder>/<name>`.)
        if let Some(existing) = folders.iter().find(|f| f.id == id_owned) {
            let path = match existing.name.contains('/') {
                true => root.join(&existing.name),
                false => dir.display_path(&existing.name),
            };
            return Ok((path, false));
        }
        make_folder(&dir, &name)
            .with_context(|| format!("making {}", dir.display_path(&name).display()))?;
        Ok((dir.display_path(&name), true))
    })
    .await
    .context("folder task")??;
    if made {
        outln!("made {}", path.display());
    } else {
        outln!("already there: {}", path.display());
    }
    Ok(())
}
