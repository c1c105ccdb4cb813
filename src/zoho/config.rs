//! Where the client talks to and how: base URL rule, credentials, timeouts.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use super::secret::Secret;
use crate::model::Product;

/// Everything the client needs; built by the config module (or tests).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Bigin (`/bigin/v2`) or CRM (`/crm/v8`).
    pub product: Product,
    /// API host, e.g. `https://www.zohoapis.com` (a trailing slash is fine).
    pub api_domain: String,
    /// OAuth host, e.g. `https://accounts.zoho.com`.
    pub accounts_url: String,
    /// The Self Client's client id.
    pub client_id: String,
    /// The Self Client's secret, sent only in token requests.
    pub client_secret: Secret,
    /// The refresh token that access tokens are obtained with.
    pub refresh_token: Secret,
    /// Custom (CRM) modules allowed beyond the product's documented list.
    pub extra_modules: Vec<String>,
    /// Requests in flight at once, across every operation (Zoho allows 5–25 per org).
    pub concurrency: usize,
    /// The longest wait for a TCP/TLS connection to be set up.
    pub connect_timeout: Duration,
    /// The longest silence allowed: no reply, and no byte of a download or an upload
    /// moving, for this long fails the request. Transfers have no limit on total time;
    /// small calls (list, token, delete) must also finish within it.
    pub timeout: Duration,
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
