//! The journal's error type. Every variant names the database file and the operation, so a
//! log line or a `status` failure says where to look without a backtrace.

use std::path::PathBuf;

/// Why a journal operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Creating the state directory or the database file failed.
    #[error("journal {path}: {op}: {source}")]
    Io {
        /// The journal file or state directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation (busy past the timeout, corrupt file, disk full, ...).
    #[error("journal {path}: {op}: {source}")]
    Sqlite {
        /// The journal file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer bigin-sync; touching it could lose its data.
    #[error(
        "journal {path}: schema version {found} is newer than this program supports ({supported}); \
         upgrade bigin-sync"
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// The file's schema version.
        found: u32,
        /// The newest version this program knows.
        supported: u32,
    },
    /// A read-only opener found a schema that must first be migrated by the daemon.
    #[error(
        "journal {path}: schema version {found} is older than {supported}; start the daemon \
         (`bigin-sync run` or `once`) once to migrate it"
    )]
    NeedsMigration {
        /// The journal file.
        path: PathBuf,
        /// The file's schema version.
        found: u32,
        /// The version this program needs.
        supported: u32,
    },
}
