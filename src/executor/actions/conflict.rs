//! The conflict rename: the local version steps aside so that Zoho's takes the name.

use super::super::{ExecError, Executor, RecordWork};
use super::stat;
use crate::events::{Event, EventKind};
use crate::log_fields::{FILE, MODULE, RECORD};

impl Executor {
    /// First half of resolving a conflict: moves the scanned local file `local_name` to
    /// `conflict_name` in its folder, so that Zoho's version can take the plain name.
    ///
    /// Only the exact file the scan saw moves (size, mtime and inode checked right before
    /// the rename), and never over an existing file (RENAME_NOREPLACE); otherwise
    /// `Changed`, and the next pass plans again. The row of `local_name`, if any (its
    /// attachment is gone, or the planner would not ask), is dropped first: a crash at any
    /// point then leaves either the unrenamed file without a row (a conflict again) or a
    /// new local file to upload plus an attachment to download under the free plain name,
    /// never a row that would keep the plain name taken. The path is not noted as the
    /// daemon's own write: the watcher's event is what brings the pass that uploads it.
    pub(super) async fn rename_local_for_conflict(
        &self,
        w: &RecordWork,
        local_name: &str,
        conflict_name: &str,
    ) -> Result<(), ExecError> {
        let local = self.local(w, local_name)?.clone();
        self.ensure_unchanged(w, &local)?;
        if w.synced.contains_key(local_name) {
            let (key, name) = (w.key.clone(), local_name.to_string());
            self.db(move |j| j.remove_entry(&key, &name)).await?;
        }
        let dir = w.dir()?.clone();
        let to = conflict_name.to_string();
        tokio::task::spawn_blocking(move || {
            let from = dir.display_path(&local.name);
            match stat(&dir, &local.name) {
                Ok(s) if s.same_file_version(&local.stat()) => {
                    match dir.rename_noreplace(&local.name, &dir, &to) {
                        Ok(()) => Ok(()),
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(
                            ExecError::Changed(dir.display_path(&to).display().to_string()),
                        ),
                        Err(e) => Err(ExecError::io("rename to the conflict name", &from, e)),
                    }
                }
                Ok(_) => Err(ExecError::Changed(local.name.clone())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(ExecError::Changed(local.name.clone()))
                }
                Err(e) => Err(ExecError::io("stat", &from, e)),
            }
        })
        .await
        .map_err(|e| ExecError::Task(e.to_string()))??;
        tracing::warn!({ RECORD } = %w.key.record_id, { MODULE } = %w.key.module, { FILE } = local_name, conflict = conflict_name,
            "different content on both sides: Zoho's version keeps the name, the local one is now the conflict copy");
        self.events.emit(
            Event::new(
                EventKind::Conflict,
                format!("different content on both sides: Zoho's version keeps the name, the local one is now {conflict_name}"),
            )
            .record(&w.key)
            .file(local_name),
        );
        Ok(())
    }
}
