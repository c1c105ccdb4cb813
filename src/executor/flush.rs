//! Durability of downloads, one flush per pass.
//!
//! A download is written under a temp name, renamed into place and recorded in the
//! journal as *unflushed*, without an fsync. At the end of the pass the engine calls
//! [`flush_file_systems`] (one `syncfs` per file system touched) and then marks the rows
//! flushed. A power cut in between can leave a file empty or torn while its row says
//! "synced"; the row is still unflushed, so the next reconcile re-hashes that file and
//! drops the row when the content differs: the file is then compared with Zoho as an
//! unknown local file (kept, never uploaded over the attachment as if it were an edit).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

/// Flushes every file system holding one of `dirs` (each once).
pub fn flush_file_systems(dirs: &[PathBuf]) -> std::io::Result<()> {
    let mut done: HashSet<u64> = HashSet::new();
    for dir in dirs {
        let folder = std::fs::File::open(dir)?;
        if !done.insert(folder.metadata()?.dev()) {
            continue;
        }
        // SAFETY: `folder` is an open descriptor for the duration of the call.
        if unsafe { libc::syncfs(folder.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Makes one file's content durable (used when an unflushed download is found intact).
pub fn sync_file(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_each_file_system_once_and_names_a_missing_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("f"), b"x").unwrap();
        flush_file_systems(&[a.clone(), b.clone(), a]).unwrap();
        let err = flush_file_systems(&[tmp.path().join("gone")]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
