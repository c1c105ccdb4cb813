//! bigin-sync: keeps `<root>/<Module>/<record_id>/` folders in two-way sync with the
//! attachments of Zoho Bigin (or Zoho CRM) records.
//!
//! The crate is split the way data flows (see README "Architecture"):
//! - [`config`]: the TOML file, defaults, validation and secrets;
//! - [`zoho`]: the HTTP client for Zoho's attachments API and OAuth;
//! - `sandbox` (feature `sandbox`, on by default): a faithful in-process fake of that API
//!   for tests and `demo`;
//! - [`journal`]: the SQLite record of what both sides held at the last sync;
//! - [`dir_handle`]: every file access under the root, without following links;
//! - [`scan`]: reading a record folder (stat, hash cache, ignore rules);
//! - [`planner`]: the pure three-way comparison that decides actions;
//! - [`executor`]: performs actions with retry, backoff, intents and trash;
//! - [`watcher`], [`poller`]: decide *when* a record is looked at;
//! - [`daemon`], [`cli`]: process life, signals, systemd, commands;
//! - [`events`]: what the operator must hear about, for metrics and alerts.

#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dir_handle;
pub mod engine;
pub mod events;
pub mod executor;
pub mod follow;
pub mod journal;
pub mod log_fields;
pub mod model;
pub mod planner;
pub mod poller;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod scan;
pub mod watcher;
pub mod zoho;

#[cfg(test)]
mod fuzz;

/// Locks a mutex, recovering from poisoning: a thread that panicked while holding it (a
/// failing test thread, a bug in one task) must not wedge every other user of the data.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
