//! Upload intents: written before an upload's body is sent, removed when its entry is
//! recorded. An intent that survives a crash or an unknown outcome tells the executor to
//! look for (and adopt) a matching attachment instead of uploading a duplicate.

use super::{Journal, Result, from_sql_u64, hash_from_sql, to_sql_u64};
use crate::model::{ContentHash, RecordKey};
use rusqlite::{Connection, params};

/// An upload that may or may not have reached Zoho.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRow {
    /// The intent's row id.
    pub id: i64,
    /// The file being uploaded.
    pub local_name: String,
    /// The `File_Name` it is sent under.
    pub remote_name: String,
    /// Size in bytes of what is sent.
    pub size: u64,
    /// BLAKE3 of what is sent.
    pub hash: ContentHash,
    /// An attachment created after this moment with the same name and size matches.
    pub created_unix: i64,
}

pub(super) fn remove(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM intents WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

pub(super) fn insert(
    conn: &Connection,
    key: &RecordKey,
    intent: &NewIntent,
    now_unix: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO intents (module, record_id, local_name, remote_name, size, hash,
                              created_unix)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        key.module,
        key.record_id,
        intent.local_name,
        intent.remote_name,
        to_sql_u64(intent.size),
        intent.hash.to_hex(),
        now_unix
    ])?;
    Ok(conn.last_insert_rowid())
}

impl Journal {
    /// Writes an intent before an upload starts and returns its id.
    pub fn add_intent(&self, key: &RecordKey, intent: &NewIntent, now_unix: i64) -> Result<i64> {
        self.write("add upload intent", |tx| insert(tx, key, intent, now_unix))
    }

    /// The record's open intents, oldest first.
    pub fn intents(&self, key: &RecordKey) -> Result<Vec<IntentRow>> {
        self.read("read upload intents", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, local_name, remote_name, size, hash, created_unix FROM intents
                 WHERE module = ?1 AND record_id = ?2 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![key.module, key.record_id], |r| {
                Ok(IntentRow {
                    id: r.get(0)?,
                    local_name: r.get(1)?,
                    remote_name: r.get(2)?,
                    size: from_sql_u64(r.get(3)?),
                    hash: hash_from_sql(4, r.get(4)?)?,
                    created_unix: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Drops an intent whose upload is known not to have happened (or was adopted).
    pub fn remove_intent(&self, id: i64) -> Result<()> {
        self.write("remove upload intent", |tx| remove(tx, id))
    }

    /// Writes the intents of a whole pass's uploads in one transaction (one commit
    /// instead of one per upload); ids in the order of `intents`.
    pub fn add_intents(
        &self,
        key_intents: &[(RecordKey, NewIntent)],
        now_unix: i64,
    ) -> Result<Vec<i64>> {
        self.write("add upload intents", |tx| {
            key_intents
                .iter()
                .map(|(key, i)| insert(tx, key, i, now_unix))
                .collect()
        })
    }

    /// Drops several intents in one transaction.
    pub fn remove_intents(&self, ids: &[i64]) -> Result<()> {
        self.write("remove upload intents", |tx| {
            ids.iter().try_for_each(|id| remove(tx, *id))
        })
    }
}

/// An upload about to start, as [`Journal::add_intents`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntent {
    /// The file being uploaded.
    pub local_name: String,
    /// The `File_Name` it is sent under.
    pub remote_name: String,
    /// Size in bytes of what is sent.
    pub size: u64,
    /// BLAKE3 of what is sent.
    pub hash: ContentHash,
}
