//! The names of the structured fields that log lines about a record or a file carry, in
//! one place so that every line names them alike: in JSON logs they are keys, in the
//! journal they become `RECORD`, `MODULE`, `FILE`, `ACTION`, `ATTACHMENT_ID` and `BYTES`
//! (see [`crate::daemon::logging`]), so `journalctl RECORD=2034…` finds every line
//! about a record. Used as `tracing::info!({ RECORD } = %key.record_id, …)`.

/// The record's id (without its module), e.g. `2034020000000489124`.
pub const RECORD: &str = "record";
/// The record's module, e.g. `Contacts`.
pub const MODULE: &str = "module";
/// The file's name in the record folder.
pub const FILE: &str = "file";
/// What was done: `upload`, `download`, `delete`, …
pub const ACTION: &str = "action";
/// The Zoho attachment id.
pub const ATTACHMENT_ID: &str = "attachment_id";
/// Bytes moved.
pub const BYTES: &str = "bytes";

/// Every field above, in that order.
pub const ALL: [&str; 6] = [RECORD, MODULE, FILE, ACTION, ATTACHMENT_ID, BYTES];
