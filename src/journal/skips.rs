//! Attachments deliberately not synced (an ignored local name, an unsafe link), per
//! record, so that `status` can list them with the reason.

use super::{Journal, Result};
use crate::model::RecordKey;
use rusqlite::params;

/// One attachment that is not downloaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSkipRow {
    /// The attachment's Zoho id.
    pub attachment_id: String,
    /// `File_Name` as Zoho lists it.
    pub remote_name: String,
    /// Plain text for the user, e.g. "not downloaded: its name … matches the ignore rules".
    pub reason: String,
}

impl Journal {
    /// The record's skipped attachments, ordered by id.
    pub fn remote_skips(&self, key: &RecordKey) -> Result<Vec<RemoteSkipRow>> {
        self.read("read skipped attachments", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT attachment_id, remote_name, reason FROM remote_skips
                 WHERE module = ?1 AND record_id = ?2 ORDER BY attachment_id",
            )?;
            let rows = stmt.query_map(params![key.module, key.record_id], |r| {
                Ok(RemoteSkipRow {
                    attachment_id: r.get(0)?,
                    remote_name: r.get(1)?,
                    reason: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Replaces the record's skipped attachments with `rows`.
    pub fn set_remote_skips(&self, key: &RecordKey, rows: &[RemoteSkipRow]) -> Result<()> {
        self.write("record skipped attachments", |tx| {
            tx.prepare_cached("DELETE FROM remote_skips WHERE module = ?1 AND record_id = ?2")?
                .execute(params![key.module, key.record_id])?;
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO remote_skips
                     (module, record_id, attachment_id, remote_name, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in rows {
                insert.execute(params![
                    key.module,
                    key.record_id,
                    r.attachment_id,
                    r.remote_name,
                    r.reason
                ])?;
            }
            Ok(())
        })
    }

    /// Every skipped attachment of every record, for `status`.
    pub fn all_remote_skips(&self) -> Result<Vec<(RecordKey, RemoteSkipRow)>> {
        self.read("read all skipped attachments", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT module, record_id, attachment_id, remote_name, reason FROM remote_skips
                 ORDER BY module, record_id, attachment_id",
            )?;
            let rows = stmt.query_map([], |r| {
                let key = RecordKey {
                    module: r.get(0)?,
                    record_id: r.get(1)?,
                };
                Ok((
                    key,
                    RemoteSkipRow {
                        attachment_id: r.get(2)?,
                        remote_name: r.get(3)?,
                        reason: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> RecordKey {
        RecordKey {
            module: "Contacts".into(),
            record_id: id.into(),
        }
    }

    fn row(id: &str, name: &str) -> RemoteSkipRow {
        RemoteSkipRow {
            attachment_id: id.into(),
            remote_name: name.into(),
            reason: format!("not downloaded: {name}"),
        }
    }

    #[test]
    fn skips_are_replaced_per_record_and_go_with_an_unfollow() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let (a, b) = (key("1"), key("2"));
        j.follow(&a, "1", 0).unwrap();
        j.follow(&b, "2", 0).unwrap();
        j.set_remote_skips(&a, &[row("9", "x.tmp"), row("8", "y\r\n.tmp")])
            .unwrap();
        j.set_remote_skips(&b, &[row("7", "Thumbs.db")]).unwrap();
        assert_eq!(
            j.remote_skips(&a).unwrap(),
            vec![row("8", "y\r\n.tmp"), row("9", "x.tmp")]
        );
        j.set_remote_skips(&a, &[row("9", "x.tmp")]).unwrap();
        assert_eq!(j.remote_skips(&a).unwrap(), vec![row("9", "x.tmp")]);
        j.unfollow(&a).unwrap();
        assert_eq!(
            j.all_remote_skips().unwrap(),
            vec![(b.clone(), row("7", "Thumbs.db"))]
        );
    }
}
