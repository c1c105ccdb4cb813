//! Where the client talks to and how: data centers, base URL rules, timeouts.

use std::time::Duration;

use super::error::ZohoError;
use super::secret::Secret;
use crate::model::Product;

/// The two hosts of one Zoho data center. A refresh token only works against the
/// accounts host of the data center that issued it, and its API calls must go to the
/// matching API domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcEndpoints {
    /// OAuth host, e.g. `https://accounts.zoho.com`.
    pub accounts_url: &'static str,
    /// REST API host, e.g. `https://www.zohoapis.com`.
    pub api_domain: &'static str,
}

/// Maps a data-center code (`us`, `eu`, `au`, `in`, `cn`, `jp`, `sa`, `ca`; case-insensitive)
/// to its hosts. Canada's accounts host is `zohocloud.ca`, not `zoho.ca`.
pub fn dc_endpoints(dc: &str) -> Option<DcEndpoints> {
    let (accounts_url, api_domain) = match dc.to_ascii_lowercase().as_str() {
        "us" | "com" => ("https://accounts.zoho.com", "https://www.zohoapis.com"),
        "eu" => ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        "au" => (
            "https://accounts.zoho.com.au",
            "https://www.zohoapis.com.au",
        ),
        "in" => ("https://accounts.zoho.in", "https://www.zohoapis.in"),
        "cn" => (
            "https://accounts.zoho.com.cn",
            "https://www.zohoapis.com.cn",
        ),
        "jp" => ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
        "sa" => ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
        "ca" => ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        _ => return None,
    };
    Some(DcEndpoints {
        accounts_url,
        api_domain,
    })
}

/// Everything the client needs; built by the config module (or tests).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Bigin (`/bigin/v2`) or CRM (`/crm/v8`).
    pub product: Product,
    /// API host, e.g. `https://www.zohoapis.com` (a trailing slash is fine).
    pub api_domain: String,
    /// OAuth host, e.g. `https://accounts.zoho.com`.
    pub accounts_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub refresh_token: Secret,
    /// Custom (CRM) modules allowed beyond the product's documented list.
    pub extra_modules: Vec<String>,
    /// Requests in flight at once, across every operation (Zoho allows 5–25 per org).
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// The longest silence allowed: no reply, and no byte of a download or an upload
    /// moving, for this long fails the request. Transfers have no limit on total time;
    /// small calls (list, token, delete) must also finish within it.
    pub timeout: Duration,
}

impl ClientConfig {
    /// A config for a data center with the usual defaults (concurrency 4, 10 s connect,
    /// 60 s timeout).
    pub fn for_dc(
        product: Product,
        dc: &DcEndpoints,
        client_id: String,
        client_secret: Secret,
        refresh_token: Secret,
    ) -> Self {
        ClientConfig {
            product,
            api_domain: dc.api_domain.to_owned(),
            accounts_url: dc.accounts_url.to_owned(),
            client_id,
            client_secret,
            refresh_token,
            extra_modules: Vec::new(),
            concurrency: 4,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Accepts `https://host[:port][/path]`, and `http://` only for loopback hosts
/// (`localhost`, `127.0.0.0/8`, `[::1]`) so that tokens never travel in clear over a network.
/// User info, queries and fragments are refused: they have no meaning for a base URL.
pub fn validate_base_url(url: &str) -> Result<(), ZohoError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ZohoError::Config(format!("invalid URL {url:?}: {e}")))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ZohoError::Config(format!("URL {url:?} has no host")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ZohoError::Config(format!(
            "URL {url:?} must not contain credentials"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ZohoError::Config(format!(
            "URL {url:?} must not have a query or fragment"
        )));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = bare.eq_ignore_ascii_case("localhost")
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(ZohoError::Config(format!(
                    "URL {url:?} uses plain http: only https is allowed (http only for loopback hosts)"
                )))
            }
        }
        other => Err(ZohoError::Config(format!(
            "URL {url:?} has unsupported scheme {other:?} (https required)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_table_matches_the_notes() {
        let us = dc_endpoints("us").unwrap();
        assert_eq!(us.accounts_url, "https://accounts.zoho.com");
        assert_eq!(us.api_domain, "https://www.zohoapis.com");
        let ca = dc_endpoints("CA").unwrap();
        assert_eq!(ca.accounts_url, "https://accounts.zohocloud.ca");
        assert_eq!(ca.api_domain, "https://www.zohoapis.ca");
        assert_eq!(
            dc_endpoints("au").unwrap().accounts_url,
            "https://accounts.zoho.com.au"
        );
        assert_eq!(
            dc_endpoints("cn").unwrap().api_domain,
            "https://www.zohoapis.com.cn"
        );
        for dc in ["us", "eu", "au", "in", "cn", "jp", "sa", "ca"] {
            let e = dc_endpoints(dc).unwrap();
            validate_base_url(e.accounts_url).unwrap();
            validate_base_url(e.api_domain).unwrap();
        }
        assert!(dc_endpoints("xx").is_none());
    }

    #[test]
    fn https_required_except_loopback() {
        validate_base_url("https://www.zohoapis.com").unwrap();
        validate_base_url("https://www.zohoapis.com/").unwrap();
        validate_base_url("http://127.0.0.1:8080").unwrap();
        validate_base_url("http://127.5.0.1").unwrap();
        validate_base_url("http://localhost:3000").unwrap();
        validate_base_url("http://[::1]:3000").unwrap();
        for bad in [
            "http://www.zohoapis.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "ftp://127.0.0.1",
            "https://user:pw@www.zohoapis.com",
            "https://www.zohoapis.com/?x=1",
            "not a url",
            "",
        ] {
            let err = validate_base_url(bad).unwrap_err();
            assert!(matches!(err, ZohoError::Config(_)), "{bad}: {err:?}");
        }
    }
}
