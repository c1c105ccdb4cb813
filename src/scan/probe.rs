//! How the sync root's file system compares names: probed once at start, because an SMB
//! or exFAT mount (case-insensitive) or a share written by macOS clients (NFD names)
//! takes two different spellings for one file, and the planner must then never hand out
//! both.

use crate::planner::NameFolding;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Probe name: a dot-file (the scanner ignores those), with a letter that has a case and
/// one that has two normalisation forms (`é` written as one code point, NFC).
const PROBE_STEM: &str = ".bigin-sync-name-probe";

/// Creates a probe file in `root`, checks whether its other-case and other-normalisation
/// spellings open the same file (same device and inode), and removes it. The probe is
/// created exclusively, so nothing a user put there is touched.
pub fn probe_name_folding(root: &Path) -> std::io::Result<NameFolding> {
    let pid = std::process::id();
    let name = format!("{PROBE_STEM}-{pid}-a\u{e9}");
    let path = root.join(&name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let result = (|| {
        let meta = file.metadata()?;
        let same_file = |spelling: String| -> std::io::Result<bool> {
            match std::fs::symlink_metadata(root.join(spelling)) {
                Ok(m) => Ok(m.dev() == meta.dev() && m.ino() == meta.ino()),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        };
        let case = same_file(format!("{PROBE_STEM}-{pid}-A\u{e9}"))?;
        let unicode = same_file(format!("{PROBE_STEM}-{pid}-ae\u{301}"))?;
        Ok(match (case, unicode) {
            (false, false) => NameFolding::None,
            (true, false) => NameFolding::Case,
            // A normalisation-insensitive but case-sensitive file system is rare; folding
            // case as well only costs a ` (2)` where none was needed.
            (_, true) => NameFolding::CaseAndUnicode,
        })
    })();
    drop(file);
    std::fs::remove_file(&path)?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linux_tmp_dir_compares_names_byte_wise_and_the_probe_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe_name_folding(dir.path()).unwrap(), NameFolding::None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_clashing_spelling_put_there_by_someone_else_does_not_fool_the_probe() {
        let dir = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        // Another file under the other-case spelling is not the probe's file.
        let other = dir.path().join(format!("{PROBE_STEM}-{pid}-A\u{e9}"));
        std::fs::write(&other, b"x").unwrap();
        assert_eq!(probe_name_folding(dir.path()).unwrap(), NameFolding::None);
        assert!(other.exists(), "left alone");
    }

    #[test]
    fn a_missing_root_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        assert!(probe_name_folding(&dir.path().join("gone")).is_err());
    }
}
