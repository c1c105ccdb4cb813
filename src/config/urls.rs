//! Checks for `zoho.api_domain` / `zoho.accounts_url` overrides.

use reqwest::Url;
use std::net::IpAddr;

/// Accepts `https://…` anywhere and `http://…` only for a loopback host, so that the
/// sandbox and tests can run without TLS while a real secret never crosses a network in
/// clear text. Returns the URL without a trailing `/`, since callers append paths.
pub(super) fn check_base_url(value: &str) -> Result<String, String> {
    let url = Url::parse(value.trim()).map_err(|e| {
        format!("`{value}` is not a URL ({e}); expected e.g. \"https://www.zohoapis.com\"")
    })?;
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
    if url.host().is_none() {
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
