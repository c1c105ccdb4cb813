//! Knobs of the sandbox: how the fake Zoho account is set up ([`SandboxOptions`]) and which
//! failures it injects ([`Faults`]). Kept apart so tests can build them without a server.

use std::time::Duration;

/// Static configuration of a sandbox: the OAuth client it accepts and Zoho's limits.
///
/// Defaults mirror Zoho's documented behaviour (1 h tokens, 10 grants per 10 minutes,
/// 100 MB uploads) so that a client tested against the defaults meets the real limits.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// OAuth client id the token endpoint accepts.
    pub client_id: String,
    /// OAuth client secret the token endpoint accepts.
    pub client_secret: String,
    /// Refresh token valid from the start (until [`crate::sandbox::Sandbox::revoke_refresh_token`]).
    pub refresh_token: String,
    /// Code accepted by the `authorization_code` grant, which answers with a refresh token.
    pub grant_code: String,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_ttl: Duration,
    /// Grants allowed per refresh token within [`Self::grant_window`] before "Access Denied".
    pub grants_per_window: u32,
    /// Rolling window of the grant throttle.
    pub grant_window: Duration,
    /// Largest accepted upload; bigger files get a permanent 400 `FILE_SIZE_MORE_THAN_ALLOWED`.
    pub max_upload_bytes: u64,
    /// When false, unknown record ids answer 400 `INVALID_DATA` as Zoho does; when true the
    /// record springs into existence on first use (handy for `demo`).
    pub auto_create_records: bool,
    /// Which record time an attachment upload, link or delete moves (Zoho does not
    /// document it, so the client must be right under each choice).
    pub attachment_touch: AttachmentTouch,
}

/// What an attachment change (upload, link, delete) does to its record's times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AttachmentTouch {
    /// `Last_Activity_Time` moves; `Modified_Time` does not.
    #[default]
    LastActivity,
    /// `Modified_Time` moves (and with it `Last_Activity_Time`, as an edit does).
    Modified,
    /// Neither time moves.
    Nothing,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            client_id: "1000.SANDBOXCLIENT".to_string(),
            client_secret: "sandbox-secret".to_string(),
            refresh_token: "1000.sandbox-refresh".to_string(),
            grant_code: "1000.sandbox-grant".to_string(),
            token_ttl: Duration::from_secs(3600),
            grants_per_window: 10,
            grant_window: Duration::from_secs(600),
            max_upload_bytes: 100 * 1024 * 1024,
            auto_create_records: false,
            attachment_touch: AttachmentTouch::default(),
        }
    }
}

/// Failures injected into API requests; all zero by default (a healthy server).
///
/// Rates are probabilities in `0.0..=1.0`, drawn from an RNG seeded with [`Self::seed`] so
/// that a failing test replays the same sequence of faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Seed of the fault RNG; the RNG is reset whenever faults are set.
    pub seed: u64,
    /// API routes answer 500 `INTERNAL_ERROR`.
    pub error_500_rate: f64,
    /// API routes answer 429 `TOO_MANY_REQUESTS` (with `Retry-After` when
    /// [`Self::retry_after_secs`] is set).
    pub error_429_rate: f64,
    /// Value of the `Retry-After` header on injected 429s.
    pub retry_after_secs: Option<u64>,
    /// The connection is closed before the request is handled: nothing is stored.
    pub drop_before_rate: f64,
    /// An upload is stored, then the connection is closed without a reply: the client
    /// cannot know that the attachment exists.
    pub drop_after_upload_rate: f64,
    /// A download announces the full `Content-Length` but the body stops half-way.
    pub truncate_download_rate: f64,
    /// Delay added to every API request before it is handled.
    pub latency: std::time::Duration,
    /// Download bodies are sent, and upload bodies read, at about this many bytes per
    /// second, like a slow but steady link; 0 means as fast as possible.
    pub throttle_bytes_per_sec: u64,
    /// After this many body bytes a download stops sending and an upload stops being
    /// read, with the connection left open: a transfer that went silent.
    pub stall_after_bytes: Option<u64>,
    /// List and token replies become a valid JSON document of this many bytes, streamed
    /// in chunks (never built in memory), to test the client's cap on reply sizes.
    pub oversized_reply_bytes: Option<u64>,
    /// The routes the knobs above apply to; empty means every route (so a test can
    /// fail only deletes, say, while uploads go through).
    pub routes: Vec<Route>,
}

impl Faults {
    /// `rate` where it applies to `route` (see [`Faults::routes`]), else 0.
    pub(crate) fn rate_for(&self, route: Route, rate: f64) -> f64 {
        if self.applies_to(route) { rate } else { 0.0 }
    }

    /// Whether the knobs apply to `route` (see [`Faults::routes`]).
    pub(crate) fn applies_to(&self, route: Route) -> bool {
        self.routes.is_empty() || self.routes.contains(&route)
    }
}

/// The routes whose calls are counted, so tests can assert how many requests a client made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /oauth/v2/token`.
    Token,
    /// `GET .../Attachments`.
    List,
    /// `POST .../Attachments`.
    Upload,
    /// `GET .../Attachments/{id}`.
    Download,
    /// `DELETE .../Attachments/{id}`.
    Delete,
    /// `GET /{module}`: the records listing.
    Records,
    /// `GET /{module}/{id}`: one record.
    Record,
}

impl Route {
    /// Index into the per-route counter array.
    pub(crate) fn index(self) -> usize {
        match self {
            Route::Token => 0,
            Route::List => 1,
            Route::Upload => 2,
            Route::Download => 3,
            Route::Delete => 4,
            Route::Records => 5,
            Route::Record => 6,
        }
    }

    /// The client's kind of request for this route, whose price
    /// ([`ApiOp::credits`](crate::zoho::usage::ApiOp::credits)) the sandbox charges: one
    /// price list for both sides. An upload route serves links too, at the same price.
    pub(crate) fn api_op(self) -> crate::zoho::usage::ApiOp {
        use crate::zoho::usage::ApiOp;
        match self {
            Route::Token => ApiOp::Token,
            Route::List => ApiOp::ListAttachments,
            Route::Upload => ApiOp::Upload,
            Route::Download => ApiOp::Download,
            Route::Delete => ApiOp::Delete,
            Route::Records => ApiOp::ListRecords,
            Route::Record => ApiOp::GetRecord,
        }
    }
}
