//! A cheap summary of a record folder's listing, to tell "nothing changed here" without
//! reading the journal or any file.
//!
//! The daemon keeps the fingerprint of each record folder as it was when its last
//! reconcile ended with nothing left to do. The periodic rescan (and the start-up one)
//! compares the folder against it and reconciles only the folders that differ: with
//! 10,000 idle records that is one `readdir` and a `stat` per file instead of three
//! journal queries and a full scan per record. Watcher hints never go through this
//! shortcut: a hinted folder is always reconciled.

use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A folder's fingerprint: changes when any entry is added, removed or renamed, or when
/// any entry's type, size, inode, mtime or ctime changes (ctime catches writes that put
/// the old mtime back, such as `touch -d` or `rsync -t`).
pub type Fingerprint = u64;

/// Fingerprints the entries directly in `dir` (not below). `Ok(None)` when the folder is
/// gone. Entries are sorted by name, so the listing order does not matter. `salt` stands
/// for the settings that decide what a listing means (ignore rules, direction): a
/// fingerprint taken under other settings never matches.
pub fn fingerprint(dir: &Path, salt: u64) -> std::io::Result<Option<Fingerprint>> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    for item in read {
        let item = item?;
        // `DirEntry::metadata` is an `fstatat` relative to the open folder (no symlink
        // followed, no path walk from the root): the cheapest stat there is.
        let meta = match item.metadata() {
            Ok(m) => m,
            // Removed since the listing: a change, which the next look will see.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        entries.push((item.file_name(), meta));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = blake3::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    for (name, meta) in &entries {
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        for field in [
            u64::from(meta.mode()),
            meta.size(),
            meta.ino(),
            meta.mtime() as u64,
            meta.mtime_nsec() as u64,
            meta.ctime() as u64,
            meta.ctime_nsec() as u64,
        ] {
            hasher.update(&field.to_le_bytes());
        }
    }
    Ok(Some(first_u64(&hasher.finalize())))
}

/// The first 8 bytes of a BLAKE3 digest: plenty to tell two listings (or two settings)
/// apart.
pub fn first_u64(digest: &blake3::Hash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn fp(dir: &Path) -> Fingerprint {
        fingerprint(dir, 7).unwrap().unwrap()
    }

    #[test]
    fn missing_folder_has_no_fingerprint() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(fingerprint(&tmp.path().join("gone"), 7).unwrap(), None);
    }

    #[test]
    fn unchanged_folder_keeps_its_fingerprint() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.pdf"), b"one").unwrap();
        std::fs::write(tmp.path().join("b.pdf"), b"two").unwrap();
        assert_eq!(fp(tmp.path()), fp(tmp.path()));
        // Other settings: another fingerprint for the same listing.
        assert_ne!(fingerprint(tmp.path(), 8).unwrap().unwrap(), fp(tmp.path()));
    }

    #[test]
    fn every_kind_of_change_changes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let a = dir.join("a.pdf");
        std::fs::write(&a, b"one").unwrap();
        let mut seen = vec![fp(dir)];
        let mut changed = |what: &str| {
            let now = fp(dir);
            assert!(
                !seen.contains(&now),
                "{what} did not change the fingerprint"
            );
            seen.push(now);
        };

        std::fs::write(dir.join("b.pdf"), b"two").unwrap();
        changed("adding a file");
        std::fs::rename(dir.join("b.pdf"), dir.join("c.pdf")).unwrap();
        changed("renaming a file");
        std::fs::write(&a, b"ONE, longer").unwrap();
        changed("rewriting a file");
        // Same size, and the old mtime put back: only ctime tells.
        let before = std::fs::metadata(&a).unwrap().modified().unwrap();
        std::fs::write(&a, b"ONE, LONGER").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(before)
            .unwrap();
        changed("same-size write with the mtime restored");
        std::fs::File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        changed("touching the mtime");
        std::fs::create_dir(dir.join("sub")).unwrap();
        changed("adding a subfolder");
        std::fs::remove_file(dir.join("c.pdf")).unwrap();
        changed("deleting a file");
    }
}
