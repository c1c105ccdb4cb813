//! Configuration: the TOML file (`/etc/bigin-sync/config.toml` by default), its defaults,
//! validation, and secrets.
//!
//! The file is read into permissive `raw` structs (all keys optional, unknown keys refused)
//! and then validated into [`Config`], whose fields are always usable: durations parsed,
//! paths absolute, hosts chosen, secrets loaded. Every rejection names the file, the dotted
//! key and what was expected, because the operator's only interface is that message.

mod duration;
mod error;
mod follow;
mod locate;
mod paths;
mod raw;
mod secrets;
mod tuning;
mod validate;
mod warnings;

#[cfg(test)]
mod tests;

pub use duration::{format_duration, parse_duration};
pub use error::ConfigError;
pub use follow::{DEFAULT_HINT_FIELD, FollowSettings};
pub use paths::{
    CONFIG_ENV, DEFAULT_CONFIG_PATH, resolve_config_path, resolve_config_path_with_env,
};
pub use tuning::{ACTIONS_PER_REQUEST, DEBOUNCE_FLOOR, RECONCILES_PER_REQUEST, Tuning};
pub use warnings::warnings;

use crate::model::Product;
use crate::planner::Direction;
use crate::zoho::Secret;
use crate::zoho::limits::Edition;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The validated configuration of one daemon.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from (for messages and SIGHUP reloads).
    pub path: PathBuf,
    /// `<root>/<Module>/<record_id>/<file>`; absolute.
    pub root: PathBuf,
    /// Journal, trash, token cache; absolute, never inside `root` nor containing it.
    pub state_dir: PathBuf,
    /// `log_format`: text, JSON lines or the systemd journal (default: the journal when
    /// stderr is it, else text).
    pub log_format: LogFormat,
    /// A tracing filter directive; `RUST_LOG` wins when set.
    pub log_level: String,
    /// The `[zoho]` table: where to connect, with which credentials.
    pub zoho: ZohoSettings,
    /// The `[sync]` table: timing, direction, limits.
    pub sync: SyncSettings,
    /// The `[[follow]]` tables: modules whose records get folders made by the daemon.
    pub follow: Vec<FollowSettings>,
    /// The `[metrics]` table; `None` when no `listen` address is set.
    pub metrics: Option<MetricsSettings>,
    /// The `[alerts]` table (both parts optional).
    pub alerts: AlertSettings,
    /// Figures derived from the settings above, once, at load.
    pub tuning: Tuning,
}

/// Where `/metrics` and `/healthz` are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Loopback unless `allow_remote = true`.
    pub listen: std::net::SocketAddr,
}

/// Who is told about events that need a person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertSettings {
    /// A command and its arguments (empty: none); the program is an absolute path.
    pub exec: Vec<String>,
    /// A URL that receives one JSON POST per event.
    pub webhook: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// The journal when stderr is systemd's journal stream (`JOURNAL_STREAM`), else text.
    #[default]
    Auto,
    /// Human-readable lines (no ANSI colours unless stderr is a terminal).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
    /// Native journald entries with structured fields (`RECORD`, `FILE`, …).
    Journald,
}

/// How local changes are noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WatchMode {
    /// inotify, falling back to polling when watches run out.
    #[default]
    Auto,
    /// Polling only: inotify sees nothing on network filesystems.
    Poll,
}

/// How to reach Zoho and with which credentials.
#[derive(Debug, Clone)]
pub struct ZohoSettings {
    /// Bigin or CRM: picks the API path and the documented modules.
    pub product: Product,
    /// The data center code (`us`, `eu`, …) as configured, lowercased.
    pub dc: String,
    /// REST API base URL without trailing `/`.
    pub api_domain: String,
    /// OAuth server base URL without trailing `/`.
    pub accounts_url: String,
    /// The Self Client's client id (`1000.…`).
    pub client_id: String,
    /// The Self Client's secret, from wherever it was given (inline, file, credential).
    pub client_secret: Secret,
    /// `None` only before `auth` has been run; use [`Config::require_refresh_token`].
    pub refresh_token: Option<Secret>,
    /// Where `auth` writes the refresh token (absolute), when configured.
    pub refresh_token_file: Option<PathBuf>,
    /// Parallel API calls (Zoho limits concurrent calls per organisation).
    pub concurrency: usize,
    /// The longest silence of a request (no byte moving); transfers have no total limit.
    pub timeout: Duration,
    /// The longest wait for a TCP/TLS connection to be set up.
    pub connect_timeout: Duration,
    /// Custom module API names to accept as folder names, besides the documented ones.
    pub modules: Vec<String>,
    /// `zoho.edition`: sets the API allowance the daily budget is a share of.
    pub edition: Edition,
    /// True when `zoho.edition` was not set and the smallest edition (Bigin Free) is
    /// assumed; the daemon says so once at start.
    pub edition_assumed: bool,
    /// `zoho.users`: user licences, for the per-user part of the allowance.
    pub users: u32,
    /// `zoho.max_upload_size` in bytes: files above it are parked without an upload.
    /// `None`: the product's documented limit (CRM) or the one Zoho states (Bigin).
    pub max_upload_size: Option<u64>,
}

/// When and how records are synced.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Fastest per-record remote poll.
    pub poll_interval: Duration,
    /// Idle records back off up to this.
    pub poll_interval_max: Duration,
    /// The scheduler never plans more API credits per rolling 24 h than this: the
    /// configured `sync.api_budget_per_day`, else `api_budget_share` of the edition's
    /// allowance (derived once, here, at load).
    pub api_budget_per_day: u32,
    /// `sync.api_budget_share`: the share of the edition's allowance the default budget
    /// takes, leaving the rest to the Zoho UI and other integrations.
    pub api_budget_share: f64,
    /// True when `sync.api_budget_per_day` was set (it overrides the share).
    pub api_budget_explicit: bool,
    /// A file must be unchanged this long before it is uploaded.
    pub debounce: Duration,
    /// Full local rescan period; watcher events are only hints.
    pub rescan_interval: Duration,
    /// How local changes are noticed.
    pub watch: WatchMode,
    /// Which way changes flow (both ways, or one way only).
    pub direction: Direction,
    /// Refuse a pass that would delete more than this share of a record's files.
    pub max_delete_percent: u8,
    /// Trash entries older than this are removed by the daemon; `None` (`"off"`) keeps
    /// them until a person removes them.
    pub trash_retention: Option<Duration>,
    /// Extra glob patterns of files never synced.
    pub ignore: Vec<String>,
    /// How often followed modules (`[[follow]]`) are listed.
    pub follow_interval: Duration,
}

impl Config {
    /// The refresh token, or an error saying how to provide one. `load` lets it be absent
    /// so that `auth` can run with the same file before a token exists.
    pub fn require_refresh_token(&self) -> Result<&Secret, ConfigError> {
        self.zoho.refresh_token.as_ref().ok_or_else(|| {
            secrets::missing(
                &self.path,
                "zoho.refresh_token",
                "refresh_token",
                "; run `bigin-sync auth --code CODE` to obtain one",
            )
        })
    }
}

/// A config file is a few KiB of TOML; one over this size is surely the wrong file.
const CONFIG_FILE_LIMIT: u64 = 1024 * 1024;

/// Loads and validates the config at `path`, reading `STATE_DIRECTORY`,
/// `CREDENTIALS_DIRECTORY` and `HOME` from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_env(path, &|k| std::env::var(k).ok())
}

/// [`load`] with the environment passed in, so tests can supply credentials directories
/// without touching the process environment.
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let text =
        secrets::read_small_file(path, CONFIG_FILE_LIMIT).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
    load_str(path, &text, env)
}

/// Validates config text as if read from `path` (relative paths resolve against its
/// directory). Used by `load_with_env` and by `demo`, which builds its config in memory.
pub fn load_str(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let raw = validate::parse(path, text)?;
    validate::build(path, raw, env)
}
