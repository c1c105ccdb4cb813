//! The remote side held by the sandbox: records and their attachments, in memory.
//!
//! Pure data with no locking or HTTP, so the routes and the test-facing handle share one
//! set of rules (id allocation, ordering, which record owns which attachment).

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use rand::Rng;
use serde::Serialize;

use super::records::RecordTable;
use crate::model::{ContentHash, Product};

/// An attachment as the sandbox holds it, for tests to inspect.
#[derive(Clone, Debug)]
pub struct SandboxAttachment {
    /// 19-digit attachment id.
    pub id: String,
    /// `$file_id`; `None` for links.
    pub file_id: Option<String>,
    /// `File_Name` (the title for links).
    pub file_name: String,
    /// Size in bytes; 0 for links.
    pub size: u64,
    /// `$link_url` for link attachments.
    pub link_url: Option<String>,
    /// `Created_Time`, ISO 8601 with offset.
    pub created_time: String,
    /// BLAKE3 of the content; `None` for links.
    pub content_hash: Option<ContentHash>,
}

/// Identity of a record: product, module API name, record id.
pub(crate) type RecordRef = (Product, String, String);

/// One stored attachment with its content.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub meta: SandboxAttachment,
    pub modified_time: String,
    pub record: RecordRef,
    pub content: Option<Bytes>,
}

/// What a new attachment holds.
pub(crate) enum NewContent {
    File { bytes: Bytes, hash: ContentHash },
    Link { url: String },
}

/// Records and attachments.
#[derive(Default)]
pub(crate) struct Store {
    next_id: u64,
    /// Attachment ids per record, oldest first.
    records: HashMap<RecordRef, Vec<String>>,
    atts: HashMap<String, Stored>,
    /// Module names made valid by registering a record in them.
    modules: HashSet<(Product, String)>,
    /// The records' own data (fields, times) and views, for the records API.
    pub table: RecordTable,
}

/// First id handed out; 19 digits like Zoho's, increasing from there.
const ID_BASE: u64 = 2_034_020_000_000_711_000;

/// Current time as Zoho prints it: ISO 8601 with a `+hh:mm` offset.
pub(crate) fn zoho_now() -> String {
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

impl Store {
    /// Creates the record if missing and makes its module name valid.
    pub fn add_record(&mut self, r: &RecordRef) {
        self.modules.insert((r.0, r.1.clone()));
        self.records.entry(r.clone()).or_default();
        self.table.ensure(r);
    }

    /// Deletes record `r` with its attachments, as a Bigin user deleting it does; false
    /// if it did not exist.
    pub fn remove_record(&mut self, r: &RecordRef) -> bool {
        let Some(ids) = self.records.remove(r) else {
            return false;
        };
        for id in ids {
            self.atts.remove(&id);
        }
        self.table.remove(r);
        true
    }

    pub fn has_record(&self, r: &RecordRef) -> bool {
        self.records.contains_key(r)
    }

    /// A module is valid if the product documents it or a record was registered in it.
    pub fn module_known(&self, product: Product, module: &str) -> bool {
        product.documented_modules().contains(&module)
            || self.modules.contains(&(product, module.to_string()))
    }

    pub(crate) fn next_id(&mut self) -> String {
        let id = ID_BASE + self.next_id;
        self.next_id += 1;
        id.to_string()
    }

    /// Stores a new attachment on `r` (creating the record) and returns it.
    pub fn insert(&mut self, r: &RecordRef, file_name: &str, content: NewContent) -> Stored {
        self.add_record(r);
        let id = self.next_id();
        let now = zoho_now();
        let (file_id, size, link_url, hash, bytes) = match content {
            NewContent::File { bytes, hash } => (
                Some(random_file_id()),
                bytes.len() as u64,
                None,
                Some(hash),
                Some(bytes),
            ),
            NewContent::Link { url } => (None, 0, Some(url), None, None),
        };
        let stored = Stored {
            meta: SandboxAttachment {
                id: id.clone(),
                file_id,
                file_name: file_name.to_string(),
                size,
                link_url,
                created_time: now.clone(),
                content_hash: hash,
            },
            modified_time: now,
            record: r.clone(),
            content: bytes,
        };
        self.atts.insert(id.clone(), stored.clone());
        if let Some(list) = self.records.get_mut(r) {
            list.push(id);
        }
        self.table.attachment_changed(r);
        stored
    }

    /// The attachment `id` if it belongs to record `r`.
    pub fn get(&self, r: &RecordRef, id: &str) -> Option<&Stored> {
        self.atts.get(id).filter(|s| &s.record == r)
    }

    /// Content of any attachment by id.
    pub fn content(&self, id: &str) -> Option<Bytes> {
        self.atts.get(id).and_then(|s| s.content.clone())
    }

    /// Removes attachment `id` of record `r`; false if it was not there.
    pub fn delete(&mut self, r: &RecordRef, id: &str) -> bool {
        if self.get(r, id).is_none() {
            return false;
        }
        self.atts.remove(id);
        if let Some(list) = self.records.get_mut(r) {
            list.retain(|a| a != id);
        }
        self.table.attachment_changed(r);
        true
    }

    /// Attachments of `r`, newest first (the order Zoho lists them in).
    pub fn list(&self, r: &RecordRef) -> Vec<&Stored> {
        self.records
            .get(r)
            .map(|ids| {
                ids.iter()
                    .rev()
                    .filter_map(|id| self.atts.get(id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Everything, for the admin `state` endpoint.
    pub fn snapshot(&self) -> Vec<RecordSnapshot> {
        let mut keys: Vec<&RecordRef> = self.records.keys().collect();
        keys.sort_by_key(|r| (r.0.to_string(), r.1.clone(), r.2.clone()));
        keys.into_iter()
            .map(|r| RecordSnapshot {
                product: r.0,
                module: r.1.clone(),
                record_id: r.2.clone(),
                attachments: self
                    .list(r)
                    .into_iter()
                    .map(|s| AttachmentSnapshot {
                        id: s.meta.id.clone(),
                        file_id: s.meta.file_id.clone(),
                        file_name: s.meta.file_name.clone(),
                        size: s.meta.size,
                        link_url: s.meta.link_url.clone(),
                        created_time: s.meta.created_time.clone(),
                        blake3: s.meta.content_hash.map(|h| h.to_hex()),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A record in the admin state dump.
#[derive(Serialize)]
pub(crate) struct RecordSnapshot {
    product: Product,
    module: String,
    record_id: String,
    attachments: Vec<AttachmentSnapshot>,
}

/// An attachment in the admin state dump.
#[derive(Serialize)]
pub(crate) struct AttachmentSnapshot {
    id: String,
    file_id: Option<String>,
    file_name: String,
    size: u64,
    link_url: Option<String>,
    created_time: String,
    blake3: Option<String>,
}

/// A `$file_id` looking like Zoho's (`kvjww` + 32 hex digits).
fn random_file_id() -> String {
    let mut rng = rand::rng();
    let mut s = String::from("kvjww");
    for _ in 0..32 {
        let d: u32 = rng.random_range(0..16);
        if let Some(c) = char::from_digit(d, 16) {
            s.push(c);
        }
    }
    s
}

/// A random access or refresh token value (`1000.` + 64 hex digits).
pub(crate) fn random_token() -> String {
    let mut rng = rand::rng();
    let mut s = String::from("1000.");
    for _ in 0..64 {
        let d: u32 = rng.random_range(0..16);
        if let Some(c) = char::from_digit(d, 16) {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: &str) -> RecordRef {
        (Product::Bigin, "Pipelines".to_string(), id.to_string())
    }

    fn file(bytes: &'static [u8]) -> NewContent {
        NewContent::File {
            bytes: Bytes::from_static(bytes),
            hash: ContentHash::of_bytes(bytes),
        }
    }

    #[test]
    fn ids_are_19_digits_increasing_and_listed_newest_first() {
        let mut s = Store::default();
        let a = s.insert(&r("1"), "a", file(b"a")).meta.id;
        let b = s.insert(&r("1"), "a", file(b"bb")).meta.id;
        assert_eq!(a.len(), 19);
        assert!(b > a);
        let listed: Vec<&str> = s.list(&r("1")).iter().map(|x| x.meta.id.as_str()).collect();
        assert_eq!(listed, [b.as_str(), a.as_str()]);
    }

    #[test]
    fn attachments_belong_to_their_record() {
        let mut s = Store::default();
        let a = s.insert(&r("1"), "a", file(b"a")).meta.id;
        s.add_record(&r("2"));
        assert!(s.get(&r("2"), &a).is_none());
        assert!(!s.delete(&r("2"), &a));
        assert!(s.delete(&r("1"), &a));
        assert!(!s.delete(&r("1"), &a));
        assert!(s.list(&r("1")).is_empty());
        assert!(s.content(&a).is_none());
    }

    #[test]
    fn links_have_no_content_and_registered_modules_become_valid() {
        let mut s = Store::default();
        let url = "https://example.com".to_string();
        let l = s.insert(&r("1"), "t", NewContent::Link { url }).meta;
        assert_eq!((l.size, l.file_id, l.content_hash), (0, None, None));
        assert!(s.module_known(Product::Crm, "Deals"));
        assert!(!s.module_known(Product::Bigin, "Deals"));
        s.add_record(&(Product::Crm, "Widgets_Custom".into(), "9".into()));
        assert!(s.module_known(Product::Crm, "Widgets_Custom"));
        assert!(!s.module_known(Product::Bigin, "Widgets_Custom"));
    }
}
