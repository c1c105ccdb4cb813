//! Group commit: the per-transfer writes of many concurrent transfers in one transaction.
//!
//! Every upload writes an intent before its body is sent and its entry after the reply;
//! every download writes its entry. Committed one by one, SQLite's commit (WAL frames,
//! locks) was a fifth of a bulk upload's CPU. [`Journal::apply_batch`] commits a batch
//! of such writes at once, each in its own savepoint so that one failing write fails
//! alone; the executor's `GroupCommit` gathers the writes that arrive while a batch is
//! being committed. A write is still committed before its caller goes on.

use super::{Journal, JournalError, NewIntent, Result, entries, intents};
use crate::model::RecordKey;
use crate::planner::SyncedEntry;
use rusqlite::TransactionBehavior;

/// One write of a transfer.
#[derive(Debug, Clone)]
pub enum BatchOp {
    /// [`Journal::add_intent`].
    AddIntent {
        /// The record.
        key: RecordKey,
        /// The upload about to be sent.
        intent: NewIntent,
        /// The time written with it, Unix seconds.
        now_unix: i64,
    },
    /// [`Journal::complete_upload`].
    CompleteUpload {
        /// The record.
        key: RecordKey,
        /// The intent the upload was sent under.
        intent_id: i64,
        /// The row both sides now agree on.
        entry: SyncedEntry,
    },
    /// [`Journal::upsert_unflushed_entry`].
    UpsertUnflushed {
        /// The record.
        key: RecordKey,
        /// The row of the downloaded file.
        entry: SyncedEntry,
        /// The boot id it was written in, when known.
        boot: Option<String>,
    },
}

/// What a [`BatchOp`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOut {
    /// The new intent's id ([`BatchOp::AddIntent`]).
    IntentId(i64),
    /// The other writes.
    Done,
}

impl BatchOp {
    fn name(&self) -> &'static str {
        match self {
            BatchOp::AddIntent { .. } => "add upload intent",
            BatchOp::CompleteUpload { .. } => "complete upload",
            BatchOp::UpsertUnflushed { .. } => "upsert entry",
        }
    }

    fn apply(&self, conn: &rusqlite::Connection) -> rusqlite::Result<BatchOut> {
        match self {
            BatchOp::AddIntent {
                key,
                intent,
                now_unix,
            } => intents::insert(conn, key, intent, *now_unix).map(BatchOut::IntentId),
            BatchOp::CompleteUpload {
                key,
                intent_id,
                entry,
            } => {
                entries::complete_upload(conn, key, *intent_id, entry)?;
                Ok(BatchOut::Done)
            }
            BatchOp::UpsertUnflushed { key, entry, boot } => {
                let boot = boot.as_deref();
                entries::upsert_flushed(conn, key, entry, entries::Durability::Unflushed { boot })?;
                Ok(BatchOut::Done)
            }
        }
    }
}

impl Journal {
    /// Applies `ops` in one transaction, each in its own savepoint; one result per op, in
    /// order. When the transaction itself cannot begin or commit, every op fails.
    pub fn apply_batch(&self, ops: &[BatchOp]) -> Vec<Result<BatchOut>> {
        let mut conn = self.lock();
        let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => return self.fail_all(ops, &e),
        };
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let one = tx.savepoint().and_then(|sp| {
                let out = op.apply(&sp)?;
                sp.commit()?;
                Ok(out)
            });
            results.push(one.map_err(|source| JournalError::Sqlite {
                path: self.path.clone(),
                op: op.name(),
                source,
            }));
        }
        match tx.commit() {
            Ok(()) => results,
            Err(e) => self.fail_all(ops, &e),
        }
    }

    fn fail_all(&self, ops: &[BatchOp], e: &rusqlite::Error) -> Vec<Result<BatchOut>> {
        ops.iter()
            .map(|op| {
                Err(JournalError::Sqlite {
                    path: self.path.clone(),
                    op: op.name(),
                    source: copy_error(e),
                })
            })
            .collect()
    }
}

/// `rusqlite::Error` is not `Clone`: keep the SQLite code and message for each op.
fn copy_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}
