//! The verdict of `status`: one answer (and exit code) a monitoring check can act on.
//!
//! - 0 `in_sync`: nothing to do, nothing wrong;
//! - 1 `work_pending`: actions waiting or failures being retried; they should clear by
//!   themselves;
//! - 2 `needs_person`: something waits for a human: a parked entry, a conflict copy still
//!   on disk, deletes held back by the delete guard, Zoho refusing the refresh token;
//! - 3 `cannot_tell`: no journal (nothing synced yet with this config) or it cannot be
//!   read.
//!
//! "A conflict not yet seen" is a conflict copy the daemon made that is still on disk
//! (tracked in the journal): the state clears when the user has looked, kept the right
//! version and deleted the copy. A flag cleared by merely running `status` would be
//! lost to whichever of the cron check or the admin looked first, and `status` would
//! have to write to the journal it only reads.

use serde_json::{Value, json};

/// What `status` concludes, from the best to the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Nothing to do, nothing wrong.
    InSync,
    /// Work waits or is being retried; it should clear by itself.
    WorkPending,
    /// A person has to act.
    NeedsPerson,
    /// No journal to judge from.
    CannotTell,
}

impl Verdict {
    /// The process exit code of `status`.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::InSync => 0,
            Verdict::WorkPending => 1,
            Verdict::NeedsPerson => 2,
            Verdict::CannotTell => 3,
        }
    }

    /// The name in `status --json`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::InSync => "in_sync",
            Verdict::WorkPending => "work_pending",
            Verdict::NeedsPerson => "needs_person",
            Verdict::CannotTell => "cannot_tell",
        }
    }
}

/// What the verdict is drawn from, all read from the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Actions the daemon has planned but not done, and uploads whose outcome is unknown.
    pub pending: u64,
    /// Failing entries still retried with backoff.
    pub retrying: u64,
    /// Entries parked until the file changes or `bigin-sync retry`.
    pub parked: u64,
    /// Conflict copies on disk.
    pub conflict_copies: u64,
    /// Records whose deletes the delete guard holds back, and how many deletes.
    pub guarded_records: u64,
    /// Deletes held back over all those records.
    pub guarded_deletes: u64,
    /// Zoho's reason for refusing the refresh token, while it does.
    pub auth_refused: Option<String>,
}

/// A verdict with the reasons for it (worst first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The verdict.
    pub verdict: Verdict,
    /// One plain sentence per reason, worst first; empty when in sync.
    pub reasons: Vec<String>,
}

impl Assessment {
    /// The verdict's fields of `status --json`.
    pub fn to_json(&self) -> Value {
        json!({
            "verdict": self.verdict.name(),
            "exit_code": self.verdict.exit_code(),
            "reasons": self.reasons,
        })
    }
}

/// Judges `facts`; `None` (no journal) cannot be judged.
pub fn assess(facts: Option<&Facts>) -> Assessment {
    let Some(f) = facts else {
        return Assessment {
            verdict: Verdict::CannotTell,
            reasons: vec!["no journal yet: bigin-sync has not synced with this config".into()],
        };
    };
    let mut found: Vec<(Verdict, String)> = Vec::new();
    if let Some(why) = &f.auth_refused {
        found.push((
            Verdict::NeedsPerson,
            format!(
                "Zoho refuses the OAuth credentials: {why}; \
                 `bigin-sync check` tells more, `bigin-sync auth` gets a new refresh token"
            ),
        ));
    }
    if f.guarded_records > 0 {
        found.push((
            Verdict::NeedsPerson,
            format!(
                "the delete guard holds back {} deletes in {} records; \
                 run `bigin-sync once --confirm-deletes` if they are intended",
                f.guarded_deletes, f.guarded_records
            ),
        ));
    }
    if f.parked > 0 {
        found.push((
            Verdict::NeedsPerson,
            format!(
                "{} entries parked; fix them, then run `bigin-sync retry`",
                f.parked
            ),
        ));
    }
    if f.conflict_copies > 0 {
        found.push((
            Verdict::NeedsPerson,
            format!(
                "{} conflict copies on disk; keep the right version and delete the copy",
                f.conflict_copies
            ),
        ));
    }
    if f.retrying > 0 {
        found.push((
            Verdict::WorkPending,
            format!("{} failing entries being retried", f.retrying),
        ));
    }
    if f.pending > 0 {
        found.push((
            Verdict::WorkPending,
            format!("{} actions pending", f.pending),
        ));
    }
    // Stable: reasons of one verdict keep the order above.
    found.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
    Assessment {
        verdict: found.first().map_or(Verdict::InSync, |(v, _)| *v),
        reasons: found.into_iter().map(|(_, r)| r).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(f: Facts) -> Verdict {
        assess(Some(&f)).verdict
    }

    #[test]
    fn no_journal_cannot_tell() {
        let a = assess(None);
        assert_eq!(a.verdict, Verdict::CannotTell);
        assert_eq!(a.verdict.exit_code(), 3);
        assert_eq!(a.to_json()["verdict"], "cannot_tell");
    }

    #[test]
    fn nothing_is_in_sync() {
        let a = assess(Some(&Facts::default()));
        assert_eq!(a.verdict, Verdict::InSync);
        assert!(a.reasons.is_empty());
        assert_eq!(a.to_json()["exit_code"], 0);
    }

    #[test]
    fn pending_or_retrying_is_work_pending() {
        for f in [
            Facts {
                pending: 3,
                ..Facts::default()
            },
            Facts {
                retrying: 1,
                ..Facts::default()
            },
        ] {
            assert_eq!(verdict(f), Verdict::WorkPending);
        }
        assert_eq!(Verdict::WorkPending.exit_code(), 1);
    }

    #[test]
    fn each_cause_alone_needs_a_person() {
        let causes = [
            Facts {
                parked: 1,
                ..Facts::default()
            },
            Facts {
                conflict_copies: 1,
                ..Facts::default()
            },
            Facts {
                guarded_records: 1,
                guarded_deletes: 8,
                ..Facts::default()
            },
            Facts {
                auth_refused: Some("invalid_code".into()),
                ..Facts::default()
            },
        ];
        for f in causes {
            let a = assess(Some(&f));
            assert_eq!(a.verdict, Verdict::NeedsPerson, "{f:?}");
            assert_eq!(a.verdict.exit_code(), 2);
            assert_eq!(a.reasons.len(), 1, "{f:?}");
        }
    }

    #[test]
    fn the_worst_wins_and_every_reason_is_listed_worst_first() {
        let a = assess(Some(&Facts {
            pending: 2,
            parked: 1,
            ..Facts::default()
        }));
        assert_eq!(a.verdict, Verdict::NeedsPerson);
        assert_eq!(a.reasons.len(), 2);
        assert!(a.reasons[0].contains("parked"), "{:?}", a.reasons);
        assert!(a.reasons[1].contains("pending"), "{:?}", a.reasons);
        let j = a.to_json();
        assert_eq!(j["verdict"], "needs_person");
        assert_eq!(j["reasons"].as_array().unwrap().len(), 2);
    }
}
