//! The follow passes' [`RecordSource`] in production: Zoho's records API through the
//! client (`list_records`, `get_record`), each value read as label text the way
//! `records` reads it ([`ListedRecord::text`]).

use super::run::{Fetched, FetchedRecord, RecordSource, SourceError};
use crate::zoho::{ListedRecord, RecordListing, RecordQuery, ZohoClient};

/// A listed record as the follow planner sees it: the asked fields that have a text.
pub(crate) fn fetched(r: &ListedRecord) -> FetchedRecord {
    FetchedRecord {
        id: r.id.clone(),
        values: r
            .fields
            .keys()
            .filter_map(|f| r.text(f).map(|t| (f.clone(), t)))
            .collect(),
    }
}

impl RecordSource for ZohoClient {
    async fn list(
        &self,
        module: &str,
        fields: &[String],
        view: Option<&str>,
        modified_since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Fetched, SourceError> {
        let q = RecordQuery {
            module,
            fields,
            view,
            modified_since,
        };
        match self.list_records(&q).await {
            Ok(RecordListing::NotModified) => Ok(Fetched::NotModified),
            Ok(RecordListing::Records(r)) => Ok(Fetched::Records(r.iter().map(fetched).collect())),
            Err(e) => Err(SourceError(e.to_string())),
        }
    }

    async fn get(
        &self,
        module: &str,
        id: &str,
        fields: &[String],
    ) -> Result<Option<FetchedRecord>, SourceError> {
        match self.get_record(module, id, fields).await {
            Ok(r) => Ok(r.as_ref().map(fetched)),
            Err(e) => Err(SourceError(e.to_string())),
        }
    }
}

/// The config's followed modules, ready for the daemon.
pub fn configured_modules(cfg: &crate::config::Config) -> Vec<super::run::FollowedModule> {
    let mut modules = modules_with_default_labels(&cfg.follow);
    for m in &mut modules {
        m.other_folders = other_folders(cfg, &m.settings);
    }
    modules
}

/// The module's other folder names (Bigin's Deals for Pipelines): a record folder found
/// there is the record's folder too.
fn other_folders(
    cfg: &crate::config::Config,
    settings: &crate::config::FollowSettings,
) -> Vec<String> {
    cfg.zoho
        .product
        .folders_of_module(&settings.module)
        .into_iter()
        .filter(|f| *f != settings.folder)
        .map(str::to_owned)
        .collect()
}

/// How `module` (API name; `folder` as the user typed it) is or would be followed: its
/// `[[follow]]` table when the config has one (its folder, its label), else the module as
/// a table with no settings follows it (the folder typed, the module's default label).
/// `records` shows labels and `follow` names folders through it, as the daemon does.
pub fn module_as_followed(
    cfg: &crate::config::Config,
    folder: &str,
    module: &str,
) -> super::run::FollowedModule {
    let configured = cfg.follow.iter().find(|s| s.module == module).cloned();
    let settings = configured.unwrap_or_else(|| crate::config::FollowSettings {
        folder: folder.to_string(),
        module: module.to_string(),
        label: None,
        view: None,
        filter: Default::default(),
        on_leave: super::plan::OnLeave::Keep,
        hint_field: None,
    });
    let mut followed = modules_with_default_labels(std::slice::from_ref(&settings));
    let mut m = followed.pop().unwrap_or(super::run::FollowedModule {
        settings,
        label: None,
        other_folders: Vec::new(),
    });
    m.other_folders = other_folders(cfg, &m.settings);
    m
}

/// Followed modules, a missing label filled from the module's default name fields
/// (Zoho's, [`crate::zoho::modules::default_label_fields`], as `records` shows them).
pub fn modules_with_default_labels(
    settings: &[crate::config::FollowSettings],
) -> Vec<super::run::FollowedModule> {
    super::followed_modules(settings, |module| {
        crate::zoho::modules::default_label_fields(module)
            .iter()
            .map(|f| (*f).to_string())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_fields_become_label_texts() {
        let r = ListedRecord {
            id: "42".into(),
            fields: serde_json::json!({"Deal_Name": "Acme", "Amount": 5, "Owner": {"name": "Ann"}, "Gone": null})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let f = fetched(&r);
        assert_eq!(f.id, "42");
        assert_eq!(f.values.get("Deal_Name").map(String::as_str), Some("Acme"));
        assert_eq!(f.values.get("Amount").map(String::as_str), Some("5"));
        assert_eq!(f.values.get("Owner").map(String::as_str), Some("Ann"));
        assert!(!f.values.contains_key("Gone"));
    }
}
