//! What `status` prints, read in one snapshot so the numbers agree with each other while
//! the daemon writes.

use super::{Journal, Result, from_sql_u64};
use crate::model::RecordKey;

/// One followed record's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    /// The record.
    pub key: RecordKey,
    /// The record folder's name (`<record_id> <label>`).
    pub folder_name: String,
    /// Synced entries (files both sides agree on).
    pub files_in_sync: u64,
    /// Failing subjects still retried with backoff.
    pub failures: u64,
    /// Failing subjects parked until the file changes or the user retries.
    pub parked: u64,
    /// Uploads whose outcome is not yet recorded.
    pub pending_uploads: u64,
    /// The last successful attachment list, Unix seconds.
    pub last_poll_unix: Option<i64>,
    /// When the record is next due to be listed, Unix seconds.
    pub next_poll_unix: i64,
}

/// Everything `status` reads from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JournalSummary {
    /// Every followed record, in key order.
    pub records: Vec<RecordSummary>,
    /// Synced entries across records.
    pub total_files: u64,
    /// Failing subjects still retried, across records.
    pub total_failures: u64,
    /// Parked subjects across records.
    pub total_parked: u64,
    /// Uploads whose outcome is not yet recorded, across records.
    pub total_pending_uploads: u64,
    /// Expiry of the cached access token, when one is cached.
    pub token_expires_at_unix: Option<i64>,
}

impl Journal {
    /// Per-record counts and totals, from one read transaction.
    pub fn summary(&self) -> Result<JournalSummary> {
        self.read("read summary", |conn| {
            let tx = conn.unchecked_transaction()?;
            let mut stmt = tx.prepare(
                "SELECT r.module, r.record_id, r.folder_name, r.last_poll_unix, r.next_poll_unix,
                   (SELECT COUNT(*) FROM entries e
                     WHERE e.module = r.module AND e.record_id = r.record_id),
                   (SELECT COUNT(*) FROM failures f
                     WHERE f.module = r.module AND f.record_id = r.record_id AND f.parked = 0),
                   (SELECT COUNT(*) FROM failures f
                     WHERE f.module = r.module AND f.record_id = r.record_id AND f.parked <> 0),
                   (SELECT COUNT(*) FROM intents i
                     WHERE i.module = r.module AND i.record_id = r.record_id)
                 FROM records r ORDER BY r.module, r.record_id",
            )?;
            let records = stmt
                .query_map([], |r| {
                    Ok(RecordSummary {
                        key: RecordKey {
                            module: r.get(0)?,
                            record_id: r.get(1)?,
                        },
                        folder_name: r.get(2)?,
                        last_poll_unix: r.get(3)?,
                        next_poll_unix: r.get(4)?,
                        files_in_sync: from_sql_u64(r.get(5)?),
                        failures: from_sql_u64(r.get(6)?),
                        parked: from_sql_u64(r.get(7)?),
                        pending_uploads: from_sql_u64(r.get(8)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            let token_expires_at_unix =
                tx.query_row("SELECT MAX(expires_at_unix) FROM token", [], |r| r.get(0))?;
            tx.finish()?;
            let sum = |f: fn(&RecordSummary) -> u64| records.iter().map(f).sum();
            Ok(JournalSummary {
                total_files: sum(|r| r.files_in_sync),
                total_failures: sum(|r| r.failures),
                total_parked: sum(|r| r.parked),
                total_pending_uploads: sum(|r| r.pending_uploads),
                token_expires_at_unix,
                records,
            })
        })
    }
}

impl Journal {
    /// Synced files named as conflict copies ([`crate::planner::is_conflict_copy`]):
    /// `(record, local name)`. The names are matched here rather than in SQL so that
    /// the planner's rule stays the only one.
    pub fn conflict_copies(&self) -> Result<Vec<(RecordKey, String)>> {
        let rows = self.read("read conflict copies", |conn| {
            let mut stmt = conn.prepare(
                "SELECT module, record_id, local_name FROM entries
                 ORDER BY module, record_id, local_name",
            )?;
            stmt.query_map([], |r| {
                Ok((
                    RecordKey {
                        module: r.get(0)?,
                        record_id: r.get(1)?,
                    },
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok(rows
            .into_iter()
            .filter(|(_, name)| crate::planner::is_conflict_copy(name))
            .collect())
    }
}
