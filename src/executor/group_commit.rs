//! Gathers the journal writes of concurrent transfers into shared transactions.
//!
//! The first write to arrive starts a blocking task that commits everything queued, then
//! whatever queued up meanwhile, until the queue is empty. With `zoho.concurrency`
//! transfers at once, a commit usually carries several of them. Each caller still waits
//! for its own write to be committed before going on, so the crash-safety order of an
//! action (intent before the request, entry after the reply) is unchanged.

use super::ExecError;
use crate::journal::{BatchOp, BatchOut, Journal, JournalError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

type Waiter = oneshot::Sender<Result<BatchOut, JournalError>>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(BatchOp, Waiter)>,
    /// A blocking task is committing; new writes join its next batch.
    committing: bool,
}

pub struct GroupCommit {
    journal: Arc<Journal>,
    queue: Mutex<Queue>,
}

/// Clears `committing` if the committing task unwinds, so later writes start a new one.
struct Committer<'a>(&'a GroupCommit);

impl Drop for Committer<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().committing = false;
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
            let me = self.clone();
            tokio::task::spawn_blocking(move || me.commit_until_empty());
        }
        rx.await
            .map_err(|_| ExecError::Task("the journal writer stopped".into()))?
            .map_err(ExecError::Journal)
    }

    fn commit_until_empty(&self) {
        let _committer = Committer(self);
        loop {
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
    use crate::model::{ContentHash, RecordKey};

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
            let (commits, key) = (commits.clone(), key.clone());
            tasks.spawn(async move {
                commits
                    .write(BatchOp::AddIntent {
                        key,
                        local_name: format!("f{i}"),
                        remote_name: format!("f{i}"),
                        size: i,
                        hash: ContentHash::of_bytes(&i.to_le_bytes()),
                        now_unix: 1,
                    })
                    .await
            });
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
}
