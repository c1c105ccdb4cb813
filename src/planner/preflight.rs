//! Preflight: uploads Zoho is known to refuse, found before any API call, so that they
//! are parked at once with a plain message instead of spending a credit (and, for a big
//! file, the bandwidth) on a refusal. Pure: the executor parks what this returns.
//!
//! Zoho refuses (see `zoho::limits` for the sources): a file above the per-attachment
//! limit, an `.exe` on CRM, and a link URL the record already has (link URLs are unique
//! per record).

use super::types::{Action, LocalEntry};
use crate::model::{AttachmentKind, Product, RemoteAttachment};
use crate::zoho::limits::refused_file_type;
use std::collections::{HashMap, HashSet};

/// What the preflight knows of Zoho's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRules {
    /// Bigin or CRM (CRM refuses `.exe` files).
    pub product: Product,
    /// Largest file Zoho takes, in bytes, when known (configured, documented, or stated
    /// by Zoho in an earlier refusal).
    pub max_bytes: Option<u64>,
}

/// Why each refused upload would fail, by local name (the action's subject).
pub fn preflight(
    actions: &[Action],
    local: &HashMap<String, LocalEntry>,
    remote: &[RemoteAttachment],
    rules: &UploadRules,
) -> HashMap<String, String> {
    let mut refused = HashMap::new();
    let mut links: HashSet<&str> = remote
        .iter()
        .filter_map(|a| match &a.kind {
            AttachmentKind::Link { url } => Some(url.as_str()),
            AttachmentKind::File => None,
        })
        .collect();
    let mut in_pass: HashMap<&str, &str> = HashMap::new();
    for action in actions {
        match action {
            Action::Upload { local_name, .. } | Action::Replace { local_name, .. } => {
                if refused_file_type(rules.product, local_name) {
                    refused.insert(
                        local_name.clone(),
                        format!(
                            "Zoho {} refuses .exe attachments; not uploaded",
                            rules.product
                        ),
                    );
                } else if let (Some(max), Some(l)) = (rules.max_bytes, local.get(local_name))
                    && l.size > max
                {
                    refused.insert(
                        local_name.clone(),
                        format!(
                            "{} bytes is more than the {max} bytes Zoho takes per attachment \
                             (zoho.max_upload_size, or Zoho's stated limit); not uploaded",
                            l.size
                        ),
                    );
                }
            }
            Action::UploadLink {
                local_name, url, ..
            } => {
                if let Some(first) = in_pass.get(url.as_str()) {
                    refused.insert(
                        local_name.clone(),
                        format!(
                            "its link {url} is also in {first:?}, which is uploaded; Zoho takes \
                             each link only once per record"
                        ),
                    );
                } else if links.contains(url.as_str()) {
                    refused.insert(
                        local_name.clone(),
                        format!(
                            "the link {url} is already attached to this record; Zoho takes \
                             each link only once per record"
                        ),
                    );
                } else {
                    in_pass.insert(url, local_name);
                    links.insert(url);
                }
            }
            _ => {}
        }
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContentHash;

    fn local(name: &str, size: u64) -> (String, LocalEntry) {
        (
            name.to_owned(),
            LocalEntry {
                name: name.to_owned(),
                size,
                mtime_ns: 0,
                inode: 1,
                ctime_ns: 0,
                hash: ContentHash::of_bytes(b""),
                link_url: None,
                stable: true,
            },
        )
    }

    fn upload(name: &str) -> Action {
        Action::Upload {
            local_name: name.into(),
            remote_name: name.into(),
        }
    }

    fn link(name: &str, url: &str) -> Action {
        Action::UploadLink {
            local_name: name.into(),
            url: url.into(),
            title: name.into(),
        }
    }

    #[test]
    fn oversize_files_and_exe_on_crm_are_refused() {
        let files: HashMap<_, _> = [
            local("big.bin", 101),
            local("ok.bin", 100),
            local("setup.exe", 1),
        ]
        .into_iter()
        .collect();
        let actions = [upload("big.bin"), upload("ok.bin"), upload("setup.exe")];
        let crm = UploadRules {
            product: Product::Crm,
            max_bytes: Some(100),
        };
        let r = preflight(&actions, &files, &[], &crm);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(
            r["big.bin"].contains("101 bytes is more than the 100"),
            "{r:?}"
        );
        assert!(r["setup.exe"].contains(".exe"), "{r:?}");
        let bigin = UploadRules {
            product: Product::Bigin,
            max_bytes: None,
        };
        assert!(preflight(&actions, &files, &[], &bigin).is_empty());
    }

    #[test]
    fn a_link_url_goes_up_once_per_record() {
        let remote = [RemoteAttachment {
            id: "1".into(),
            file_id: None,
            file_name: "site".into(),
            size: 0,
            kind: AttachmentKind::Link {
                url: "https://a.example/".into(),
            },
            created_time: None,
            modified_time: None,
        }];
        let actions = [
            link("a.url", "https://a.example/"),
            link("b.url", "https://b.example/"),
            link("c.url", "https://b.example/"),
        ];
        let rules = UploadRules {
            product: Product::Bigin,
            max_bytes: None,
        };
        let r = preflight(&actions, &HashMap::new(), &remote, &rules);
        assert!(r["a.url"].contains("already attached"), "{r:?}");
        assert!(!r.contains_key("b.url"), "{r:?}");
        assert!(r["c.url"].contains("\"b.url\", which is uploaded"), "{r:?}");
    }
}
