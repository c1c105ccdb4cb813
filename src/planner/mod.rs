//! The pure three-way planner: `plan(local, remote, synced) -> actions`.
//!
//! No I/O, no clock reads, no randomness: every rule is a unit test and the whole is
//! property-tested.

pub mod types;

pub use types::*;
