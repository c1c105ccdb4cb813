//! The client handle and the one request path every operation goes through:
//! token → concurrency permit → send → on 401 `INVALID_TOKEN` refresh once and resend.

use std::sync::Arc;

use reqwest::Url;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::{TokenCache, TokenManager};
use super::config::{ClientConfig, validate_base_url};
use super::error::{Op, ZohoError, api_error, retry_after};
use super::request::{Call, Payload, http_builder};
use super::secret::Secret;
use super::transfer::{Progress, next_chunk, watch};
use crate::model::Product;

/// Error bodies are small JSON documents; anything longer is cut here.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The Zoho attachments client. Cheap to clone: all clones share the HTTP connection pool,
/// the token and the concurrency limit.
#[derive(Clone)]
pub struct ZohoClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) cfg: ClientConfig,
    http: reqwest::Client,
    tokens: TokenManager,
    /// One permit per request in flight, held until its body is fully read or written.
    permits: Arc<Semaphore>,
    base: Url,
}

impl std::fmt::Debug for ZohoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZohoClient")
            .field("product", &self.inner.cfg.product)
            .field("api_domain", &self.inner.cfg.api_domain)
            .finish_non_exhaustive()
    }
}

/// A response together with the concurrency permit it holds until dropped.
pub(super) struct Reply {
    pub(super) resp: reqwest::Response,
    _permit: OwnedSemaphorePermit,
}

impl ZohoClient {
    /// Builds the client; checks URLs and limits but sends nothing (the token is fetched,
    /// or loaded from `cache`, on the first call).
    pub fn new(cfg: ClientConfig, cache: Arc<dyn TokenCache>) -> Result<Self, ZohoError> {
        validate_base_url(&cfg.api_domain)
            .map_err(|m| ZohoError::Config(format!("api_domain: {m}")))?;
        validate_base_url(&cfg.accounts_url)
            .map_err(|m| ZohoError::Config(format!("accounts_url: {m}")))?;
        if cfg.concurrency == 0 {
            return Err(ZohoError::Config("concurrency must be at least 1".into()));
        }
        if cfg.client_id.is_empty() {
            return Err(ZohoError::Config("client_id is empty".into()));
        }
        let base = Url::parse(&cfg.api_domain)
            .map_err(|e| ZohoError::Config(format!("api_domain: {e}")))?;
        let http = http_builder()
            .connect_timeout(cfg.connect_timeout)
            // No `read_timeout`: it would cut uploads that take longer than `timeout` to
            // send; silence is watched per request instead (see `transfer`).
            .build()
            .map_err(|e| ZohoError::Config(format!("HTTP client: {e}")))?;
        let tokens = TokenManager::new(http.clone(), &cfg, cache);
        let permits = Arc::new(Semaphore::new(cfg.concurrency));
        Ok(ZohoClient {
            inner: Arc::new(Inner {
                cfg,
                http,
                tokens,
                permits,
                base,
            }),
        })
    }

    /// The product this client speaks to.
    pub fn product(&self) -> Product {
        self.inner.cfg.product
    }

    /// Refuses module names outside the product's documented list and the configured
    /// extras, so a typo in a folder name never turns into API calls.
    pub fn check_module(&self, module: &str) -> Result<(), ZohoError> {
        let product = self.inner.cfg.product;
        let documented = product.documented_modules();
        if documented.contains(&module) || self.inner.cfg.extra_modules.iter().any(|m| m == module)
        {
            return Ok(());
        }
        let mut allowed: Vec<&str> = documented.to_vec();
        allowed.extend(self.inner.cfg.extra_modules.iter().map(String::as_str));
        Err(ZohoError::InvalidModule {
            module: module.to_owned(),
            product,
            allowed: allowed.join(", "),
        })
    }

    /// Makes sure a usable access token is at hand (refreshing if needed); for `check`.
    pub async fn ensure_token(&self) -> Result<(), ZohoError> {
        self.inner.tokens.token().await.map(|_| ())
    }

    /// Unix expiry of the access token currently held, if any.
    pub fn token_expires_at(&self) -> Option<i64> {
        self.inner.tokens.expires_at()
    }

    /// `{api_domain}/{prefix}/{module}/{record}/Attachments[/{id}]`, with each segment
    /// percent-encoded, after the module and ids were checked.
    pub(super) fn attachments_url(
        &self,
        module: &str,
        record_id: &str,
        attachment_id: Option<&str>,
    ) -> Result<Url, ZohoError> {
        self.check_module(module)?;
        check_id("record id", record_id)?;
        if let Some(id) = attachment_id {
            check_id("attachment id", id)?;
        }
        let mut segs = vec![module, record_id, "Attachments"];
        segs.extend(attachment_id);
        self.api_url(&segs)
    }

    /// `{api_domain}/{prefix}/{segments…}`, each segment percent-encoded; the caller has
    /// checked the module and ids.
    pub(super) fn api_url(&self, segments: &[&str]) -> Result<Url, ZohoError> {
        let mut url = self.inner.base.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|()| ZohoError::Config("api_domain cannot be a base URL".into()))?;
            segs.pop_if_empty();
            segs.extend(self.inner.cfg.product.api_prefix().split('/'));
            segs.extend(segments);
        }
        Ok(url)
    }

    /// Sends `call` with a valid token, resending once after a refresh if Zoho answers
    /// 401 `INVALID_TOKEN`. Returns any other response (2xx or not) for the caller to read.
    pub(super) async fn send(&self, call: &Call<'_>) -> Result<Reply, ZohoError> {
        let mut refreshed = false;
        loop {
            let token = self.inner.tokens.token().await?;
            let permit = self
                .inner
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ZohoError::Config("client is shut down".into()))?;
            let (req, progress) = self.build(call, &token).await?;
            let sent = watch(
                call.op,
                req.send(),
                progress.as_deref(),
                self.inner.cfg.timeout,
            )
            .await;
            let resp = match sent {
                Ok(resp) => resp,
                Err(err) => {
                    drop(permit);
                    if err.outcome_unknown()
                        && !refreshed
                        && self.token_rejected(call, &token).await
                    {
                        // Zoho checks the token before reading an upload, and may close the
                        // connection while we are still sending: the upload was refused,
                        // not stored, so it is safe to resend with a new token.
                        tracing::debug!("upload cut off and token rejected; refreshing once");
                        self.inner.tokens.invalidate(&token).await;
                        refreshed = true;
                        continue;
                    }
                    return Err(err);
                }
            };
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED && !refreshed {
                let err = self.read_error(call.op, resp).await;
                if err.code() == Some("INVALID_TOKEN") {
                    tracing::debug!(op = %call.op, "access token rejected; refreshing once");
                    drop(permit);
                    self.inner.tokens.invalidate(&token).await;
                    refreshed = true;
                    continue;
                }
                return Err(err);
            }
            return Ok(Reply {
                resp,
                _permit: permit,
            });
        }
    }

    /// After an upload broke off without a reply: asks (with a one-item list of the same
    /// record, one API credit) whether Zoho now rejects `token` as `INVALID_TOKEN`.
    async fn token_rejected(&self, call: &Call<'_>, token: &Secret) -> bool {
        let Ok(_permit) = self.inner.permits.clone().acquire_owned().await else {
            return false;
        };
        let probe = self
            .inner
            .http
            .get(call.url.clone())
            .query(&[("fields", "File_Name"), ("per_page", "1")])
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Zoho-oauthtoken {}", token.expose()),
            )
            .timeout(self.inner.cfg.timeout)
            .send()
            .await;
        match probe {
            Ok(resp) if resp.status() == reqwest::StatusCode::UNAUTHORIZED => {
                self.read_error(Op::List, resp).await.code() == Some("INVALID_TOKEN")
            }
            _ => false,
        }
    }

    /// The request for `call`, with the progress of its upload body when it streams one.
    async fn build(
        &self,
        call: &Call<'_>,
        token: &Secret,
    ) -> Result<(reqwest::RequestBuilder, Option<Arc<Progress>>), ZohoError> {
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Zoho-oauthtoken {}", token.expose()),
            );
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        for (name, value) in &call.headers {
            req = req.header(name, value);
        }
        // Small exchanges keep a total limit as well; transfers have none, only the
        // limit on silence (`transfer::watch` and `next_chunk`).
        let timeout = self.inner.cfg.timeout;
        let mut progress = None;
        req = match &call.payload {
            Payload::Empty if call.op == Op::Download => req,
            Payload::Empty => req.timeout(timeout),
            Payload::Link { url, title } => {
                let form = reqwest::multipart::Form::new()
                    .text("attachmentUrl", (*url).to_owned())
                    .text("title", (*title).to_owned());
                req.multipart(form).timeout(timeout)
            }
            Payload::File(file) => {
                let (form, p) = file.form().await?;
                progress = Some(p);
                req.multipart(form)
            }
        };
        Ok((req, progress))
    }

    /// Reads an error response (bounded) into a [`ZohoError::Api`].
    pub(super) async fn read_error(&self, op: Op, mut resp: reqwest::Response) -> ZohoError {
        let status = resp.status().as_u16();
        let retry = retry_after(resp.headers());
        let mut body = Vec::new();
        loop {
            match next_chunk(&mut resp, op, self.inner.cfg.timeout).await {
                Ok(Some(chunk)) => {
                    let room = ERROR_BODY_LIMIT.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= ERROR_BODY_LIMIT {
                        break;
                    }
                }
                Ok(None) => break,
                // The status is what matters; a broken error body must not hide it.
                Err(_) => break,
            }
        }
        api_error(op, self.inner.cfg.product, status, retry, &body)
    }
}

/// Ids go into the URL path: refuse empty ones and path tricks (segments are also
/// percent-encoded, so this is belt and braces).
fn check_id(what: &str, id: &str) -> Result<(), ZohoError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ZohoError::InvalidArgument(format!(
            "{what} {id:?} is not a Zoho id"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoho::MemoryTokenCache;
    use std::time::Duration;

    pub(crate) fn cfg(product: Product, api: &str) -> ClientConfig {
        ClientConfig {
            product,
            api_domain: api.into(),
            accounts_url: "https://accounts.zoho.com".into(),
            client_id: "1000.X".into(),
            client_secret: Secret::new("sekret".into()),
            refresh_token: Secret::new("1000.refresh".into()),
            extra_modules: vec!["Custom_Things".into()],
            concurrency: 4,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }

    fn client(product: Product, api: &str) -> ZohoClient {
        ZohoClient::new(cfg(product, api), Arc::new(MemoryTokenCache::new())).unwrap()
    }

    /// The executor spawns these futures on a multi-threaded runtime.
    #[allow(dead_code)]
    fn futures_are_send(
        c: ZohoClient,
        p: &'static std::path::Path,
        d: &'static crate::dir_handle::DirHandle,
        u: &'static crate::zoho::UploadSource,
    ) {
        fn is_send<T: Send>(_: T) {}
        is_send(c.list("Contacts", "1"));
        is_send(c.upload_file("Contacts", "1", p, "x"));
        is_send(c.upload_from("Contacts", "1", u, "x"));
        is_send(c.upload_link("Contacts", "1", "u", "t"));
        is_send(c.download_to_temp("Contacts", "1", "2", d));
        is_send(c.download("Contacts", "1", "2", p, crate::zoho::Persist::Overwrite));
        is_send(c.delete("Contacts", "1", "2"));
        is_send(c.ensure_token());
    }

    #[test]
    fn urls_follow_the_documented_shape() {
        let c = client(Product::Bigin, "https://www.zohoapis.com/");
        let u = c
            .attachments_url("Contacts", "2034020000000489124", None)
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://www.zohoapis.com/bigin/v2/Contacts/2034020000000489124/Attachments"
        );
        let c = client(Product::Crm, "https://www.zohoapis.eu");
        let u = c.attachments_url("Leads", "1", Some("22")).unwrap();
        assert_eq!(
            u.as_str(),
            "https://www.zohoapis.eu/crm/v8/Leads/1/Attachments/22"
        );
        let u = c.attachments_url("Custom_Things", "1", None).unwrap();
        assert!(u.as_str().ends_with("/crm/v8/Custom_Things/1/Attachments"));
    }

    #[test]
    fn modules_and_ids_are_checked_before_any_call() {
        let c = client(Product::Bigin, "https://www.zohoapis.com");
        assert!(matches!(
            c.check_module("Leads"),
            Err(ZohoError::InvalidModule { .. })
        ));
        assert!(matches!(
            c.attachments_url("Companies", "1", None),
            Err(ZohoError::InvalidModule { .. })
        ));
        c.check_module("Accounts").unwrap();
        c.check_module("Custom_Things").unwrap();
        for bad in ["", "..", "1/2", "1?x=2", "a b"] {
            assert!(matches!(
                c.attachments_url("Contacts", bad, None),
                Err(ZohoError::InvalidArgument(_))
            ));
        }
        assert_eq!(c.product(), Product::Bigin);
        assert_eq!(c.token_expires_at(), None);
    }

    #[test]
    fn new_rejects_bad_config_and_debug_hides_secrets() {
        let mut bad = cfg(Product::Bigin, "http://www.zohoapis.com");
        assert!(matches!(
            ZohoClient::new(bad.clone(), Arc::new(MemoryTokenCache::new())),
            Err(ZohoError::Config(_))
        ));
        bad.api_domain = "https://www.zohoapis.com".into();
        bad.accounts_url = "https://me:sekret@accounts.zoho.com".into();
        match ZohoClient::new(bad.clone(), Arc::new(MemoryTokenCache::new())) {
            Err(ZohoError::Config(m)) => assert!(!m.contains("sekret"), "{m}"),
            other => panic!("credentials in accounts_url accepted: {other:?}"),
        }
        bad.accounts_url = "https://accounts.zoho.com".into();
        bad.concurrency = 0;
        assert!(ZohoClient::new(bad.clone(), Arc::new(MemoryTokenCache::new())).is_err());
        let dbg = format!("{:?}", cfg(Product::Bigin, "https://x.com"));
        assert!(
            !dbg.contains("sekret") && !dbg.contains("1000.refresh"),
            "{dbg}"
        );
        assert!(crate::zoho::USER_AGENT.starts_with("bigin-sync/"));
    }
}
