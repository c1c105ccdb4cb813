//! Where the client talks to and how: data centers, base URL rules, timeouts.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

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

/// The one rule for a base URL (`zoho.api_domain`, `zoho.accounts_url`, the client's
/// own settings): `https://host[:port][/path]` anywhere, and `http://` only for a loopback
/// host (`localhost`, `127.0.0.0/8`, `[::1]`), so that the sandbox and tests can run
/// without TLS while a real secret never crosses a network in clear text. User info,
/// queries and fragments are refused: they have no meaning for a base URL, and a password
/// there would travel with every request.
///
/// Returns the URL without a trailing `/` (callers append paths), or a message for the
/// operator that names the value, except a password in it.
pub fn validate_base_url(value: &str) -> Result<String, String> {
    let url = Url::parse(value.trim()).map_err(|e| {
        // A broken URL may still hold a password: name it only when it cannot.
        let shown = if value.contains('@') {
            "the value".to_owned()
        } else {
            format!("`{value}`")
        };
        format!("{shown} is not a URL ({e}); expected e.g. \"https://www.zohoapis.com\"")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the password would land in a log or on a terminal.
        return Err(
            "the URL has a user name or password in it (not repeated here); expected just \
             https://host, with credentials in client_secret and refresh_token"
                .to_owned(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{value}` must not have a query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&url) {
                return Err(format!(
                    "`{value}` uses http:// on a non-loopback host; expected https://, \
                     or http:// only for 127.0.0.1, ::1 or localhost"
                ));
            }
        }
        other => {
            return Err(format!(
                "`{value}` has scheme `{other}`; expected https:// (or http:// on loopback)"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{value}` has no host"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
        assert_eq!(
            validate_base_url("https://www.zohoapis.com/").unwrap(),
            "https://www.zohoapis.com"
        );
        assert_eq!(
            validate_base_url(" https://proxy.example.com/zoho/ ").unwrap(),
            "https://proxy.example.com/zoho"
        );
        validate_base_url("http://127.0.0.1:8080").unwrap();
        validate_base_url("http://127.5.0.1").unwrap();
        validate_base_url("http://localhost:3000").unwrap();
        validate_base_url("http://[::1]:3000").unwrap();
        for bad in [
            "http://www.zohoapis.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "ftp://127.0.0.1",
            "https://user:s3cret@www.zohoapis.com",
            "https://user@www.zohoapis.com",
            "https://user:s3cret@ bad host",
            "https://www.zohoapis.com/?x=1",
            "not a url",
            "",
        ] {
            let m = validate_base_url(bad).unwrap_err();
            assert!(!m.contains("s3cret"), "password echoed: {m}");
        }
    }
}
