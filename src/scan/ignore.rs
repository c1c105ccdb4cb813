//! Which names in a record folder are never synced: editor and office lock files,
//! partial downloads (ours included), OS litter, and the config's `ignore` globs.

use super::ScanError;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Built-in patterns (matched case-insensitively, as Windows tools write them in any
/// case). Dot-files are handled apart: every name starting with `.` is ignored, which
/// covers our own `.<name>.bigin-sync.part` temp files and `.~lock.*#`.
const DEFAULTS: &[&str] = &[
    "~$*",
    "*.tmp",
    "*.part",
    "*.crdownload",
    ".~lock.*#",
    "*.swp",
    "Thumbs.db",
    "desktop.ini",
];

/// Compiled ignore rules. Names are single path components, never paths.
#[derive(Debug, Clone)]
pub struct IgnoreRules {
    defaults: GlobSet,
    extra: GlobSet,
    /// `extra` as written, to tell two rule sets apart.
    extra_globs: Vec<String>,
}

impl IgnoreRules {
    /// Builds the defaults plus `extra_globs` (config `sync.ignore`, glob syntax,
    /// case-sensitive as written).
    pub fn new(extra_globs: &[String]) -> Result<Self, ScanError> {
        let build = |patterns: &mut dyn Iterator<Item = &str>, case_insensitive: bool| {
            let mut set = GlobSetBuilder::new();
            for p in patterns {
                let glob = GlobBuilder::new(p)
                    .case_insensitive(case_insensitive)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .map_err(|source| ScanError::Glob {
                        pattern: p.to_string(),
                        source,
                    })?;
                set.add(glob);
            }
            set.build().map_err(|source| ScanError::Glob {
                pattern: String::new(),
                source,
            })
        };
        Ok(IgnoreRules {
            defaults: build(&mut DEFAULTS.iter().copied(), true)?,
            extra: build(&mut extra_globs.iter().map(String::as_str), false)?,
            extra_globs: extra_globs.to_vec(),
        })
    }

    /// The configured patterns (the defaults are fixed per build).
    pub fn extra_globs(&self) -> &[String] {
        &self.extra_globs
    }

    /// True when `name` (a file or folder name, not a path) must not be synced.
    pub fn is_ignored(&self, name: &str) -> bool {
        name.starts_with('.') || self.defaults.is_match(name) || self.extra.is_match(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let r = IgnoreRules::new(&[]).unwrap();
        for name in [
            ".hidden",
            ".quote.pdf.bigin-sync.part",
            "~$report.docx",
            "a.tmp",
            "A.TMP",
            "b.part",
            "c.crdownload",
            ".~lock.quote.odt#",
            "x.swp",
            "Thumbs.db",
            "thumbs.db",
            "desktop.ini",
            "Desktop.ini",
        ] {
            assert!(r.is_ignored(name), "{name} should be ignored");
        }
        for name in [
            "quote.pdf",
            "tmp",
            "a.tmp.pdf",
            "report~$.docx",
            "part",
            "my.url",
            "Thumbs.db.pdf",
        ] {
            assert!(!r.is_ignored(name), "{name} should be synced");
        }
    }

    #[test]
    fn extra_globs() {
        let r = IgnoreRules::new(&["*.bak".into(), "draft-?.docx".into()]).unwrap();
        assert!(r.is_ignored("x.bak"));
        assert!(r.is_ignored("draft-1.docx"));
        assert!(!r.is_ignored("draft-12.docx"));
        assert!(!r.is_ignored("x.BAK"), "config globs are case-sensitive");
        assert!(!r.is_ignored("quote.pdf"));
    }

    #[test]
    fn bad_glob_names_the_pattern() {
        let err = IgnoreRules::new(&["a[".into()]).unwrap_err();
        assert!(err.to_string().contains("a["), "{err}");
    }
}
