//! Logging setup: text without colours when stderr is not a terminal, one JSON object per
//! line, or native journald entries with structured fields.
//!
//! Under systemd (stderr is the journal: `JOURNAL_STREAM` names it) or with
//! `log_format = "journald"`, every event goes to the journal with its fields as
//! journal fields, named as the crate [`crate::log_fields`] lists them, upper-cased and
//! without a prefix (`RECORD`, `MODULE`, `FILE`, `ACTION`, `ATTACHMENT_ID`, `BYTES`),
//! so that `journalctl -u bigin-sync RECORD=2034…` works.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` wins over `level` when set. Safe to call
/// twice (the second call does nothing).
pub fn init(format: LogFormat, level: &str) {
    let format = match format {
        LogFormat::Auto if stderr_is_journal(std::env::var("JOURNAL_STREAM").ok().as_deref()) => {
            LogFormat::Journald
        }
        LogFormat::Auto => LogFormat::Text,
        other => other,
    };
    if format == LogFormat::Journald {
        match journald_layer() {
            Ok(layer) => {
                let _ = tracing_subscriber::registry()
                    .with(filter(level))
                    .with(layer)
                    .try_init();
            }
            Err(e) => {
                init_fmt(LogFormat::Text, level);
                tracing::warn!(error = %e, "cannot reach the systemd journal; logging text to stderr instead");
            }
        }
        return;
    }
    init_fmt(format, level);
}

fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Text or JSON on stderr.
fn init_fmt(format: LogFormat, level: &str) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr is a closed pipe) is dropped; the
        // default reports it with `eprintln!`, which panics for the same reason.
        .log_internal_errors(false)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        _ => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// The journald layer: fields without the crate's default `F_` prefix, so that they come
/// out exactly as [`journal_field_name`] says. (A field can never pose as a trusted
/// journal field: those start with `_`, which the layer strips.)
fn journald_layer() -> std::io::Result<tracing_journald::Layer> {
    Ok(tracing_journald::layer()?.with_field_prefix(None))
}

/// The journal field a tracing field becomes, as the journald layer names it: `.` turned
/// into `_`, leading `_` and anything but ASCII letters, digits and `_` dropped,
/// upper-cased, no prefix.
pub fn journal_field_name(field: &str) -> String {
    field
        .bytes()
        .map(|c| if c == b'.' { b'_' } else { c })
        .skip_while(|&c| c == b'_')
        .filter(|&c| c == b'_' || c.is_ascii_alphanumeric())
        .map(|c| char::from(c.to_ascii_uppercase()))
        .collect()
}

/// Whether stderr is the journal stream systemd set up: `JOURNAL_STREAM` holds the
/// `device:inode` of that stream, and only a match counts (a child whose stderr was
/// redirected inherits the variable, not the stream).
fn stderr_is_journal(journal_stream: Option<&str>) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|v| v.split_once(':')) else {
        return false;
    };
    let Ok(s) = rustix::fs::fstat(std::io::stderr()) else {
        return false;
    };
    // Parsed into the stat's own field types, whatever their width on this platform.
    dev.parse() == Ok(s.st_dev) && ino.parse() == Ok(s.st_ino)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_fields;
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing_subscriber::Layer;

    /// Records every event's fields as (name, value).
    /// One event's fields as (name, value).
    type EventFields = Vec<(String, String)>;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<EventFields>>>);

    struct Fields(Vec<(String, String)>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .push((field.name().to_string(), format!("{value:?}")));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push((field.name().to_string(), value.to_string()));
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let mut f = Fields(Vec::new());
            event.record(&mut f);
            self.0.lock().unwrap().push(f.0);
        }
    }

    #[test]
    fn the_listed_fields_come_out_with_the_journal_names_asked_for() {
        let want = [
            "RECORD",
            "MODULE",
            "FILE",
            "ACTION",
            "ATTACHMENT_ID",
            "BYTES",
        ];
        let got: Vec<String> = log_fields::ALL
            .iter()
            .map(|f| journal_field_name(f))
            .collect();
        assert_eq!(got, want);
        // The layer's rule, on names that need it.
        assert_eq!(journal_field_name("a.b-c"), "A_BC");
        assert_eq!(journal_field_name("__x"), "X");
    }

    #[test]
    fn a_log_line_written_with_the_constants_carries_every_field() {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let key = crate::model::RecordKey {
            module: "Contacts".into(),
            record_id: "2034020000000489124".into(),
        };
        tracing::subscriber::with_default(subscriber, || {
            crate::executor::log_done(&key, "upload", "a.pdf", "77", 3, 5);
        });
        let events = capture.0.lock().unwrap();
        let fields: std::collections::HashMap<String, String> = events[0]
            .iter()
            .map(|(n, v)| (journal_field_name(n), v.clone()))
            .collect();
        assert_eq!(fields["RECORD"], "2034020000000489124");
        assert_eq!(fields["MODULE"], "Contacts");
        assert_eq!(fields["FILE"], "a.pdf");
        assert_eq!(fields["ACTION"], "upload");
        assert_eq!(fields["ATTACHMENT_ID"], "77");
        assert_eq!(fields["BYTES"], "3");
    }

    #[test]
    fn journal_stream_must_name_our_stderr() {
        assert!(!stderr_is_journal(None));
        assert!(!stderr_is_journal(Some("garbage")));
        assert!(!stderr_is_journal(Some("1:1")));
        let s = rustix::fs::fstat(std::io::stderr()).unwrap();
        assert!(stderr_is_journal(Some(&format!(
            "{}:{}",
            s.st_dev, s.st_ino
        ))));
    }
}
