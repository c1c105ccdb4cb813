//! Gathers the journal writes of concurrent transfers into shared transactions.
//!
//! The first write to arrive starts a blocking task that commits everything queued, then
//! whatever queued up meanwhile, until the queue is empty. With `zoho.concurrency`
//! transfers at once, a commit usually carries several of them. Each caller still waits
//! for its own write to be committed before going on, so the crash-safety order of an
//! action (intent before the request, entry after the reply) is unchanged.
//!
//! Writes arrive one at a time (each transfer finishes on its own), so without help a
//! commit would rarely carry more than one. Like PostgreSQL's `commit_delay`, the
//! committer waits briefly for company, but only while writes are streaming in (the
//! previous commit ended moments ago): a lone write, such as a daemon's single upload,
//! is committed at once.

use super::ExecError;
use crate::journal::{BatchOp, BatchOut, Journal, JournalError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a commit waits for more writes while writes are streaming in.
const LINGER: Duration = Duration::from_millis(2);
/// Writes are streaming in when the previous commit ended less than this ago.
const BUSY: Duration = Duration::from_millis(10);
/// A batch this large is committed without waiting.
const FULL_BATCH: usize = 64;

type Waiter = oneshot::Sender<Result<BatchOut, JournalError>>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(BatchOp, Waiter)>,
    /// A blocking task is committing; new writes join its next batch.
    committing: bool,
    /// When the last batch was committed.
    last_commit: Option<Instant>,
}

pub struct GroupCommit {
    journal: Arc<Journal>,
    queue: Mutex<Queue>,
}

/// The right to commit, handed to the blocking task. If that task panics, or is dropped
/// without running (runtime shutting down), `committing` is cleared and the queued writes
/// fail instead of waiting for a committer that will never come.
struct Committer {
    commits: Arc<GroupCommit>,
    finished: bool,
}

impl Committer {
    fn run(mut self) {
        self.commits.commit_until_empty();
        self.finished = true;
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        if !self.finished {
            let mut q = self.commits.lock();
            q.committing = false;
            // Dropping the senders wakes their callers with an error.
            q.waiting.clear();
        }
    }
}

impl GroupCommit {
    pub fn new(journal: Arc<Journal>) -> Self {
        GroupCommit {
            journal,
            queue: Mutex::new(Queue::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits `op` (with whatever else is queued) and returns its result.
    pub async fn write(self: &Arc<Self>, op: BatchOp) -> Result<BatchOut, ExecError> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.lock();
            q.waiting.push((op, tx));
            !std::mem::replace(&mut q.committing, true)
        };
        if start {
            let committer = Committer {
                commits: self.clone(),
                finished: false,
            };
            tokio::task::spawn_blocking(move || committer.run());
        }
        rx.await
            .map_err(|_| ExecError::Task("the journal writer stopped".into()))?
            .map_err(ExecError::Journal)
    }

    /// Returns with the queue empty and `committing` cleared (under the same lock).
    fn commit_until_empty(&self) {
        loop {
            let streaming = {
                let q = self.lock();
                q.waiting.len() < FULL_BATCH && q.last_commit.is_some_and(|t| t.elapsed() < BUSY)
            };
            if streaming {
                // Runs on the blocking pool: sleeping here holds up no async worker.
                std::thread::sleep(LINGER);
            }
            let batch = {
                let mut q = self.lock();
                if q.waiting.is_empty() {
                    q.committing = false;
                    return;
                }
                std::mem::take(&mut q.waiting)
            };
            let (ops, waiters): (Vec<BatchOp>, Vec<Waiter>) = batch.into_iter().unzip();
            let results = self.journal.apply_batch(&ops);
            self.lock().last_commit = Some(Instant::now());
            for (waiter, result) in waiters.into_iter().zip(results) {
                // A caller that gave up (its task was aborted) no longer listens.
                let _ = waiter.send(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::NewIntent;
    use crate::model::{ContentHash, RecordKey};

    fn intent(name: &str, size: u64) -> BatchOp {
        BatchOp::AddIntent {
            key: RecordKey {
                module: "Contacts".into(),
                record_id: "1".into(),
            },
            intent: NewIntent {
                local_name: name.into(),
                remote_name: name.into(),
                size,
                hash: ContentHash::of_bytes(name.as_bytes()),
            },
            now_unix: 1,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_all_committed_with_their_own_results() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(Journal::open(dir.path()).unwrap());
        let commits = Arc::new(GroupCommit::new(journal.clone()));
        let key = RecordKey {
            module: "Contacts".into(),
            record_id: "1".into(),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50u64 {
            let commits = commits.clone();
            tasks.spawn(async move { commits.write(intent(&format!("f{i}"), i)).await });
        }
        let mut ids = Vec::new();
        while let Some(r) = tasks.join_next().await {
            match r.unwrap().unwrap() {
                BatchOut::IntentId(id) => ids.push(id),
                other => panic!("unexpected {other:?}"),
            }
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 50, "one distinct intent id each");
        assert_eq!(journal.intents(&key).unwrap().len(), 50);
    }

    #[tokio::test]
    async fn a_committer_that_never_ran_fails_the_queue_and_frees_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(Journal::open(dir.path()).unwrap());
        let commits = Arc::new(GroupCommit::new(journal));
        let (tx, rx) = oneshot::channel();
        {
            let mut q = commits.lock();
            q.committing = true;
            q.waiting.push((intent("a", 1), tx));
        }
        drop(Committer {
            commits: commits.clone(),
            finished: false,
        });
        assert!(
            rx.await.is_err(),
            "the queued caller is told, not left waiting"
        );
        assert!(!commits.lock().committing);
        // The next write starts a committer of its own and succeeds.
        let out = commits.write(intent("b", 1)).await.unwrap();
        assert!(matches!(out, BatchOut::IntentId(_)));
    }
}
