//! `bigin-sync records MODULE [--view ID] [--json]`: the records of a module, one line each
//! with id and label, so a record id can be found without opening Bigin in a browser.

use crate::config::Config;
use crate::daemon::setup;
use crate::zoho::modules::default_label_fields;
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

/// The record's label: its name fields' texts joined by a space, control characters
/// dropped (they come from Zoho and go to a terminal).
fn label(r: &ListedRecord, fields: &[&str]) -> String {
    let parts: Vec<String> = fields.iter().filter_map(|f| r.text(f)).collect();
    parts
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

pub async fn run(cfg: &Config, module: &str, view: Option<&str>, json: bool) -> anyhow::Result<()> {
    let module = resolve_module(cfg, module)?;
    let journal = setup::open_journal(cfg)?;
    // The daemon's runtime: its token cache (a one-off command must not spend one of
    // Zoho's few grants) and its credit meter (the listing counts against the budget).
    let rt = setup::build(cfg, journal, crate::executor::RetryPolicy::once())?;
    let client = &rt.client;
    let label_fields = default_label_fields(module);
    let fields: Vec<String> = label_fields.iter().map(|f| (*f).to_string()).collect();
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
            .map(|r| serde_json::json!({"id": r.id, "label": label(r, label_fields)}))
            .collect();
        outln!("{}", serde_json::json!({"module": module, "records": rows}));
        return Ok(());
    }
    for r in &records {
        let l = label(r, label_fields);
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

    #[test]
    fn labels_join_name_fields_and_drop_control_characters() {
        let r = ListedRecord {
            id: "1".into(),
            fields:
                serde_json::json!({"First_Name": "Ann\u{1b}[31m", "Last_Name": "Lee", "X": null})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
        };
        assert_eq!(label(&r, &["First_Name", "Last_Name"]), "Ann[31m Lee");
        assert_eq!(label(&r, &["Missing", "Last_Name"]), "Lee");
        assert_eq!(label(&r, &[]), "");
    }
}
