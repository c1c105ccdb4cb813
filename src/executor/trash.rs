//! The trash: where a local file goes when its attachment was deleted in Zoho.
//!
//! A remote delete never unlinks a user's file. It is moved to
//! `<state_dir>/trash/<Module>/<record>/<stamp> <name>`, outside the synced root so it is
//! never uploaded again. When the state dir is on another filesystem the file is copied,
//! synced to disk and only then removed. The file is taken through the record folder's
//! handle (see [`crate::dir_handle`]): a link is moved as a link, never followed.

use crate::dir_handle::DirHandle;
use crate::model::RecordKey;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The longest file name most file systems take (bytes).
const MAX_NAME_BYTES: usize = 255;

/// Moves `name` out of the record folder `dir` into the trash for `key`; returns where
/// it went.
pub fn move_to_trash(
    trash_root: &Path,
    key: &RecordKey,
    dir: &DirHandle,
    name: &str,
    stamp: &str,
) -> io::Result<PathBuf> {
    let trash_path = trash_root.join(&key.module).join(&key.record_id);
    // Private like the rest of the state dir (daemon::state_dir), whatever the umask.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&trash_path)?;
    let trash = DirHandle::open(&trash_path)?;
    let mut n = 1;
    loop {
        let dest = trash_name(stamp, n, name);
        match dir.rename_noreplace(name, &trash, &dest) {
            Ok(()) => return Ok(trash_path.join(dest)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                return copy_then_remove(dir, name, &trash, &dest).map(|()| trash_path.join(dest));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Across file systems: copy (only a regular file, never through a link), make the copy
/// durable, and only then remove the original.
fn copy_then_remove(dir: &DirHandle, name: &str, trash: &DirHandle, dest: &str) -> io::Result<()> {
    let mut from = dir.open_regular(name)?.file;
    let mut to = trash.create_new(dest)?;
    io::copy(&mut from, &mut to)?;
    to.sync_all()?;
    dir.remove_file(name)
}

/// The trash's folder in the state dir.
pub const TRASH_DIR: &str = "trash";

/// Where the trash of the state dir `state_dir` is.
pub fn trash_root(state_dir: &Path) -> PathBuf {
    state_dir.join(TRASH_DIR)
}

/// The format of the stamp that starts every trashed name (local time, sortable).
pub const STAMP_FORMAT: &str = "%Y-%m-%d %H%M%S";

/// The stamp that prefixes a file trashed now: local time, sortable.
pub(crate) fn stamp_now() -> String {
    chrono::Local::now().format(STAMP_FORMAT).to_string()
}

/// Bytes of a stamp in [`STAMP_FORMAT`] (`2026-11-25 101500`).
const STAMP_LEN: usize = 17;

/// When an entry was put in the trash, from the stamp its name starts with (`None` for
/// a name without one: not the daemon's, never removed).
///
/// The stamp and not the mtime: a rename keeps the file's mtime, which says when its
/// content last changed (possibly years ago), not when it was trashed; by mtime a file
/// deleted in Zoho today could vanish from the trash at the next hourly round.
pub fn trashed_at(name: &str) -> Option<i64> {
    let stamp = name.get(..STAMP_LEN)?;
    if name.len() > STAMP_LEN && name.as_bytes()[STAMP_LEN] != b' ' {
        return None;
    }
    let naive = chrono::NaiveDateTime::parse_from_str(stamp, STAMP_FORMAT).ok()?;
    let at = match naive.and_local_timezone(chrono::Local) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp(),
        // A time skipped by a clock change: an hour either way does not matter here.
        chrono::LocalResult::None => naive.and_utc().timestamp(),
    };
    Some(at)
}

/// How much the trash holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrashUsage {
    /// Trashed entries (`<Module>/<record>/<stamp> <name>`, a folder counting as one).
    pub entries: u64,
    /// Their bytes (a folder's: of everything in it; a link's: the link's own).
    pub bytes: u64,
}

/// What one expiry round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expired {
    /// Entries removed, and their bytes.
    pub removed: TrashUsage,
    /// What could not be removed (and why), for the log.
    pub errors: Vec<String>,
}

/// The record folders of the trash (`<Module>/<record>`), opened without following a
/// link: a link or a file where a folder should be is not the daemon's and is skipped.
fn record_folders(trash: &DirHandle) -> io::Result<Vec<DirHandle>> {
    let mut out = Vec::new();
    for (module, _) in trash.entries()? {
        let Some(module) = module.to_str() else {
            continue;
        };
        let Ok(module) = trash.open_dir(module) else {
            continue;
        };
        for (record, _) in module.entries()? {
            if let Some(Ok(dir)) = record.to_str().map(|r| module.open_dir(r)) {
                out.push(dir);
            }
        }
    }
    Ok(out)
}

/// Opens the trash, or `None` when there is none yet.
fn open_trash(trash_root: &Path) -> io::Result<Option<DirHandle>> {
    match DirHandle::open(trash_root) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the trash holds (for `status`): read through handles, never following a link.
pub fn usage(trash_root: &Path) -> io::Result<TrashUsage> {
    let mut usage = TrashUsage::default();
    let Some(trash) = open_trash(trash_root)? else {
        return Ok(usage);
    };
    for dir in record_folders(&trash)? {
        for (name, _) in dir.entries()? {
            usage.entries += 1;
            usage.bytes += dir.tree_size(&name).unwrap_or(0);
        }
    }
    Ok(usage)
}

/// Removes the trashed entries stamped before `cutoff_unix` (a folder with all it holds).
/// Everything goes through directory
/// handles: a link is removed as a link, never followed, and nothing outside the trash
/// is reached. Entries without a stamp are not the daemon's and stay. Emptied record
/// folders stay too: removing one could race with a file being trashed into it.
pub fn expire(trash_root: &Path, cutoff_unix: i64) -> io::Result<Expired> {
    let mut done = Expired::default();
    let Some(trash) = open_trash(trash_root)? else {
        return Ok(done);
    };
    for dir in record_folders(&trash)? {
        for (name, _) in dir.entries()? {
            let Some(text) = name.to_str() else {
                continue;
            };
            if trashed_at(text).is_none_or(|at| at >= cutoff_unix) {
                continue;
            }
            let bytes = dir.tree_size(&name).unwrap_or(0);
            match dir.remove_tree(&name) {
                Ok(()) => {
                    done.removed.entries += 1;
                    done.removed.bytes += bytes;
                }
                Err(e) => done
                    .errors
                    .push(format!("{}: {e}", dir.display_path(text).display())),
            }
        }
    }
    Ok(done)
}

/// `"<stamp> <name>"`, or `"<stamp> (n) <name>"` for the n-th (n ≥ 2) of one stamp,
/// shortened to fit in one file name: the name is cut (on a character boundary, keeping
/// its extension when it has a short one) so a long name can still be trashed.
fn trash_name(stamp: &str, n: u32, name: &str) -> String {
    let prefix = if n < 2 {
        format!("{stamp} ")
    } else {
        format!("{stamp} ({n}) ")
    };
    let room = MAX_NAME_BYTES.saturating_sub(prefix.len());
    if name.len() <= room {
        return prefix + name;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 16 => name.split_at(i),
        _ => (name, ""),
    };
    let keep = room.saturating_sub(ext.len() + "…".len());
    let mut cut = keep.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{prefix}{}…{ext}", &stem[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RecordKey {
        RecordKey {
            module: "Contacts".into(),
            record_id: "123456".into(),
        }
    }

    #[test]
    fn moves_file_and_never_overwrites_earlier_trash() {
        let tmp = tempfile::tempdir().unwrap();
        let trash = tmp.path().join("trash");
        let rec = tmp.path().join("rec");
        std::fs::create_dir(&rec).unwrap();
        let dir = DirHandle::open(&rec).unwrap();
        for round in 0..2 {
            std::fs::write(rec.join("a.pdf"), format!("v{round}")).unwrap();
            let dest = move_to_trash(&trash, &key(), &dir, "a.pdf", "2026-11-25 101500").unwrap();
            assert!(!rec.join("a.pdf").exists());
            assert_eq!(std::fs::read_to_string(&dest).unwrap(), format!("v{round}"));
        }
        let count = std::fs::read_dir(trash.join("Contacts/123456"))
            .unwrap()
            .count();
        assert_eq!(count, 2);
    }

    #[test]
    fn a_name_too_long_for_a_stamp_is_shortened_and_still_trashed() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = tmp.path().join("rec");
        std::fs::create_dir(&rec).unwrap();
        let dir = DirHandle::open(&rec).unwrap();
        let long = format!("{}.pdf", "é".repeat(125)); // 254 bytes
        std::fs::write(rec.join(&long), b"x").unwrap();
        let dest = move_to_trash(
            &tmp.path().join("trash"),
            &key(),
            &dir,
            &long,
            "2026-11-25 101500",
        )
        .unwrap();
        assert!(!rec.join(&long).exists());
        let name = dest.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= MAX_NAME_BYTES, "{}", name.len());
        assert!(name.starts_with("2026-11-25 101500 éé") && name.ends_with("….pdf"));
        for n in [1, 2, 1000] {
            let t = trash_name("2026-11-25 101500", n, &"x".repeat(300));
            assert!(t.len() <= MAX_NAME_BYTES);
        }
    }

    #[test]
    fn a_link_is_moved_as_a_link_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = tmp.path().join("rec");
        std::fs::create_dir(&rec).unwrap();
        std::fs::write(tmp.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), rec.join("a.pdf")).unwrap();
        let dir = DirHandle::open(&rec).unwrap();
        let dest = move_to_trash(&tmp.path().join("trash"), &key(), &dir, "a.pdf", "s").unwrap();
        assert!(dest.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(tmp.path().join("secret")).unwrap(), b"s");
    }

    #[test]
    fn the_stamp_says_when_an_entry_was_trashed() {
        let t = trashed_at("2026-11-25 101500 a.pdf").unwrap();
        let back = chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .with_timezone(&chrono::Local)
            .format(STAMP_FORMAT)
            .to_string();
        assert_eq!(back, "2026-11-25 101500");
        assert!(trashed_at("2026-11-25 101500 (2) a.pdf").is_some());
        assert!(trashed_at("2026-11-25 101500").is_some());
        for undated in [
            "a.pdf",
            "2026-11-25 10150 a.pdf",
            "2026-11-25 101500a.pdf",
            "2026-13-25 101500 a",
            "é",
        ] {
            assert_eq!(trashed_at(undated), None, "{undated}");
        }
        // The stamp the executor writes is one this reads.
        let now = crate::model::unix_now();
        let made = stamp_now();
        assert!((trashed_at(&made).unwrap() - now).abs() <= 2);
    }

    #[test]
    fn expire_removes_old_entries_through_handles_only() {
        let tmp = tempfile::tempdir().unwrap();
        let trash = tmp.path().join("trash");
        let rec = trash.join("Contacts/123456");
        std::fs::create_dir_all(&rec).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(outside.join("d")).unwrap();
        std::fs::write(outside.join("f"), b"keep").unwrap();
        std::fs::write(outside.join("d/g"), b"keep").unwrap();
        std::fs::write(rec.join("2020-01-01 000000 old.pdf"), b"old").unwrap();
        std::fs::write(rec.join("2099-01-01 000000 new.pdf"), b"new!").unwrap();
        std::fs::write(rec.join("undated.pdf"), b"?").unwrap();
        std::os::unix::fs::symlink(outside.join("f"), rec.join("2020-01-01 000000 l")).unwrap();
        let folder = rec.join("2020-01-01 000000 folder");
        std::fs::create_dir_all(folder.join("a/b")).unwrap();
        std::fs::write(folder.join("a/b/c"), b"c").unwrap();
        std::os::unix::fs::symlink(outside.join("d"), folder.join("a/link")).unwrap();
        // A record folder that is a link out of the trash is not entered.
        std::fs::write(outside.join("2020-01-01 000000 victim"), b"v").unwrap();
        std::os::unix::fs::symlink(&outside, trash.join("Contacts/999999")).unwrap();

        let before = usage(&trash).unwrap();
        assert_eq!(before.entries, 5);
        let cutoff = trashed_at("2026-01-01 000000").unwrap();
        let done = expire(&trash, cutoff).unwrap();
        assert!(done.errors.is_empty(), "{:?}", done.errors);
        assert_eq!(done.removed.entries, 3);
        let mut left: Vec<String> = std::fs::read_dir(&rec)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["2099-01-01 000000 new.pdf", "undated.pdf"]);
        assert_eq!(std::fs::read(outside.join("f")).unwrap(), b"keep");
        assert_eq!(std::fs::read(outside.join("d/g")).unwrap(), b"keep");
        assert_eq!(
            std::fs::read(outside.join("2020-01-01 000000 victim")).unwrap(),
            b"v"
        );
        assert_eq!(
            usage(&trash).unwrap(),
            TrashUsage {
                entries: 2,
                bytes: 5
            }
        );
        // No trash yet: nothing to do, nothing held.
        assert_eq!(
            usage(&tmp.path().join("none")).unwrap(),
            TrashUsage::default()
        );
        assert_eq!(
            expire(&tmp.path().join("none"), cutoff).unwrap(),
            Expired::default()
        );
    }
}
