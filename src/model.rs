//! Domain types shared by several modules: products, modules, attachments as listed by Zoho.
//!
//! They carry no behaviour beyond parsing and display so that the sandbox, the client and
//! the planner can each speak about the same things without depending on one another.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which Zoho product (and API version) is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// Zoho Bigin, `/bigin/v2/...`.
    #[default]
    Bigin,
    /// Zoho CRM, `/crm/v8/...`.
    Crm,
}

impl Product {
    /// The path prefix of the product's REST API, e.g. `bigin/v2`.
    pub fn api_prefix(self) -> &'static str {
        match self {
            Product::Bigin => "bigin/v2",
            Product::Crm => "crm/v8",
        }
    }

    /// The module API names the product documents for attachments.
    pub fn documented_modules(self) -> &'static [&'static str] {
        match self {
            Product::Bigin => &[
                "Contacts",
                "Pipelines",
                "Accounts",
                "Products",
                "Tasks",
                "Events",
                "Notes",
            ],
            Product::Crm => &[
                "Leads",
                "Accounts",
                "Contacts",
                "Deals",
                "Campaigns",
                "Tasks",
                "Cases",
                "Events",
                "Calls",
                "Solutions",
                "Products",
                "Vendors",
                "Price_Books",
                "Quotes",
                "Sales_Orders",
                "Purchase_Orders",
                "Invoices",
                "Appointments",
                "Services",
                "Notes",
            ],
        }
    }

    /// Maps a folder name to the module API name: exact API names, and the UI names that
    /// differ from them (Bigin's "Companies" is the `Accounts` module).
    pub fn module_for_folder(self, folder: &str) -> Option<&'static str> {
        if let Some(m) = self.documented_modules().iter().find(|m| **m == folder) {
            return Some(m);
        }
        FOLDER_ALIASES
            .iter()
            .find(|(p, f, _)| *p == self && *f == folder)
            .map(|(_, _, m)| *m)
    }

    /// Every folder name that maps to `module`: its API name and its UI names.
    pub fn folders_of_module(self, module: &str) -> Vec<&'static str> {
        let api = self
            .documented_modules()
            .iter()
            .copied()
            .find(|m| *m == module);
        api.into_iter()
            .chain(
                FOLDER_ALIASES
                    .iter()
                    .filter(|(p, _, m)| *p == self && *m == module)
                    .map(|(_, f, _)| *f),
            )
            .collect()
    }
}

/// UI names of modules that differ from their API names: (product, folder, module).
const FOLDER_ALIASES: &[(Product, &str, &str)] = &[
    (Product::Bigin, "Companies", "Accounts"),
    (Product::Bigin, "Deals", "Pipelines"),
];

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Product::Bigin => "bigin",
            Product::Crm => "crm",
        })
    }
}

/// What an attachment holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttachmentKind {
    /// File bytes, downloadable.
    File,
    /// A link attachment (`$type` = "Link URL"); `File_Name` is its title.
    Link {
        /// The URL the link points at.
        url: String,
    },
}

/// One attachment of a record as the list call reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RemoteAttachment {
    /// The attachment id (a 19-digit string).
    pub id: String,
    /// `$file_id`, absent for links.
    pub file_id: Option<String>,
    /// `File_Name` as Zoho holds it: untrusted, may contain `/`, `..`, control characters.
    pub file_name: String,
    /// `Size` in bytes (Zoho sends it as a string); 0 for links.
    pub size: u64,
    /// A file or a link.
    pub kind: AttachmentKind,
    /// `Created_Time` as sent (ISO 8601 with offset), when present.
    pub created_time: Option<String>,
    /// `Modified_Time` as sent, when present.
    pub modified_time: Option<String>,
}

/// A record followed by the daemon: module API name plus record id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordKey {
    /// The module's API name, e.g. `Contacts`.
    pub module: String,
    /// The record's id (a long digit string).
    pub record_id: String,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.module, self.record_id)
    }
}

/// A BLAKE3 content hash, hex encoded in the journal and logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        ContentHash(*blake3::hash(bytes).as_bytes())
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    /// Reads 64 hex digits; `None` when `s` is not a hash.
    pub fn from_hex(s: &str) -> Option<Self> {
        blake3::Hash::from_hex(s)
            .ok()
            .map(|h| ContentHash(*h.as_bytes()))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", &self.to_hex()[..12])
    }
}

/// What `stat` says of a file, in the journal's terms: the fields the hash cache, the
/// stability check and every "still the file that was scanned?" check compare. The one
/// definition, so all of them agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch, saturated: a time outside the range of
    /// `i64` nanoseconds (before 1677 or after 2262, e.g. `touch -d @10000000000`) is
    /// pinned to the end of the range, the same way on every read, so it never looks
    /// like a change.
    pub mtime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Status-change time, ns, saturated like `mtime_ns`.
    pub ctime_ns: i64,
}

impl Stat {
    /// From raw `stat` fields: `(seconds, nanoseconds)` pairs for the two times.
    pub fn from_parts(size: u64, mtime: (i64, i64), inode: u64, ctime: (i64, i64)) -> Stat {
        Stat {
            size,
            mtime_ns: saturating_ns(mtime),
            inode,
            ctime_ns: saturating_ns(ctime),
        }
    }

    /// From `std`'s metadata (links not followed by whoever produced it).
    pub fn of(meta: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat::from_parts(
            meta.size(),
            (meta.mtime(), meta.mtime_nsec()),
            meta.ino(),
            (meta.ctime(), meta.ctime_nsec()),
        )
    }

    /// Same size, mtime and inode: the same version of the same file, as far as a scan
    /// can tell (ctime is compared only by the hash cache, which must also catch a
    /// rewrite that put the old mtime back).
    pub fn same_file_version(&self, other: &Stat) -> bool {
        self.size == other.size && self.mtime_ns == other.mtime_ns && self.inode == other.inode
    }
}

/// The wall clock in whole seconds since the Unix epoch (0 for a clock set before it):
/// the one clock of the journal's times, backoffs and token expiries.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn saturating_ns((secs, nanos): (i64, i64)) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}
