//! A string that must never reach a log line.

use std::fmt;

/// An OAuth secret (client secret, refresh token). `Debug` prints `<redacted>` so that a
/// `{:?}` of the whole [`Config`](super::Config) in a log or panic cannot leak it; the value
/// is only reachable through [`Secret::expose`], which makes each use easy to audit.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it (the token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
