//! The scanner's error type: names the path and what was being done with it.

use std::path::PathBuf;

/// Why a scan could not tell what is on disk. Callers must then treat the folder (or the
/// whole root) as unknown and delete nothing on its account.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Reading a directory or its entries failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The directory or entry.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The sync root (or a module folder) is not a directory.
    #[error("{path} is not a directory")]
    NotADirectory {
        /// The path that should be a folder.
        path: PathBuf,
    },
    /// A record or module folder is (now) a symlink: never followed, so the record is
    /// not synced until a real folder is back.
    #[error(
        "{path} is a symlink now; links under the root are never followed, so this record is not synced"
    )]
    Symlink {
        /// The folder that is a link.
        path: PathBuf,
    },
    /// An ignore pattern from the config is not a valid glob.
    #[error("invalid ignore pattern {pattern:?}: {source}")]
    Glob {
        /// The pattern as configured.
        pattern: String,
        /// Why globset refused it.
        #[source]
        source: globset::Error,
    },
}

impl ScanError {
    pub(super) fn io(path: &std::path::Path, op: &'static str, source: std::io::Error) -> Self {
        ScanError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}
