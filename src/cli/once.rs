//! `bigin-sync once [--dry-run]`: one full pass, then exit.

use crate::config::Config;
use crate::daemon::{follow, lock, setup, state_dir};
use crate::engine::PassReport;
use crate::executor::RetryPolicy;
use crate::model::RecordKey;
use crate::planner::Action;
use anyhow::Context;
use std::process::ExitCode;

/// Passes after the first one (which polls) until nothing is left; they use the cached
/// lists, so they cost no list calls.
const MAX_PASSES: usize = 20;

pub async fn run(cfg: &Config, dry_run: bool, confirm_deletes: bool) -> anyhow::Result<ExitCode> {
    state_dir::prepare(&cfg.state_dir)
        .with_context(|| format!("preparing state_dir {}", cfg.state_dir.display()))?;
    let _lock = match lock::acquire(&cfg.state_dir).context("taking the daemon lock")? {
        Ok(l) => l,
        Err(msg) => anyhow::bail!("{msg}; stop it first (status works while it runs)"),
    };
    let journal = setup::open_journal(cfg)?;
    let rt = setup::build(cfg, journal.clone(), RetryPolicy::once())?;
    let folders = follow::refresh_followed(&rt.engine, &journal).await?;
    follow::clean_temp_files(&folders);

    if dry_run {
        for f in &folders {
            let mut p = rt.engine.plan_only(f).await?;
            // Files still being written get no action yet; wait for them to settle so
            // the plan shown is the one a pass would carry out.
            for _ in 0..10 {
                if p.unstable == 0 {
                    break;
                }
                tokio::time::sleep(cfg.tuning.recheck_after).await;
                p = rt.engine.plan_only(f).await?;
            }
            if let Some(e) = &p.remote_error {
                outln!("{}: remote unknown ({e})", f.key);
            }
            for a in &p.actions {
                outln!("{}: {}", f.key, describe(a));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut total = PassReport::default();
    let mut poll = true;
    let mut pending = folders.clone();
    for _ in 0..MAX_PASSES {
        let report = rt.engine.pass(&pending, poll, confirm_deletes).await;
        poll = false;
        let again = report.done > 0 || report.unstable > 0 || report.skipped > 0;
        let unstable = report.unstable;
        // A folder the pass left settled without acting in it needs no second look; with
        // thousands of records, reading them all again would cost more than the changes.
        pending.retain(|f| needs_another_pass(&report, &f.key));
        total.merge(report);
        if !again || pending.is_empty() {
            break;
        }
        if unstable > 0 {
            tokio::time::sleep(cfg.tuning.recheck_after).await;
        }
    }
    // The downloads are not waited for on disk: their rows are trusted during this boot
    // and checked by hash after a reboot (see `executor::flush`). Without a boot id to
    // tell, they are flushed now.
    if crate::executor::flush::boot_id().is_none() {
        rt.engine.flush_downloads(total.unflushed.clone()).await;
    }
    // Record the polls so that a daemon started next does not list every record again
    // at once; it continues the schedule.
    let policy = crate::daemon::schedule_of(cfg).poll;
    let delay = policy.next_delay(0, folders.len()).as_secs() as i64;
    let now = crate::model::unix_now();
    for key in &total.polled {
        journal.set_poll(key, now, now + delay, 0)?;
    }
    // The folders this run left in sync need no look from the daemon's start-up rescan;
    // the others (and every folder `once` did not reach) get a full one.
    let fingerprints: Vec<_> = folders
        .iter()
        .map(|f| (f.key.clone(), total.quiet.get(&f.key).copied().flatten()))
        .collect();
    journal.set_fingerprints(&fingerprints)?;
    tracing::info!(
        records = folders.len(),
        done = total.done,
        bytes = total.bytes,
        blocked_deletes = total.blocked_deletes,
        "once: pass complete"
    );
    let failures = journal.all_failures()?;
    let mut failed = false;
    for (key, f) in &failures {
        failed = true;
        let state = if f.parked { "parked" } else { "retrying" };
        errln!("{key}: {} {} ({state}): {}", f.action, f.subject, f.message);
    }
    // A record that could not be read or listed is not in sync, and no failure row
    // says so: it fails the run here (an action's failure is in the journal's rows).
    for e in total.errors.iter().filter(|e| e.is_record_unsynced()) {
        failed = true;
        errln!("{e}");
    }
    if total.blocked_deletes > 0 {
        failed = true;
        errln!(
            "{} deletes held back by the delete guard; rerun with --confirm-deletes if intended",
            total.blocked_deletes
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Whether a pass may have left work in a record: it acted there, or did not find it
/// settled (files still being written, failures, an unknown remote side, a scan error).
fn needs_another_pass(report: &PassReport, key: &RecordKey) -> bool {
    report.acted.contains(key) || !matches!(report.quiet.get(key), Some(Some(_)))
}

fn describe(a: &Action) -> String {
    match a {
        Action::Upload { local_name, .. } => format!("upload {local_name}"),
        Action::UploadLink {
            local_name, url, ..
        } => format!("upload link {local_name} → {url}"),
        Action::Replace {
            local_name,
            old_attachment_id,
            ..
        } => {
            format!(
                "upload new version of {local_name}, then delete attachment {old_attachment_id}"
            )
        }
        Action::Download {
            attachment_id,
            local_name,
        } => format!("download {attachment_id} → {local_name}"),
        Action::ReplaceLocal {
            attachment_id,
            local_name,
            ..
        } => {
            format!("download {attachment_id} → {local_name} (previous version to trash)")
        }
        Action::CompareAndAdopt {
            attachment_id,
            local_name,
            conflict_name,
        } => {
            format!(
                "compare {local_name} with attachment {attachment_id}; adopt if equal, else rename {local_name} → {conflict_name} and download the attachment in its place"
            )
        }
        Action::Adopt {
            attachment_id,
            local_name,
        } => format!("adopt {local_name} as {attachment_id}"),
        Action::RenameLocalForConflict {
            local_name,
            conflict_name,
            attachment_id,
        } => {
            format!(
                "conflict: rename {local_name} → {conflict_name} (to be uploaded), then download {attachment_id} → {local_name}"
            )
        }
        Action::DeleteRemote {
            attachment_id,
            local_name,
        } => {
            format!("delete attachment {attachment_id} ({local_name} was deleted locally)")
        }
        Action::TrashLocal { local_name, .. } => {
            format!("move {local_name} to trash (deleted in Zoho)")
        }
        Action::Forget { local_name } => format!("forget {local_name} (gone on both sides)"),
        Action::Refresh { local_name } => format!("refresh metadata of {local_name}"),
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

    #[test]
    fn only_records_acted_in_or_left_unsettled_get_another_pass() {
        let fingerprint: crate::scan::Fingerprint = 42;
        let mut report = PassReport::default();
        report.quiet.insert(key("1"), Some(fingerprint));
        report.quiet.insert(key("2"), Some(fingerprint));
        report.acted.insert(key("2"));
        report.quiet.insert(key("3"), None);
        assert!(
            !needs_another_pass(&report, &key("1")),
            "settled, nothing done"
        );
        assert!(needs_another_pass(&report, &key("2")), "acted in");
        assert!(needs_another_pass(&report, &key("3")), "not settled");
        assert!(
            needs_another_pass(&report, &key("4")),
            "failed before planning"
        );
    }
}
