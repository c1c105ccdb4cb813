//! The invariants checked once a seed has settled: convergence, no duplicates, no loss,
//! and nothing written outside the record folder (and the state dir's trash).

use super::world::{MODULE, PRODUCT, World};
use bigin_sync::journal::Journal;
use bigin_sync::model::ContentHash;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Every regular file under `dir`, recursively, with its content hash.
fn walk(dir: &Path, out: &mut Vec<(std::path::PathBuf, ContentHash)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p, ContentHash::of_bytes(&bytes)));
        }
    }
}

/// Returns every violated invariant (empty when the seed passed).
pub fn invariants(w: &World<'_>) -> Vec<String> {
    let mut bad = Vec::new();
    let label = |h: &ContentHash| {
        w.model
            .labels
            .get(h)
            .cloned()
            .unwrap_or_else(|| h.to_hex()[..8].to_string())
    };

    // Local tree: regular files only, no leftovers (temp files, sub-folders).
    let mut local: HashMap<String, ContentHash> = HashMap::new();
    for e in std::fs::read_dir(&w.dir)
        .expect("read record dir")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            bad.push(format!("record folder holds a non-file: {name}"));
            continue;
        }
        if name.starts_with('.') {
            bad.push(format!("leftover dot-file in record folder: {name}"));
            continue;
        }
        let bytes = std::fs::read(e.path()).expect("read local file");
        local.insert(name, ContentHash::of_bytes(&bytes));
    }

    // Remote tree.
    let atts = w.sandbox.attachments(PRODUCT, MODULE, &w.key.record_id);
    let mut remote: HashMap<String, (String, ContentHash)> = HashMap::new();
    for a in &atts {
        match a.content_hash {
            Some(h) => {
                remote.insert(a.id.clone(), (a.file_name.clone(), h));
            }
            None => bad.push(format!("unexpected link attachment {}", a.file_name)),
        }
    }

    // Journal.
    let journal = match Journal::open(&w.state) {
        Ok(j) => j,
        Err(e) => return vec![format!("cannot open journal: {e}")],
    };
    let entries = journal.entries(&w.key).expect("journal entries");
    match journal.intents(&w.key) {
        Ok(i) if !i.is_empty() => bad.push(format!("{} upload intents left over", i.len())),
        Ok(_) => {}
        Err(e) => bad.push(format!("reading intents: {e}")),
    }
    match journal.all_failures() {
        Ok(f) => {
            let live: Vec<String> = f
                .iter()
                .map(|(_, f)| format!("{} {}: {}", f.action, f.subject, f.message))
                .collect();
            if !live.is_empty() {
                bad.push(format!("failures left in the journal: {live:?}"));
            }
        }
        Err(e) => bad.push(format!("reading failures: {e}")),
    }
    drop(journal);

    // Convergence: the journal is a bijection between local files and attachments, and
    // each row's hash is what both sides hold.
    let mut rows_by_name = HashSet::new();
    let mut rows_by_id = HashSet::new();
    for e in &entries {
        if !rows_by_name.insert(e.local_name.clone()) {
            bad.push(format!("two journal rows for local {}", e.local_name));
        }
        if !rows_by_id.insert(e.attachment_id.clone()) {
            bad.push(format!(
                "two journal rows for attachment {}",
                e.attachment_id
            ));
        }
        match local.get(&e.local_name) {
            None => bad.push(format!("journal row {} has no local file", e.local_name)),
            Some(h) if *h != e.hash => bad.push(format!(
                "local {} is {} but the journal says {}",
                e.local_name,
                label(h),
                label(&e.hash)
            )),
            Some(_) => {}
        }
        match remote.get(&e.attachment_id) {
            None => bad.push(format!(
                "journal row {} points at missing attachment {}",
                e.local_name, e.attachment_id
            )),
            Some((_, h)) if *h != e.hash => bad.push(format!(
                "attachment {} of {} is {} but the journal says {}",
                e.attachment_id,
                e.local_name,
                label(h),
                label(&e.hash)
            )),
            Some(_) => {}
        }
    }
    // Both sides list the same names (issue 11 item 12): a synced file is called what its
    // attachment is called, or a numbered variant of it (` (2)`) when Zoho holds several
    // attachments of that name. A conflict copy is a conflict copy in Zoho too, never a
    // second attachment of the plain name.
    for e in &entries {
        if let Some((remote_name, _)) = remote.get(&e.attachment_id)
            && !same_or_numbered(&e.local_name, remote_name)
        {
            bad.push(format!(
                "local {} is synced with attachment {} named {remote_name}",
                e.local_name, e.attachment_id
            ));
        }
    }
    for (name, h) in &local {
        if !rows_by_name.contains(name) {
            bad.push(format!("local {name} ({}) never synced", label(h)));
        }
    }
    for (id, (name, h)) in &remote {
        if !rows_by_id.contains(id) {
            bad.push(format!(
                "attachment {id} {name} ({}) never synced",
                label(h)
            ));
        }
    }

    // No duplicates beyond what the user added on purpose.
    let mut counts: HashMap<(String, ContentHash), usize> = HashMap::new();
    for (name, h) in remote.values() {
        *counts.entry((name.clone(), *h)).or_default() += 1;
    }
    for ((name, h), n) in &counts {
        let key = (name.clone(), *h);
        let remote_adds = w.model.remote_adds.get(&key).copied().unwrap_or(0);
        let local_writes = w.model.local_writes.get(&key).copied().unwrap_or(0);
        let allowed = (remote_adds + local_writes).max(1);
        if *n > allowed {
            bad.push(format!(
                "duplicate attachments: {n} × {name} ({}), user added {allowed}",
                label(h)
            ));
        }
    }

    // No loss: what the user created and did not delete is somewhere.
    let mut trash = Vec::new();
    walk(&w.trash_dir(), &mut trash);
    let everywhere: HashSet<ContentHash> = local
        .values()
        .copied()
        .chain(remote.values().map(|(_, h)| *h))
        .chain(trash.iter().map(|(_, h)| *h))
        .collect();
    for h in &w.model.live {
        if !everywhere.contains(h) {
            bad.push(format!("LOST content {}", label(h)));
        }
    }

    // Nothing outside the record folder (root) or the trash/journal (state dir).
    let mut root_files = Vec::new();
    walk(&w.root, &mut root_files);
    for (p, _) in &root_files {
        if p.parent() != Some(w.dir.as_path()) {
            bad.push(format!(
                "file written outside the record folder: {}",
                p.display()
            ));
        }
    }
    let record_trash = w.trash_dir().join(MODULE).join(&w.key.record_id);
    for (p, _) in &trash {
        if p.parent() != Some(record_trash.as_path()) {
            bad.push(format!("unexpected file in the trash: {}", p.display()));
        }
    }
    let mut state_files = Vec::new();
    walk(&w.state, &mut state_files);
    for (p, _) in &state_files {
        let top = p
            .strip_prefix(&w.state)
            .ok()
            .and_then(|r| r.components().next());
        let name = top.map(|c| c.as_os_str().to_string_lossy().into_owned());
        let ok = match name.as_deref() {
            Some("trash") => true,
            Some(n) => n.starts_with("journal.sqlite3"),
            None => false,
        };
        if !ok {
            bad.push(format!("unexpected file in the state dir: {}", p.display()));
        }
    }
    bad
}

/// True when `local` is `remote`, or `remote` with ` (n)` before its extension (the name
/// a download gets when the plain one is taken).
fn same_or_numbered(local: &str, remote: &str) -> bool {
    if local == remote {
        return true;
    }
    let (stem, ext) = match remote.rfind('.') {
        Some(at) if at > 0 => remote.split_at(at),
        _ => (remote, ""),
    };
    local
        .strip_prefix(stem)
        .and_then(|rest| rest.strip_suffix(ext))
        .and_then(|n| n.strip_prefix(" ("))
        .and_then(|n| n.strip_suffix(')'))
        .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 2))
}
