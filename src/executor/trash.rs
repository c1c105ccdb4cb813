//! The trash: where a local file goes when its attachment was deleted in Zoho.
//!
//! A remote delete never unlinks a user's file. It is moved to
//! `<state_dir>/trash/<Module>/<record>/<stamp> <name>`, outside the synced root so it is
//! never uploaded again. When the state dir is on another filesystem the file is copied,
//! synced to disk and only then removed.

use crate::model::RecordKey;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Moves `file` into the trash for `key`; returns where it went.
pub fn move_to_trash(
    trash_root: &Path,
    key: &RecordKey,
    file: &Path,
    stamp: &str,
) -> io::Result<PathBuf> {
    let name = file
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let dir = trash_root.join(&key.module).join(&key.record_id);
    // Private like the rest of the state dir (daemon::state_dir), whatever the umask.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let mut dest = dir.join(format!("{stamp} {name}"));
    let mut n = 2;
    while dest.exists() {
        dest = dir.join(format!("{stamp} ({n}) {name}"));
        n += 1;
    }
    match std::fs::rename(file, &dest) {
        Ok(()) => Ok(dest),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            std::fs::copy(file, &dest)?;
            std::fs::File::open(&dest)?.sync_all()?;
            std::fs::remove_file(file)?;
            Ok(dest)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_file_and_never_overwrites_earlier_trash() {
        let tmp = tempfile::tempdir().unwrap();
        let key = RecordKey {
            module: "Contacts".into(),
            record_id: "123456".into(),
        };
        let trash = tmp.path().join("trash");
        for round in 0..2 {
            let f = tmp.path().join("a.pdf");
            std::fs::write(&f, format!("v{round}")).unwrap();
            let dest = move_to_trash(&trash, &key, &f, "2026-11-25 101500").unwrap();
            assert!(!f.exists());
            assert_eq!(std::fs::read_to_string(&dest).unwrap(), format!("v{round}"));
        }
        let count = std::fs::read_dir(trash.join("Contacts/123456"))
            .unwrap()
            .count();
        assert_eq!(count, 2);
    }
}
