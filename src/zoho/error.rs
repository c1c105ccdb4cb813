//! One error type for every call, with the classification the executor acts on.
//!
//! Zoho answers errors as JSON, either flat
//! `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`
//! or wrapped per record `{"data":[{"code":"INVALID_DATA","details":{..},"message":"record not deleted","status":"error"}]}`.
//! Both are read into [`ZohoError::Api`], keeping the HTTP status, `code`, `message` and
//! `details` so logs and the executor see exactly what Zoho said.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::Value;

/// Which call failed; part of error messages and of the missing-attachment rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Refreshing the access token.
    Token,
    /// Listing a record's attachments.
    List,
    /// Uploading a file or link attachment.
    Upload,
    /// Downloading an attachment.
    Download,
    /// Deleting an attachment.
    Delete,
    /// `GET /{module}`: listing records.
    ListRecords,
    /// `GET /{module}/{id}`: one record.
    GetRecord,
}

impl Op {
    /// The attachments scope suffix Zoho wants for this call (for scope-mismatch hints).
    fn scope_suffix(self) -> &'static str {
        match self {
            Op::Token | Op::List | Op::Download | Op::ListRecords | Op::GetRecord => "READ",
            Op::Upload => "CREATE",
            Op::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Token => "token refresh",
            Op::List => "list attachments",
            Op::Upload => "upload attachment",
            Op::Download => "download attachment",
            Op::Delete => "delete attachment",
            Op::ListRecords => "list records",
            Op::GetRecord => "get record",
        })
    }
}

/// Everything that can go wrong talking to Zoho. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ZohoError {
    /// Zoho answered with an error (JSON body or a bare status).
    #[error("{op}: Zoho answered HTTP {status} {code}: {message}")]
    Api {
        /// The call that failed.
        op: Op,
        /// The HTTP status.
        status: u16,
        /// Zoho's error `code` (e.g. `INVALID_TOKEN`), or `HTTP_<status>` when the body
        /// had none.
        code: String,
        /// Zoho's `message`.
        message: String,
        /// Zoho's `details`, as sent.
        details: Value,
        /// From a `Retry-After` header (seconds), when present.
        retry_after: Option<Duration>,
    },
    /// The connection failed or broke. For uploads, `outcome_unknown` means the request
    /// may have reached Zoho, which may have stored the attachment.
    #[error("{op}: network error: {message}")]
    Network {
        /// The call that failed.
        op: Op,
        /// What the HTTP library said.
        message: String,
        /// The request may have reached Zoho (an upload may have been stored).
        outcome_unknown: bool,
    },
    /// No reply in time (same `outcome_unknown` meaning as for `Network`).
    #[error("{op}: timed out")]
    Timeout {
        /// The call that timed out.
        op: Op,
        /// The request may have reached Zoho (an upload may have been stored).
        outcome_unknown: bool,
    },
    /// The accounts server refused the refresh token or the client credentials; a human
    /// must fix the config (new grant code, right data center).
    #[error("Zoho refused the credentials: {0}")]
    TokenRejected(String),
    /// Zoho's token endpoint locked us out for asking too often; nothing is sent until then.
    #[error("Zoho token endpoint throttled us (too many token requests); waiting until {}", rfc3339_seconds(*until))]
    Throttled {
        /// When token requests may be sent again.
        until: SystemTime,
    },
    /// A reply that does not have the documented shape.
    #[error("{op}: unexpected reply from Zoho: {message}")]
    InvalidResponse {
        /// The call whose reply was unexpected.
        op: Op,
        /// What was wrong with it.
        message: String,
    },
    /// A download answered 204 (no such attachment): never written as an empty file.
    #[error("attachment {id} not found (HTTP 204)")]
    MissingAttachment {
        /// The attachment id asked for.
        id: String,
    },
    /// The download ended early or with too many bytes.
    #[error("download of attachment {id} was cut: got {got} of {expected} bytes")]
    Truncated {
        /// The attachment being downloaded.
        id: String,
        /// The size Zoho announced.
        expected: u64,
        /// The bytes received.
        got: u64,
    },
    /// A module name outside the product's documented list and the configured extras.
    #[error("module {module:?} is not a {product} attachments module (allowed: {allowed})")]
    InvalidModule {
        /// The module name given.
        module: String,
        /// The configured product.
        product: crate::model::Product,
        /// The accepted module names, comma-separated.
        allowed: String,
    },
    /// An id or name that cannot be put in a request.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Bad client configuration (URL scheme, missing values).
    #[error("configuration: {0}")]
    Config(String),
    /// Local file system error (reading an upload, writing a download).
    #[error("local I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// What the caller should do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later (with backoff; not before `retry_after` when given).
    Retryable {
        /// The wait Zoho asked for (`Retry-After`), when it did.
        retry_after: Option<Duration>,
    },
    /// Credentials are bad: stop calling and tell a human.
    Auth,
    /// This request will never succeed as it is.
    Permanent,
}

impl ZohoError {
    /// Sorts the error into retry / auth / permanent.
    pub fn class(&self) -> ErrorClass {
        match self {
            ZohoError::Api {
                status,
                code,
                retry_after,
                ..
            } => {
                if *status == 429 || *status >= 500 {
                    ErrorClass::Retryable {
                        retry_after: *retry_after,
                    }
                } else if code == "OAUTH_SCOPE_MISMATCH" {
                    ErrorClass::Permanent
                } else if *status == 401
                    || code == "INVALID_TOKEN"
                    || code == "AUTHENTICATION_FAILURE"
                {
                    ErrorClass::Auth
                } else {
                    ErrorClass::Permanent
                }
            }
            ZohoError::Network { .. }
            | ZohoError::Timeout { .. }
            | ZohoError::Truncated { .. }
            | ZohoError::InvalidResponse { .. } => ErrorClass::Retryable { retry_after: None },
            ZohoError::Throttled { until } => ErrorClass::Retryable {
                retry_after: Some(
                    until
                        .duration_since(SystemTime::now())
                        .unwrap_or(Duration::ZERO),
                ),
            },
            ZohoError::TokenRejected(_) => ErrorClass::Auth,
            // The disk may have room later: retried with backoff, never parked.
            ZohoError::Io(e) if is_disk_full(e) => ErrorClass::Retryable { retry_after: None },
            ZohoError::MissingAttachment { .. }
            | ZohoError::InvalidModule { .. }
            | ZohoError::InvalidArgument(_)
            | ZohoError::Config(_)
            | ZohoError::Io(_) => ErrorClass::Permanent,
        }
    }

    /// True for a full disk or an exhausted quota while writing a download.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, ZohoError::Io(e) if is_disk_full(e))
    }

    /// Zoho's error code (`INVALID_TOKEN`, `NO_PERMISSION`, ...), when Zoho sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ZohoError::Api { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// True when an upload's body may have reached Zoho but no reply came back: the
    /// attachment may exist remotely, so the caller must list before uploading again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ZohoError::Network {
                outcome_unknown, ..
            }
            | ZohoError::Timeout {
                outcome_unknown, ..
            } => *outcome_unknown,
            _ => false,
        }
    }

    /// True when the attachment is already gone: a delete answered "record not deleted"
    /// (`INVALID_DATA`) or a download answered 204. A delete of it counts as done.
    pub fn is_missing_attachment(&self) -> bool {
        match self {
            ZohoError::MissingAttachment { .. } => true,
            ZohoError::Api { op, code, .. } => *op == Op::Delete && code == "INVALID_DATA",
            _ => false,
        }
    }

    /// Maps a reqwest failure, deciding whether the request may have been received.
    pub(crate) fn from_reqwest(op: Op, err: &reqwest::Error) -> ZohoError {
        // Conservative for uploads: only a failure to connect proves nothing was sent.
        let outcome_unknown = op == Op::Upload && !err.is_connect();
        if err.is_timeout() {
            return ZohoError::Timeout {
                op,
                outcome_unknown,
            };
        }
        ZohoError::Network {
            op,
            message: error_chain(err),
            outcome_unknown,
        }
    }
}

/// ENOSPC or EDQUOT, also after being rewrapped with a message (the kind survives).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// `Display` of an error and its sources, so "connection reset" is not lost behind
/// reqwest's generic "error sending request". reqwest errors show URLs, never headers
/// or form bodies, so no secret can appear here.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Reads Zoho's error body (either shape) into an `Api` error. Bodies that are not
/// JSON (a proxy's HTML page, an empty 502) keep the status with an `HTTP_<status>` code.
pub(crate) fn api_error(
    op: Op,
    product: crate::model::Product,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> ZohoError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let obj = parsed.as_ref().and_then(|v| {
        if v.get("code").is_some() {
            Some(v)
        } else {
            v.get("data").and_then(|d| d.get(0))
        }
    });
    let (code, mut message, details) = match obj {
        Some(o) => (
            o.get("code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            o.get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            o.get("details").cloned().unwrap_or(Value::Null),
        ),
        None => {
            let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
            (format!("HTTP_{status}"), snippet, Value::Null)
        }
    };
    if code == "OAUTH_SCOPE_MISMATCH" {
        let (prefix, name) = match product {
            crate::model::Product::Bigin => ("ZohoBigin", "Bigin"),
            crate::model::Product::Crm => ("ZohoCRM", "CRM"),
        };
        let suffix = op.scope_suffix();
        message = if matches!(op, Op::ListRecords | Op::GetRecord) {
            // Reading records needs the module's scope, not the attachments one.
            format!(
                "{message} — the {name} token lacks scope {prefix}.modules.<module>.{suffix} \
                 (or {prefix}.modules.ALL); generate a new grant code with it"
            )
        } else {
            format!(
                "{message} — the {name} token lacks scope {prefix}.modules.attachments.{suffix} \
                 (with {prefix}.modules.ALL or {prefix}.modules.<module>.{suffix}); generate a new grant code with it"
            )
        };
    }
    ZohoError::Api {
        op,
        status,
        code,
        message,
        details,
        retry_after,
    }
}

/// The longest wait a `Retry-After` can impose: a server asking for more (a broken proxy,
/// a hostile server: `100000` was seen to stall a run for good) gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// A time in UTC, to the second, as RFC 3339 (`2023-11-14T22:13:20Z`): how messages and
/// log fields show a moment.
pub(crate) fn rfc3339_seconds(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses a `Retry-After` header given in seconds (the form Zoho uses), capped at
/// [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Product;

    #[test]
    fn moments_show_as_rfc3339_utc_seconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_999);
        assert_eq!(rfc3339_seconds(t), "2023-11-14T22:13:20Z");
        assert_eq!(
            rfc3339_seconds(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            ZohoError::Throttled { until: t }.to_string(),
            "Zoho token endpoint throttled us (too many token requests); \
             waiting until 2023-11-14T22:13:20Z"
        );
    }

    fn api(op: Op, status: u16, body: &str) -> ZohoError {
        api_error(op, Product::Bigin, status, None, body.as_bytes())
    }

    #[test]
    fn flat_error_body_is_kept() {
        let e = api(
            Op::List,
            401,
            r#"{"code":"INVALID_TOKEN","details":{"x":1},"message":"invalid oauth token","status":"error"}"#,
        );
        match &e {
            ZohoError::Api {
                status,
                code,
                message,
                details,
                ..
            } => {
                assert_eq!(*status, 401);
                assert_eq!(code, "INVALID_TOKEN");
                assert_eq!(message, "invalid oauth token");
                assert_eq!(details["x"], 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.class(), ErrorClass::Auth);
        assert_eq!(e.code(), Some("INVALID_TOKEN"));
    }

    #[test]
    fn wrapped_delete_error_is_missing_attachment() {
        let body = r#"{"data":[{"code":"INVALID_DATA","details":{"id":"1"},"message":"record not deleted","status":"error"}]}"#;
        let e = api(Op::Delete, 400, body);
        assert!(e.is_missing_attachment());
        assert_eq!(e.class(), ErrorClass::Permanent);
        // The same code on a list means a bad record id, not "already gone".
        assert!(!api(Op::List, 400, body).is_missing_attachment());
    }

    #[test]
    fn classification() {
        let retry = |e: &ZohoError| matches!(e.class(), ErrorClass::Retryable { .. });
        assert!(retry(&api(
            Op::List,
            500,
            r#"{"code":"INTERNAL_ERROR","message":"x","status":"error","details":{}}"#
        )));
        assert!(retry(&api(Op::List, 502, "<html>bad gateway</html>")));
        let e = api_error(
            Op::List,
            Product::Bigin,
            429,
            Some(Duration::from_secs(7)),
            br#"{"code":"TOO_MANY_REQUESTS","message":"x","status":"error","details":{}}"#,
        );
        assert_eq!(
            e.class(),
            ErrorClass::Retryable {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        for (status, code) in [
            (403, "NO_PERMISSION"),
            (400, "INVALID_MODULE"),
            (400, "DOWNLOAD_NOT_ALLOWED"),
            (400, "INVALID_DATA"),
            (404, "INVALID_URL_PATTERN"),
            (401, "OAUTH_SCOPE_MISMATCH"),
        ] {
            let body =
                format!(r#"{{"code":"{code}","message":"m","status":"error","details":{{}}}}"#);
            assert_eq!(
                api(Op::Upload, status, &body).class(),
                ErrorClass::Permanent,
                "{code}"
            );
        }
        assert_eq!(
            api(
                Op::List,
                401,
                r#"{"code":"AUTHENTICATION_FAILURE","message":"m","status":"error"}"#
            )
            .class(),
            ErrorClass::Auth
        );
        assert_eq!(
            ZohoError::TokenRejected("x".into()).class(),
            ErrorClass::Auth
        );
        let t = ZohoError::Throttled {
            until: SystemTime::now() + Duration::from_secs(600),
        };
        match t.class() {
            ErrorClass::Retryable {
                retry_after: Some(d),
            } => {
                assert!(d > Duration::from_secs(590) && d <= Duration::from_secs(600))
            }
            other => panic!("{other:?}"),
        }
        assert!(retry(&ZohoError::Timeout {
            op: Op::List,
            outcome_unknown: false
        }));
    }

    #[test]
    fn scope_mismatch_names_the_missing_scope() {
        let body = r#"{"code":"OAUTH_SCOPE_MISMATCH","message":"Unauthorized","status":"error","details":{}}"#;
        let e = api(Op::Delete, 401, body);
        let text = e.to_string();
        assert!(
            text.contains("ZohoBigin.modules.attachments.DELETE"),
            "{text}"
        );
        let crm = api_error(Op::List, Product::Crm, 401, None, body.as_bytes());
        assert!(crm.to_string().contains("ZohoCRM.modules.attachments.READ"));
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "12".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(12)));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn a_full_disk_is_retryable_other_local_errors_are_not() {
        for errno in [libc::ENOSPC, libc::EDQUOT] {
            let e = ZohoError::Io(std::io::Error::from_raw_os_error(errno));
            assert!(e.is_disk_full(), "{e}");
            assert_eq!(
                e.class(),
                ErrorClass::Retryable { retry_after: None },
                "{e}"
            );
        }
        // Also when the error was rewrapped with a message (the kind survives).
        let e = ZohoError::Io(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "needs 3 MiB free",
        ));
        assert!(e.is_disk_full());
        let e = ZohoError::Io(std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(!e.is_disk_full());
        assert_eq!(e.class(), ErrorClass::Permanent);
    }

    #[test]
    fn retry_after_is_capped_at_fifteen_minutes() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "100000".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(15 * 60)));
        h.insert(reqwest::header::RETRY_AFTER, "900".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(900)));
    }
}
