//! Rows of the records of followed modules (`[[follow]]`): the folder name the daemon gave
//! (or is giving), the last hint value, and archive moves in progress. Every folder
//! operation writes its row before it acts, so a restart recognises its result.

use super::{Journal, Result};
use crate::follow::plan::{FollowRow, RowState};
use rusqlite::params;

fn state_text(s: RowState) -> &'static str {
    match s {
        RowState::Active => "active",
        RowState::Archiving => "archiving",
        RowState::Archived => "archived",
    }
}

fn state_of(s: &str) -> RowState {
    match s {
        "archiving" => RowState::Archiving,
        "archived" => RowState::Archived,
        _ => RowState::Active,
    }
}

/// Inserts the row when missing (active, nothing given, no hint).
const ENSURE: &str =
    "INSERT OR IGNORE INTO follows (module, record_id, state) VALUES (?1, ?2, 'active')";

impl Journal {
    /// The rows of one followed module (module API name).
    pub fn follow_rows(&self, module: &str) -> Result<Vec<FollowRow>> {
        self.read("list follow rows", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT record_id, given_name, pending_name, hint, state FROM follows
                 WHERE module = ?1 ORDER BY record_id",
            )?;
            let rows = stmt.query_map(params![module], |row| {
                Ok(FollowRow {
                    id: row.get(0)?,
                    given: row.get(1)?,
                    pending: row.get(2)?,
                    hint: row.get(3)?,
                    state: state_of(&row.get::<_, String>(4)?),
                })
            })?;
            rows.collect()
        })
    }

    /// Before a `mkdir` or `rename`: the name about to be given. An archived row becomes
    /// active again (the record is back in scope).
    pub fn follow_pending(&self, module: &str, id: &str, name: &str) -> Result<()> {
        self.write("record a folder name being given", |tx| {
            tx.execute(ENSURE, params![module, id])?;
            tx.execute(
                "UPDATE follows SET pending_name = ?3,
                    given_name = CASE WHEN state = 'archived' THEN NULL ELSE given_name END,
                    state = 'active'
                 WHERE module = ?1 AND record_id = ?2",
                params![module, id, name],
            )?;
            Ok(())
        })
    }

    /// After the `mkdir` or `rename` (or at restart, when the folder carries the pending
    /// name): the folder is called `name`.
    pub fn follow_settle(&self, module: &str, id: &str, name: &str) -> Result<()> {
        self.write("record a folder name given", |tx| {
            tx.execute(ENSURE, params![module, id])?;
            tx.execute(
                "UPDATE follows SET given_name = ?3, pending_name = NULL
                 WHERE module = ?1 AND record_id = ?2",
                params![module, id, name],
            )?;
            Ok(())
        })
    }

    /// The folder is the user's from now on: never renamed or archived by the daemon.
    pub fn follow_release(&self, module: &str, id: &str) -> Result<()> {
        self.write("release a followed folder", |tx| {
            tx.execute(
                "UPDATE follows SET given_name = NULL, pending_name = NULL
                 WHERE module = ?1 AND record_id = ?2",
                params![module, id],
            )?;
            Ok(())
        })
    }

    /// Remembers the record's hint value.
    pub fn follow_set_hint(&self, module: &str, id: &str, hint: Option<&str>) -> Result<()> {
        self.write("record a hint value", |tx| {
            tx.execute(ENSURE, params![module, id])?;
            tx.execute(
                "UPDATE follows SET hint = ?3 WHERE module = ?1 AND record_id = ?2",
                params![module, id, hint],
            )?;
            Ok(())
        })
    }

    /// Sets the row's state; `Archived` also forgets the names (the folder left).
    pub fn follow_set_state(&self, module: &str, id: &str, state: RowState) -> Result<()> {
        self.write("record an archive move", |tx| {
            tx.execute(ENSURE, params![module, id])?;
            tx.execute(
                "UPDATE follows SET state = ?3,
                    given_name = CASE WHEN ?3 = 'archived' THEN NULL ELSE given_name END,
                    pending_name = CASE WHEN ?3 = 'archived' THEN NULL ELSE pending_name END
                 WHERE module = ?1 AND record_id = ?2",
                params![module, id, state_text(state)],
            )?;
            Ok(())
        })
    }

    /// Forgets a record's row (`bigin-sync follow` makes its folder again from scratch).
    pub fn follow_forget(&self, module: &str, id: &str) -> Result<()> {
        self.write("forget a follow row", |tx| {
            tx.execute(
                "DELETE FROM follows WHERE module = ?1 AND record_id = ?2",
                params![module, id],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_a_rename_and_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        j.follow_pending("Pipelines", "100001", "100001 A").unwrap();
        let r = &j.follow_rows("Pipelines").unwrap()[0];
        assert_eq!(
            (r.given.as_deref(), r.pending.as_deref()),
            (None, Some("100001 A"))
        );
        j.follow_settle("Pipelines", "100001", "100001 A").unwrap();
        j.follow_set_hint("Pipelines", "100001", Some("t1"))
            .unwrap();
        j.follow_pending("Pipelines", "100001", "100001 B").unwrap();
        let r = &j.follow_rows("Pipelines").unwrap()[0];
        assert!(r.is_ours("100001 A") && r.is_ours("100001 B"));
        assert_eq!(r.hint.as_deref(), Some("t1"));
        j.follow_set_state("Pipelines", "100001", RowState::Archiving)
            .unwrap();
        assert_eq!(
            j.follow_rows("Pipelines").unwrap()[0].state,
            RowState::Archiving
        );
        j.follow_set_state("Pipelines", "100001", RowState::Archived)
            .unwrap();
        let r = &j.follow_rows("Pipelines").unwrap()[0];
        assert_eq!(
            (r.state, r.given.clone(), r.pending.clone()),
            (RowState::Archived, None, None)
        );
        assert!(j.follow_rows("Contacts").unwrap().is_empty());
    }
}
