//! Reading the file name out of a `Content-Disposition` header.
//!
//! Zoho sends `attachment; filename="…"` and/or `filename*=UTF-8''…` (RFC 6266 / RFC 5987).
//! The extended form carries non-ASCII names faithfully, so it wins when both are present.

/// The file name of a `Content-Disposition` header: `filename*` (RFC 5987, `UTF-8''…`
/// or `ISO-8859-1''…`) wins over `filename`; both are percent-decoded.
pub fn parse_content_disposition(value: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(value);
    let mut plain = None;
    let mut extended = None;
    for param in split_params(&text) {
        let Some((key, val)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let val = val.trim();
        if key == "filename*" {
            extended = decode_ext_value(val);
        } else if key == "filename" {
            let unquoted = unquote(val);
            plain = Some(
                percent_decode(unquoted.as_bytes())
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or(unquoted),
            );
        }
    }
    extended.or(plain).filter(|n| !n.is_empty())
}

/// Splits on `;` outside double quotes.
fn split_params(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return v.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `charset'lang'percent-encoded` → text.
fn decode_ext_value(v: &str) -> Option<String> {
    let v = unquote(v);
    let mut parts = v.splitn(3, '\'');
    let charset = parts.next()?.to_ascii_lowercase();
    let _lang = parts.next()?;
    let raw = percent_decode(parts.next()?.as_bytes())?;
    match charset.as_str() {
        "utf-8" | "utf8" | "" => String::from_utf8(raw).ok(),
        "iso-8859-1" | "latin1" => Some(raw.into_iter().map(char::from).collect()),
        _ => None,
    }
}

/// Decodes `%XX`; `None` on a malformed escape.
fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            // Checked first: `from_str_radix` would take a sign (`%+0` → NUL).
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let s = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cd(s: &str) -> Option<String> {
        parse_content_disposition(s.as_bytes())
    }

    #[test]
    fn content_disposition_forms() {
        assert_eq!(
            cd(r#"attachment; filename="a b.pdf""#).as_deref(),
            Some("a b.pdf")
        );
        assert_eq!(
            cd("attachment; filename=plain.txt").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            cd(r#"attachment; filename="Gr__e.txt"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%E2%82%AC.txt"#)
                .as_deref(),
            Some("Grüße €.txt")
        );
        // filename* wins even when it comes first.
        assert_eq!(
            cd(r#"attachment; filename*=utf-8''%E6%97%A5%E6%9C%AC.txt; filename="x.txt""#)
                .as_deref(),
            Some("日本.txt")
        );
        assert_eq!(
            cd("attachment; filename*=ISO-8859-1''caf%E9.txt").as_deref(),
            Some("café.txt")
        );
        assert_eq!(
            cd(r#"attachment; filename="semi;colon \"q\".txt""#).as_deref(),
            Some(r#"semi;colon "q".txt"#)
        );
        assert_eq!(
            cd("attachment; filename=\"a%20b.txt\"").as_deref(),
            Some("a b.txt")
        );
        assert_eq!(
            cd("attachment; filename=\"100%.txt\"").as_deref(),
            Some("100%.txt")
        );
        // A broken filename* falls back to filename.
        assert_eq!(
            cd(r#"attachment; filename*=UTF-8''%FF%FE; filename="ok.txt""#).as_deref(),
            Some("ok.txt")
        );
        assert_eq!(cd("attachment"), None);
        assert_eq!(cd(r#"attachment; filename="""#), None);
    }
}
