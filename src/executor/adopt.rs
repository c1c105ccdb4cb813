//! Finding the attachment an interrupted upload may have created.
//!
//! An upload whose reply was lost (crash, timeout, dropped connection after the body was
//! sent) may or may not have been stored by Zoho. Retrying blindly makes duplicates, so
//! before any retry the record is listed and an attachment that matches the upload's
//! intent is adopted instead.

use crate::model::{AttachmentKind, ContentHash, RemoteAttachment};
use std::collections::HashSet;

/// Slack for clock differences between this machine and Zoho when comparing an
/// attachment's `Created_Time` with the moment the intent was written.
const CLOCK_SKEW_SECS: i64 = 300;

/// What an upload sent: an attachment named `remote_name`, sent no earlier than
/// `created_unix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadIntent<'a> {
    /// The `File_Name` the upload gave the attachment.
    pub remote_name: &'a str,
    /// What the upload carried.
    pub sent: Sent<'a>,
    /// The moment the intent was written, Unix seconds (the attachment cannot be older).
    pub created_unix: i64,
}

/// The body of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent<'a> {
    /// A file of `size` bytes whose content hashes to `hash`.
    File {
        /// Bytes sent.
        size: u64,
        /// BLAKE3 of the bytes sent.
        hash: &'a ContentHash,
    },
    /// A link to `url`.
    Link {
        /// The link's URL.
        url: &'a str,
    },
}

/// The attachments that an interrupted upload may have created, newest first: same
/// `File_Name`, the same kind (a file of the same size, or a link to the same URL), not
/// already known to the journal (`known_ids`), created after the intent (when Zoho says
/// when).
///
/// For a file, name and size are not proof: a Bigin user may have attached a different
/// file of the same name and size meanwhile. The caller fetches each candidate and
/// compares its content hash with the intent's before adopting
/// (`Executor::confirm_adoptable`). For a link, the URL is the whole content.
pub fn adoption_candidates<'r>(
    remote: &'r [RemoteAttachment],
    intent: &UploadIntent<'_>,
    known_ids: &HashSet<String>,
) -> Vec<&'r RemoteAttachment> {
    let mut found: Vec<&RemoteAttachment> = remote
        .iter()
        .filter(|a| a.file_name == intent.remote_name)
        .filter(|a| match (&intent.sent, &a.kind) {
            (Sent::File { size, .. }, AttachmentKind::File) => a.size == *size,
            (Sent::Link { url }, AttachmentKind::Link { url: u }) => u == url,
            _ => false,
        })
        .filter(|a| !known_ids.contains(&a.id))
        .filter(|a| match a.created_time.as_deref().and_then(parse_time) {
            Some(t) => t >= intent.created_unix - CLOCK_SKEW_SECS,
            None => true,
        })
        .collect();
    found.sort_by(|a, b| b.created_time.cmp(&a.created_time).then(b.id.cmp(&a.id)));
    found
}

fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(id: &str, name: &str, size: u64, created: &str) -> RemoteAttachment {
        RemoteAttachment {
            id: id.into(),
            file_id: Some(format!("f{id}")),
            file_name: name.into(),
            size,
            kind: AttachmentKind::File,
            created_time: Some(created.into()),
            modified_time: None,
        }
    }

    const T0: i64 = 1_764_000_000; // 2025-11-24T16:00:00Z
    const HASH: ContentHash = ContentHash([7; 32]);

    #[test]
    fn adopts_matching_unknown_attachment() {
        let remote = vec![att("1", "a.pdf", 10, "2025-11-24T16:00:05+00:00")];
        let intent = UploadIntent {
            remote_name: "a.pdf",
            sent: Sent::File {
                size: 10,
                hash: &HASH,
            },
            created_unix: T0,
        };
        let got = adoption_candidates(&remote, &intent, &HashSet::new());
        assert_eq!(
            got.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            vec!["1"]
        );
    }

    #[test]
    fn ignores_known_wrong_size_wrong_name_and_older_attachments() {
        let remote = vec![
            att("1", "a.pdf", 10, "2025-11-24T16:00:05+00:00"),
            att("2", "a.pdf", 11, "2025-11-24T16:00:05+00:00"),
            att("3", "b.pdf", 10, "2025-11-24T16:00:05+00:00"),
            att("4", "a.pdf", 10, "2025-11-20T10:00:00+00:00"),
        ];
        let known: HashSet<String> = ["1".to_string()].into();
        let intent = UploadIntent {
            remote_name: "a.pdf",
            sent: Sent::File {
                size: 10,
                hash: &HASH,
            },
            created_unix: T0,
        };
        assert!(adoption_candidates(&remote, &intent, &known).is_empty());
    }

    #[test]
    fn links_are_never_adopted_for_file_uploads() {
        let mut link = att("9", "a.pdf", 0, "2025-11-24T16:00:05+00:00");
        link.kind = AttachmentKind::Link {
            url: "https://x".into(),
        };
        let intent = UploadIntent {
            remote_name: "a.pdf",
            sent: Sent::File {
                size: 0,
                hash: &HASH,
            },
            created_unix: T0,
        };
        assert!(adoption_candidates(&[link], &intent, &HashSet::new()).is_empty());
    }

    #[test]
    fn a_link_upload_adopts_only_a_link_to_the_same_url() {
        let mut same = att("1", "Site", 0, "2025-11-24T16:00:05+00:00");
        same.kind = AttachmentKind::Link {
            url: "https://x.test/".into(),
        };
        let mut other = same.clone();
        other.id = "2".into();
        other.kind = AttachmentKind::Link {
            url: "https://y.test/".into(),
        };
        let file = att("3", "Site", 0, "2025-11-24T16:00:05+00:00");
        let intent = UploadIntent {
            remote_name: "Site",
            sent: Sent::Link {
                url: "https://x.test/",
            },
            created_unix: T0,
        };
        let remote = [same, other, file];
        let got = adoption_candidates(&remote, &intent, &HashSet::new());
        assert_eq!(
            got.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            vec!["1"]
        );
    }
}
