//! The pure follow planner: from a module's listing, its folders and the journal rows of
//! the folders the daemon made, decide what to do with the folders. No I/O, no clock.
//!
//! Safety rules (property-tested in `proptests`):
//! - a failed listing decides nothing but crash recovery; a partial one (If-Modified-Since)
//!   never finds a record gone;
//! - only folders that still carry a name the daemon gave are renamed or archived; a
//!   folder the user renamed is left alone, and never doubled;
//! - a folder is made only when no folder for that id exists, at most once per id;
//! - a record missing from the listing is archived only after a request confirmed it
//!   gone (204), or, with `on_leave = "archive"`, that it left the view: it exists and
//!   two full listings in a row missed it (Zoho pages by offset, so a record deleted
//!   while a listing is paged can push another one past a page boundary once).

use std::collections::{BTreeSet, HashMap, HashSet};

/// One record of a listing, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The record id (digits).
    pub id: String,
    /// The folder label, already made safe ([`crate::planner::folder_label`]).
    pub label: String,
    /// The hint, `<field>=<value>` (`None` when hints are off or the field is empty):
    /// see [`hint_text`].
    pub hint: Option<String>,
    /// Whether the record passes the `where` filter.
    pub in_scope: bool,
}

/// What listing the module gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// The listing failed or stopped part-way: nothing may be concluded from absence.
    Failed,
    /// Every record of the module (or view).
    Full(Vec<Listed>),
    /// Only the records modified since a time (If-Modified-Since); absence means nothing.
    Partial(Vec<Listed>),
}

/// A record folder found in the module folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Folder {
    /// The record id the folder name starts with.
    pub id: String,
    /// The folder's whole name.
    pub name: String,
}

/// Where a journal row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// Followed.
    Active,
    /// An archive move was decided and may have happened (a crash may have stopped it).
    Archiving,
    /// The folder was moved to the archive.
    Archived,
}

/// The journal row of one record of a followed module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowRow {
    /// The record id.
    pub id: String,
    /// The folder name the daemon gave and the folder still had; `None` for a folder the
    /// user made (or one released by `on_leave = "keep"`).
    pub given: Option<String>,
    /// A name being given (make or rename in flight): written before the `mkdir` or
    /// `rename`, so that after a crash either name is recognised as ours.
    pub pending: Option<String>,
    /// The hint value at the last listing.
    pub hint: Option<String>,
    /// Followed, being archived, or archived.
    pub state: RowState,
}

impl FollowRow {
    /// Whether `name` is a name the daemon gave (or was giving) this record's folder.
    pub fn is_ours(&self, name: &str) -> bool {
        self.given.as_deref() == Some(name) || self.pending.as_deref() == Some(name)
    }
}

/// The answer of `GET /{module}/{id}` for a record missing from the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// 204: the record is gone.
    Gone,
    /// The record exists (it left the view).
    Exists,
    /// The request failed: nothing is concluded.
    Unknown,
}

/// What to do with the folder of a record that left the view or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnLeave {
    /// Leave it in place and followed, like a hand-made folder.
    #[default]
    Keep,
    /// Move it to the archive.
    Archive,
}

/// Why a folder is archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveWhy {
    /// Confirmed deleted in Zoho (204).
    Deleted,
    /// Left the view or filter, with `on_leave = "archive"`.
    LeftScope,
    /// Finishing an archive move a crash interrupted.
    Resume,
}

/// One decision of the planner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowAction {
    /// Make `<root>/<Module>/<name>`.
    Make {
        /// The record.
        id: String,
        /// The folder name, `<id> <label>`.
        name: String,
        /// The hint value to remember with the new row.
        hint: Option<String>,
    },
    /// Rename the folder within the module folder.
    Rename {
        /// The record.
        id: String,
        /// The folder's current name (one the daemon gave).
        from: String,
        /// The name for the record's new label.
        to: String,
    },
    /// Ask Zoho whether the record still exists, then plan again with the answer.
    Confirm {
        /// The record missing from the listing.
        id: String,
    },
    /// Move the folder to `<root>/.archive/<Module>/`.
    Archive {
        /// The record.
        id: String,
        /// The folder's name in the module folder.
        folder: String,
        /// Deleted in Zoho, left the view or filter, or a move to finish.
        why: ArchiveWhy,
    },
    /// The journal row's pending name is settled: the folder is called `name` (and no
    /// longer carries the other one).
    Settle {
        /// The record.
        id: String,
        /// The name the folder has now.
        name: String,
    },
    /// An interrupted archive move had finished: mark the row archived.
    MarkArchived {
        /// The record.
        id: String,
    },
    /// The record left the view or filter with `on_leave = "keep"`: its folder is the
    /// user's from now on (never renamed or archived by the daemon).
    Release {
        /// The record.
        id: String,
    },
    /// Remember the hint value (and create the row of a folder not yet known).
    SetHint {
        /// The record.
        id: String,
        /// The hint field's value at this listing.
        hint: Option<String>,
    },
    /// The record exists but this full listing of the view missed it: remember it. It
    /// has left the view only if the next full listing misses it too.
    Missed {
        /// The record missing from the view's listing.
        id: String,
    },
    /// The hint moved: list the record's attachments now.
    PollNow {
        /// The record whose attachments are listed now.
        id: String,
    },
}

impl FollowAction {
    /// The record the action is about.
    pub fn record_id(&self) -> &str {
        match self {
            FollowAction::Make { id, .. }
            | FollowAction::Rename { id, .. }
            | FollowAction::Confirm { id }
            | FollowAction::Archive { id, .. }
            | FollowAction::Settle { id, .. }
            | FollowAction::MarkArchived { id }
            | FollowAction::Release { id }
            | FollowAction::SetHint { id, .. }
            | FollowAction::Missed { id }
            | FollowAction::PollNow { id } => id,
        }
    }
}

/// Everything the planner looks at for one followed module.
#[derive(Debug, Clone)]
pub struct FollowInput<'a> {
    /// What the module's listing gave.
    pub listing: &'a Listing,
    /// The record folders in the module folder now.
    pub folders: &'a [Folder],
    /// The journal's rows of this module, by record id.
    pub rows: &'a HashMap<String, FollowRow>,
    /// Answers of `GET /{module}/{id}` for records missing from the listing.
    pub confirmed: &'a HashMap<String, Confirmation>,
    /// What happens to a record that leaves the view or filter.
    pub on_leave: OnLeave,
    /// Whether the listing is a view (`cvid`): a record missing from it may still exist.
    pub has_view: bool,
    /// Records the previous full listing of the view missed although they exist (its
    /// [`FollowAction::Missed`]s).
    pub missed_before: &'a HashSet<String>,
}

/// A hint as the journal keeps it: the field's name and its value, so that a change of
/// `hint_field` is not taken for a moved value.
pub fn hint_text(field: &str, value: &str) -> String {
    format!("{field}={value}")
}

/// The field a stored hint came from (`None` for a bare value).
fn hint_field_of(hint: &str) -> Option<&str> {
    hint.split_once('=').map(|(field, _)| field)
}

/// The folder name of a record: `<id> <label>`, or just `<id>` for an empty label.
pub fn folder_name(id: &str, label: &str) -> String {
    if label.is_empty() {
        id.to_string()
    } else {
        format!("{id} {label}")
    }
}

/// Plans one followed module. Call it once with no confirmations; when it returns
/// [`FollowAction::Confirm`]s, ask Zoho and call it again with the answers (the second
/// call returns no `Confirm` for an id that has an answer).
pub fn plan_follow(input: &FollowInput<'_>) -> Vec<FollowAction> {
    let (records, full): (HashMap<&str, &Listed>, bool) = match input.listing {
        Listing::Failed => (HashMap::new(), false),
        Listing::Full(r) => (r.iter().map(|l| (l.id.as_str(), l)).collect(), true),
        Listing::Partial(r) => (r.iter().map(|l| (l.id.as_str(), l)).collect(), false),
    };
    let listed = !matches!(input.listing, Listing::Failed);
    let mut by_id: HashMap<&str, Vec<&Folder>> = HashMap::new();
    for f in input.folders {
        by_id.entry(f.id.as_str()).or_default().push(f);
    }
    let ids: BTreeSet<&str> = records
        .keys()
        .copied()
        .chain(by_id.keys().copied())
        .chain(input.rows.keys().map(String::as_str))
        .collect();

    let mut out = Vec::new();
    for id in ids {
        let folders = by_id.get(id).map_or(&[][..], Vec::as_slice);
        if folders.len() > 1 {
            // Two folders for one record: the scan syncs neither; touching either
            // would be a guess.
            continue;
        }
        let folder = folders.first().copied();
        let row = input.rows.get(id);
        let rec = records.get(id).copied();
        let ours = match (row, folder) {
            (Some(r), Some(f)) => r.state != RowState::Archived && r.is_ours(&f.name),
            _ => false,
        };
        // Crash recovery first: it needs no listing.
        if let (Some(r), Some(f)) = (row, folder)
            && ours
            && r.pending.is_some()
        {
            out.push(FollowAction::Settle {
                id: id.to_string(),
                name: f.name.clone(),
            });
        }
        if let Some(r) = row
            && r.state == RowState::Archiving
        {
            match folder {
                Some(f) if ours => out.push(FollowAction::Archive {
                    id: id.to_string(),
                    folder: f.name.clone(),
                    why: ArchiveWhy::Resume,
                }),
                // Moved before the crash (or the user moved it): nothing left to move.
                _ => out.push(FollowAction::MarkArchived { id: id.to_string() }),
            }
            continue;
        }
        if !listed {
            continue;
        }
        let archived = row.is_some_and(|r| r.state == RowState::Archived);
        if let Some(rec) = rec
            && (folder.is_some() || row.is_some() && !archived)
        {
            let known = row.map(|r| &r.hint);
            if known != Some(&rec.hint) {
                out.push(FollowAction::SetHint {
                    id: id.to_string(),
                    hint: rec.hint.clone(),
                });
                // Only a value that moved brings a poll forward: not a first sighting,
                // and not a change of `hint_field` in the config (which would poll
                // every record at once).
                if folder.is_some()
                    && let (Some(Some(old)), Some(new)) = (known, &rec.hint)
                    && hint_field_of(old) == hint_field_of(new)
                {
                    out.push(FollowAction::PollNow { id: id.to_string() });
                }
            }
        }
        match (rec, folder) {
            (Some(rec), None) => {
                // A folder the user removed (we made it, or it was theirs) is not made
                // again; a make a crash interrupted is.
                let removed = row.is_some_and(|r| {
                    r.state == RowState::Active && (r.given.is_some() || r.pending.is_none())
                });
                if rec.in_scope && !removed {
                    out.push(FollowAction::Make {
                        id: id.to_string(),
                        name: folder_name(id, &rec.label),
                        hint: rec.hint.clone(),
                    });
                }
            }
            (Some(rec), Some(f)) if ours => {
                if rec.in_scope {
                    let want = folder_name(id, &rec.label);
                    if f.name != want {
                        out.push(FollowAction::Rename {
                            id: id.to_string(),
                            from: f.name.clone(),
                            to: want,
                        });
                    }
                } else {
                    out.push(leave(input.on_leave, id, f));
                }
            }
            (None, Some(f)) if ours && full => match input.confirmed.get(id) {
                None => out.push(FollowAction::Confirm { id: id.to_string() }),
                Some(Confirmation::Gone) => out.push(FollowAction::Archive {
                    id: id.to_string(),
                    folder: f.name.clone(),
                    why: ArchiveWhy::Deleted,
                }),
                Some(Confirmation::Exists) if input.has_view => {
                    if input.missed_before.contains(id) {
                        out.push(leave(input.on_leave, id, f))
                    } else {
                        out.push(FollowAction::Missed { id: id.to_string() })
                    }
                }
                // Exists without a view: listed too late or too early; look again next
                // time. Unknown: the request failed.
                Some(_) => {}
            },
            _ => {}
        }
    }
    out
}

fn leave(on_leave: OnLeave, id: &str, f: &Folder) -> FollowAction {
    match on_leave {
        OnLeave::Keep => FollowAction::Release { id: id.to_string() },
        OnLeave::Archive => FollowAction::Archive {
            id: id.to_string(),
            folder: f.name.clone(),
            why: ArchiveWhy::LeftScope,
        },
    }
}
