//! The file exactly as written: every key optional, unknown keys refused. Defaults and
//! checks live in `validate`, so that a missing key and a bad key get distinct messages.

use serde::Deserialize;
use std::fmt;

/// Keys allowed at the top level, listed in "unknown key" errors.
pub(super) const TOP_KEYS: &[&str] = &[
    "root",
    "state_dir",
    "log_format",
    "log_level",
    "zoho",
    "sync",
    "metrics",
    "alerts",
    "follow",
];
/// Keys allowed in `[zoho]`.
pub(super) const ZOHO_KEYS: &[&str] = &[
    "product",
    "dc",
    "api_domain",
    "accounts_url",
    "client_id",
    "client_secret",
    "client_secret_file",
    "refresh_token",
    "refresh_token_file",
    "concurrency",
    "timeout",
    "connect_timeout",
    "modules",
    "edition",
    "users",
    "max_upload_size",
];
/// Keys allowed in `[sync]`.
pub(super) const SYNC_KEYS: &[&str] = &[
    "poll_interval",
    "poll_interval_max",
    "api_budget_per_day",
    "api_budget_share",
    "debounce",
    "rescan_interval",
    "watch",
    "direction",
    "max_delete_percent",
    "trash_retention",
    "ignore",
    "follow_interval",
];

/// Keys allowed in `[metrics]`.
pub(super) const METRICS_KEYS: &[&str] = &["listen", "allow_remote"];
/// Keys allowed in `[alerts]`.
pub(super) const ALERTS_KEYS: &[&str] = &["exec", "webhook"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub root: Option<String>,
    pub state_dir: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    #[serde(default)]
    pub zoho: RawZoho,
    #[serde(default)]
    pub sync: RawSync,
    pub follow: Option<Vec<super::follow::RawFollow>>,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub alerts: RawAlerts,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub listen: Option<String>,
    pub allow_remote: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub exec: Option<Vec<String>>,
    pub webhook: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZoho {
    pub product: Option<String>,
    pub dc: Option<String>,
    pub api_domain: Option<String>,
    pub accounts_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_file: Option<String>,
    pub refresh_token: Option<String>,
    pub refresh_token_file: Option<String>,
    pub concurrency: Option<i64>,
    pub timeout: Option<RawDuration>,
    pub connect_timeout: Option<RawDuration>,
    pub modules: Option<Vec<String>>,
    pub edition: Option<String>,
    pub users: Option<i64>,
    pub max_upload_size: Option<RawSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    pub poll_interval: Option<RawDuration>,
    pub poll_interval_max: Option<RawDuration>,
    pub api_budget_per_day: Option<i64>,
    pub api_budget_share: Option<f64>,
    pub debounce: Option<RawDuration>,
    pub rescan_interval: Option<RawDuration>,
    pub watch: Option<String>,
    pub direction: Option<String>,
    pub max_delete_percent: Option<i64>,
    pub trash_retention: Option<RawDuration>,
    pub ignore: Option<Vec<String>>,
    pub follow_interval: Option<RawDuration>,
}

/// A duration still as text; its own `Deserialize` only so that `timeout = 60` fails with
/// "expected a duration string with a unit" instead of a bare "expected a string".
#[derive(Debug)]
pub(super) struct RawDuration(pub String);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string with a unit, e.g. \"60s\", \"300ms\" or \"15m\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A size as written: a number of bytes, or a string with a unit ("20MB", "100 MiB").
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSize {
    Bytes(i64),
    Text(String),
}
