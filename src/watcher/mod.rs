//! Local change hints from the filesystem (inotify, or polling on network filesystems).
//!
//! Events are only hints: they mark a record folder dirty, and the reconcile then reads
//! the folder itself. Anything the watcher cannot map to one record (a new module folder,
//! a queue overflow, a watcher error) asks for a full rescan, and a periodic rescan runs
//! anyway, so a lost event delays a sync but never loses it.
//!
//! Raw notify events, no debouncer: the scheduler already gathers a burst of hints
//! (`HINT_DELAY`) and the reconcile has its own stability check (`sync.debounce`), and a
//! debouncer's timer thread would wake the idle daemon 80 times a second (most of its
//! idle CPU, see BENCHMARKS.md). The inotify thread blocks on the kernel instead.

use crate::executor::SelfWrites;
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

pub use crate::config::WatchMode;

/// What a filesystem event means to the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WatchEvent {
    /// Something changed inside `<root>/<module_folder>/<record_folder>/`.
    Record {
        module_folder: String,
        record_folder: String,
    },
    /// Folders were added or removed above record level, or events were lost.
    Rescan,
}

/// Keeps the underlying watcher alive; dropping it stops watching.
pub enum Watcher {
    Inotify(RecommendedWatcher),
    Poll(PollWatcher),
}
/// How often the PollWatcher walks the tree.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Maps a changed path to the hint it means.
pub fn classify(root: &Path, path: &Path) -> Option<WatchEvent> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [] | [_] => Some(WatchEvent::Rescan),
        [module, record, ..] => Some(WatchEvent::Record {
            module_folder: (*module).to_string(),
            record_folder: (*record).to_string(),
        }),
    }
}

/// Starts watching `root` recursively; hints go to `tx`.
pub fn start(
    root: &Path,
    mode: WatchMode,
    tx: UnboundedSender<WatchEvent>,
    self_writes: Arc<SelfWrites>,
) -> Result<Watcher, notify::Error> {
    let handler = make_handler(root.to_path_buf(), tx.clone(), self_writes.clone());
    if mode == WatchMode::Auto {
        let started = RecommendedWatcher::new(handler, notify::Config::default())
            .and_then(|mut w| w.watch(root, RecursiveMode::Recursive).map(|()| w));
        match started {
            Ok(w) => return Ok(Watcher::Inotify(w)),
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                tracing::error!(
                    "inotify watch limit reached: raise fs.inotify.max_user_watches \
                     (sysctl -w fs.inotify.max_user_watches=524288); falling back to polling"
                );
            }
            Err(e) => return Err(e),
        }
    }
    let handler = make_handler(root.to_path_buf(), tx, self_writes);
    let mut w = PollWatcher::new(
        handler,
        notify::Config::default().with_poll_interval(POLL_INTERVAL),
    )?;
    w.watch(root, RecursiveMode::Recursive)?;
    Ok(Watcher::Poll(w))
}

fn make_handler(
    root: PathBuf,
    tx: UnboundedSender<WatchEvent>,
    self_writes: Arc<SelfWrites>,
) -> impl FnMut(notify::Result<notify::Event>) + Send + 'static {
    move |result: notify::Result<notify::Event>| match result {
        Ok(ev) => {
            if ev.need_rescan() {
                let _ = tx.send(WatchEvent::Rescan);
                return;
            }
            // Opening or reading a file or folder changes nothing; the daemon's own
            // scans would otherwise trigger rescans in a loop.
            if matches!(ev.kind, notify::EventKind::Access(_)) {
                return;
            }
            let mut sent: Option<WatchEvent> = None;
            for path in &ev.paths {
                if self_writes.is_own(path) || is_own_temp(path) {
                    continue;
                }
                // A rename event names both ends, usually in the same record.
                if let Some(hint) = classify(&root, path)
                    && sent.as_ref() != Some(&hint)
                {
                    let _ = tx.send(hint.clone());
                    sent = Some(hint);
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "file watcher error; doing a full rescan");
            if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                tracing::error!("inotify watch limit reached: raise fs.inotify.max_user_watches");
            }
            let _ = tx.send(WatchEvent::Rescan);
        }
    }
}

/// The daemon's own download temp files: never a user change.
fn is_own_temp(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".bigin-sync.part"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths_by_depth() {
        let root = Path::new("/srv/bigin");
        assert_eq!(
            classify(root, Path::new("/srv/bigin")),
            Some(WatchEvent::Rescan)
        );
        assert_eq!(
            classify(root, Path::new("/srv/bigin/Contacts")),
            Some(WatchEvent::Rescan)
        );
        assert_eq!(
            classify(root, Path::new("/srv/bigin/Contacts/123 Acme/a.pdf")),
            Some(WatchEvent::Record {
                module_folder: "Contacts".into(),
                record_folder: "123 Acme".into()
            })
        );
        assert_eq!(classify(root, Path::new("/elsewhere/x")), None);
    }

    #[tokio::test]
    async fn reports_a_new_file_as_its_record() {
        let tmp = tempfile::tempdir().unwrap();
        let record = tmp.path().join("Contacts").join("1234567");
        std::fs::create_dir_all(&record).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = start(
            tmp.path(),
            WatchMode::Auto,
            tx,
            Arc::new(SelfWrites::default()),
        )
        .unwrap();
        std::fs::write(record.join("a.txt"), b"x").unwrap();
        let want = WatchEvent::Record {
            module_folder: "Contacts".into(),
            record_folder: "1234567".into(),
        };
        let got = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match rx.recv().await {
                    Some(ev) if ev == want => return true,
                    Some(_) => continue,
                    None => return false,
                }
            }
        })
        .await;
        assert_eq!(got, Ok(true));
    }
}
