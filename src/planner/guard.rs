//! The mass-delete guard: one pass may not delete a large share of what is tracked.
//!
//! A wiped folder, a mis-mounted disk or a bad list answer all look like "the user deleted
//! everything"; refusing such a pass costs one confirmation, while obeying it could cost
//! every file.

use super::types::Action;

/// Guards below this many tracked entries never block: small records legitimately lose
/// most of their files at once.
const MIN_TRACKED_FOR_GUARD: usize = 10;

/// What is left of a pass after the guard looked at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardOutcome {
    /// The actions to run: all of them, or all but the deletes.
    pub actions: Vec<Action>,
    /// How many deletes were withheld (0 when the pass was allowed); the caller logs an
    /// ERROR saying how to confirm when this is not 0.
    pub blocked_deletes: usize,
}

/// Delete guard across a whole pass: when `tracked` > 10 and the deletes in `actions`
/// exceed `max_delete_percent` of `tracked`, every delete is removed and counted in
/// `blocked_deletes`; otherwise the actions are returned unchanged. Non-delete actions
/// always go on so the rest of the sync is not held hostage.
pub fn guard_deletes(actions: Vec<Action>, tracked: usize, max_delete_percent: u8) -> GuardOutcome {
    let deletes = actions.iter().filter(|a| a.is_delete()).count();
    // Integer compare of deletes/tracked > pct/100, without rounding.
    let too_many = deletes * 100 > tracked * usize::from(max_delete_percent);
    if tracked > MIN_TRACKED_FOR_GUARD && too_many {
        let actions = actions.into_iter().filter(|a| !a.is_delete()).collect();
        GuardOutcome {
            actions,
            blocked_deletes: deletes,
        }
    } else {
        GuardOutcome {
            actions,
            blocked_deletes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deletes(n: usize) -> Vec<Action> {
        let mut v: Vec<Action> = (0..n)
            .map(|i| Action::DeleteRemote {
                attachment_id: format!("id{i}"),
                local_name: format!("f{i}"),
            })
            .collect();
        v.push(Action::Upload {
            local_name: "new".into(),
            remote_name: "new".into(),
        });
        v
    }

    #[test]
    fn ten_tracked_is_never_guarded() {
        let out = guard_deletes(deletes(10), 10, 50);
        assert_eq!(out.blocked_deletes, 0);
        assert_eq!(out.actions.len(), 11);
    }

    #[test]
    fn eleven_tracked_over_half_is_blocked_but_others_go_on() {
        let out = guard_deletes(deletes(6), 11, 50);
        assert_eq!(out.blocked_deletes, 6);
        assert_eq!(
            out.actions,
            vec![Action::Upload {
                local_name: "new".into(),
                remote_name: "new".into()
            }]
        );
    }

    #[test]
    fn eleven_tracked_under_half_passes() {
        let out = guard_deletes(deletes(5), 11, 50);
        assert_eq!(out.blocked_deletes, 0);
        assert_eq!(out.actions.len(), 6);
    }

    #[test]
    fn exactly_fifty_percent_passes() {
        let out = guard_deletes(deletes(6), 12, 50);
        assert_eq!(out.blocked_deletes, 0);
        assert_eq!(out.actions.len(), 7);
        let out = guard_deletes(deletes(7), 12, 50);
        assert_eq!(out.blocked_deletes, 7);
    }

    #[test]
    fn trash_counts_as_delete_and_zero_percent_blocks_any() {
        let actions = vec![Action::TrashLocal {
            local_name: "a".into(),
            attachment_id: "1".into(),
        }];
        let out = guard_deletes(actions, 20, 0);
        assert_eq!(out.blocked_deletes, 1);
        assert!(out.actions.is_empty());
    }

    #[test]
    fn no_deletes_is_untouched() {
        let out = guard_deletes(deletes(0), 100, 0);
        assert_eq!(out.blocked_deletes, 0);
        assert_eq!(out.actions.len(), 1);
    }
}
