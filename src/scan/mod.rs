//! Reading the local side: which record folders exist under the root
//! ([`discover_records`]) and which regular files one record folder holds
//! ([`scan_record`]), with ignore rules, a hash cache and stability detection.
//!
//! The scanner never follows symlinks and never writes. Anything it does not sync is
//! returned with a reason, so the caller can log one line per skipped item.

mod discover;
mod error;
mod fingerprint;
mod hash;
mod ignore;
mod probe;
mod record;
#[cfg(test)]
mod tests;
mod urlfile;

pub use discover::{Discovery, RecordFolder, discover_records, parse_record_folder_name};
pub use error::ScanError;
pub use fingerprint::{Fingerprint, fingerprint, first_u64};
pub use hash::hash_reader;
pub use ignore::IgnoreRules;
pub use probe::probe_name_folding;
pub use record::{ScanOutcome, SkipReason, Skipped, scan_record};
pub use urlfile::{UnsafeLink, check_link_url, parse_url_file, render_url_file};
