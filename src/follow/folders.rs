//! The folder operations the follow planner asks for, all through [`DirHandle`]s: make a
//! record folder (with its journal row, for `bigin-sync follow`), rename it within its
//! module folder, move it to the archive.

use crate::dir_handle::DirHandle;
use crate::journal::Journal;
use std::io;

/// Hidden folder under the root that receives the folders of deleted records.
pub const ARCHIVE_DIR: &str = ".archive";

/// Makes the record folder `name` in the module folder.
pub fn make_folder(module_dir: &DirHandle, name: &str) -> io::Result<()> {
    module_dir.create_dir(name)?;
    module_dir.sync()
}

/// Makes the folder `name` of record `id` of a followed module as the daemon's own: the
/// journal row names it before the `mkdir` (a crash leaves a row a restart recognises)
/// and settles after it, with the record's hint value. The daemon then renames it with
/// the record and archives it when the record is deleted. The follow pass's `Make`, and
/// `bigin-sync follow`.
pub fn make_recorded_folder(
    journal: &Journal,
    module_dir: &DirHandle,
    module: &str,
    id: &str,
    name: &str,
    hint: Option<&str>,
) -> anyhow::Result<()> {
    journal.follow_pending(module, id, name)?;
    journal.follow_set_hint(module, id, hint)?;
    make_folder(module_dir, name)?;
    journal.follow_settle(module, id, name)?;
    Ok(())
}

/// Renames a record folder within its module folder, never replacing anything.
pub fn rename_folder(module_dir: &DirHandle, from: &str, to: &str) -> io::Result<()> {
    module_dir.rename_noreplace(from, module_dir, to)?;
    module_dir.sync()
}

/// `name`, then `name (2)`, `name (3)`, …
fn candidate(name: &str, n: u32) -> String {
    if n < 2 {
        name.to_string()
    } else {
        format!("{name} ({n})")
    }
}

/// Moves the record folder `name` (with everything in it) to
/// `<root>/.archive/<module_folder>/<name>`, with a ` (2)` … suffix when that is taken:
/// one `rename(2)` on the same file system, nothing copied or deleted. Returns the name
/// it has in the archive.
pub fn archive_folder(
    root: &DirHandle,
    module_dir: &DirHandle,
    module_folder: &str,
    name: &str,
) -> io::Result<String> {
    let archive = root.open_or_create_dir(ARCHIVE_DIR)?;
    let dest = archive.open_or_create_dir(module_folder)?;
    for n in 1..10_000 {
        let to = candidate(name, n);
        match module_dir.rename_noreplace(name, &dest, &to) {
            Ok(()) => {
                dest.sync()?;
                module_dir.sync()?;
                return Ok(to);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("every archive name for {name} is taken"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_moves_the_whole_folder_and_suffixes_a_taken_name() {
        let tmp = tempfile::tempdir().unwrap();
        let root = DirHandle::open(tmp.path()).unwrap();
        let module = root.open_or_create_dir("Pipelines").unwrap();
        for _ in 0..2 {
            make_folder(&module, "100001 Acme").unwrap();
            std::fs::write(tmp.path().join("Pipelines/100001 Acme/a.pdf"), b"x").unwrap();
            archive_folder(&root, &module, "Pipelines", "100001 Acme").unwrap();
        }
        let arch = tmp.path().join(".archive/Pipelines");
        assert_eq!(std::fs::read(arch.join("100001 Acme/a.pdf")).unwrap(), b"x");
        assert_eq!(
            std::fs::read(arch.join("100001 Acme (2)/a.pdf")).unwrap(),
            b"x"
        );
        assert!(!tmp.path().join("Pipelines/100001 Acme").exists());
    }

    #[test]
    fn rename_never_replaces_and_make_never_doubles() {
        let tmp = tempfile::tempdir().unwrap();
        let root = DirHandle::open(tmp.path()).unwrap();
        let module = root.open_or_create_dir("Pipelines").unwrap();
        make_folder(&module, "100001 A").unwrap();
        make_folder(&module, "100001 B").unwrap();
        let e = rename_folder(&module, "100001 A", "100001 B").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            make_folder(&module, "100001 A").unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn a_link_in_place_of_the_archive_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join(ARCHIVE_DIR)).unwrap();
        let root = DirHandle::open(tmp.path()).unwrap();
        let module = root.open_or_create_dir("Pipelines").unwrap();
        make_folder(&module, "100001").unwrap();
        assert!(archive_folder(&root, &module, "Pipelines", "100001").is_err());
        assert!(tmp.path().join("Pipelines/100001").is_dir());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
