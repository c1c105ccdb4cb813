//! Property tests of the follow planner: random listings, folders, journal rows and
//! confirmations; the safety rules of `plan` must hold for all of them, and applying the
//! plan must converge (planning again makes, renames and archives nothing).

use super::plan::*;
use proptest::prelude::*;
use std::collections::HashMap;

const IDS: &[&str] = &["100001", "100002", "100003", "100004"];
const LABELS: &[&str] = &["", "Acme", "Acme Ltd"];

fn name_of(id: &str, pick: u8) -> String {
    match pick % 4 {
        0 => id.to_string(),
        1 => format!("{id} Acme"),
        2 => format!("{id} Acme Ltd"),
        _ => format!("{id} my own name"),
    }
}

fn hint(pick: u8) -> Option<String> {
    match pick % 3 {
        0 => None,
        n => Some(format!("2026-12-0{n}T10:00:00+00:00")),
    }
}

#[derive(Debug, Clone)]
struct Case {
    listing: Listing,
    folders: Vec<Folder>,
    rows: HashMap<String, FollowRow>,
    confirmed: HashMap<String, Confirmation>,
    on_leave: OnLeave,
    has_view: bool,
    missed_before: std::collections::HashSet<String>,
}

fn case() -> impl Strategy<Value = Case> {
    let per_id = (
        // listed?, label, hint, in scope
        (any::<bool>(), 0..3usize, any::<u8>(), any::<bool>()),
        // folders: how many (0..=2) and their names
        (0..3usize, any::<u8>(), any::<u8>()),
        // row: present?, given, pending, hint, state
        (any::<bool>(), any::<u8>(), any::<u8>(), any::<u8>(), 0..3u8),
        // confirmation, missed by the previous full listing
        (0..4u8, any::<bool>()),
    );
    (
        proptest::collection::vec(per_id, IDS.len()),
        0..3u8,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(per, kind, archive, has_view)| {
            let mut listed = Vec::new();
            let mut folders = Vec::new();
            let mut rows = HashMap::new();
            let mut confirmed = HashMap::new();
            let mut missed_before = std::collections::HashSet::new();
            for (id, ((l, label, h, scope), (nf, f1, f2), (r, g, p, rh, st), (c, missed))) in
                IDS.iter().zip(per)
            {
                if l {
                    listed.push(Listed {
                        id: id.to_string(),
                        label: LABELS[label].to_string(),
                        hint: hint(h),
                        in_scope: scope,
                    });
                }
                for pick in [f1, f2].into_iter().take(nf) {
                    folders.push(Folder {
                        id: id.to_string(),
                        name: name_of(id, pick),
                    });
                }
                if r {
                    rows.insert(
                        id.to_string(),
                        FollowRow {
                            id: id.to_string(),
                            given: (g % 5 != 4).then(|| name_of(id, g)),
                            pending: (p % 3 == 0).then(|| name_of(id, p / 3)),
                            hint: hint(rh),
                            state: [RowState::Active, RowState::Archiving, RowState::Archived]
                                [st as usize],
                        },
                    );
                }
                if missed {
                    missed_before.insert(id.to_string());
                }
                match c {
                    0 => {}
                    1 => {
                        confirmed.insert(id.to_string(), Confirmation::Gone);
                    }
                    2 => {
                        confirmed.insert(id.to_string(), Confirmation::Exists);
                    }
                    _ => {
                        confirmed.insert(id.to_string(), Confirmation::Unknown);
                    }
                }
            }
            let listing = match kind {
                0 => Listing::Failed,
                1 => Listing::Full(listed),
                _ => Listing::Partial(listed),
            };
            Case {
                listing,
                folders,
                rows,
                confirmed,
                on_leave: if archive {
                    OnLeave::Archive
                } else {
                    OnLeave::Keep
                },
                has_view,
                missed_before,
            }
        })
}

fn plan_of(c: &Case) -> Vec<FollowAction> {
    plan_follow(&FollowInput {
        listing: &c.listing,
        folders: &c.folders,
        rows: &c.rows,
        confirmed: &c.confirmed,
        on_leave: c.on_leave,
        has_view: c.has_view,
        missed_before: &c.missed_before,
    })
}

/// Applies the plan the way the daemon does (folders and rows), in order.
fn apply(c: &mut Case, plan: &[FollowAction]) {
    let row = |rows: &mut HashMap<String, FollowRow>, id: &str| -> FollowRow {
        rows.remove(id).unwrap_or(FollowRow {
            id: id.to_string(),
            given: None,
            pending: None,
            hint: None,
            state: RowState::Active,
        })
    };
    for a in plan {
        match a {
            FollowAction::Make { id, name, hint } => {
                c.folders.push(Folder {
                    id: id.clone(),
                    name: name.clone(),
                });
                c.rows.insert(
                    id.clone(),
                    FollowRow {
                        id: id.clone(),
                        given: Some(name.clone()),
                        pending: None,
                        hint: hint.clone(),
                        state: RowState::Active,
                    },
                );
            }
            FollowAction::Rename { id, from, to } => {
                for f in c.folders.iter_mut().filter(|f| &f.name == from) {
                    f.name = to.clone();
                }
                let mut r = row(&mut c.rows, id);
                r.given = Some(to.clone());
                r.pending = None;
                c.rows.insert(id.clone(), r);
            }
            FollowAction::Archive { id, folder, .. } => {
                c.folders.retain(|f| &f.name != folder);
                let mut r = row(&mut c.rows, id);
                r.state = RowState::Archived;
                r.given = None;
                r.pending = None;
                c.rows.insert(id.clone(), r);
            }
            FollowAction::Settle { id, name } => {
                let mut r = row(&mut c.rows, id);
                r.given = Some(name.clone());
                r.pending = None;
                c.rows.insert(id.clone(), r);
            }
            FollowAction::MarkArchived { id } => {
                let mut r = row(&mut c.rows, id);
                r.state = RowState::Archived;
                r.given = None;
                r.pending = None;
                c.rows.insert(id.clone(), r);
            }
            FollowAction::Release { id } => {
                let mut r = row(&mut c.rows, id);
                r.given = None;
                r.pending = None;
                c.rows.insert(id.clone(), r);
            }
            FollowAction::SetHint { id, hint } => {
                let mut r = row(&mut c.rows, id);
                r.hint = hint.clone();
                c.rows.insert(id.clone(), r);
            }
            FollowAction::Confirm { .. }
            | FollowAction::PollNow { .. }
            | FollowAction::Missed { .. } => {}
        }
    }
}

/// Whether the case shows that `id` left the view or filter: listed out of the filter's
/// scope, or (with a view) confirmed to exist and missed by two full listings in a row.
fn left_scope(c: &Case, id: &str) -> bool {
    match &c.listing {
        Listing::Full(l) | Listing::Partial(l) if l.iter().any(|r| r.id == id) => {
            l.iter().any(|r| r.id == id && !r.in_scope)
        }
        Listing::Full(_) => {
            c.has_view
                && c.confirmed.get(id) == Some(&Confirmation::Exists)
                && c.missed_before.contains(id)
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn follow_plans_are_safe_and_converge(c in case()) {
        let plan = plan_of(&c);
        let folders_of = |id: &str| c.folders.iter().filter(|f| f.id == id).count();
        let mut made = std::collections::HashSet::new();
        for a in &plan {
            match a {
                FollowAction::Make { id, .. } => {
                    prop_assert!(!matches!(c.listing, Listing::Failed));
                    prop_assert_eq!(folders_of(id), 0, "a second folder for {}", id);
                    prop_assert!(made.insert(id.clone()), "two makes for {}", id);
                }
                FollowAction::Rename { id, from, .. } => {
                    prop_assert!(!matches!(c.listing, Listing::Failed));
                    prop_assert_eq!(folders_of(id), 1);
                    let r = &c.rows[id];
                    prop_assert!(r.is_ours(from), "renamed a folder the user named: {}", from);
                }
                FollowAction::Archive { id, folder, why } => {
                    prop_assert_eq!(folders_of(id), 1);
                    let r = &c.rows[id];
                    prop_assert!(r.is_ours(folder), "archived a folder the user named");
                    match why {
                        ArchiveWhy::Deleted => {
                            prop_assert!(matches!(c.listing, Listing::Full(_)), "archived on a partial or failed listing");
                            prop_assert_eq!(c.confirmed.get(id), Some(&Confirmation::Gone));
                        }
                        ArchiveWhy::LeftScope => {
                            prop_assert!(!matches!(c.listing, Listing::Failed));
                            prop_assert_eq!(c.on_leave, OnLeave::Archive);
                            prop_assert!(left_scope(&c, id), "archived {} as out of scope on one listing's absence", id);
                        }
                        ArchiveWhy::Resume => prop_assert_eq!(r.state, RowState::Archiving),
                    }
                }
                FollowAction::Confirm { id } => {
                    prop_assert!(matches!(c.listing, Listing::Full(_)));
                    prop_assert!(!c.confirmed.contains_key(id));
                }
                FollowAction::Release { id } => {
                    prop_assert!(!matches!(c.listing, Listing::Failed));
                    prop_assert!(left_scope(&c, id), "released {} on one listing's absence", id);
                }
                FollowAction::Missed { id } => {
                    prop_assert!(matches!(c.listing, Listing::Full(_)) && c.has_view);
                    prop_assert_eq!(c.confirmed.get(id), Some(&Confirmation::Exists));
                    prop_assert!(!c.missed_before.contains(id));
                }
                FollowAction::SetHint { .. } | FollowAction::PollNow { .. } => {
                    prop_assert!(!matches!(c.listing, Listing::Failed));
                }
                FollowAction::Settle { .. } | FollowAction::MarkArchived { .. } => {}
            }
        }
        // Converges: once applied, the same inputs plan no folder operation.
        let mut after = c.clone();
        apply(&mut after, &plan);
        let again = plan_of(&after);
        // An interrupted archive finished this round; a record back in scope gets a new
        // folder at the next one.
        let finished: Vec<&str> = plan.iter().filter_map(|a| match a {
            FollowAction::Archive { id, why: ArchiveWhy::Resume, .. } | FollowAction::MarkArchived { id } => Some(id.as_str()),
            _ => None,
        }).collect();
        for a in &again {
            if let FollowAction::Make { id, .. } = a && finished.contains(&id.as_str()) {
                continue;
            }
            prop_assert!(
                !matches!(a, FollowAction::Make { .. } | FollowAction::Rename { .. } | FollowAction::Archive { .. } | FollowAction::Settle { .. }),
                "not converged: {:?} after {:?}", a, plan
            );
        }
        for id in IDS {
            let n = after.folders.iter().filter(|f| f.id == *id).count();
            prop_assert!(n <= folders_of(id).max(1), "folders for {} went from {} to {}", id, folders_of(id), n);
        }
    }
}
