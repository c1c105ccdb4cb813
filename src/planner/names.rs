//! Local file names for remote attachments, conflict copies and link files.
//!
//! Zoho's `File_Name` is untrusted input: it may hold `/`, `\`, NUL, control characters,
//! invisible format characters (a right-to-left override makes `\u{202e}fdp.exe` display
//! as `exe.pdf`), `.`/`..` or exceed what a Linux file system accepts. Every name produced here is a
//! single, non-hidden path component of at most 255 bytes, so nothing the planner asks
//! for can land outside the record folder or be ignored by the scanner.

use std::borrow::Cow;
use std::collections::HashSet;
use unicode_normalization::UnicodeNormalization;

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

/// How the file system of the sync root compares names (probed at start, see
/// `scan::probe_name_folding`). Two names it takes for one can never both be in a folder:
/// writing the second would replace the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameFolding {
    /// Byte-wise, as Linux file systems do.
    #[default]
    None,
    /// Case-insensitive (exFAT, SMB/CIFS, ext4 casefold): `A.pdf` is `a.pdf`.
    Case,
    /// Case- and normalisation-insensitive (shares served by macOS, or written by its
    /// clients): `é` as one code point (NFC) is also `e` + combining accent (NFD).
    CaseAndUnicode,
}

impl NameFolding {
    /// The key under which the file system finds `name`: two names clash exactly when
    /// their keys are equal. Case folding is done per character, upper then lower, so it
    /// folds at least as much as any file system's table (folding too much only costs a
    /// ` (2)` where none was needed; too little would overwrite).
    pub fn key(self, name: &str) -> Cow<'_, str> {
        let fold_case = |s: &mut dyn Iterator<Item = char>| -> String {
            s.flat_map(char::to_uppercase)
                .flat_map(char::to_lowercase)
                .collect()
        };
        match self {
            NameFolding::None => Cow::Borrowed(name),
            NameFolding::Case => Cow::Owned(fold_case(&mut name.chars())),
            NameFolding::CaseAndUnicode => {
                let folded = fold_case(&mut name.nfd());
                Cow::Owned(folded.nfd().collect())
            }
        }
    }
}

/// Names a new name must not clash with.
pub trait TakenNames {
    /// True when `name` is already used (as the folder's file system compares names).
    fn is_taken(&self, name: &str) -> bool;
}

impl TakenNames for HashSet<String> {
    fn is_taken(&self, name: &str) -> bool {
        self.contains(name)
    }
}

/// A set of names compared as the folder's file system compares them.
#[derive(Debug, Clone, Default)]
pub struct FoldedNames {
    folding: NameFolding,
    keys: HashSet<String>,
}

impl FoldedNames {
    /// An empty set comparing names under `folding`.
    pub fn new(folding: NameFolding) -> Self {
        FoldedNames {
            folding,
            keys: HashSet::new(),
        }
    }

    /// Marks `name` (and every spelling the file system takes for it) as used.
    pub fn insert(&mut self, name: &str) {
        self.keys.insert(self.folding.key(name).into_owned());
    }
}

impl TakenNames for FoldedNames {
    fn is_taken(&self, name: &str) -> bool {
        self.keys.contains(self.folding.key(name).as_ref())
    }
}

/// True for Unicode format characters (general category Cf, Unicode 15.1): invisible,
/// yet able to reorder (U+202E, U+2066–2069) or hide (U+200B, U+FEFF) what a name shows.
pub fn is_format_char(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Safe local file name for an untrusted remote `File_Name`.
///
/// Strips `/`, `\`, NUL, control and format characters, maps an empty or dots-only result to a
/// placeholder, trims trailing dots and spaces, prefixes a leading dot with `_` (a dot-file
/// would be ignored by the scanner and then look deleted), caps the name at 255 bytes
/// keeping the extension, and finally resolves collisions against `taken` with ` (2)`,
/// ` (3)` … before the extension. Names compare as `taken` compares them (byte-wise for
/// a `HashSet`, as Linux does; folded for [`FoldedNames`]).
pub fn local_name_for(remote_name: &str, taken: &impl TakenNames) -> String {
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
pub fn conflict_name(local_name: &str, stamp: &str, taken: &impl TakenNames) -> String {
    let base = sanitize(local_name);
    let (stem, ext) = split_ext(&base);
    let stamp = cut_to_bytes(&clean_chars(stamp), MAX_STAMP_BYTES).to_string();
    let marker = format!("{CONFLICT_MARKER}{stamp})");
    resolve(stem, &marker, ext, taken)
}

/// Local name of a link attachment: `<title>.url`, made safe and unique like any name.
pub fn link_file_name(title: &str, taken: &impl TakenNames) -> String {
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
        .filter(|&c| !matches!(c, '/' | '\\' | '\0') && !c.is_control() && !is_format_char(c))
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
fn resolve(stem: &str, suffix: &str, ext: &str, taken: &impl TakenNames) -> String {
    let first = compose(stem, suffix, ext);
    if !taken.is_taken(&first) {
        return first;
    }
    (2u64..)
        .map(|n| compose(stem, &format!("{suffix} ({n})"), ext))
        .find(|candidate| !taken.is_taken(candidate))
        .unwrap_or(first) // unreachable: `taken` is finite
}

/// Longest label a record folder gets (bytes), so that `<id> <label>` stays readable.
pub const MAX_LABEL_BYTES: usize = 80;

/// Safe label for a record folder (`<id> <label>`) from untrusted record field values:
/// the file-name rules (no `/`, `\`, NUL, control or format characters), no leading dot,
/// trimmed, at most [`MAX_LABEL_BYTES`] cut on a character boundary. May be empty.
pub fn folder_label(raw: &str) -> String {
    let cleaned = clean_chars(raw);
    // Whitespace and dots together, so that ". .x" cannot keep a dot in front.
    let trimmed = cleaned.trim_start_matches(|c: char| c == '.' || c.is_whitespace());
    cut_to_bytes(trimmed, MAX_LABEL_BYTES)
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
        .to_string()
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
    fn format_characters_are_stripped() {
        // A right-to-left override would show "\u{202e}fdp.exe" as "exe.pdf".
        assert_eq!(local_name_for("\u{202e}fdp.exe", &none()), "fdp.exe");
        assert_eq!(
            local_name_for("quote\u{200b}\u{feff}\u{2066}\u{2069}.pdf", &none()),
            "quote.pdf"
        );
        assert_eq!(local_name_for("a\u{ad}b\u{e0041}.txt", &none()), "ab.txt");
        assert_eq!(link_file_name("\u{202d}site", &none()), "site.url");
        assert_eq!(local_name_for("\u{202e}", &none()), "attachment");
        // Visible non-ASCII stays.
        assert_eq!(local_name_for("עברית.pdf", &none()), "עברית.pdf");
    }

    #[test]
    fn folded_names_clash_as_the_file_system_compares_them() {
        let mut case = FoldedNames::new(NameFolding::Case);
        case.insert("A.pdf");
        case.insert("Straße.txt");
        assert_eq!(local_name_for("a.PDF", &case), "a (2).PDF");
        assert_eq!(local_name_for("STRASSE.txt", &case), "STRASSE (2).txt");
        // Case folding does not fold normalisation.
        case.insert("\u{e9}.pdf");
        assert_eq!(local_name_for("e\u{301}.pdf", &case), "e\u{301}.pdf");

        let mut both = FoldedNames::new(NameFolding::CaseAndUnicode);
        both.insert("\u{e9}.pdf");
        assert_eq!(local_name_for("E\u{301}.pdf", &both), "E\u{301} (2).pdf");
        both.insert("ΑΣ");
        assert_eq!(local_name_for("ας", &both), "ας (2)");

        let mut exact = FoldedNames::new(NameFolding::None);
        exact.insert("A.pdf");
        assert_eq!(local_name_for("a.pdf", &exact), "a.pdf");
        assert_eq!(local_name_for("A.pdf", &exact), "A (2).pdf");
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

    proptest::proptest! {
        #[test]
        fn folder_labels_keep_the_rules_for_any_text(raw in "\\PC{0,120}|[ .\u{a0}\u{3000}/\\\\\u{202e}a-zé]{0,120}") {
            let label = folder_label(&raw);
            proptest::prop_assert!(label.len() <= MAX_LABEL_BYTES);
            proptest::prop_assert!(!label.starts_with('.'), "{:?} -> {:?}", raw, label);
            proptest::prop_assert!(!label.starts_with(char::is_whitespace) && !label.ends_with(char::is_whitespace), "{:?} -> {:?}", raw, label);
            proptest::prop_assert!(!label.contains(['/', '\\', '\0']));
            proptest::prop_assert!(!label.chars().any(char::is_control));
            proptest::prop_assert_eq!(folder_label(&label), label.clone(), "not stable");
        }
    }
}
