//! The SQLite journal: what both sides held at the last sync, per-entry failure and backoff
//! state, upload intents, followed records with their poll schedule, and the token cache.
//!
//! The API is synchronous (rusqlite); async callers use `spawn_blocking` or a dedicated
//! thread. One connection behind a mutex makes [`Journal`] `Send + Sync`; WAL mode lets the
//! CLI's `status` read ([`Journal::open_read_only`]) while the daemon writes.

mod batch;
mod credits;
mod entries;
mod error;
mod failures;
mod follows;
mod intents;
mod meta;
pub use meta::{
    AUTH_FAILURE_META_KEY, AuthFailure, DELETE_GUARD_META_KEY, GuardTrip, GuardTrips,
    NOT_FOLLOWED_META_KEY, PENDING_META_KEY, REMOTE_CHANGES_META_KEY, UPLOAD_LIMIT_META_KEY,
    WATCH_META_KEY,
};
mod records;
mod schema;
mod skips;
mod summary;
#[cfg(test)]
mod tests;

pub use batch::{BatchOp, BatchOut};
pub use credits::{ApiUsage, CREDIT_WINDOW_SECS, UsageRow};
pub use error::JournalError;
pub use failures::{FailureRow, NewFailure};
pub use intents::{IntentRow, NewIntent};
pub use records::RecordRow;
pub use skips::RemoteSkipRow;
pub use summary::{JournalSummary, RecordSummary};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Results of journal operations.
pub type Result<T, E = JournalError> = std::result::Result<T, E>;

/// The database file's name inside `state_dir`.
pub const FILE_NAME: &str = "journal.sqlite3";

/// How long a statement waits for another process's lock (the daemon vs. `status`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Handle on `<state_dir>/journal.sqlite3`.
pub struct Journal {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

/// Runs `f` on `journal` on tokio's blocking pool (every journal call blocks on SQLite,
/// and the async workers must not): the one way async code reaches the journal. The outer
/// error is the task's (it panicked or was cancelled), the inner one the journal's.
pub async fn off_runtime<T, F>(
    journal: &std::sync::Arc<Journal>,
    f: F,
) -> std::result::Result<Result<T>, tokio::task::JoinError>
where
    T: Send + 'static,
    F: FnOnce(&Journal) -> Result<T> + Send + 'static,
{
    let journal = journal.clone();
    tokio::task::spawn_blocking(move || f(&journal)).await
}

impl Journal {
    /// Opens (creating if needed) the journal for the daemon and migrates it. The state
    /// directory is created with mode 0700 and the file with 0600 because the file holds
    /// the access token.
    pub fn open(state_dir: &Path) -> Result<Journal> {
        let path = state_dir.join(FILE_NAME);
        let io = |op, source| JournalError::Io {
            path: path.clone(),
            op,
            source,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|e| io("create state directory", e))?;
        // Pre-create the file so it gets 0600; SQLite gives -wal/-shm the same mode.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io("create database file", e))?;
        let sql = |op| {
            let path = path.clone();
            move |source| JournalError::Sqlite { path, op, source }
        };
        let mut conn = Connection::open(&path).map_err(sql("open"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql("set busy timeout"))?;
        enable_wal(&conn).map_err(sql("enable WAL"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql("set synchronous"))?;
        let found = schema::migrate(&mut conn).map_err(sql("migrate schema"))?;
        if found > schema::CURRENT_VERSION {
            return Err(JournalError::TooNew {
                path,
                found,
                supported: schema::CURRENT_VERSION,
            });
        }
        Ok(Journal {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// Opens an existing journal for reading only (`status`), never creating or migrating
    /// it, so a CLI call cannot race the daemon into a schema change.
    pub fn open_read_only(state_dir: &Path) -> Result<Journal> {
        let path = state_dir.join(FILE_NAME);
        if let Err(source) = std::fs::metadata(&path) {
            return Err(JournalError::Io {
                path,
                op: "open read-only",
                source,
            });
        }
        let sql = |op| {
            let path = path.clone();
            move |source| JournalError::Sqlite { path, op, source }
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&path, flags).map_err(sql("open read-only"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql("set busy timeout"))?;
        let found = schema::version(&conn).map_err(sql("read schema version"))?;
        let supported = schema::CURRENT_VERSION;
        if found > supported {
            return Err(JournalError::TooNew {
                path,
                found,
                supported,
            });
        }
        if found < supported {
            return Err(JournalError::NeedsMigration {
                path,
                found,
                supported,
            });
        }
        Ok(Journal {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The database file, for log lines and `status`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Locks the connection. A poisoned mutex only means another thread panicked while
    /// holding it; SQLite rolled back any open transaction, so the connection is usable.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> JournalError + '_ {
        move |source| JournalError::Sqlite {
            path: self.path.clone(),
            op,
            source,
        }
    }

    /// Runs a read-only query.
    fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let conn = self.lock();
        f(&conn).map_err(self.err(op))
    }

    /// Runs `f` inside one IMMEDIATE transaction (takes the write lock up front, so WAL
    /// never has to upgrade a read lock and fail with SQLITE_BUSY mid-way).
    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        let run = || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(self.err(op))
    }
}

/// Switches to WAL. Changing the journal mode takes an exclusive lock without calling the
/// busy handler, so a second process opening (and migrating) the file at the same moment
/// makes it fail at once with SQLITE_BUSY: retry for as long as the busy timeout.
fn enable_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(())) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// SQLite stores signed 64-bit integers; sizes and inodes are kept bit-for-bit.
fn to_sql_u64(v: u64) -> i64 {
    v as i64
}

fn from_sql_u64(v: i64) -> u64 {
    v as u64
}

/// Decodes a hex hash column, failing the row (not panicking) on a damaged value.
fn hash_from_sql(column: usize, value: String) -> rusqlite::Result<crate::model::ContentHash> {
    crate::model::ContentHash::from_hex(&value).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("not a 32-byte hex hash: {value:?}").into(),
        )
    })
}
