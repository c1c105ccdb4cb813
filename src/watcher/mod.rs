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
use crate::lock;
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

pub use crate::config::WatchMode;

/// What a filesystem event means to the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WatchEvent {
    /// Something changed inside `<root>/<module_folder>/<record_folder>/`.
    Record {
        /// The module folder's name.
        module_folder: String,
        /// The record folder's name.
        record_folder: String,
    },
    /// Folders were added or removed above record level, or events were lost.
    Rescan,
}

/// How the tree is being watched, for operators (`bigin-sync status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchState {
    /// Watching with inotify.
    Inotify,
    /// Polling because the config says `watch = "poll"`.
    PollConfigured,
    /// Polling because the kernel's inotify watch limit was reached.
    PollLimitReached,
}

impl std::fmt::Display for WatchState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = POLL_INTERVAL.as_secs();
        match self {
            WatchState::Inotify => write!(f, "inotify"),
            WatchState::PollConfigured => write!(f, "polling every {secs} s (watch = \"poll\")"),
            WatchState::PollLimitReached => write!(
                f,
                "polling every {secs} s: inotify watch limit reached; {LIMIT_HELP}, then restart"
            ),
        }
    }
}

/// Told the watch state at start and whenever it changes.
pub type OnWatchState = Arc<dyn Fn(WatchState) + Send + Sync>;

/// Keeps the underlying watcher alive; dropping it stops watching.
///
/// Starts on inotify (in `auto` mode) and switches itself to polling when the kernel's
/// watch limit is reached, at start or later, when new folders need watches the limit
/// no longer allows: a folder without a watch would otherwise go unnoticed until the
/// periodic rescan.
pub struct Watcher {
    backend: Arc<Mutex<Option<Backend>>>,
}

/// Held only to keep watching.
enum Backend {
    Inotify { _watcher: RecommendedWatcher },
    Poll { _watcher: PollWatcher },
}

impl Watcher {
    /// Whether the tree is walked on a timer rather than watched with inotify.
    pub fn is_polling(&self) -> bool {
        matches!(*lock(&self.backend), Some(Backend::Poll { .. }))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let backend = lock(&self.backend).take();
        drop(backend);
    }
}

/// How often the PollWatcher walks the tree.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

const LIMIT_HELP: &str =
    "raise fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=524288)";

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

/// What watching needs: where, and where the hints go.
#[derive(Clone)]
struct Target {
    root: PathBuf,
    tx: UnboundedSender<WatchEvent>,
    self_writes: Arc<SelfWrites>,
    on_state: OnWatchState,
}

/// Starts watching `root` recursively; hints go to `tx`, the watch state to `on_state`.
pub fn start(
    root: &Path,
    mode: WatchMode,
    tx: UnboundedSender<WatchEvent>,
    self_writes: Arc<SelfWrites>,
    on_state: OnWatchState,
) -> Result<Watcher, notify::Error> {
    let target = Target {
        root: root.to_path_buf(),
        tx,
        self_writes,
        on_state,
    };
    let backend = Arc::new(Mutex::new(None));
    if mode == WatchMode::Auto {
        let handler = Handler {
            target: target.clone(),
            fall_back_to: Some(Arc::downgrade(&backend)),
        };
        let started = RecommendedWatcher::new(handler, notify::Config::default())
            .and_then(|mut w| w.watch(root, RecursiveMode::Recursive).map(|()| w));
        match started {
            Ok(w) => {
                *lock(&backend) = Some(Backend::Inotify { _watcher: w });
                (target.on_state)(WatchState::Inotify);
                return Ok(Watcher { backend });
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                tracing::error!(
                    "inotify watch limit reached: {LIMIT_HELP}; falling back to polling"
                );
            }
            Err(e) => return Err(e),
        }
    }
    *lock(&backend) = Some(Backend::Poll {
        _watcher: poll_watcher(&target)?,
    });
    (target.on_state)(match mode {
        WatchMode::Poll => WatchState::PollConfigured,
        WatchMode::Auto => WatchState::PollLimitReached,
    });
    Ok(Watcher { backend })
}

fn poll_watcher(target: &Target) -> Result<PollWatcher, notify::Error> {
    let handler = Handler {
        target: target.clone(),
        fall_back_to: None,
    };
    let mut w = PollWatcher::new(
        handler,
        notify::Config::default().with_poll_interval(POLL_INTERVAL),
    )?;
    w.watch(&target.root, RecursiveMode::Recursive)?;
    Ok(w)
}

/// Turns notify's events into hints; an inotify one also switches its watcher to
/// polling when the watch limit is reached.
struct Handler {
    target: Target,
    /// The watcher to replace with a poll watcher; taken on the first limit error.
    fall_back_to: Option<Weak<Mutex<Option<Backend>>>>,
}

impl notify::EventHandler for Handler {
    fn handle_event(&mut self, result: notify::Result<notify::Event>) {
        let Target {
            root,
            tx,
            self_writes,
            ..
        } = &self.target;
        match result {
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
                    if let Some(hint) = classify(root, path)
                        && sent.as_ref() != Some(&hint)
                    {
                        let _ = tx.send(hint.clone());
                        sent = Some(hint);
                    }
                }
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                // Some folders are not watched: look at everything, and from now on poll.
                let _ = tx.send(WatchEvent::Rescan);
                if let Some(backend) = self.fall_back_to.take() {
                    fall_back_to_polling(backend, self.target.clone());
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "file watcher error; doing a full rescan");
                let _ = tx.send(WatchEvent::Rescan);
            }
        }
    }
}

/// Replaces the inotify watcher with a poll watcher. On a thread of its own: this runs
/// from the inotify watcher's event thread, which dropping that watcher stops.
fn fall_back_to_polling(backend: Weak<Mutex<Option<Backend>>>, target: Target) {
    let spawned = std::thread::Builder::new()
        .name("watch-fallback".into())
        .spawn(move || {
            // Gone: the daemon is stopping.
            let Some(backend) = backend.upgrade() else {
                return;
            };
            match poll_watcher(&target) {
                Ok(poll) => {
                    let inotify = lock(&backend).replace(Backend::Poll { _watcher: poll });
                    drop(inotify);
                    (target.on_state)(WatchState::PollLimitReached);
                    tracing::error!(
                        "inotify watch limit reached while watching new folders: {LIMIT_HELP}; switched to polling"
                    );
                }
                Err(e) => tracing::error!(
                    error = %e,
                    "inotify watch limit reached and polling could not start: {LIMIT_HELP}; relying on the periodic rescan"
                ),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "inotify watch limit reached: {LIMIT_HELP}; could not switch to polling");
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

    /// Waits for `want` on `rx` (other hints are skipped).
    async fn hinted(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<WatchEvent>,
        want: WatchEvent,
    ) -> bool {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match rx.recv().await {
                    Some(ev) if ev == want => return true,
                    Some(_) => continue,
                    None => return false,
                }
            }
        })
        .await
        .unwrap_or(false)
    }

    /// When folders created after start can get no inotify watch (notify then reports
    /// the limit to the handler, as its inotify thread does), the watcher asks for a
    /// rescan and goes on by polling, which still sees changes.
    #[tokio::test]
    async fn the_watch_limit_reached_later_switches_to_polling() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("Contacts")).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let self_writes = Arc::new(SelfWrites::default());
        let states = Arc::new(Mutex::new(Vec::new()));
        let seen = states.clone();
        let on_state: OnWatchState = Arc::new(move |s| lock(&seen).push(s));
        let w = start(
            tmp.path(),
            WatchMode::Auto,
            tx.clone(),
            self_writes.clone(),
            on_state.clone(),
        )
        .unwrap();
        assert!(!w.is_polling());
        assert_eq!(*lock(&states), vec![WatchState::Inotify]);

        let mut inotify_handler = Handler {
            target: Target {
                root: tmp.path().to_path_buf(),
                tx,
                self_writes,
                on_state,
            },
            fall_back_to: Some(Arc::downgrade(&w.backend)),
        };
        notify::EventHandler::handle_event(
            &mut inotify_handler,
            Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch)),
        );
        assert!(hinted(&mut rx, WatchEvent::Rescan).await);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !w.is_polling() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(w.is_polling());
        assert_eq!(
            *lock(&states),
            vec![WatchState::Inotify, WatchState::PollLimitReached]
        );

        let record = tmp.path().join("Contacts").join("7654321");
        std::fs::create_dir_all(&record).unwrap();
        std::fs::write(record.join("b.txt"), b"y").unwrap();
        let want = WatchEvent::Record {
            module_folder: "Contacts".into(),
            record_folder: "7654321".into(),
        };
        assert!(hinted(&mut rx, want).await);
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
            Arc::new(|_| {}),
        )
        .unwrap();
        std::fs::write(record.join("a.txt"), b"x").unwrap();
        let want = WatchEvent::Record {
            module_folder: "Contacts".into(),
            record_folder: "1234567".into(),
        };
        assert!(hinted(&mut rx, want).await);
    }
}
