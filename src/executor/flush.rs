//! Durability of downloads, without waiting for the disk.
//!
//! A download is written under a temp name, renamed into place and recorded in the
//! journal as *unflushed*, with the id of the current boot and without an fsync. Later
//! (the daemon: in the background after the pass; `once`: not at all) the engine calls
//! [`flush_file_systems`] (one `syncfs` per file system touched) and then marks the rows
//! flushed.
//!
//! Until then the row is trusted only during the boot that wrote it: without a reboot
//! there was no power cut, and the page cache holds exactly what was written. A power cut
//! can leave a file empty or torn while its row says "synced"; after the reboot the boot
//! id differs, so the next reconcile re-hashes that file and drops the row when the
//! content differs: the file is then compared with Zoho as an unknown local file (kept,
//! never uploaded over the attachment as if it were an edit).

use crate::dir_handle::DirHandle;
use std::collections::HashSet;
use std::sync::OnceLock;

/// This boot's id (Linux: `/proc/sys/kernel/random/boot_id`), or `None` where unknown:
/// then every unflushed download is checked by hash, and `once` flushes before exiting.
pub fn boot_id() -> Option<&'static str> {
    static BOOT: OnceLock<Option<String>> = OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .as_deref()
}

/// Flushes every file system holding one of `dirs` (each once).
pub fn flush_file_systems(dirs: &[DirHandle]) -> std::io::Result<()> {
    let mut done: HashSet<u64> = HashSet::new();
    for dir in dirs {
        if done.insert(dir.own_stat()?.dev) {
            dir.sync_file_system()?;
        }
    }
    Ok(())
}

/// Makes one file's content durable (used when an unflushed download is found intact);
/// opened through the folder's handle as a regular file only.
pub fn sync_file(dir: &DirHandle, name: &str) -> std::io::Result<()> {
    dir.open_regular(name)?.file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boot_id_is_read_once_and_stays_the_same() {
        let first = boot_id();
        assert_eq!(boot_id(), first);
        if cfg!(target_os = "linux") {
            assert!(first.is_some_and(|b| b.len() >= 32), "{first:?}");
        }
    }

    #[test]
    fn flushes_each_file_system_once_and_syncs_only_regular_files() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("f"), b"x").unwrap();
        let (a, b) = (DirHandle::open(&a).unwrap(), DirHandle::open(&b).unwrap());
        flush_file_systems(&[a.clone(), b, a.clone()]).unwrap();
        sync_file(&a, "f").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", a.path().join("l")).unwrap();
        assert!(sync_file(&a, "l").is_err());
    }
}
