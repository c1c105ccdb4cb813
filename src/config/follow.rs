//! The `[[follow]]` tables: modules whose records get folders made by the daemon.

use super::ConfigError;
use crate::follow::plan::OnLeave;
use crate::follow::template::LabelTemplate;
use crate::model::Product;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Keys allowed in a `[[follow]]` table.
pub(super) const FOLLOW_KEYS: &[&str] =
    &["module", "label", "view", "where", "on_leave", "hint_field"];

/// Hint field when `hint_field` is absent.
pub const DEFAULT_HINT_FIELD: &str = "Last_Activity_Time";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFollow {
    pub module: Option<String>,
    pub label: Option<String>,
    pub view: Option<String>,
    #[serde(rename = "where")]
    pub filter: Option<BTreeMap<String, Vec<String>>>,
    pub on_leave: Option<String>,
    pub hint_field: Option<String>,
}

/// One followed module, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowSettings {
    /// The module folder's name as configured (API name or alias, e.g. `Companies`).
    pub folder: String,
    /// The module API name (`Accounts` for `Companies`).
    pub module: String,
    /// The folder label template; `None` = the module's default label.
    pub label: Option<LabelTemplate>,
    /// A Zoho custom view id (`cvid`): only its records are followed.
    pub view: Option<String>,
    /// `where`: field → accepted values; a record is in scope when every field equals one
    /// of its values (checked locally on the listing).
    pub filter: BTreeMap<String, Vec<String>>,
    /// What happens to the folder of a record that leaves the view or filter.
    pub on_leave: OnLeave,
    /// The field whose change brings a record's poll forward; `None` = hints off.
    pub hint_field: Option<String>,
}

fn is_field_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validates the `[[follow]]` tables against the product's modules (plus `zoho.modules`).
pub(super) fn validate(
    invalid: &dyn Fn(&str, String) -> ConfigError,
    missing: &dyn Fn(&str, String) -> ConfigError,
    raw: Vec<RawFollow>,
    product: Product,
    extra_modules: &[String],
) -> Result<Vec<FollowSettings>, ConfigError> {
    let mut out: Vec<FollowSettings> = Vec::new();
    for (i, f) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("follow[{i}].{k}");
        let Some(folder) = f.module.map(|m| m.trim().to_owned()) else {
            return Err(missing(
                &key("module"),
                "expected the module folder's name, e.g. module = \"Pipelines\"".into(),
            ));
        };
        let module = product
            .module_for_folder(&folder)
            .map(str::to_owned)
            .or_else(|| extra_modules.iter().find(|m| **m == folder).cloned())
            .ok_or_else(|| {
                invalid(
                    &key("module"),
                    format!(
                        "`{folder}` is not a {product} module; expected one of {} (or a name listed in zoho.modules)",
                        product.documented_modules().join(", ")
                    ),
                )
            })?;
        if out.iter().any(|o| o.module == module) {
            return Err(invalid(
                &key("module"),
                format!("`{folder}` is followed twice; expected one [[follow]] table per module"),
            ));
        }
        let label = match f.label {
            None => None,
            Some(t) => Some(LabelTemplate::parse(&t).map_err(|m| invalid(&key("label"), m))?),
        };
        let view = match f.view.map(|v| v.trim().to_owned()) {
            None => None,
            Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => Some(v),
            Some(v) => {
                return Err(invalid(
                    &key("view"),
                    format!(
                        "`{v}` is not a custom view id; expected its digits (the cvid), e.g. \"2034020000000123456\""
                    ),
                ));
            }
        };
        let filter = f.filter.unwrap_or_default();
        for (field, values) in &filter {
            if !is_field_name(field) {
                return Err(invalid(
                    &key("where"),
                    format!("`{field}` is not a field API name; expected letters, digits and `_`"),
                ));
            }
            if values.is_empty() {
                return Err(invalid(
                    &format!("{}.{field}", key("where")),
                    "is empty; expected at least one value".into(),
                ));
            }
        }
        let on_leave = match f.on_leave.as_deref().map(|s| s.trim().to_ascii_lowercase()) {
            None => OnLeave::Keep,
            Some(s) if s == "keep" => OnLeave::Keep,
            Some(s) if s == "archive" => OnLeave::Archive,
            Some(s) => {
                return Err(invalid(
                    &key("on_leave"),
                    format!("`{s}` is not allowed; expected one of \"keep\", \"archive\""),
                ));
            }
        };
        let hint_field = match f.hint_field.map(|h| h.trim().to_owned()) {
            None => Some(DEFAULT_HINT_FIELD.to_owned()),
            Some(h) if h.eq_ignore_ascii_case("none") => None,
            Some(h) if is_field_name(&h) => Some(h),
            Some(h) => {
                return Err(invalid(
                    &key("hint_field"),
                    format!(
                        "`{h}` is not a field API name; expected e.g. \"Last_Activity_Time\", \"Modified_Time\" or \"none\""
                    ),
                ));
            }
        };
        // `id` + the label's, the filter's and the hint's fields, each once: more than
        // Zoho takes in one listing would fail every pass at run time.
        let mut fields: std::collections::BTreeSet<String> = filter.keys().cloned().collect();
        fields.extend(label.iter().flat_map(LabelTemplate::fields));
        fields.extend(hint_field.clone());
        fields.remove("id");
        if fields.len() + 1 > crate::zoho::records::MAX_FIELDS {
            return Err(invalid(
                &key("label"),
                format!(
                    "the label, `where` and hint_field ask for {} fields; expected at most {} (Zoho's limit for one listing, with the id)",
                    fields.len(),
                    crate::zoho::records::MAX_FIELDS - 1
                ),
            ));
        }
        out.push(FollowSettings {
            folder,
            module,
            label,
            view,
            filter,
            on_leave,
            hint_field,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, load_str};
    use crate::follow::plan::OnLeave;
    use std::path::Path;

    fn load(product: &str, follow: &str) -> Result<crate::config::Config, ConfigError> {
        let text = format!(
            "root = \"/srv/bigin\"\nstate_dir = \"/var/lib/bigin-sync\"\n[zoho]\nproduct = \"{product}\"\nclient_id = \"1000.ABC\"\nclient_secret = \"s\"\nrefresh_token = \"1000.rt\"\nmodules = [\"Invoices_X\"]\n[sync]\n{follow}"
        );
        load_str(Path::new("/etc/bigin-sync/config.toml"), &text, &|_| None)
    }

    fn err_key(product: &str, follow: &str) -> (String, String) {
        let e = load(product, follow).unwrap_err();
        (e.key().unwrap_or_default().to_string(), e.to_string())
    }

    #[test]
    fn follow_tables_load_with_defaults_and_every_key() {
        let c = load(
            "bigin",
            "follow_interval = \"2m\"\n[[follow]]\nmodule = \"Pipelines\"\n[[follow]]\nmodule = \"Companies\"\nlabel = \"{Account_Name} ({Billing_City})\"\nview = \"2034020000000123456\"\nwhere = { Stage = [\"Proposal\", \"Negotiation/Review\"] }\non_leave = \"archive\"\nhint_field = \"none\"\n",
        )
        .unwrap();
        assert_eq!(c.sync.follow_interval, std::time::Duration::from_secs(120));
        let (a, b) = (&c.follow[0], &c.follow[1]);
        assert_eq!((a.module.as_str(), a.label.is_none()), ("Pipelines", true));
        assert_eq!(a.hint_field.as_deref(), Some("Last_Activity_Time"));
        assert_eq!(a.on_leave, OnLeave::Keep);
        assert_eq!(
            (b.folder.as_str(), b.module.as_str()),
            ("Companies", "Accounts")
        );
        assert_eq!(
            b.label.as_ref().unwrap().fields(),
            ["Account_Name", "Billing_City"]
        );
        assert_eq!(b.view.as_deref(), Some("2034020000000123456"));
        assert_eq!(b.filter["Stage"], ["Proposal", "Negotiation/Review"]);
        assert_eq!((b.on_leave, b.hint_field.clone()), (OnLeave::Archive, None));
        assert!(load("bigin", "").unwrap().follow.is_empty());
        assert_eq!(
            load("bigin", "").unwrap().sync.follow_interval,
            std::time::Duration::from_secs(600)
        );
    }

    #[test]
    fn follow_errors_name_the_key() {
        let cases = [
            (
                "bigin",
                "[[follow]]\nmodule = \"Pipelines\"\nlable = \"x\"\n",
                "follow.lable",
            ),
            (
                "bigin",
                "[[follow]]\nmodule = \"Deals_X\"\n",
                "follow[0].module",
            ),
            // Leads is a CRM module, not a Bigin one; Pipelines the other way round.
            (
                "bigin",
                "[[follow]]\nmodule = \"Leads\"\n",
                "follow[0].module",
            ),
            (
                "crm",
                "[[follow]]\nmodule = \"Pipelines\"\n",
                "follow[0].module",
            ),
            (
                "bigin",
                "[[follow]]\nlabel = \"{Deal_Name}\"\n",
                "follow[0].module",
            ),
            (
                "bigin",
                "[[follow]]\nmodule = \"Pipelines\"\nlabel = \"{Deal_Name\"\n",
                "follow[0].label",
            ),
            (
                "bigin",
                "[[follow]]\nmodule = \"Pipelines\"\nview = \"my view\"\n",
                "follow[0].view",
            ),
            (
                "bigin",
                "[[follow]]\nmodule = \"Pipelines\"\non_leave = \"delete\"\n",
                "follow[0].on_leave",
            ),
            (
                "bigin",
                "[[follow]]\nmodule = \"Pipelines\"\nhint_field = \"Last Activity\"\n",
                "follow[0].hint_field",
            ),
            (
                "bigin",
                "[[follow]]\nmodule = \"Pipelines\"\nwhere = { Stage = [] }\n",
                "follow[0].where.Stage",
            ),
            (
                "bigin",
                "[[follow]]\nmodule = \"Pipelines\"\n[[follow]]\nmodule = \"Deals\"\n",
                "follow[1].module",
            ),
            (
                "bigin",
                &format!(
                    "[[follow]]\nmodule = \"Pipelines\"\nlabel = \"{}\"\n",
                    (0..50).map(|i| format!("{{F{i}}}")).collect::<String>()
                ),
                "follow[0].label",
            ),
        ];
        for (product, text, key) in &cases {
            let (got, msg) = err_key(product, text);
            assert_eq!(got, *key, "{text}: {msg}");
            assert!(msg.contains("expected"), "{msg}");
        }
        assert!(load("crm", "[[follow]]\nmodule = \"Invoices_X\"\n").is_ok());
        assert!(load("crm", "[[follow]]\nmodule = \"Leads\"\n").is_ok());
    }
}
