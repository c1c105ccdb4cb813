//! What the operator must hear about, as one small vocabulary, and the one channel it
//! travels on.
//!
//! The executor, the scheduler and the token cache report here what happened (a conflict
//! copy was made, an entry parked, the refresh token refused, …); metrics and alerts are
//! observers of the same [`Events`] handle, so a new consumer never needs a new hook in
//! the sync code. Observers are called on the reporting task: they must not block (count,
//! set a flag, or hand over to a queue).

use std::sync::{Arc, RwLock};

/// Something that needs a person's attention, or will soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// Different content on both sides: the local version was renamed to a conflict copy.
    Conflict,
    /// An entry failed permanently and waits for the file to change or `retry`.
    Parked,
    /// A pass wanted to delete more than `sync.max_delete_percent` of the tracked files.
    DeleteGuard,
    /// Zoho refused the OAuth credentials (refresh token revoked or client changed).
    AuthFailed,
    /// The daily API budget is spent: polls and listings wait.
    BudgetSpent,
    /// The sync root is missing or cannot be read.
    RootMissing,
}

impl EventKind {
    /// The name used in `BIGIN_SYNC_EVENT`, webhook bodies and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Conflict => "conflict",
            EventKind::Parked => "parked",
            EventKind::DeleteGuard => "delete_guard",
            EventKind::AuthFailed => "auth_failed",
            EventKind::BudgetSpent => "budget_spent",
            EventKind::RootMissing => "root_missing",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One occurrence of an [`EventKind`], with what it is about. Never carries a secret:
/// the sites that build one use record keys, local names and error texts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// `Module/record_id`, when the event is about one record.
    pub record: Option<String>,
    /// The local file name (or attachment id), when the event is about one entry.
    pub file: Option<String>,
    /// One line for a person.
    pub message: String,
}

impl Event {
    /// An event about nothing narrower than its kind (auth, root, budget).
    pub fn new(kind: EventKind, message: impl Into<String>) -> Self {
        Event {
            kind,
            record: None,
            file: None,
            message: message.into(),
        }
    }

    /// The same event about `record`.
    pub fn record(mut self, record: impl ToString) -> Self {
        self.record = Some(record.to_string());
        self
    }

    /// The same event about `file`.
    pub fn file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }
}

/// Which way bytes moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// To Zoho.
    Upload,
    /// To the disk.
    Download,
}

impl Direction {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upload => "upload",
            Direction::Download => "download",
        }
    }
}

/// A consumer of events. Every method has a no-op default: alerts care for events only,
/// metrics for everything.
pub trait Observer: Send + Sync {
    /// Something the operator must hear about happened.
    fn event(&self, _event: &Event) {}
    /// The condition of `kind` is over (auth works again, the root is back, budget left).
    fn cleared(&self, _kind: EventKind) {}
    /// A file was transferred.
    fn transferred(&self, _direction: Direction, _bytes: u64) {}
    /// Zoho granted an access token.
    fn token_granted(&self) {}
    /// The scheduler finished what was due (see [`Events::pass_completed`]).
    fn pass_completed(&self) {}
    /// Actions planned but not done yet, over all records.
    fn pending(&self, _actions: u64) {}
    /// Records followed.
    fn followed(&self, _records: u64) {}
    /// How local changes are noticed now: `inotify`, `poll` or `none`.
    fn watch_mode(&self, _mode: &'static str) {}
}

/// The channel: a cheap-to-clone handle every reporting site holds. Without observers
/// (`once`, tests) reporting costs a read lock.
#[derive(Clone, Default)]
pub struct Events {
    observers: Arc<RwLock<Vec<Arc<dyn Observer>>>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// Adds an observer; it sees what is reported from now on.
    pub fn subscribe(&self, observer: Arc<dyn Observer>) {
        self.observers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(observer);
    }

    fn each(&self, f: impl Fn(&dyn Observer)) {
        let observers = self.observers.read().unwrap_or_else(|e| e.into_inner());
        for o in observers.iter() {
            f(o.as_ref());
        }
    }

    /// Reports an event.
    pub fn emit(&self, event: Event) {
        self.each(|o| o.event(&event));
    }

    /// Reports that the condition of `kind` is over.
    pub fn clear(&self, kind: EventKind) {
        self.each(|o| o.cleared(kind));
    }

    /// Reports a completed transfer of `bytes`.
    pub fn transferred(&self, direction: Direction, bytes: u64) {
        self.each(|o| o.transferred(direction, bytes));
    }

    /// Reports a granted access token.
    pub fn token_granted(&self) {
        self.each(|o| o.token_granted());
    }

    /// Reports that everything due has been reconciled: a record's reconcile completed,
    /// or the scheduler found nothing running and nothing due. `/healthz` turns
    /// unhealthy when this has not happened for a while.
    pub fn pass_completed(&self) {
        self.each(|o| o.pass_completed());
    }

    /// Reports the actions pending over all records.
    pub fn pending(&self, actions: u64) {
        self.each(|o| o.pending(actions));
    }

    /// Reports the number of records followed.
    pub fn followed(&self, records: u64) {
        self.each(|o| o.followed(records));
    }

    /// Reports the watcher's mode.
    pub fn watch_mode(&self, mode: &'static str) {
        self.each(|o| o.watch_mode(mode));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);
    impl Observer for Seen {
        fn event(&self, e: &Event) {
            crate::lock(&self.0).push(e.kind.to_string());
        }
        fn cleared(&self, kind: EventKind) {
            crate::lock(&self.0).push(format!("cleared {kind}"));
        }
    }

    #[test]
    fn every_observer_sees_every_event_in_order() {
        let events = Events::default();
        // Nobody listening: nothing happens, nothing fails.
        events.emit(Event::new(EventKind::Conflict, "x"));
        let (a, b) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
        events.subscribe(a.clone());
        events.clone().subscribe(b.clone());
        events.emit(Event::new(EventKind::Parked, "p").record("Contacts/1"));
        events.clear(EventKind::AuthFailed);
        events.transferred(Direction::Upload, 3);
        for seen in [a, b] {
            assert_eq!(*crate::lock(&seen.0), vec!["parked", "cleared auth_failed"]);
        }
    }
}
