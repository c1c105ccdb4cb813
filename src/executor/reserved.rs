//! Upload intents written for a whole pass before its uploads start.
//!
//! An upload's intent must be committed before its body is sent. Written one by one,
//! that is one transaction per upload, a fifth of a bulk upload's CPU. A pass knows its
//! uploads up front, so the engine reserves all their intents in one transaction. Each
//! upload takes its reserved intent and then follows the usual rules (cleared together
//! with its entry, kept when the outcome is unknown); the ones no upload took (skipped,
//! changed meanwhile) are dropped when the pass ends. An intent written early is as safe
//! as one written just in time: recovery adopts an attachment only when its content
//! matches the intent's hash, and one that matches nothing is removed.

use super::{Executor, RecordWork};
use crate::journal::NewIntent;
use crate::model::RecordKey;
use crate::planner::Action;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The intents reserved for one pass, by record and local name.
#[derive(Debug, Default)]
pub struct PassIntents {
    reserved: Mutex<HashMap<(RecordKey, String), (NewIntent, i64)>>,
}

impl PassIntents {
    /// No reservations: every upload writes its own intent.
    pub fn none() -> Self {
        PassIntents::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(RecordKey, String), (NewIntent, i64)>> {
        self.reserved.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The id of the intent reserved for exactly this upload, if any; taken once.
    pub(super) fn take(&self, key: &RecordKey, intent: &NewIntent) -> Option<i64> {
        let mut m = self.lock();
        let slot = (key.clone(), intent.local_name.clone());
        match m.get(&slot) {
            Some((reserved, _)) if reserved == intent => m.remove(&slot).map(|(_, id)| id),
            _ => None,
        }
    }

    /// Ids no upload took.
    fn left(&self) -> Vec<i64> {
        self.lock().values().map(|(_, id)| *id).collect()
    }
}

/// The intent an action will need: file uploads and replaces (a `.url` file becomes a
/// link, which needs none).
fn intent_of(work: &RecordWork, action: &Action) -> Option<NewIntent> {
    let (local_name, remote_name) = match action {
        Action::Upload {
            local_name,
            remote_name,
        }
        | Action::Replace {
            local_name,
            remote_name,
            ..
        } => (local_name, remote_name),
        _ => return None,
    };
    let local = work.local.get(local_name)?;
    if local.link_url.is_some() {
        return None;
    }
    Some(NewIntent {
        local_name: local_name.clone(),
        remote_name: remote_name.clone(),
        size: local.size,
        hash: local.hash,
    })
}

impl Executor {
    /// Writes the intents of every upload in `jobs` in one transaction. On a journal
    /// error nothing is reserved and each upload writes its own intent as it starts.
    pub async fn reserve_intents(&self, jobs: &[(Arc<RecordWork>, Action)]) -> PassIntents {
        let wanted: Vec<(RecordKey, NewIntent)> = jobs
            .iter()
            .filter_map(|(w, a)| intent_of(w, a).map(|i| (w.key.clone(), i)))
            .collect();
        if wanted.len() < 2 {
            // Nothing to share a transaction with.
            return PassIntents::none();
        }
        let now = crate::model::unix_now();
        let rows = wanted.clone();
        match self.db(move |j| j.add_intents(&rows, now)).await {
            Ok(ids) => PassIntents {
                reserved: Mutex::new(
                    wanted
                        .into_iter()
                        .zip(ids)
                        .map(|((key, i), id)| ((key, i.local_name.clone()), (i, id)))
                        .collect(),
                ),
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not write this pass's upload intents at once; each upload writes its own");
                PassIntents::none()
            }
        }
    }

    /// Drops the intents no upload of the pass took. If that fails they stay, and the
    /// next reconcile of their record finds no matching attachment and removes them.
    pub async fn release_intents(&self, intents: PassIntents) {
        let left = intents.left();
        if left.is_empty() {
            return;
        }
        if let Err(e) = self.db(move |j| j.remove_intents(&left)).await {
            tracing::warn!(error = %e, "could not drop unused upload intents; the next reconcile does");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContentHash;

    fn key() -> RecordKey {
        RecordKey {
            module: "Contacts".into(),
            record_id: "1".into(),
        }
    }

    fn intent(name: &str, size: u64) -> NewIntent {
        NewIntent {
            local_name: name.into(),
            remote_name: name.into(),
            size,
            hash: ContentHash::of_bytes(name.as_bytes()),
        }
    }

    #[test]
    fn a_reservation_is_taken_once_and_only_for_the_same_upload() {
        let p = PassIntents::none();
        p.lock().insert((key(), "a".into()), (intent("a", 1), 7));
        p.lock().insert((key(), "b".into()), (intent("b", 1), 8));
        assert_eq!(p.take(&key(), &intent("a", 2)), None, "other size");
        assert_eq!(p.take(&key(), &intent("a", 1)), Some(7));
        assert_eq!(p.take(&key(), &intent("a", 1)), None, "taken once");
        assert_eq!(p.left(), vec![8]);
    }
}
