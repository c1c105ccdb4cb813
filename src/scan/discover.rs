//! Finding record folders: `<root>/<ModuleFolder>/<record_id>[ <label>]`.

use super::ScanError;
use crate::dir_handle::DirHandle;
use crate::model::{Product, RecordKey};
use std::collections::BTreeMap;
use std::fs::FileType;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Shortest accepted record id; Zoho ids are 19 digits, this only keeps `2024` or `1`
/// folders from being taken for records.
const MIN_ID_DIGITS: usize = 5;

/// One record folder found under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFolder {
    /// The record it holds.
    pub key: RecordKey,
    /// The record folder's own name (id plus optional label).
    pub folder_name: String,
    /// The folder's path under the root.
    pub path: PathBuf,
}

impl RecordFolder {
    /// Opens the folder from the root without following any link (see
    /// [`crate::dir_handle`]): the folder may have been swapped for a symlink since it was
    /// discovered. Missing → `Ok(None)` (unknown, never empty); a link or a file where the
    /// module or record folder was → `Err`.
    pub fn open(&self) -> Result<Option<DirHandle>, ScanError> {
        let (Some(module_dir), Some(root)) = (
            self.path.parent(),
            self.path.parent().and_then(Path::parent),
        ) else {
            return Err(ScanError::NotADirectory {
                path: self.path.clone(),
            });
        };
        let module_folder = module_dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| ScanError::NotADirectory {
                path: module_dir.to_path_buf(),
            })?;
        match DirHandle::open_beneath(root, &[module_folder, &self.folder_name]) {
            Ok(dir) => Ok(Some(dir)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            // `O_NOFOLLOW | O_DIRECTORY` on a link fails with ELOOP or ENOTDIR: look
            // (without following) to say which it is.
            Err(e) if crate::dir_handle::is_link(&e) || e.raw_os_error() == Some(libc::ENOTDIR) => {
                let link =
                    std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink());
                let path = self.path.clone();
                Err(if link {
                    ScanError::Symlink { path }
                } else {
                    ScanError::NotADirectory { path }
                })
            }
            Err(e) => Err(ScanError::io(&self.path, "open record folder", e)),
        }
    }
}

/// The outcome of [`discover_records`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Discovery {
    /// Sorted by key.
    pub records: Vec<RecordFolder>,
    /// Paths under the root that are not followed, with why (one log line each).
    pub ignored: Vec<(PathBuf, String)>,
}

/// The record id of a record folder name: all digits (at least 5), optionally followed
/// by one space and any label. `None` for anything else.
pub fn parse_record_folder_name(name: &str) -> Option<&str> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits < MIN_ID_DIGITS {
        return None;
    }
    let (id, rest) = name.split_at(digits);
    (rest.is_empty() || rest.starts_with(' ')).then_some(id)
}

/// Finds record folders. Module folder names are API names or aliases
/// ([`Product::module_for_folder`], e.g. Companies → Accounts; plus `extra_modules`, taken
/// as API names). Everything else is reported in `ignored` and not followed; so are
/// symlinks, and all folders of a record that appears more than once (e.g. under both
/// `Companies` and `Accounts`), since syncing either would be a guess.
///
/// Root missing or unreadable → `Err`, and so is an unreadable module folder: a partial
/// view must never look like record folders that disappeared.
pub fn discover_records(
    root: &Path,
    product: Product,
    extra_modules: &[String],
) -> Result<Discovery, ScanError> {
    let mut out = Discovery::default();
    let mut found: BTreeMap<RecordKey, Vec<RecordFolder>> = BTreeMap::new();
    for (name, path, ft) in list_dir(root, "read sync root")? {
        let Some(name) = name else {
            out.ignored.push((path, "name is not UTF-8".into()));
            continue;
        };
        let module = product
            .module_for_folder(&name)
            .map(str::to_string)
            .or_else(|| extra_modules.iter().find(|m| **m == name).cloned());
        let Some(module) = module else {
            out.ignored.push((
                path,
                format!(
                    "not a module folder (expected one of {}{})",
                    product.documented_modules().join(", "),
                    if extra_modules.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", extra_modules.join(", "))
                    }
                ),
            ));
            continue;
        };
        if let Some(why) = not_a_folder(ft) {
            out.ignored.push((path, why.into()));
            continue;
        }
        let records = match list_dir(&path, "read module folder") {
            Ok(r) => r,
            // Removed since the root was listed: it holds nothing now.
            Err(ScanError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                continue;
            }
            Err(e) => return Err(e),
        };
        for (rname, rpath, rft) in records {
            let Some(rname) = rname else {
                out.ignored.push((rpath, "name is not UTF-8".into()));
                continue;
            };
            let Some(id) = parse_record_folder_name(&rname) else {
                out.ignored.push((rpath, not_a_record_folder(&rname)));
                continue;
            };
            if let Some(why) = not_a_folder(rft) {
                out.ignored.push((rpath, why.into()));
                continue;
            }
            let key = RecordKey {
                module: module.clone(),
                record_id: id.to_string(),
            };
            found.entry(key.clone()).or_default().push(RecordFolder {
                key,
                folder_name: rname,
                path: rpath,
            });
        }
    }
    for (key, mut folders) in found {
        if folders.len() == 1 {
            out.records.append(&mut folders);
        } else {
            for f in folders {
                out.ignored
                    .push((f.path, format!("two or more folders for record {key}; none is synced until only one is left")));
            }
        }
    }
    out.ignored.sort();
    Ok(out)
}

/// Why `name` in a module folder is not a record folder, in plain words.
fn not_a_record_folder(name: &str) -> String {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && digits < MIN_ID_DIGITS {
        format!(
            "id too short: a record id has {MIN_ID_DIGITS} or more digits (Zoho's have 19; find it in the record's URL)"
        )
    } else if digits > 0 {
        "the record id must be followed by nothing or by a space and a label".into()
    } else {
        "not a record folder: its name must start with the record id (`<record id>` or `<record id> <label>`)".into()
    }
}

fn not_a_folder(ft: FileType) -> Option<&'static str> {
    if ft.is_symlink() {
        Some("symlink (not followed)")
    } else if !ft.is_dir() {
        Some("not a folder")
    } else {
        None
    }
}

/// Lists a directory without following symlinks: `(utf-8 name, path, type)`.
type Listing = Vec<(Option<String>, PathBuf, FileType)>;

fn list_dir(dir: &Path, op: &'static str) -> Result<Listing, ScanError> {
    let read = std::fs::read_dir(dir).map_err(|e| match e.kind() {
        ErrorKind::NotADirectory => ScanError::NotADirectory {
            path: dir.to_path_buf(),
        },
        _ => ScanError::io(dir, op, e),
    })?;
    let mut out = Vec::new();
    for item in read {
        let item = item.map_err(|e| ScanError::io(dir, op, e))?;
        let ft = match item.file_type() {
            Ok(ft) => ft,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(ScanError::io(&item.path(), "stat", e)),
        };
        out.push((item.file_name().into_string().ok(), item.path(), ft));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}
