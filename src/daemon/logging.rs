//! Logging setup: text without colours when stderr is not a terminal (journald), or one
//! JSON object per line.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` wins over `level` when set. Safe to call
/// twice (the second call does nothing).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr is a closed pipe) is dropped; the
        // default reports it with `eprintln!`, which panics for the same reason.
        .log_internal_errors(false)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
