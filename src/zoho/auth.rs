//! OAuth: the refresh-token grant, the token cache and the single-flight token manager.
//!
//! Zoho access tokens live one hour. The accounts server allows about 10 token grants per
//! refresh token per 10 minutes and answers more with
//! `{"error":"Access Denied","error_description":"You have made too many requests continuously…"}`
//! (HTTP 200 or 400); retrying makes the lock-out longer. Hence:
//! - the token is cached (the daemon stores it in the journal) and reused across restarts;
//! - it is refreshed only when it has less than [`REFRESH_MARGIN_SECS`] left or Zoho said
//!   `INVALID_TOKEN`, and all concurrent callers wait on one refresh;
//! - after "Access Denied" no token request is sent for [`THROTTLE_BLOCK`]; calls fail
//!   fast with [`ZohoError::Throttled`].
//!
//! Token replies are read from the body whatever the HTTP status: Zoho reports
//! `invalid_code` (revoked or foreign refresh token) and `invalid_client` with HTTP 200.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::{Op, ZohoError};
use super::secret::Secret;
use crate::model::unix_now;

/// Refresh when the cached token has less than this many seconds left.
pub const REFRESH_MARGIN_SECS: i64 = 300;
/// How long to stay away from the token endpoint after "Access Denied".
pub const THROTTLE_BLOCK: Duration = Duration::from_secs(600);
/// How long a refusal of the credentials (`invalid_code`, `invalid_client`) is remembered,
/// so a revoked token does not turn every queued call into another token request.
pub const REJECTION_MEMORY: Duration = Duration::from_secs(60);

/// An access token as cached between runs.
#[derive(Clone, Debug)]
pub struct CachedToken {
    /// The token sent in `Authorization: Zoho-oauthtoken …`.
    pub access_token: Secret,
    /// Expiry as Unix seconds (computed from `expires_in` when received).
    pub expires_at_unix: i64,
    /// The `api_domain` Zoho sent with the token; informational, the config wins.
    pub api_domain: Option<String>,
}

/// Where the access token survives restarts (the journal implements it with SQLite).
///
/// Methods may block briefly; the client calls them through `spawn_blocking`.
pub trait TokenCache: Send + Sync + 'static {
    /// The token stored last, if any (expired or not: the caller checks).
    fn load(&self) -> Option<CachedToken>;
    /// Keeps `token` for the next run; a failure only costs a refresh after a restart.
    fn store(&self, token: &CachedToken);
    /// Zoho refused the OAuth credentials (`why`, never a secret): reported to the
    /// operator and remembered for `status` by caches that outlive the process. A later
    /// [`TokenCache::store`] means they work again. Called off the async workers.
    fn rejected(&self, _why: &str) {}
}

/// An in-memory [`TokenCache`] for tests and one-shot commands.
#[derive(Default)]
pub struct MemoryTokenCache {
    inner: StdMutex<Option<CachedToken>>,
}

impl MemoryTokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache that already holds `token`, as after a restart.
    pub fn with_token(token: CachedToken) -> Self {
        MemoryTokenCache {
            inner: StdMutex::new(Some(token)),
        }
    }
}

impl TokenCache for MemoryTokenCache {
    fn load(&self) -> Option<CachedToken> {
        self.inner.lock().ok().and_then(|g| g.clone())
    }

    fn store(&self, token: &CachedToken) {
        if let Ok(mut g) = self.inner.lock() {
            *g = Some(token.clone());
        }
    }
}

/// The fields of a token-endpoint reply we use; anything else is ignored.
#[derive(Deserialize)]
struct TokenReply {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    /// Older accounts servers send seconds here and milliseconds in `expires_in`.
    expires_in_sec: Option<i64>,
    api_domain: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Token lifetime in seconds: `expires_in_sec` when sent, else `expires_in`, read as
/// milliseconds when it is implausibly long for seconds (older servers), else one hour.
fn lifetime_secs(expires_in_sec: Option<i64>, expires_in: Option<i64>) -> i64 {
    let secs = match (expires_in_sec, expires_in) {
        (Some(s), _) => s,
        (None, Some(v)) if v > 86_400 => v / 1000,
        (None, Some(v)) => v,
        (None, None) => 3600,
    };
    secs.max(0)
}

/// What a token grant can answer, before deciding what it means for the caller.
enum GrantOutcome {
    Ok(TokenReply),
    Throttled,
}

/// POSTs a grant to `{accounts}/oauth/v2/token` and reads the reply whatever the status.
async fn post_grant(
    http: &reqwest::Client,
    accounts_url: &str,
    form: &[(&str, &str)],
    timeout: Duration,
) -> Result<GrantOutcome, ZohoError> {
    let url = format!("{}/oauth/v2/token", accounts_url.trim_end_matches('/'));
    let resp = http
        .post(url)
        .form(form)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| ZohoError::from_reqwest(Op::Token, &e))?;
    let status = resp.status().as_u16();
    if resp.status().is_redirection() {
        // Never followed (see `http_builder`); say where it pointed so a wrong
        // accounts_url or data center is easy to spot.
        let target = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map_or("nowhere".to_owned(), |t| t.chars().take(200).collect());
        return Err(ZohoError::InvalidResponse {
            op: Op::Token,
            message: format!(
                "HTTP {status}, a redirect to {target}; redirects are not followed because \
                 they would carry the credentials elsewhere (check zoho.accounts_url and zoho.dc)"
            ),
        });
    }
    let retry_after = super::error::retry_after(resp.headers());
    // Capped: a token reply is a few hundred bytes, and a huge one must not fill the memory.
    let body = super::transfer::read_reply(resp, Op::Token, timeout).await?;
    let reply: TokenReply = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) if status >= 500 || status == 429 => {
            return Err(ZohoError::Api {
                op: Op::Token,
                status,
                code: format!("HTTP_{status}"),
                message: "accounts server error".into(),
                details: serde_json::Value::Null,
                retry_after,
            });
        }
        Err(e) => {
            return Err(ZohoError::InvalidResponse {
                op: Op::Token,
                message: format!("HTTP {status}, body is not a token reply: {e}"),
            });
        }
    };
    if let Some(err) = reply.error.as_deref() {
        let desc = reply.error_description.as_deref().unwrap_or_default();
        return match err {
            "Access Denied" => Ok(GrantOutcome::Throttled),
            _ if desc.contains("too many requests") => Ok(GrantOutcome::Throttled),
            "invalid_code" => Err(ZohoError::TokenRejected(
                "refresh token (or grant code) revoked, expired, or from another data center \
                 (invalid_code); generate a new one for this data center"
                    .into(),
            )),
            "invalid_client" => Err(ZohoError::TokenRejected(
                "client id or client secret is wrong, or the client belongs to another data \
                 center (invalid_client)"
                    .into(),
            )),
            other => Err(ZohoError::TokenRejected(format!(
                "accounts server answered error {other:?} {desc}"
            ))),
        };
    }
    if !(200..300).contains(&status) {
        return Err(ZohoError::Api {
            op: Op::Token,
            status,
            code: format!("HTTP_{status}"),
            message: "token request failed".into(),
            details: serde_json::Value::Null,
            retry_after,
        });
    }
    Ok(GrantOutcome::Ok(reply))
}

/// Trades a Self Client grant code for a refresh token (`grant_type=authorization_code`).
pub async fn exchange_grant_code(
    accounts_url: &str,
    client_id: &str,
    client_secret: &Secret,
    code: &str,
) -> Result<Secret, ZohoError> {
    super::config::validate_base_url(accounts_url)
        .map_err(|m| ZohoError::Config(format!("accounts_url: {m}")))?;
    let http = super::request::http_builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ZohoError::Config(format!("HTTP client: {e}")))?;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("client_secret", client_secret.expose()),
        ("code", code),
    ];
    match post_grant(&http, accounts_url, &form, Duration::from_secs(60)).await? {
        GrantOutcome::Throttled => Err(ZohoError::Throttled {
            until: SystemTime::now() + THROTTLE_BLOCK,
        }),
        GrantOutcome::Ok(reply) => {
            reply
                .refresh_token
                .map(Secret::new)
                .ok_or_else(|| ZohoError::InvalidResponse {
                    op: Op::Token,
                    message: "token reply has no refresh_token (was the code already used?)".into(),
                })
        }
    }
}

struct TokenState {
    /// Whether the cache has been read yet (lazily, on the first call).
    loaded: bool,
    token: Option<CachedToken>,
    /// Seconds before expiry at which `token` is renewed: [`REFRESH_MARGIN_SECS`], or less
    /// for tokens that live shorter than twice that (test servers), so a fresh token is used.
    margin: i64,
    throttled_until: Option<SystemTime>,
    /// The last credential refusal and until when it is answered without asking again.
    rejected: Option<(SystemTime, String)>,
}

/// Hands out a valid access token, refreshing it at most once at a time.
pub(crate) struct TokenManager {
    http: reqwest::Client,
    accounts_url: String,
    client_id: String,
    client_secret: Secret,
    refresh_token: Secret,
    timeout: Duration,
    cache: Arc<dyn TokenCache>,
    /// Held across a refresh: this is what makes concurrent callers share one grant.
    state: Mutex<TokenState>,
    /// Mirror of the current expiry for the synchronous `token_expires_at` (i64::MIN = none).
    expires_mirror: AtomicI64,
    /// Told about each grant request (they cost no API credit but are counted).
    usage: super::usage::UsageObservers,
}

impl TokenManager {
    pub(crate) fn new(
        http: reqwest::Client,
        cfg: &super::config::ClientConfig,
        cache: Arc<dyn TokenCache>,
        usage: super::usage::UsageObservers,
    ) -> Self {
        TokenManager {
            usage,
            http,
            accounts_url: cfg.accounts_url.trim_end_matches('/').to_owned(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            refresh_token: cfg.refresh_token.clone(),
            timeout: cfg.timeout,
            cache,
            state: Mutex::new(TokenState {
                loaded: false,
                token: None,
                margin: REFRESH_MARGIN_SECS,
                throttled_until: None,
                rejected: None,
            }),
            expires_mirror: AtomicI64::new(i64::MIN),
        }
    }

    pub(crate) fn expires_at(&self) -> Option<i64> {
        match self.expires_mirror.load(Ordering::Relaxed) {
            i64::MIN => None,
            v => Some(v),
        }
    }

    fn set_token(&self, state: &mut TokenState, token: Option<CachedToken>) {
        self.expires_mirror.store(
            token.as_ref().map_or(i64::MIN, |t| t.expires_at_unix),
            Ordering::Relaxed,
        );
        state.token = token;
    }

    /// A token with at least the refresh margin left, refreshing if needed.
    pub(crate) async fn token(&self) -> Result<Secret, ZohoError> {
        let mut state = self.state.lock().await;
        if !state.loaded {
            let cache = self.cache.clone();
            let loaded = tokio::task::spawn_blocking(move || cache.load())
                .await
                .ok()
                .flatten();
            state.loaded = true;
            self.set_token(&mut state, loaded);
        }
        if let Some(t) = &state.token
            && t.expires_at_unix - unix_now() > state.margin
        {
            return Ok(t.access_token.clone());
        }
        if let Some(until) = state.throttled_until {
            if SystemTime::now() < until {
                return Err(ZohoError::Throttled { until });
            }
            state.throttled_until = None;
        }
        if let Some((until, why)) = &state.rejected {
            if SystemTime::now() < *until {
                return Err(ZohoError::TokenRejected(why.clone()));
            }
            state.rejected = None;
        }
        let fresh = self.refresh().await;
        match fresh {
            Ok(token) => {
                let secret = token.access_token.clone();
                let cache = self.cache.clone();
                let stored = token.clone();
                let ttl = token.expires_at_unix - unix_now();
                state.margin = REFRESH_MARGIN_SECS.min(ttl / 2);
                // A failed cache write only costs a refresh after restart.
                let _ = tokio::task::spawn_blocking(move || cache.store(&stored)).await;
                self.set_token(&mut state, Some(token));
                Ok(secret)
            }
            Err(ZohoError::Throttled { until }) => {
                tracing::warn!(
                    until = %super::error::rfc3339_seconds(until),
                    "Zoho's token endpoint answered 'Access Denied: too many requests'; \
                     no token request will be sent for 10 minutes and API calls fail until then"
                );
                state.throttled_until = Some(until);
                Err(ZohoError::Throttled { until })
            }
            Err(ZohoError::TokenRejected(why)) => {
                tracing::error!(reason = %why, "Zoho refused the OAuth credentials");
                let (cache, reason) = (self.cache.clone(), why.clone());
                let _ = tokio::task::spawn_blocking(move || cache.rejected(&reason)).await;
                state.rejected = Some((SystemTime::now() + REJECTION_MEMORY, why.clone()));
                Err(ZohoError::TokenRejected(why))
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets `used` after Zoho rejected it, unless another caller already replaced it.
    pub(crate) async fn invalidate(&self, used: &Secret) {
        let mut state = self.state.lock().await;
        if state
            .token
            .as_ref()
            .is_some_and(|t| &t.access_token == used)
        {
            self.set_token(&mut state, None);
        }
    }

    async fn refresh(&self) -> Result<CachedToken, ZohoError> {
        tracing::debug!("requesting a new Zoho access token");
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("refresh_token", self.refresh_token.expose()),
        ];
        let outcome = post_grant(&self.http, &self.accounts_url, &form, self.timeout).await;
        {
            use super::usage::{ApiCall, ApiOp, Outcome};
            let outcome = match &outcome {
                Ok(GrantOutcome::Ok(_)) => Outcome::Ok,
                Ok(GrantOutcome::Throttled) => Outcome::Throttled,
                Err(ZohoError::Api { status, .. }) => Outcome::of_status(*status),
                Err(ZohoError::TokenRejected(_)) => Outcome::Refused,
                Err(_) => Outcome::Failed,
            };
            self.usage.notify(ApiCall {
                op: ApiOp::Token,
                outcome,
                credits: 0,
            });
        }
        match outcome? {
            GrantOutcome::Throttled => Err(ZohoError::Throttled {
                until: SystemTime::now() + THROTTLE_BLOCK,
            }),
            GrantOutcome::Ok(reply) => {
                let access = reply
                    .access_token
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| ZohoError::InvalidResponse {
                        op: Op::Token,
                        message: "token reply has no access_token".into(),
                    })?;
                let expires_in = lifetime_secs(reply.expires_in_sec, reply.expires_in);
                Ok(CachedToken {
                    access_token: Secret::new(access),
                    expires_at_unix: unix_now() + expires_in,
                    api_domain: reply.api_domain,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_forms() {
        assert_eq!(lifetime_secs(None, Some(3600)), 3600);
        assert_eq!(lifetime_secs(Some(3600), Some(3_600_000)), 3600);
        assert_eq!(lifetime_secs(None, Some(3_600_000)), 3600);
        assert_eq!(lifetime_secs(None, None), 3600);
        assert_eq!(lifetime_secs(None, Some(-5)), 0);
    }

    #[test]
    fn memory_cache_round_trip() {
        let c = MemoryTokenCache::new();
        assert!(c.load().is_none());
        c.store(&CachedToken {
            access_token: Secret::new("t".into()),
            expires_at_unix: 42,
            api_domain: None,
        });
        assert_eq!(c.load().unwrap().expires_at_unix, 42);
        assert_eq!(c.load().unwrap().access_token.expose(), "t");
    }
}
