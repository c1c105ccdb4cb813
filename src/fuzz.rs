//! Fuzzing, as property tests over raw bytes and hostile structured input, of the three
//! parsers that read what others wrote: Zoho's attachment list reply
//! ([`crate::zoho::list`]), the download's `Content-Disposition` header
//! ([`crate::zoho::parse_content_disposition`]) and the `.url` files users drop
//! ([`crate::scan::parse_url_file`]).
//!
//! Each property asserts that the parser never panics and keeps its documented promises.
//! They run with every `cargo test` (512 cases each, well under a second in release);
//! `PROPTEST_CASES=100000 cargo test --release --lib fuzz` runs them longer.
//! (cargo-fuzz needs a nightly compiler; this needs nothing.)

use crate::model::AttachmentKind;
use crate::scan::parse_url_file;
use crate::zoho::list::parse_list_page;
use crate::zoho::{Op, ZohoError, parse_content_disposition};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Cases per property: `PROPTEST_CASES` when set, else enough to run in CI briefly.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    ProptestConfig {
        cases,
        // Failures print the minimal input; they are kept as plain tests below.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings meant to hurt: control characters, CR/LF, quotes, `%`, `;`, backslashes,
/// bidi overrides, non-ASCII, and the odd long run.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,24}",
        "[\\x00-\\x1f\"'%;=\\\\ a-zA-Z0-9.\u{202e}\u{85}\u{feff}é日]{0,32}",
        Just("9".repeat(400)),
        Just(String::new()),
    ]
}

/// Any JSON value, nested a few levels, with huge and odd numbers.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(hostile_string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value for one of the list reply's fields: usually plausible, often not.
fn field_value(key: &'static str) -> BoxedStrategy<Value> {
    let plausible: BoxedStrategy<Value> = match key {
        "id" => prop_oneof![
            "[0-9]{1,19}".prop_map(Value::String),
            any::<u64>().prop_map(|n| json!(n))
        ]
        .boxed(),
        "Size" => prop_oneof![
            "[ +-]?[0-9]{1,25} ?".prop_map(Value::String),
            any::<u64>().prop_map(|n| json!(n)),
            Just(json!(1e300)),
            Just(json!(-1)),
        ]
        .boxed(),
        "$type" => prop_oneof![Just(json!("Link URL")), Just(json!("Attachment"))].boxed(),
        _ => hostile_string().prop_map(Value::String).boxed(),
    };
    prop_oneof![4 => plausible, 1 => any_json()].boxed()
}

const ITEM_KEYS: [&str; 7] = [
    "id",
    "File_Name",
    "Size",
    "$file_id",
    "$type",
    "$link_url",
    "Created_Time",
];

/// A list item: some of the documented keys with mostly plausible values.
fn list_item() -> impl Strategy<Value = Value> {
    let fields: Vec<_> = ITEM_KEYS
        .iter()
        .map(|&k| prop::option::weighted(0.8, field_value(k)).prop_map(move |v| (k, v)))
        .collect();
    prop_oneof![
        9 => fields.prop_map(|kv| {
            Value::Object(
                kv.into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                    .collect(),
            )
        }),
        1 => any_json(),
    ]
}

/// A whole list reply: a `data` array of items and an `info` object, sometimes broken.
fn list_reply() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(list_item(), 0..8),
        prop_oneof![
            Just(json!(true)),
            Just(json!(false)),
            Just(Value::Null),
            any_json()
        ],
        prop::option::weighted(0.9, Just(())),
    )
        .prop_map(|(items, more, has_info)| {
            let mut v = json!({ "data": items });
            if has_info.is_some() {
                v["info"] = json!({ "more_records": more, "per_page": 200 });
            }
            v
        })
}

/// Bytes of a reply after the network had its way: cut short or with bytes spliced in.
fn mangled(body: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = body.len();
    (0..=len, prop::collection::vec(any::<u8>(), 0..4), 0..3u8).prop_map(move |(at, junk, how)| {
        let mut b = body.clone();
        match how {
            0 => {}
            1 => b.truncate(at),
            _ => {
                b.splice(at..at, junk);
            }
        }
        b
    })
}

/// What a list item's `id` must turn into, if it is usable.
fn expected_id(item: &Value) -> Option<String> {
    match item.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The list parser's promises, for any status and body.
fn check_list(status: u16, body: &[u8]) {
    let result = parse_list_page(status, body);
    if status == 204 {
        let page = result.expect("204 is always an empty list");
        assert!(page.items.is_empty() && !page.more_records);
        return;
    }
    let page = match result {
        Ok(page) => page,
        Err(e) => {
            assert!(
                matches!(e, ZohoError::InvalidResponse { op: Op::List, .. }),
                "a bad list reply is an InvalidResponse: {e:?}"
            );
            return;
        }
    };
    // Accepted: it was JSON with a `data` array, and nothing in it was dropped, so a
    // malformed reply can never read as "these attachments are gone".
    let v: Value = serde_json::from_slice(body).expect("accepted body is JSON");
    let data = v["data"]
        .as_array()
        .expect("accepted body has a data array");
    assert_eq!(page.items.len(), data.len(), "every item is kept");
    for (a, item) in page.items.iter().zip(data) {
        assert!(!a.id.is_empty());
        assert_eq!(Some(&a.id), expected_id(item).as_ref());
        if let Some(Value::String(s)) = item.get("Size") {
            assert_eq!(s.trim().parse::<u64>().ok(), Some(a.size));
        }
        let link_url = item
            .get("$link_url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty());
        match &a.kind {
            AttachmentKind::Link { url } => assert_eq!(url.as_str(), link_url.unwrap_or("")),
            AttachmentKind::File => assert!(link_url.is_none()),
        }
    }
    assert_eq!(
        parse_list_page(status, body).ok(),
        Some(page),
        "deterministic"
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn list_reply_raw_bytes(status in prop_oneof![Just(200u16), Just(204), 200..300u16],
                            body in prop::collection::vec(any::<u8>(), 0..512)) {
        check_list(status, &body);
    }

    #[test]
    fn list_reply_hostile_json(body in list_reply()
                                   .prop_flat_map(|v| mangled(serde_json::to_vec(&v).unwrap_or_default()))) {
        check_list(200, &body);
    }
}

#[test]
fn list_reply_nested_without_end_is_an_error_not_a_stack_overflow() {
    for body in [
        "[".repeat(1_000_000),
        format!("{{\"data\":[{}", "{\"a\":[".repeat(200_000)),
        format!(
            "{{\"data\":[{{\"id\":\"1\",\"x\":{}}}]}}",
            "[".repeat(100_000)
        ),
    ] {
        check_list(200, body.as_bytes());
        assert!(parse_list_page(200, body.as_bytes()).is_err());
    }
}

/// RFC 3986 percent-decoding: every `%` takes exactly two hex digits.
fn strict_percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Percent-encodes every byte outside RFC 5987's `attr-char`.
fn ext_encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A quoted-string holding `name`.
fn quoted(name: &str) -> String {
    let mut q = String::from("\"");
    for c in name.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Parameters that may surround the file name in a header.
fn noise_param() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("; size=12".to_string()),
        Just("; creation-date=\"Wed, 12 Feb 1997 16:29:51 -0500\"".to_string()),
        Just(";".to_string()),
        Just("; name=\"a;b\\\"c\"".to_string()),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn content_disposition_raw_bytes(value in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Some(name) = parse_content_disposition(&value) {
            prop_assert!(!name.is_empty());
            let lower = String::from_utf8_lossy(&value).to_ascii_lowercase();
            prop_assert!(lower.contains("filename"), "a name from nowhere: {name:?}");
        }
    }

    /// `filename*` carries any name faithfully, and wins over a plain `filename`.
    #[test]
    fn content_disposition_extended_round_trips(name in ".{1,40}", before in noise_param(),
                                                after in noise_param(), decoy in any::<bool>()) {
        let decoy = if decoy { "; filename=\"decoy.txt\"" } else { "" };
        let header = format!("attachment{before}{decoy}; filename*=UTF-8''{}{after}", ext_encode(&name));
        prop_assert_eq!(parse_content_disposition(header.as_bytes()), Some(name));
    }

    /// A quoted `filename` without `%` comes back as it was, quotes, `;` and all.
    #[test]
    fn content_disposition_quoted_round_trips(name in "[^%]{1,40}", before in noise_param(),
                                              after in noise_param()) {
        let header = format!("attachment{before}; filename={}{after}", quoted(&name));
        prop_assert_eq!(parse_content_disposition(header.as_bytes()), Some(name));
    }

    /// `%` escapes are decoded exactly when well-formed (two hex digits), as RFC 5987 says.
    #[test]
    fn content_disposition_percent_escapes(raw in "([a-zA-Z0-9._-]|%[0-9a-fA-F+ -]{0,2}){1,12}") {
        let header = format!("attachment; filename*=UTF-8''{raw}");
        let want = strict_percent_decode(&raw)
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|n| !n.is_empty());
        prop_assert_eq!(parse_content_disposition(header.as_bytes()), want);
    }
}

/// Found by `content_disposition_percent_escapes`: `u8::from_str_radix` takes a sign, so
/// `%+0` decoded to NUL and `50%+10.txt` lost its `%+1`.
#[test]
fn content_disposition_percent_escape_needs_two_hex_digits() {
    let cd = |s: &str| parse_content_disposition(s.as_bytes());
    assert_eq!(cd("attachment; filename*=UTF-8''%+0"), None);
    assert_eq!(
        cd("attachment; filename=\"50%+10.txt\"").as_deref(),
        Some("50%+10.txt")
    );
}

/// The `.url` parser's promises for any input.
fn check_url_file(bytes: &[u8]) {
    let Some(url) = parse_url_file(bytes) else {
        return;
    };
    let text = std::str::from_utf8(bytes).expect("only UTF-8 is parsed");
    assert!(!url.is_empty());
    assert_eq!(url.trim(), url, "blanks around the URL are dropped");
    assert!(!url.contains('\n'), "one line only: {url:?}");
    assert!(
        crate::scan::check_link_url(&url).is_ok(),
        "an unsafe link is never taken from a .url file: {url:?}"
    );
    assert!(
        text.to_ascii_lowercase().contains("[internetshortcut]"),
        "a URL without the section: {url:?}"
    );
}

/// A line of an INI-style file that is not the `URL=` we look for.
fn other_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[Other]".to_string()),
        Just("IconIndex=0".to_string()),
        Just("IconFile=\\\\host\\share\\i.ico".to_string()),
        Just("; URL=https://comment.test/".to_string()),
        Just(String::new()),
        "[a-zA-Z]{1,8}=[ -~]{0,16}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn url_file_raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_url_file(&bytes);
    }

    #[test]
    fn url_file_hostile_lines(lines in prop::collection::vec(
                                  prop_oneof![
                                      other_line(),
                                      Just("[InternetShortcut]".to_string()),
                                      Just("[INTERNETSHORTCUT]".to_string()),
                                      hostile_string().prop_map(|u| format!("URL={u}")),
                                      hostile_string().prop_map(|u| format!(" url = {u}\r")),
                                  ], 0..8),
                              crlf in any::<bool>(), bom in any::<bool>()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let text = format!("{}{}", if bom { "\u{feff}" } else { "" }, lines.join(eol));
        check_url_file(text.as_bytes());
    }

    /// The (safe) URL of a well-formed shortcut is found, whatever surrounds it.
    #[test]
    fn url_file_finds_the_url(url in "(http|https|HTTPS)://[a-z0-9]{1,10}(\\.[a-z]{2,5})?(/[!-~é日]{0,30})?", before in prop::collection::vec(other_line(), 0..4),
                              after in prop::collection::vec(other_line(), 0..4), crlf in any::<bool>(),
                              bom in any::<bool>()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut lines: Vec<String> = before.iter().filter(|l| l.starts_with('[')).cloned().collect();
        lines.push("[InternetShortcut]".into());
        lines.extend(before.into_iter().filter(|l| !l.starts_with('[') && !l.to_ascii_lowercase().starts_with("url")));
        lines.push(format!("URL={url}"));
        lines.extend(after);
        let text = format!("{}{}{eol}", if bom { "\u{feff}" } else { "" }, lines.join(eol));
        prop_assert_eq!(parse_url_file(text.as_bytes()), Some(url));
    }
}
