//! `.url` files (Windows Internet Shortcuts): how link attachments appear on disk.

/// Why a link from Zoho is not written as a `.url` file. Link URLs are untrusted: a line
/// break would add lines of its own (`IconFile=\\host\share` makes Explorer leak the
/// user's NTLM hash when the folder is browsed), and `file:`, `javascript:` or UNC
/// targets open something else than a web page when double-clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeLink {
    /// Another scheme (`file:`, `javascript:`, UNC …) or no host.
    #[error("the link is not an http:// or https:// URL")]
    NotHttp,
    /// Control, format (e.g. bidi override) or white-space characters in the URL.
    #[error("the link URL holds control, format or white-space characters")]
    BadCharacter,
}

/// Accepts only `http://` and `https://` URLs (scheme in any case) with a host part, and
/// without control characters, Unicode format characters (bidi overrides hide what the
/// URL really is) or white space (which would break the `URL=` line).
pub fn check_link_url(url: &str) -> Result<(), UnsafeLink> {
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || crate::planner::is_format_char(c))
    {
        return Err(UnsafeLink::BadCharacter);
    }
    let rest = url.split_once("://").and_then(|(scheme, rest)| {
        (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
            .then_some(rest)
    });
    match rest {
        // A host must follow: `https:///x` or `https://\\host` is no web address.
        Some(rest) if rest.starts_with(|c: char| c.is_alphanumeric() || c == '[') => Ok(()),
        _ => Err(UnsafeLink::NotHttp),
    }
}

/// The content written for a link attachment. CRLF because Windows tools expect it.
/// Refuses a URL [`check_link_url`] does not accept (the planner never asks for one; this
/// is the second guard).
pub fn render_url_file(url: &str) -> Result<String, UnsafeLink> {
    check_link_url(url)?;
    Ok(format!("[InternetShortcut]\r\nURL={url}\r\n"))
}

/// The `URL=` value of the `[InternetShortcut]` section, if any. Section and key names
/// are case-insensitive; a UTF-8 BOM, CRLF or LF line ends and surrounding blanks are
/// accepted. Anything else (no section, empty URL, not UTF-8, a URL that
/// [`check_link_url`] refuses) is not a link: the file is synced as a plain file.
pub fn parse_url_file(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            in_section = line.eq_ignore_ascii_case("[InternetShortcut]");
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim().eq_ignore_ascii_case("URL")
        {
            let v = v.trim();
            // A link Zoho would not get back as a safe `.url` file is not sent as one.
            return check_link_url(v).is_ok().then(|| v.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11.13, the other way: a local `.url` file whose URL would not be written
    /// from Zoho (not http(s), a CR that hides a second INI line, a bidi override) is
    /// not uploaded as a link either; it is a plain file.
    #[test]
    fn a_local_url_file_with_an_unsafe_link_is_not_a_link() {
        for url in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://a.test/\rIconFile=\\\\host\\s\\i.ico",
            "https://a.test/\u{202e}fdp.exe",
        ] {
            let text = format!("[InternetShortcut]\nURL={url}\n");
            assert_eq!(parse_url_file(text.as_bytes()), None, "{url:?}");
        }
        assert!(parse_url_file(b"[InternetShortcut]\nURL=https://a.test/x\n").is_some());
    }

    #[test]
    fn render_then_parse_round_trips() {
        let url = "https://example.com/a?b=c&d=e";
        let text = render_url_file(url).unwrap();
        assert_eq!(
            text,
            "[InternetShortcut]\r\nURL=https://example.com/a?b=c&d=e\r\n"
        );
        assert_eq!(parse_url_file(text.as_bytes()).as_deref(), Some(url));
    }

    #[test]
    fn only_plain_http_links_are_rendered() {
        for ok in [
            "https://example.com/a?b=c&d=e",
            "HTTP://example.com",
            "http://[::1]:8080/x",
            "https://bücher.example/ü",
        ] {
            assert!(render_url_file(ok).is_ok(), "{ok:?}");
        }
        for (bad, why) in [
            (
                "https://x.test/\r\nIconFile=\\\\host\\share\\i.ico",
                UnsafeLink::BadCharacter,
            ),
            ("https://x.test/\nIconIndex=1", UnsafeLink::BadCharacter),
            ("https://x.test/a b", UnsafeLink::BadCharacter),
            ("https://x.test/\u{202e}fdp.exe", UnsafeLink::BadCharacter),
            ("https://x.test/\u{85}", UnsafeLink::BadCharacter),
            ("javascript:alert(1)", UnsafeLink::NotHttp),
            ("file:///etc/passwd", UnsafeLink::NotHttp),
            ("\\\\host\\share\\doc", UnsafeLink::NotHttp),
            ("https:\\\\host\\share", UnsafeLink::NotHttp),
            ("https:///etc/passwd", UnsafeLink::NotHttp),
            ("https://\\\\host\\share", UnsafeLink::NotHttp),
            ("ftp://x.test/", UnsafeLink::NotHttp),
            ("", UnsafeLink::NotHttp),
        ] {
            assert_eq!(render_url_file(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn parse_variants() {
        let p = |s: &str| parse_url_file(s.as_bytes());
        assert_eq!(
            p("\u{feff}[internetshortcut]\nurl = https://x\n").as_deref(),
            Some("https://x")
        );
        assert_eq!(
            p("[Other]\nURL=https://no\n[InternetShortcut]\nIconIndex=0\nURL=https://yes\n")
                .as_deref(),
            Some("https://yes")
        );
        assert_eq!(p("URL=https://no-section\n"), None);
        assert_eq!(p("[InternetShortcut]\nURL=\n"), None);
        assert_eq!(p("[InternetShortcut]\n[Next]\nURL=https://x\n"), None);
        assert_eq!(parse_url_file(&[0xff, 0xfe, 0x00]), None);
    }
}
