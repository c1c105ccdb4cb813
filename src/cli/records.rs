//! `bigin-sync records MODULE [--view ID] [--json]`: the records of a module, one line each
//! with id and label, so a record id can be found without opening Bigin in a browser.

use crate::config::Config;
use crate::daemon::setup;
use crate::follow::run::FollowedModule;
use crate::follow::source::{fetched, module_as_followed};
use crate::zoho::{ListedRecord, RecordListing, RecordQuery};
use anyhow::Context;

/// The module API name for what the user typed: an API name, a UI alias (Companies), or
/// one of the configured extra modules.
pub(super) fn resolve_module<'a>(cfg: &'a Config, name: &'a str) -> anyhow::Result<&'a str> {
    if let Some(m) = cfg.zoho.product.module_for_folder(name) {
        return Ok(m);
    }
    if cfg.zoho.modules.iter().any(|m| m == name) {
        return Ok(name);
    }
    let mut known: Vec<&str> = cfg.zoho.product.documented_modules().to_vec();
    known.extend(cfg.zoho.modules.iter().map(String::as_str));
    anyhow::bail!(
        "unknown module {name:?} for {}; known modules: {}",
        cfg.zoho.product,
        known.join(", ")
    )
}

/// The record's label as its folder is (or would be) labelled: the module's `[[follow]]`
/// label, else its default, made safe like a file name. That also keeps control and format
/// characters (a bidi override) out: they come from Zoho and go to a terminal.
fn label(m: &FollowedModule, r: &ListedRecord) -> String {
    m.listed(&fetched(r)).label
}

pub async fn run(cfg: &Config, folder: &str, view: Option<&str>, json: bool) -> anyhow::Result<()> {
    let module = resolve_module(cfg, folder)?;
    let journal = setup::open_journal(cfg)?;
    // The daemon's runtime: its token cache (a one-off command must not spend one of
    // Zoho's few grants) and its credit meter (the listing counts against the budget).
    let rt = setup::build(cfg, journal, crate::executor::RetryPolicy::once())?;
    let client = &rt.client;
    let followed = module_as_followed(cfg, folder, module);
    let fields: Vec<String> = followed
        .label
        .as_ref()
        .map(|l| l.fields())
        .unwrap_or_default();
    let listing = client
        .list_records(&RecordQuery {
            module,
            fields: &fields,
            view,
            modified_since: None,
        })
        .await
        .with_context(|| format!("listing the records of {module}"))?;
    let records = match listing {
        RecordListing::Records(r) => r,
        // Only asked for with modified_since, which is not set here.
        RecordListing::NotModified => Vec::new(),
    };
    if json {
        let rows: Vec<serde_json::Value> = records
            .iter()
            .map(|r| serde_json::json!({"id": r.id, "label": label(&followed, r)}))
            .collect();
        outln!("{}", serde_json::json!({"module": module, "records": rows}));
        return Ok(());
    }
    for r in &records {
        let l = label(&followed, r);
        if l.is_empty() {
            outln!("{}", r.id);
        } else {
            outln!("{}  {l}", r.id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: serde_json::Value) -> ListedRecord {
        ListedRecord {
            id: "1".into(),
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    fn module(cfg_follow: &str, folder: &str) -> FollowedModule {
        let text = format!(
            "root = \"/srv/bigin\"\nstate_dir = \"/var/lib/bigin-sync\"\n[zoho]\nclient_id = \"1000.ABC\"\nclient_secret = \"s\"\nrefresh_token = \"1000.rt\"\n{cfg_follow}"
        );
        let cfg = crate::config::load_str(
            std::path::Path::new("/etc/bigin-sync/config.toml"),
            &text,
            &|_| None,
        )
        .unwrap();
        let api = resolve_module(&cfg, folder).unwrap().to_string();
        module_as_followed(&cfg, folder, &api)
    }

    #[test]
    fn labels_join_name_fields_and_drop_control_and_format_characters() {
        let contacts = module("", "Contacts");
        let r = record(
            serde_json::json!({"First_Name": "Ann\u{1b}[31m", "Last_Name": "Lee", "X": null}),
        );
        assert_eq!(label(&contacts, &r), "Ann[31m Lee");
        let r = record(serde_json::json!({"Last_Name": "Lee"}));
        assert_eq!(label(&contacts, &r), "Lee");
        // A right-to-left override would show "\u{202e}fdp.exe" as "exe.pdf".
        let deals = module("", "Pipelines");
        let r = record(serde_json::json!({"Deal_Name": "\u{202e}fdp.exe\u{200b}"}));
        assert_eq!(label(&deals, &r), "fdp.exe");
    }

    #[test]
    fn a_followed_module_shows_its_configured_label() {
        let deals = module(
            "[[follow]]\nmodule = \"Pipelines\"\nlabel = \"{Deal_Name} ({Stage})\"\n",
            "Deals",
        );
        let r = record(serde_json::json!({"Deal_Name": "Acme", "Stage": "Won"}));
        assert_eq!(label(&deals, &r), "Acme (Won)");
        assert_eq!(deals.settings.folder, "Pipelines");
    }
}
