//! The mass-delete guard: one pass may not delete a large share of what is tracked.
//!
//! A wiped folder, a mis-mounted disk or a bad list answer all look like "the user deleted
//! everything"; refusing such a pass costs one confirmation, while obeying it could cost
//! every file.

use super::types::Action;

/// Guards below this many tracked entries never block: small records legitimately lose
/// most of their files at once.
const MIN_TRACKED_FOR_GUARD: usize = 10;

/// Delete guard across a whole pass (the plans of every record in it): when `tracked`
/// (the entries the journal holds) is over 10 and the deletes in `plans` exceed
/// `max_delete_percent` of it, every delete is taken out of every plan; an unknown count
/// (`None`) holds every delete back too. Returns how many deletes were held back (0 when
/// the pass may delete); the caller logs an ERROR saying how to confirm when it is not 0.
/// Other actions always go on, in their order, so the rest of the sync is not held
/// hostage.
pub fn guard_deletes<'a>(
    plans: impl IntoIterator<Item = &'a mut Vec<Action>>,
    tracked: Option<usize>,
    max_delete_percent: u8,
) -> usize {
    let mut plans: Vec<&mut Vec<Action>> = plans.into_iter().collect();
    let deletes: usize = plans
        .iter()
        .map(|p| p.iter().filter(|a| a.is_delete()).count())
        .sum();
    let allowed = match tracked {
        // Integer compare of deletes/tracked > pct/100, without rounding.
        Some(tracked) => {
            tracked <= MIN_TRACKED_FOR_GUARD
                || deletes * 100 <= tracked * usize::from(max_delete_percent)
        }
        None => false,
    };
    if deletes == 0 || allowed {
        return 0;
    }
    for p in &mut plans {
        p.retain(|a| !a.is_delete());
    }
    deletes
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

    /// [`guard_deletes`] over one plan: what is left of it, and how many were held back.
    fn guard(mut actions: Vec<Action>, tracked: usize, pct: u8) -> (Vec<Action>, usize) {
        let blocked = guard_deletes([&mut actions], Some(tracked), pct);
        (actions, blocked)
    }

    #[test]
    fn ten_tracked_is_never_guarded() {
        let out = guard(deletes(10), 10, 50);
        assert_eq!(out.1, 0);
        assert_eq!(out.0.len(), 11);
    }

    #[test]
    fn eleven_tracked_over_half_is_blocked_but_others_go_on() {
        let out = guard(deletes(6), 11, 50);
        assert_eq!(out.1, 6);
        assert_eq!(
            out.0,
            vec![Action::Upload {
                local_name: "new".into(),
                remote_name: "new".into()
            }]
        );
    }

    #[test]
    fn eleven_tracked_under_half_passes() {
        let out = guard(deletes(5), 11, 50);
        assert_eq!(out.1, 0);
        assert_eq!(out.0.len(), 6);
    }

    #[test]
    fn exactly_fifty_percent_passes() {
        let out = guard(deletes(6), 12, 50);
        assert_eq!(out.1, 0);
        assert_eq!(out.0.len(), 7);
        let out = guard(deletes(7), 12, 50);
        assert_eq!(out.1, 7);
    }

    #[test]
    fn trash_counts_as_delete_and_zero_percent_blocks_any() {
        let actions = vec![Action::TrashLocal {
            local_name: "a".into(),
            attachment_id: "1".into(),
        }];
        let out = guard(actions, 20, 0);
        assert_eq!(out.1, 1);
        assert!(out.0.is_empty());
    }

    #[test]
    fn no_deletes_is_untouched() {
        let out = guard(deletes(0), 100, 0);
        assert_eq!(out.1, 0);
        assert_eq!(out.0.len(), 1);
    }

    #[test]
    fn an_unknown_count_holds_every_delete_back_across_the_plans() {
        let mut a = deletes(1);
        let mut b = deletes(2);
        assert_eq!(guard_deletes([&mut a, &mut b], None, 100), 3);
        assert!(a.iter().chain(&b).all(|x| !x.is_delete()));
        assert_eq!((a.len(), b.len()), (1, 1));
    }

    #[test]
    fn the_deletes_of_all_plans_are_weighed_together() {
        // 3 + 3 of 11 tracked: each plan alone is under half, the pass is not.
        let mut a = deletes(3);
        let mut b = deletes(3);
        assert_eq!(guard_deletes([&mut a, &mut b], Some(11), 50), 6);
        assert_eq!((a.len(), b.len()), (1, 1));
    }
}
