//! The pure three-way planner: `plan(local, remote, synced) -> actions`.
//!
//! No I/O, no clock reads, no randomness: every rule is a unit test and the whole is
//! property-tested against an in-memory model of the executor.

mod guard;
mod names;
mod plan;
mod preflight;
mod superseded;
pub mod types;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use guard::guard_deletes;
pub use names::{
    FoldedNames, MAX_LABEL_BYTES, NameFolding, TakenNames, conflict_name, folder_label,
    is_conflict_copy, is_format_char, link_file_name, link_title_from_file, local_name_for,
};
pub use plan::{plan, plan_record};
pub use preflight::{UploadRules, preflight};
pub use superseded::{SupersededFate, set_superseded_aside};
pub use types::*;
