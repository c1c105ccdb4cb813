//! The synced tree: one row per local file / attachment pair that both sides agreed on.

use super::{Journal, Result, from_sql_u64, hash_from_sql, to_sql_u64};
use crate::model::RecordKey;
use crate::planner::SyncedEntry;
use rusqlite::{Connection, Row, params};

const COLUMNS: &str = "local_name, attachment_id, file_id, remote_name, size, hash, mtime_ns, inode, link_url, ctime_ns";

fn from_row(row: &Row<'_>) -> rusqlite::Result<SyncedEntry> {
    Ok(SyncedEntry {
        local_name: row.get(0)?,
        attachment_id: row.get(1)?,
        file_id: row.get(2)?,
        remote_name: row.get(3)?,
        size: from_sql_u64(row.get(4)?),
        hash: hash_from_sql(5, row.get(5)?)?,
        mtime_ns: row.get(6)?,
        inode: from_sql_u64(row.get(7)?),
        link_url: row.get(8)?,
        ctime_ns: row.get(9)?,
    })
}

/// Inserts or overwrites the row keyed by (record, local name) and clears the failure
/// state of both the local name and the attachment id: a confirmed sync ends any backoff.
pub(super) fn upsert(conn: &Connection, key: &RecordKey, e: &SyncedEntry) -> rusqlite::Result<()> {
    upsert_flushed(conn, key, e, Durability::Flushed)
}

/// Whether a row's file is known to be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability<'b> {
    /// On disk (an upload's file is the user's own; a download was flushed).
    Flushed,
    /// A download not yet flushed, written during boot `boot` (`None`: unknown).
    Unflushed { boot: Option<&'b str> },
}

/// [`upsert`], saying whether the file is known to be on disk.
pub(super) fn upsert_flushed(
    conn: &Connection,
    key: &RecordKey,
    e: &SyncedEntry,
    durability: Durability<'_>,
) -> rusqlite::Result<()> {
    let (flushed, boot) = match durability {
        Durability::Flushed => (true, None),
        Durability::Unflushed { boot } => (false, boot),
    };
    let mut stmt = conn.prepare_cached(
        "INSERT INTO entries (module, record_id, local_name, attachment_id, file_id, remote_name,
                              size, hash, mtime_ns, inode, link_url, flushed, ctime_ns,
                              written_boot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (module, record_id, local_name) DO UPDATE SET
             attachment_id = excluded.attachment_id, file_id = excluded.file_id,
             remote_name = excluded.remote_name, size = excluded.size, hash = excluded.hash,
             mtime_ns = excluded.mtime_ns, inode = excluded.inode, link_url = excluded.link_url,
             flushed = excluded.flushed, ctime_ns = excluded.ctime_ns,
             written_boot = excluded.written_boot",
    )?;
    stmt.execute(params![
        key.module,
        key.record_id,
        e.local_name,
        e.attachment_id,
        e.file_id,
        e.remote_name,
        to_sql_u64(e.size),
        e.hash.to_hex(),
        e.mtime_ns,
        to_sql_u64(e.inode),
        e.link_url,
        flushed,
        e.ctime_ns,
        boot,
    ])?;
    let mut clear = conn.prepare_cached(
        "DELETE FROM failures WHERE module = ?1 AND record_id = ?2 AND subject IN (?3, ?4)",
    )?;
    clear.execute(params![
        key.module,
        key.record_id,
        e.local_name,
        e.attachment_id
    ])?;
    Ok(())
}

/// Records the entry of a finished upload and drops its intent (one transaction, so after
/// a crash either the intent or the entry survives).
pub(super) fn complete_upload(
    conn: &Connection,
    key: &RecordKey,
    intent_id: i64,
    e: &SyncedEntry,
) -> rusqlite::Result<()> {
    upsert(conn, key, e)?;
    super::intents::remove(conn, intent_id)
}

fn remove(conn: &Connection, key: &RecordKey, local_name: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM entries WHERE module = ?1 AND record_id = ?2 AND local_name = ?3",
    )?
    .execute(params![key.module, key.record_id, local_name])?;
    Ok(())
}

impl Journal {
    /// The record's synced tree, ordered by local name.
    pub fn entries(&self, key: &RecordKey) -> Result<Vec<SyncedEntry>> {
        self.read("read entries", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM entries WHERE module = ?1 AND record_id = ?2
                 ORDER BY local_name"
            ))?;
            let rows = stmt.query_map(params![key.module, key.record_id], from_row)?;
            rows.collect()
        })
    }

    /// How many files are tracked across all records (the delete guard's denominator).
    pub fn count_entries(&self) -> Result<usize> {
        self.read("count entries", |conn| {
            conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as usize)
        })
    }

    /// Records that both sides hold `e` (keyed by record and local name); clears the error
    /// state of its local name and attachment id.
    pub fn upsert_entry(&self, key: &RecordKey, e: &SyncedEntry) -> Result<()> {
        self.write("upsert entry", |tx| upsert(tx, key, e))
    }

    /// [`Journal::upsert_entry`] for a file just downloaded during boot `boot` and not yet
    /// flushed to disk: until it is marked flushed, a reconcile after a reboot (or with
    /// the boot unknown) checks its content by hash before trusting the row (after a
    /// power cut the file may be empty or torn, and must never be taken for a local edit
    /// and uploaded).
    pub fn upsert_unflushed_entry(
        &self,
        key: &RecordKey,
        e: &SyncedEntry,
        boot: Option<&str>,
    ) -> Result<()> {
        self.write("upsert entry", |tx| {
            upsert_flushed(tx, key, e, Durability::Unflushed { boot })
        })
    }

    /// Local names of the record's unflushed rows that must be checked by hash before
    /// they are trusted: all of them, except those written during `boot` (the current
    /// one; no power cut can have happened since).
    pub fn unflushed_to_check(&self, key: &RecordKey, boot: Option<&str>) -> Result<Vec<String>> {
        self.read("read unflushed entries", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT local_name FROM entries
                 WHERE module = ?1 AND record_id = ?2 AND flushed = 0
                   AND (?3 IS NULL OR written_boot IS NULL OR written_boot != ?3)
                 ORDER BY local_name",
            )?;
            let rows = stmt.query_map(params![key.module, key.record_id, boot], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Every row written unflushed during boot `boot` (record, local name, attachment id):
    /// downloads an earlier `once` of this boot left to the kernel's writeback.
    pub fn unflushed_in_boot(&self, boot: &str) -> Result<Vec<(RecordKey, String, String)>> {
        self.read("read unflushed entries", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT module, record_id, local_name, attachment_id FROM entries
                 WHERE flushed = 0 AND written_boot = ?1
                 ORDER BY module, record_id, local_name",
            )?;
            let rows = stmt.query_map(params![boot], |r| {
                Ok((
                    RecordKey {
                        module: r.get(0)?,
                        record_id: r.get(1)?,
                    },
                    r.get(2)?,
                    r.get(3)?,
                ))
            })?;
            rows.collect()
        })
    }

    /// Local names of the record's rows whose file may not be on disk yet.
    pub fn unflushed(&self, key: &RecordKey) -> Result<Vec<String>> {
        self.read("read unflushed entries", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT local_name FROM entries
                 WHERE module = ?1 AND record_id = ?2 AND flushed = 0 ORDER BY local_name",
            )?;
            let rows = stmt.query_map(params![key.module, key.record_id], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// After a flush of the file system (or an fsync of each file found intact): these
    /// downloads (record, local name, attachment id) are on disk. A row rewritten since
    /// (another attachment) is left alone.
    pub fn mark_flushed(&self, rows: &[(RecordKey, String, String)]) -> Result<()> {
        self.write("mark entries flushed", |tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE entries SET flushed = 1, written_boot = NULL
                 WHERE module = ?1 AND record_id = ?2 AND local_name = ?3
                   AND attachment_id = ?4 AND flushed = 0",
            )?;
            for (key, name, id) in rows {
                stmt.execute(params![key.module, key.record_id, name, id])?;
            }
            Ok(())
        })
    }

    /// Upserts many entries in one transaction (first sync of a large record, adoption).
    pub fn upsert_entries(&self, key: &RecordKey, entries: &[SyncedEntry]) -> Result<()> {
        self.write("upsert entries", |tx| {
            entries.iter().try_for_each(|e| upsert(tx, key, e))
        })
    }

    /// Drops one row (the pair is gone on both sides, or was deleted on one by us).
    pub fn remove_entry(&self, key: &RecordKey, local_name: &str) -> Result<()> {
        self.write("remove entry", |tx| remove(tx, key, local_name))
    }

    /// Replaces the row of `old_local_name` by `e` in one transaction (a rename, or a
    /// replaced attachment), so no moment exists where neither row is present.
    pub fn replace_entry(
        &self,
        key: &RecordKey,
        old_local_name: &str,
        e: &SyncedEntry,
    ) -> Result<()> {
        self.write("replace entry", |tx| {
            remove(tx, key, old_local_name)?;
            upsert(tx, key, e)
        })
    }

    /// Ends an upload: records the entry and drops its intent in ONE transaction, so after
    /// a crash either the intent (adopt the attachment) or the entry (done) survives.
    pub fn complete_upload(&self, key: &RecordKey, intent_id: i64, e: &SyncedEntry) -> Result<()> {
        self.write("complete upload", |tx| {
            complete_upload(tx, key, intent_id, e)
        })
    }
}
