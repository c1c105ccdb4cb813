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
}
