//! Keeping the journal's list of attachments not synced on purpose (see
//! [`crate::planner::Plan::skipped`]) up to date, for `status`.

use super::{Engine, EngineError};
use crate::journal::RemoteSkipRow;
use crate::log_fields::{ATTACHMENT_ID, MODULE, RECORD};
use crate::model::RecordKey;
use crate::planner::SkippedRemote;

impl Engine {
    /// Stores the record's skipped attachments when they differ from `previous` (what
    /// the journal holds), with one INFO line per newly skipped one: the list is
    /// replanned every pass, and an unchanged list costs no write.
    pub(super) async fn record_remote_skips(
        &self,
        key: &RecordKey,
        previous: &[RemoteSkipRow],
        now: &[SkippedRemote],
    ) -> Result<(), EngineError> {
        let rows: Vec<RemoteSkipRow> = now
            .iter()
            .map(|s| RemoteSkipRow {
                attachment_id: s.attachment_id.clone(),
                remote_name: s.remote_name.clone(),
                reason: s.reason.to_string(),
            })
            .collect();
        if rows == previous {
            return Ok(());
        }
        for r in rows.iter().filter(|r| !previous.contains(r)) {
            // Debug formatting: the name and reason come from Zoho and may hold line breaks.
            tracing::info!({ RECORD } = %key.record_id, { MODULE } = %key.module, { ATTACHMENT_ID } = %r.attachment_id, name = ?r.remote_name,
                reason = ?r.reason, "attachment not synced (listed by `bigin-sync status`)");
        }
        let k = key.clone();
        self.db(move |j| j.set_remote_skips(&k, &rows)).await?;
        Ok(())
    }
}
