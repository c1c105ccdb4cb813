//! Per-entry failure, backoff and parking state, persisted so that a restart neither
//! forgets a parked entry nor resets backoff into a retry storm.

use super::{Journal, Result};
use crate::model::RecordKey;
use rusqlite::{Row, params};

/// The failure state of one subject (a local name or an attachment id) of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRow {
    /// The local name or attachment id the failure is about.
    pub subject: String,
    /// What was attempted, e.g. `upload`, `download`, `delete_remote`.
    pub action: String,
    /// The last error.
    pub message: String,
    /// True when the error is permanent: no retry until the file changes or the user asks.
    pub parked: bool,
    /// Failures of this subject so far.
    pub attempts: u32,
    /// When it may be tried again, Unix seconds.
    pub next_attempt_unix: i64,
    /// When this subject first failed (kept across repeated failures).
    pub since_unix: i64,
}

/// A failure to record, as [`Journal::record_failure`] stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFailure {
    /// The local name or attachment id the failure is about.
    pub subject: String,
    /// What was attempted, e.g. `upload`, `download`, `delete_remote`.
    pub action: String,
    /// The error.
    pub message: String,
    /// True when the error is permanent: no retry until the file changes or the user asks.
    pub parked: bool,
    /// Failures of this subject so far, this one included.
    pub attempts: u32,
    /// When it may be tried again, Unix seconds.
    pub next_attempt_unix: i64,
}

/// The action of the failure row that keeps a superseded version to delete (see
/// [`NewFailure::superseded`]); private so that no caller compares action names.
const SUPERSEDED: &str = "delete_superseded";

impl NewFailure {
    /// The pending delete of attachment `attachment_id`, the version a replace superseded
    /// (see [`crate::planner::set_superseded_aside`]), after its first failed attempt.
    pub fn superseded(attachment_id: &str, message: String, next_attempt_unix: i64) -> Self {
        NewFailure {
            subject: attachment_id.to_string(),
            action: SUPERSEDED.to_string(),
            message,
            parked: false,
            attempts: 1,
            next_attempt_unix,
        }
    }
}

impl FailureRow {
    /// True for the row of a superseded version still to delete (its subject is the
    /// attachment id), written by [`NewFailure::superseded`].
    pub fn is_superseded(&self) -> bool {
        self.action == SUPERSEDED
    }
}

const COLUMNS: &str = "subject, action, message, parked, attempts, next_attempt_unix, since_unix";

fn from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<FailureRow> {
    Ok(FailureRow {
        subject: row.get(at)?,
        action: row.get(at + 1)?,
        message: row.get(at + 2)?,
        parked: row.get(at + 3)?,
        attempts: row.get(at + 4)?,
        next_attempt_unix: row.get(at + 5)?,
        since_unix: row.get(at + 6)?,
    })
}

impl Journal {
    /// Records (or updates) a failure. `since_unix` is set on the first failure from the
    /// database clock and kept on later ones, so `status` shows how long it has lasted.
    pub fn record_failure(&self, key: &RecordKey, failure: &NewFailure) -> Result<()> {
        self.write("record failure", |tx| {
            tx.prepare_cached(
                "INSERT INTO failures (module, record_id, subject, action, message, parked,
                                       attempts, next_attempt_unix, since_unix)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, unixepoch())
                 ON CONFLICT (module, record_id, subject) DO UPDATE SET
                     action = excluded.action, message = excluded.message,
                     parked = excluded.parked, attempts = excluded.attempts,
                     next_attempt_unix = excluded.next_attempt_unix",
            )?
            .execute(params![
                key.module,
                key.record_id,
                failure.subject,
                failure.action,
                failure.message,
                failure.parked,
                failure.attempts,
                failure.next_attempt_unix
            ])?;
            Ok(())
        })
    }

    /// Forgets the failure of one subject (it succeeded, or the user asked for a retry).
    pub fn clear_failure(&self, key: &RecordKey, subject: &str) -> Result<()> {
        self.write("clear failure", |tx| {
            tx.prepare_cached(
                "DELETE FROM failures WHERE module = ?1 AND record_id = ?2 AND subject = ?3",
            )?
            .execute(params![key.module, key.record_id, subject])?;
            Ok(())
        })
    }

    /// The record's failures, ordered by subject.
    pub fn failures(&self, key: &RecordKey) -> Result<Vec<FailureRow>> {
        self.read("read failures", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM failures WHERE module = ?1 AND record_id = ?2
                 ORDER BY subject"
            ))?;
            let rows = stmt.query_map(params![key.module, key.record_id], |r| from_row(r, 0))?;
            rows.collect()
        })
    }

    /// Every failure of every record, for `status` and `once`'s exit code.
    pub fn all_failures(&self) -> Result<Vec<(RecordKey, FailureRow)>> {
        self.read("read all failures", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT module, record_id, {COLUMNS} FROM failures
                 ORDER BY module, record_id, subject"
            ))?;
            let rows = stmt.query_map([], |r| {
                let key = RecordKey {
                    module: r.get(0)?,
                    record_id: r.get(1)?,
                };
                Ok((key, from_row(r, 2)?))
            })?;
            rows.collect()
        })
    }
}
