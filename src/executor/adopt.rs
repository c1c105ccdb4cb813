//! Finding the attachment an interrupted upload may have created.
//!
//! An upload whose reply was lost (crash, timeout, dropped connection after the body was
//! sent) may or may not have been stored by Zoho. Retrying blindly makes duplicates, so
//! before any retry the record is listed and an attachment that matches the upload's
//! intent is adopted instead.

use crate::model::{AttachmentKind, RemoteAttachment};
use std::collections::HashSet;

/// Slack for clock differences between this machine and Zoho when comparing an
/// attachment's `Created_Time` with the moment the intent was written.
const CLOCK_SKEW_SECS: i64 = 300;

/// What an upload intent promised: a file named `remote_name` of `size` bytes, sent no
/// earlier than `created_unix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadIntent<'a> {
    pub remote_name: &'a str,
    pub size: u64,
    pub created_unix: i64,
}

/// The attachments that an interrupted upload may have created, newest first: same
/// `File_Name`, same size, a file (not a link), not already known to the journal
/// (`known_ids`), created after the intent (when Zoho says when).
///
/// Name and size are not proof: a Bigin user may have attached a different file of the
/// same name and size meanwhile. The caller fetches each candidate and compares its
/// content hash with the intent's before adopting (`Executor::confirm_adoptable`).
pub fn adoption_candidates<'r>(
    remote: &'r [RemoteAttachment],
    intent: &UploadIntent<'_>,
    known_ids: &HashSet<String>,
) -> Vec<&'r RemoteAttachment> {
    let mut found: Vec<&RemoteAttachment> = remote
        .iter()
        .filter(|a| a.kind == AttachmentKind::File)
        .filter(|a| a.file_name == intent.remote_name && a.size == intent.size)
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

    #[test]
    fn adopts_matching_unknown_attachment() {
        let remote = vec![att("1", "a.pdf", 10, "2025-11-24T16:00:05+00:00")];
        let intent = UploadIntent {
            remote_name: "a.pdf",
            size: 10,
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
            size: 10,
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
            size: 0,
            created_unix: T0,
        };
        assert!(adoption_candidates(&[link], &intent, &HashSet::new()).is_empty());
    }
}
