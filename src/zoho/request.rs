//! The pieces of a request that the token manager, the client and the operations all
//! use: who we say we are, how an HTTP client is set up, and how a call is described.
//!
//! They live here, below `auth`, `client` and the operations, so that each of those
//! imports them downwards instead of from one another (which made a circle of
//! `auth` ↔ `client` ↔ `upload`).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::multipart::Form;
use reqwest::{Method, Url};

use super::error::{Op, ZohoError};
use super::transfer::Progress;

/// Sent with every request so Zoho (and proxies) can tell who is calling.
pub const USER_AGENT: &str = concat!("bigin-sync/", env!("CARGO_PKG_VERSION"));

/// The settings of every HTTP client that talks to Zoho (API and accounts server): our
/// user agent, and no redirects. Neither server redirects; following one would carry the
/// access token, the client secret or a grant code to wherever it points.
pub(crate) fn http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
}

/// A multipart body streamed from disk, built afresh for each send: a resend after a
/// token refresh re-opens (and re-checks) the file. The upload module provides it; the
/// client only asks for the form, so it needs to know nothing of files.
pub(super) trait FileForm: Sync {
    /// The form, with the progress of its bytes, which the request watches for silence.
    fn form(&self) -> BoxFuture<'_, Result<(Form, Arc<Progress>), ZohoError>>;
}

/// What is sent as the request body.
pub(super) enum Payload<'a> {
    Empty,
    /// A multipart `file` part streamed from disk; re-built on a resend.
    File(&'a dyn FileForm),
    /// A multipart link upload.
    Link {
        url: &'a str,
        title: &'a str,
    },
}

/// One API request, described so it can be built twice (after a token refresh).
pub(super) struct Call<'a> {
    pub(super) op: Op,
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) query: Vec<(&'static str, String)>,
    /// Extra request headers (e.g. `If-Modified-Since`); usually none.
    pub(super) headers: Vec<(reqwest::header::HeaderName, String)>,
    pub(super) payload: Payload<'a>,
}
