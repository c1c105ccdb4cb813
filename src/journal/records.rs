//! Followed records and their poll schedule.

use super::{Journal, Result};
use crate::model::RecordKey;
use rusqlite::{OptionalExtension, params};

/// A followed record as the poller needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// The record.
    pub key: RecordKey,
    /// The record folder's name on disk (id plus optional label), for `status`.
    pub folder_name: String,
    /// The last successful attachment list, Unix seconds.
    pub last_poll_unix: Option<i64>,
    /// When the record is next due to be listed, Unix seconds.
    pub next_poll_unix: i64,
    /// Consecutive polls that found nothing new; drives the idle back-off.
    pub idle_polls: u32,
    /// The folder's fingerprint when its last reconcile left nothing to do; `None` when
    /// it must be looked at in full.
    pub local_fingerprint: Option<crate::scan::Fingerprint>,
}

impl Journal {
    /// Starts following a record, due for a poll at once. Returns false when it was already
    /// followed; then only the folder name is updated (a relabelled folder keeps its
    /// schedule and synced tree).
    pub fn follow(&self, key: &RecordKey, folder_name: &str, now_unix: i64) -> Result<bool> {
        self.write("follow record", |tx| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT folder_name FROM records WHERE module = ?1 AND record_id = ?2",
                    params![key.module, key.record_id],
                    |row| row.get(0),
                )
                .optional()?;
            match existing {
                Some(name) => {
                    if name != folder_name {
                        tx.execute(
                            "UPDATE records SET folder_name = ?3 WHERE module = ?1 AND record_id = ?2",
                            params![key.module, key.record_id, folder_name],
                        )?;
                    }
                    Ok(false)
                }
                None => {
                    tx.execute(
                        "INSERT INTO records (module, record_id, folder_name, followed_unix, next_poll_unix)
                         VALUES (?1, ?2, ?3, ?4, ?4)",
                        params![key.module, key.record_id, folder_name, now_unix],
                    )?;
                    Ok(true)
                }
            }
        })
    }

    /// Stops following a record and forgets everything about it (entries, failures,
    /// intents): a folder that comes back later starts from "new on both sides", which
    /// never produces a delete.
    pub fn unfollow(&self, key: &RecordKey) -> Result<()> {
        self.write("unfollow record", |tx| {
            for table in ["records", "entries", "failures", "intents", "remote_skips"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE module = ?1 AND record_id = ?2"),
                    params![key.module, key.record_id],
                )?;
            }
            Ok(())
        })
    }

    /// Every followed record, ordered by module and id.
    pub fn followed(&self) -> Result<Vec<RecordRow>> {
        self.read("list followed records", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT module, record_id, folder_name, last_poll_unix, next_poll_unix, idle_polls,
                        local_fingerprint
                 FROM records ORDER BY module, record_id",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok(RecordRow {
                    key: RecordKey {
                        module: row.get(0)?,
                        record_id: row.get(1)?,
                    },
                    folder_name: row.get(2)?,
                    last_poll_unix: row.get(3)?,
                    next_poll_unix: row.get(4)?,
                    idle_polls: row.get(5)?,
                    local_fingerprint: row.get::<_, Option<i64>>(6)?.map(super::from_sql_u64),
                })
            })?;
            rows.collect()
        })
    }

    /// Records the outcome of a poll. A record that is not followed is left alone (it may
    /// have been unfollowed while its poll ran).
    pub fn set_poll(
        &self,
        key: &RecordKey,
        last_poll_unix: i64,
        next_poll_unix: i64,
        idle_polls: u32,
    ) -> Result<()> {
        self.write("set poll schedule", |tx| {
            tx.execute(
                "UPDATE records SET last_poll_unix = ?3, next_poll_unix = ?4, idle_polls = ?5
                 WHERE module = ?1 AND record_id = ?2",
                params![
                    key.module,
                    key.record_id,
                    last_poll_unix,
                    next_poll_unix,
                    idle_polls
                ],
            )?;
            Ok(())
        })
    }

    /// Remembers the folder fingerprint of a record whose reconcile left nothing to do
    /// (`None`: look at it in full next time).
    pub fn set_fingerprint(
        &self,
        key: &RecordKey,
        fingerprint: Option<crate::scan::Fingerprint>,
    ) -> Result<()> {
        self.set_fingerprints(&[(key.clone(), fingerprint)])
    }

    /// [`Journal::set_fingerprint`] for many records in one transaction (`once`).
    pub fn set_fingerprints(
        &self,
        fingerprints: &[(RecordKey, Option<crate::scan::Fingerprint>)],
    ) -> Result<()> {
        self.write("set folder fingerprints", |tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE records SET local_fingerprint = ?3 WHERE module = ?1 AND record_id = ?2",
            )?;
            for (key, fingerprint) in fingerprints {
                stmt.execute(params![
                    key.module,
                    key.record_id,
                    fingerprint.map(super::to_sql_u64)
                ])?;
            }
            Ok(())
        })
    }
}
