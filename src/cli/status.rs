//! `bigin-sync status [--json]`: the sync state from the journal, readable while the
//! daemon runs (WAL lets a reader in beside the writer), and a verdict with an exit code
//! (see [`super::verdict`]).

use super::verdict::{self, Facts, Verdict};
use crate::config::Config;
use crate::daemon::lock;
use crate::engine::PendingCounts;
use crate::journal::Journal;
use anyhow::Context;
use serde_json::json;
use std::collections::BTreeMap;

/// Prints the state and returns the verdict (the caller exits with its code; an error
/// means "cannot tell" as well).
pub fn run(cfg: &Config, as_json: bool) -> anyhow::Result<Verdict> {
    let daemon_pid = lock::running_pid(&cfg.state_dir);
    let journal = match Journal::open_read_only(&cfg.state_dir) {
        Ok(j) => j,
        Err(e) if !cfg.state_dir.join(crate::journal::FILE_NAME).exists() => {
            let _ = e;
            let assessment = verdict::assess(None);
            if as_json {
                let mut doc = json!({"daemon_running": daemon_pid.is_some(), "journal": null,
                                     "trash": null});
                merge(&mut doc, assessment.to_json());
                outln!("{}", doc);
            } else {
                outln!(
                    "no journal yet in {} (bigin-sync has not synced with this config)",
                    cfg.state_dir.display()
                );
                print_verdict(&assessment);
            }
            return Ok(assessment.verdict);
        }
        Err(e) => return Err(e).context("opening the journal"),
    };
    let summary = journal.summary()?;
    let failures = journal.all_failures()?;
    let remote_skips = journal.all_remote_skips()?;
    let pending: BTreeMap<String, PendingCounts> = journal
        .meta(crate::journal::PENDING_META_KEY)?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let not_followed: Vec<(String, String)> = journal
        .meta(crate::journal::NOT_FOLLOWED_META_KEY)?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    // Followed modules (issue 13): remote changes found through a hint vs by a poll.
    let remote_changes: Option<crate::follow::RemoteChangeCounts> = journal
        .meta(crate::journal::REMOTE_CHANGES_META_KEY)?
        .and_then(|s| serde_json::from_str(&s).ok());
    let conflict_copies = journal.conflict_copies()?;
    let guard = journal.delete_guard_trips()?;
    let auth = journal.auth_failure()?;
    let trash = crate::executor::trash::usage(&crate::executor::trash::trash_root(&cfg.state_dir))
        .map_err(|e| {
            // The verdict does not depend on it: say so and go on.
            errln!("bigin-sync: cannot read the trash: {e}");
        })
        .ok();
    let pending_total =
        pending.values().map(|p| p.total()).sum::<u32>() as u64 + summary.total_pending_uploads;
    let assessment = verdict::assess(Some(&Facts {
        pending: pending_total,
        retrying: summary.total_failures,
        parked: summary.total_parked,
        conflict_copies: conflict_copies.len() as u64,
        guarded_records: guard.len() as u64,
        guarded_deletes: guard.values().map(|t| t.deletes).sum(),
        auth_refused: auth.as_ref().map(|a| a.reason.clone()),
    }));
    let now = crate::model::unix_now();
    let usage = journal.api_usage_since(now - crate::journal::CREDIT_WINDOW_SECS)?;
    // Written by each daemon start: shown only while a daemon runs.
    let watch_state = journal
        .meta(crate::journal::WATCH_META_KEY)?
        .filter(|_| daemon_pid.is_some());

    if as_json {
        let records: Vec<_> = summary
            .records
            .iter()
            .map(|r| {
                let key = r.key.to_string();
                let p = pending.get(&key).copied().unwrap_or_default();
                let errors: Vec<_> = failures
                    .iter()
                    .filter(|(k, _)| *k == r.key)
                    .map(|(_, f)| {
                        json!({"subject": f.subject, "action": f.action, "message": f.message,
                               "parked": f.parked, "attempts": f.attempts,
                               "next_attempt_unix": if f.parked { None } else { Some(f.next_attempt_unix) },
                               "since_unix": f.since_unix})
                    })
                    .collect();
                let skipped: Vec<_> = remote_skips
                    .iter()
                    .filter(|(k, _)| *k == r.key)
                    .map(|(_, s)| {
                        json!({"attachment_id": s.attachment_id, "name": s.remote_name,
                               "reason": s.reason})
                    })
                    .collect();
                json!({
                    "module": r.key.module, "record_id": r.key.record_id, "folder": r.folder_name,
                    "files_in_sync": r.files_in_sync,
                    "pending_uploads": p.uploads + r.pending_uploads as u32,
                    "pending_downloads": p.downloads, "pending_deletes": p.deletes,
                    "failures": r.failures, "parked": r.parked, "errors": errors,
                    "skipped_attachments": skipped,
                    "last_poll_unix": r.last_poll_unix, "next_poll_unix": r.next_poll_unix,
                })
            })
            .collect();
        let mut doc = json!({
            "daemon_running": daemon_pid.is_some(),
            "daemon_pid": daemon_pid,
            "watch": watch_state,
            "records": records,
            "not_followed": not_followed
                .iter()
                .map(|(path, reason)| json!({"path": path, "reason": reason}))
                .collect::<Vec<_>>(),
            "totals": {
                "records": summary.records.len(), "files_in_sync": summary.total_files,
                "pending": pending_total,
                "failures": summary.total_failures, "parked": summary.total_parked,
            },
            "token_expires_at_unix": summary.token_expires_at_unix,
            "conflict_copies": conflict_copies
                .iter()
                .map(|(k, name)| json!({"module": k.module, "record_id": k.record_id, "file": name}))
                .collect::<Vec<_>>(),
            "delete_guard": guard
                .iter()
                .map(|(record, t)| json!({"record": record, "deletes": t.deletes, "since_unix": t.since_unix}))
                .collect::<Vec<_>>(),
            "auth_failure": auth
                .as_ref()
                .map(|a| json!({"reason": a.reason, "since_unix": a.since_unix})),
            "trash": trash.map(|t| json!({"entries": t.entries, "bytes": t.bytes})),
            "credits": super::credits::json(cfg, &usage),
            "remote_changes": remote_changes.map(|c| json!({"through_hint": c.hint, "by_poll": c.poll})),
        });
        merge(&mut doc, assessment.to_json());
        outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(assessment.verdict);
    }

    match daemon_pid {
        Some(pid) => {
            outln!("daemon: running (pid {pid})");
            if let Some(w) = &watch_state {
                outln!("watching: {w}");
            }
        }
        None => outln!("daemon: not running"),
    }
    print_verdict(&assessment);
    if let Some(a) = &auth {
        outln!(
            "auth: Zoho refuses the credentials (first refused {})",
            ago(now - a.since_unix)
        );
    }
    if let Some(t) = trash {
        outln!("trash: {} entries, {}", t.entries, size_text(t.bytes));
    }
    match summary.token_expires_at_unix {
        Some(t) if t > now => outln!("access token: valid for {} more minutes", (t - now) / 60),
        Some(_) => outln!("access token: expired (renewed on the next call)"),
        None => outln!("access token: none cached"),
    }
    for line in super::credits::lines(cfg, &usage) {
        outln!("{line}");
    }
    outln!(
        "records: {}   files in sync: {}   failing: {}   parked: {}",
        summary.records.len(),
        summary.total_files,
        summary.total_failures,
        summary.total_parked
    );
    if let Some(c) = remote_changes {
        outln!(
            "remote changes found: {} through a follow hint, {} by a scheduled poll",
            c.hint,
            c.poll
        );
    }
    for r in &summary.records {
        let p = pending.get(&r.key.to_string()).copied().unwrap_or_default();
        let last = r
            .last_poll_unix
            .map_or("never".to_string(), |t| ago(now - t));
        let next = if r.next_poll_unix <= now {
            "due".to_string()
        } else {
            format!("in {}", span(r.next_poll_unix - now))
        };
        outln!(
            "{} ({}): {} in sync, pending {} up / {} down / {} delete; last poll {}, next poll {}",
            r.key,
            r.folder_name,
            r.files_in_sync,
            p.uploads as u64 + r.pending_uploads,
            p.downloads,
            p.deletes,
            last,
            next
        );
        for (_, f) in failures.iter().filter(|(k, _)| *k == r.key) {
            if f.parked {
                outln!(
                    "  PARKED {} {}: {} (since {}; run `bigin-sync retry` after fixing)",
                    f.action,
                    f.subject,
                    f.message,
                    ago(now - f.since_unix)
                );
            } else {
                let when = if f.next_attempt_unix <= now {
                    "now".to_string()
                } else {
                    format!("in {}", span(f.next_attempt_unix - now))
                };
                outln!(
                    "  FAILING {} {}: {} (attempt {}, next retry {})",
                    f.action,
                    f.subject,
                    f.message,
                    f.attempts,
                    when
                );
            }
        }
        for (_, name) in conflict_copies.iter().filter(|(k, _)| *k == r.key) {
            // Debug formatting: a name may hold line breaks or control characters.
            outln!("  CONFLICT copy {name:?}: keep the right version, delete the copy");
        }
        if let Some(t) = guard.get(&r.key.to_string()) {
            outln!(
                "  DELETE GUARD holds back {} deletes (since {}; `bigin-sync once --confirm-deletes` if intended)",
                t.deletes,
                ago(now - t.since_unix)
            );
        }
        for (_, s) in remote_skips.iter().filter(|(k, _)| *k == r.key) {
            // Debug formatting: a name from Zoho may hold line breaks or control characters.
            outln!(
                "  SKIPPED attachment {} {:?}: {}",
                s.attachment_id,
                s.remote_name,
                s.reason
            );
        }
    }
    for (path, reason) in &not_followed {
        // Debug formatting: a folder name may hold line breaks or control characters.
        outln!("not followed: {path:?}: {reason}");
    }
    Ok(assessment.verdict)
}

/// Adds the verdict's fields to the top level of `doc`.
fn merge(doc: &mut serde_json::Value, fields: serde_json::Value) {
    if let (Some(doc), serde_json::Value::Object(fields)) = (doc.as_object_mut(), fields) {
        doc.extend(fields);
    }
}

/// The verdict line, then one line per reason.
fn print_verdict(a: &verdict::Assessment) {
    let words = match a.verdict {
        Verdict::InSync => "in sync",
        Verdict::WorkPending => "work pending",
        Verdict::NeedsPerson => "needs a person",
        Verdict::CannotTell => "cannot tell",
    };
    outln!("verdict: {words} (exit {})", a.verdict.exit_code());
    for r in &a.reasons {
        outln!("  - {r}");
    }
}

/// `1.5 MB`-style sizes (decimal units, as file managers show them).
fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn span(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 120 {
        format!("{secs}s")
    } else if secs < 7200 {
        format!("{}m", secs / 60)
    } else {
        format!("{}h", secs / 3600)
    }
}

fn ago(secs: i64) -> String {
    format!("{} ago", span(secs))
}
