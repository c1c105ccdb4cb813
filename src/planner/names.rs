//! Local file names for remote attachments, conflict copies and link files.
//!
//! Zoho's `File_Name` is untrusted input: it may hold `/`, `\`, NUL, control characters,
//! `.`/`..` or exceed what a Linux file system accepts. Every name produced here is a
//! single, non-hidden path component of at most 255 bytes, so nothing the planner asks
//! for can land outside the record folder or be ignored by the scanner.

use std::collections::HashSet;

/// Used when nothing printable is left of a remote name.
const PLACEHOLDER: &str = "attachment";
/// Linux `NAME_MAX`, in bytes.
const MAX_NAME_BYTES: usize = 255;
/// A "extension" longer than this (dot included) is part of the stem: keeping it whole
/// while cutting a long name would otherwise eat the whole budget.
const MAX_EXT_BYTES: usize = 16;
/// Caller-supplied stamps are cut to this many bytes so the conflict suffix stays small.
const MAX_STAMP_BYTES: usize = 64;
/// The marker that makes a conflict copy recognisable.
const CONFLICT_MARKER: &str = " (conflicted copy ";
/// Extension of link files (`[InternetShortcut]`).
const URL_EXT: &str = ".url";

/// Safe local file name for an untrusted remote `File_Name`.
///
/// Strips `/`, `\`, NUL and control characters, maps an empty or dots-only result to a
/// placeholder, trims trailing dots and spaces, prefixes a leading dot with `_` (a dot-file
/// would be ignored by the scanner and then look deleted), caps the name at 255 bytes
/// keeping the extension, and finally resolves collisions against `taken` with ` (2)`,
/// ` (3)` … before the extension. Names compare byte-wise, as Linux does.
pub fn local_name_for(remote_name: &str, taken: &HashSet<String>) -> String {
    let base = sanitize(remote_name);
    let (stem, ext) = split_ext(&base);
    resolve(stem, "", ext, taken)
}

/// Name the local side of a conflict moves to (and is uploaded under), e.g.
/// `quote (conflicted copy 2026-11-25 101500).pdf`; the version already in Zoho keeps
/// the plain name.
///
/// The marker goes before the extension so the copy still opens with the same program;
/// collisions get ` (2)` … after the marker.
pub fn conflict_name(local_name: &str, stamp: &str, taken: &HashSet<String>) -> String {
    let base = sanitize(local_name);
    let (stem, ext) = split_ext(&base);
    let stamp = cut_to_bytes(&clean_chars(stamp), MAX_STAMP_BYTES).to_string();
    let marker = format!("{CONFLICT_MARKER}{stamp})");
    resolve(stem, &marker, ext, taken)
}

/// Local name of a link attachment: `<title>.url`, made safe and unique like any name.
pub fn link_file_name(title: &str, taken: &HashSet<String>) -> String {
    let stem = sanitize(title);
    resolve(&stem, "", URL_EXT, taken)
}

/// Title to give a link uploaded from a local `.url` file: the name without `.url`
/// (matched case-insensitively, as such files often come from Windows).
pub fn link_title_from_file(local_name: &str) -> String {
    let len = local_name.len();
    if len > URL_EXT.len() && local_name.is_char_boundary(len - URL_EXT.len()) {
        let (stem, ext) = local_name.split_at(len - URL_EXT.len());
        if ext.eq_ignore_ascii_case(URL_EXT) {
            return stem.to_string();
        }
    }
    local_name.to_string()
}

/// True for names made by [`conflict_name`]. Conflict copies sync like any other file;
/// this only lets logs and status point them out.
pub fn is_conflict_copy(name: &str) -> bool {
    match name.find(CONFLICT_MARKER) {
        Some(at) => name[at + CONFLICT_MARKER.len()..].contains(')'),
        None => false,
    }
}

/// Drops the characters a single path component must not hold.
fn clean_chars(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '/' | '\\' | '\0') && !c.is_control())
        .collect()
}

/// A non-empty, non-hidden name without separators, not yet capped or de-duplicated.
fn sanitize(raw: &str) -> String {
    let cleaned = clean_chars(raw);
    let trimmed = cleaned.trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        PLACEHOLDER.to_string()
    } else if trimmed.starts_with('.') {
        format!("_{trimmed}")
    } else {
        trimmed.to_string()
    }
}

/// Splits `a.pdf` into (`a`, `.pdf`); names without a usable extension keep it all as stem.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(at) if at > 0 && name.len() - at > 1 && name.len() - at <= MAX_EXT_BYTES => {
            name.split_at(at)
        }
        _ => (name, ""),
    }
}

/// Longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn cut_to_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `stem + suffix + ext`, cutting only the stem so the whole fits in 255 bytes.
fn compose(stem: &str, suffix: &str, ext: &str) -> String {
    let budget = MAX_NAME_BYTES.saturating_sub(suffix.len() + ext.len());
    let mut stem = cut_to_bytes(stem, budget);
    if ext.is_empty() && suffix.is_empty() {
        // A cut may leave a trailing dot or space, which some tools mangle.
        stem = stem.trim_end_matches(['.', ' ']);
    }
    let stem = if stem.is_empty() {
        cut_to_bytes(PLACEHOLDER, budget)
    } else {
        stem
    };
    format!("{stem}{suffix}{ext}")
}

/// First of `stem+suffix+ext`, `stem+suffix (2)+ext`, … that is not in `taken`.
fn resolve(stem: &str, suffix: &str, ext: &str, taken: &HashSet<String>) -> String {
    let first = compose(stem, suffix, ext);
    if !taken.contains(&first) {
        return first;
    }
    (2u64..)
        .map(|n| compose(stem, &format!("{suffix} ({n})"), ext))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(first) // unreachable: `taken` is finite
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> HashSet<String> {
        HashSet::new()
    }

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plain_names_pass_through() {
        assert_eq!(local_name_for("quote.pdf", &none()), "quote.pdf");
        assert_eq!(
            local_name_for("Quote Final v2.PDF", &none()),
            "Quote Final v2.PDF"
        );
        assert_eq!(local_name_for("résumé €.txt", &none()), "résumé €.txt");
    }

    #[test]
    fn separators_nul_and_controls_are_stripped() {
        assert_eq!(
            local_name_for("../../etc/passwd", &none()),
            "_....etcpasswd"
        );
        assert_eq!(local_name_for("a/b.pdf", &none()), "ab.pdf");
        assert_eq!(local_name_for("a\\b.pdf", &none()), "ab.pdf");
        assert_eq!(local_name_for("a\0b.pdf", &none()), "ab.pdf");
        assert_eq!(
            local_name_for("a\n\r\t\u{7f}\u{85}b.pdf", &none()),
            "ab.pdf"
        );
    }

    #[test]
    fn dot_names_and_empty_become_placeholder() {
        for raw in ["", ".", "..", "...", "/", "\0", " . ", "\u{1}"] {
            assert_eq!(local_name_for(raw, &none()), "attachment", "{raw:?}");
        }
    }

    #[test]
    fn trailing_dots_and_spaces_are_trimmed() {
        assert_eq!(local_name_for("report.pdf. . ", &none()), "report.pdf");
        assert_eq!(local_name_for("notes ", &none()), "notes");
    }

    #[test]
    fn leading_dot_does_not_make_a_hidden_file() {
        assert_eq!(local_name_for(".bashrc", &none()), "_.bashrc");
    }

    #[test]
    fn long_names_are_capped_at_255_bytes_keeping_extension() {
        let raw = format!("{}.pdf", "a".repeat(300));
        let name = local_name_for(&raw, &none());
        assert_eq!(name.len(), 255);
        assert!(name.ends_with(".pdf"));

        // Multi-byte chars: the cut lands on a char boundary.
        let raw = format!("{}.pdf", "é".repeat(200));
        let name = local_name_for(&raw, &none());
        assert!(name.len() <= 255 && name.len() >= 250, "{}", name.len());
        assert!(name.ends_with(".pdf"));

        // No extension.
        let name = local_name_for(&"x".repeat(300), &none());
        assert_eq!(name, "x".repeat(255));
    }

    #[test]
    fn very_long_extension_is_treated_as_stem() {
        let raw = format!("a.{}", "b".repeat(300));
        let name = local_name_for(&raw, &none());
        assert_eq!(name.len(), 255);
        assert!(name.starts_with("a.b"));
    }

    #[test]
    fn collisions_get_numbered_before_extension() {
        let taken = set(&["a.pdf", "a (2).pdf"]);
        assert_eq!(local_name_for("a.pdf", &taken), "a (3).pdf");
        assert_eq!(local_name_for("b", &set(&["b"])), "b (2)");
    }

    #[test]
    fn collisions_after_mapping_are_resolved() {
        let taken = set(&["ab.pdf"]);
        assert_eq!(local_name_for("a/b.pdf", &taken), "ab (2).pdf");
        assert_eq!(
            local_name_for("..", &set(&["attachment"])),
            "attachment (2)"
        );
    }

    #[test]
    fn collision_on_a_capped_name_stays_within_255_bytes() {
        let raw = format!("{}.pdf", "a".repeat(300));
        let first = local_name_for(&raw, &none());
        let second = local_name_for(&raw, &set(&[&first]));
        assert_ne!(first, second);
        assert!(second.len() <= 255);
        assert!(second.ends_with(" (2).pdf"));
    }

    #[test]
    fn names_compare_byte_wise() {
        assert_eq!(local_name_for("A.pdf", &set(&["a.pdf"])), "A.pdf");
    }

    #[test]
    fn conflict_name_inserts_marker_before_extension() {
        assert_eq!(
            conflict_name("quote.pdf", "2026-11-25 101500", &none()),
            "quote (conflicted copy 2026-11-25 101500).pdf"
        );
        assert_eq!(
            conflict_name("notes", "S", &none()),
            "notes (conflicted copy S)"
        );
        let taken = set(&["q (conflicted copy S).pdf"]);
        assert_eq!(
            conflict_name("q.pdf", "S", &taken),
            "q (conflicted copy S) (2).pdf"
        );
    }

    #[test]
    fn conflict_name_of_long_name_is_capped_and_keeps_marker() {
        let local = format!("{}.pdf", "a".repeat(251));
        let name = conflict_name(&local, "2026-11-25 101500", &none());
        assert!(name.len() <= 255);
        assert!(name.ends_with(" (conflicted copy 2026-11-25 101500).pdf"));
        assert!(is_conflict_copy(&name));
    }

    #[test]
    fn conflict_stamp_cannot_inject_separators() {
        let name = conflict_name("a.pdf", "../x/y", &none());
        assert!(!name.contains('/'));
    }

    #[test]
    fn detects_conflict_copies() {
        assert!(is_conflict_copy(
            "quote (conflicted copy 2026-11-25 101500).pdf"
        ));
        assert!(!is_conflict_copy("quote.pdf"));
        assert!(!is_conflict_copy("quote (conflicted copy"));
    }

    #[test]
    fn link_names_round_trip() {
        assert_eq!(link_file_name("Website", &none()), "Website.url");
        assert_eq!(link_title_from_file("Website.url"), "Website");
        assert_eq!(link_title_from_file("Website.URL"), "Website");
        assert_eq!(link_title_from_file("notes.txt"), "notes.txt");
        assert_eq!(link_title_from_file(".url"), ".url");
        assert_eq!(link_file_name("a/b", &none()), "ab.url");
        assert_eq!(link_file_name("", &none()), "attachment.url");
        assert_eq!(link_file_name("W", &set(&["W.url"])), "W (2).url");
        let long = link_file_name(&"t".repeat(400), &none());
        assert_eq!(long.len(), 255);
        assert!(long.ends_with(".url"));
    }
}
