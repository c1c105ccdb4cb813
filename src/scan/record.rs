//! Scanning one record folder into [`LocalEntry`]s.

use super::hash::hash_reader;
use super::{IgnoreRules, ScanError, parse_url_file};
use crate::dir_handle::{DirHandle, EntryKind};
use crate::model::{ContentHash, Stat};
use crate::planner::{LocalEntry, SyncedEntry};
use std::io::{ErrorKind, Read};
use std::time::{Duration, SystemTime};

/// `.url` files up to this size are read whole to find their link; larger ones are
/// plain files (no real shortcut is that big).
const MAX_URL_FILE: u64 = 64 * 1024;

/// Why an item in a record folder is not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// A symbolic link: never followed.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A block or character device.
    Device,
    /// A sub-folder (record folders are flat).
    Directory,
    /// Matched the ignore rules.
    Ignored,
    /// The name is not valid UTF-8 (Zoho file names are strings).
    NotUtf8,
    /// Could not be stat-ed or read. The caller must treat the name as present but
    /// unknown: never as deleted.
    Unreadable,
}

/// One item not synced, for one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The name (lossily decoded when it is not UTF-8).
    pub name: String,
    /// Why it is not synced.
    pub reason: SkipReason,
}

/// What a record folder holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanOutcome {
    /// Regular files, sorted by name.
    pub files: Vec<LocalEntry>,
    /// Everything else, sorted by name.
    pub skipped: Vec<Skipped>,
}

/// Reads one record folder, through its directory handle (see [`crate::dir_handle`]):
/// nothing below it is reached through a link. Hash from `cache` (the synced entries)
/// when size, mtime_ns, inode and ctime match (no re-read), else BLAKE3 streamed from the
/// file (64 KiB buffer, never whole in memory). After hashing, the file is stat-ed again:
/// if size/mtime changed meanwhile the entry is `stable = false`. `stable` = mtime older
/// than `now - debounce` (a file with a future mtime counts as stable only if unchanged
/// across the two stats). `.url` files: `[InternetShortcut]`/`URL=` is parsed into
/// `link_url`.
///
/// Unreadable folder → `Err`.
pub fn scan_record(
    dir: &DirHandle,
    cache: &[SyncedEntry],
    rules: &IgnoreRules,
    debounce: Duration,
    now: SystemTime,
) -> Result<ScanOutcome, ScanError> {
    let listing = dir
        .entries()
        .map_err(|e| ScanError::io(dir.path(), "read record folder", e))?;
    let mut out = ScanOutcome::default();
    // By name: a record with thousands of files must not cost a scan of the cache each.
    let cache: std::collections::HashMap<&str, &SyncedEntry> =
        cache.iter().map(|c| (c.local_name.as_str(), c)).collect();
    let mut found: Vec<Found> = Vec::new();
    for (os_name, _) in listing {
        let Some(name) = os_name.to_str() else {
            out.skipped
                .push(skip(&os_name.to_string_lossy(), SkipReason::NotUtf8));
            continue;
        };
        if rules.is_ignored(name) {
            out.skipped.push(skip(name, SkipReason::Ignored));
            continue;
        }
        let meta = match dir.stat(name) {
            Ok(m) => m,
            // Gone since the listing: it is simply not there.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(_) => {
                out.skipped.push(skip(name, SkipReason::Unreadable));
                continue;
            }
        };
        if let Some(reason) = non_regular(meta.kind) {
            out.skipped.push(skip(name, reason));
            continue;
        }
        found.push(Found {
            cached: cache.get(name).copied(),
            name: name.to_string(),
            stat: meta.stat,
        });
    }
    for (f, entry) in entries_for_all(dir, &found, debounce, now) {
        match entry {
            Ok(entry) => out.files.push(entry),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            // Swapped for a link, a FIFO or a folder since the listing: never read
            // through; the next scan sees it as what it is now.
            Err(_) => out.skipped.push(skip(&f.name, SkipReason::Unreadable)),
        }
    }
    out.files.sort_by(|a, b| a.name.cmp(&b.name));
    out.skipped.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A regular file found in the folder, not yet hashed.
struct Found<'c> {
    name: String,
    stat: Stat,
    cached: Option<&'c SyncedEntry>,
}

/// Below this much content to hash, one thread does it all (starting threads would
/// cost more than they save).
const PARALLEL_HASH_BYTES: u64 = 8 * 1024 * 1024;
/// At most this many threads hash one folder.
const MAX_HASH_THREADS: usize = 4;

/// [`entry_for`] of every found file. When many files need hashing (a folder of new
/// files), they are hashed on up to [`MAX_HASH_THREADS`] threads: before the first
/// upload of a bulk drop can start, its whole folder must be hashed.
fn entries_for_all<'f, 'c>(
    dir: &DirHandle,
    found: &'f [Found<'c>],
    debounce: Duration,
    now: SystemTime,
) -> Vec<(&'f Found<'c>, std::io::Result<LocalEntry>)> {
    let one = |f: &'f Found<'c>| (f, entry_for(dir, &f.name, f.stat, f.cached, debounce, now));
    let to_hash: u64 = found
        .iter()
        .filter(|f| f.cached.is_none())
        .map(|f| f.stat.size)
        .sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_HASH_THREADS)
        .min(found.len());
    if to_hash < PARALLEL_HASH_BYTES || threads < 2 {
        return found.iter().map(one).collect();
    }
    // Files are taken one at a time from a shared counter, so a few large files do not
    // leave the other threads idle.
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = found.get(i) else {
                            return done;
                        };
                        done.push(one(f));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn skip(name: &str, reason: SkipReason) -> Skipped {
    Skipped {
        name: name.to_string(),
        reason,
    }
}

fn non_regular(kind: EntryKind) -> Option<SkipReason> {
    match kind {
        EntryKind::File => None,
        EntryKind::Symlink => Some(SkipReason::Symlink),
        EntryKind::Dir => Some(SkipReason::Directory),
        EntryKind::Fifo => Some(SkipReason::Fifo),
        EntryKind::Socket => Some(SkipReason::Socket),
        EntryKind::Device | EntryKind::Unknown => Some(SkipReason::Device),
    }
}

/// Byte-wise, so a multi-byte character before the suffix cannot split a slice.
fn is_url_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 4 && b[b.len() - 4..].eq_ignore_ascii_case(b".url")
}

fn entry_for(
    dir: &DirHandle,
    name: &str,
    before: Stat,
    cached: Option<&SyncedEntry>,
    debounce: Duration,
    now: SystemTime,
) -> std::io::Result<LocalEntry> {
    let is_url = is_url_name(name) && before.size <= MAX_URL_FILE;
    let hit = cached.filter(|c| {
        c.size == before.size
            && c.mtime_ns == before.mtime_ns
            && c.inode == before.inode
            && (c.ctime_ns == 0 || c.ctime_ns == before.ctime_ns)
    });
    let (hash, link_url, unchanged) = match hit {
        // A cached link needs no read; a cached plain `.url` is re-read (it is tiny) in
        // case it is a shortcut after all.
        Some(c) if !is_url || c.link_url.is_some() => (c.hash, c.link_url.clone(), true),
        _ => {
            let (hash, link_url) = read_content(dir, name, is_url)?;
            #[cfg(test)]
            test_hook::after_hash(&dir.display_path(name));
            let after = dir.stat(name)?.stat;
            (hash, link_url, after == before)
        }
    };
    // A file exactly as last synced is settled however young it is: its content is the
    // journal's, and nothing is planned for it until it changes. (A file the daemon just
    // downloaded would otherwise hold its record "unstable" for the debounce window and
    // cost an extra reconcile.)
    let old_enough = hit.is_some()
        || match now.duration_since(mtime_of(before)) {
            Ok(age) => age >= debounce,
            // Future mtime (clock skew, copied archives): age is meaningless.
            Err(_) => true,
        };
    Ok(LocalEntry {
        name: name.to_string(),
        size: before.size,
        mtime_ns: before.mtime_ns,
        inode: before.inode,
        ctime_ns: before.ctime_ns,
        hash,
        link_url,
        stable: unchanged && old_enough,
    })
}

/// The mtime as a clock time (saturated ones included).
fn mtime_of(stat: Stat) -> SystemTime {
    let ns = stat.mtime_ns;
    let at = Duration::from_nanos(ns.unsigned_abs());
    if ns >= 0 {
        SystemTime::UNIX_EPOCH + at
    } else {
        SystemTime::UNIX_EPOCH - at
    }
}

/// Hashes the file, opened through the folder's handle as a regular file only; a small
/// `.url` file is read whole (bounded) to parse its link too.
fn read_content(
    dir: &DirHandle,
    name: &str,
    is_url: bool,
) -> std::io::Result<(ContentHash, Option<String>)> {
    let mut file = dir.open_regular(name)?.file;
    if is_url {
        let mut bytes = Vec::new();
        file.by_ref()
            .take(MAX_URL_FILE + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 <= MAX_URL_FILE {
            return Ok((ContentHash::of_bytes(&bytes), parse_url_file(&bytes)));
        }
        // Grew past the limit since the stat: hash what was read plus the rest.
        let mut chained = bytes.as_slice().chain(file);
        return hash_reader(&mut chained).map(|(h, _)| (h, None));
    }
    hash_reader(&mut file).map(|(h, _)| (h, None))
}

/// Lets tests change a file between hashing and the second stat, deterministically.
#[cfg(test)]
pub(super) mod test_hook {
    use std::cell::RefCell;
    use std::path::Path;

    type Hook = Box<dyn Fn(&Path)>;

    thread_local! {
        static AFTER_HASH: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    /// Installs `hook` for scans on this thread until the guard drops.
    pub fn set(hook: impl Fn(&Path) + 'static) -> Guard {
        AFTER_HASH.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
        Guard
    }

    pub struct Guard;

    impl Drop for Guard {
        fn drop(&mut self) {
            AFTER_HASH.with(|h| *h.borrow_mut() = None);
        }
    }

    pub(in crate::scan) fn after_hash(path: &Path) {
        AFTER_HASH.with(|h| {
            if let Some(hook) = h.borrow().as_ref() {
                hook(path);
            }
        });
    }
}
