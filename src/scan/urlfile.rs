//! `.url` files (Windows Internet Shortcuts): how link attachments appear on disk.

/// The content written for a link attachment. CRLF because Windows tools expect it.
pub fn render_url_file(url: &str) -> String {
    format!("[InternetShortcut]\r\nURL={url}\r\n")
}

/// The `URL=` value of the `[InternetShortcut]` section, if any. Section and key names
/// are case-insensitive; a UTF-8 BOM, CRLF or LF line ends and surrounding blanks are
/// accepted. Anything else (no section, empty URL, not UTF-8) is not a link.
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
            return (!v.is_empty()).then(|| v.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_then_parse_round_trips() {
        let url = "https://example.com/a?b=c&d=e";
        let text = render_url_file(url);
        assert_eq!(
            text,
            "[InternetShortcut]\r\nURL=https://example.com/a?b=c&d=e\r\n"
        );
        assert_eq!(parse_url_file(text.as_bytes()).as_deref(), Some(url));
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
