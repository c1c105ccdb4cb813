//! Versions a replace superseded whose delete has not gone through yet.
//!
//! A replace uploads the new version, records it, then deletes the attachment it replaced.
//! When that delete fails the replace still stands, and the old attachment's id is kept
//! (in the journal) to delete it again later. Until it is gone it must never look like a
//! new attachment: downloaded, it would bring back the version the user replaced.

use crate::model::RemoteAttachment;

/// What becomes of a record's superseded versions in this reconcile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupersededFate {
    /// Still listed: delete them again.
    pub retry: Vec<String>,
    /// Absent from a fresh list: gone, nothing left to delete (their journal rows end).
    pub gone: Vec<String>,
}

/// Takes the `superseded` versions out of `remote`, so that nothing downstream (the
/// planner, the recovery of interrupted uploads, the cached list) ever takes one for a
/// new attachment, and says which to delete again and which are gone. Only a list fetched
/// in this reconcile (`listed_now`) proves one gone: a cached list never holds them.
pub fn set_superseded_aside(
    remote: &mut Vec<RemoteAttachment>,
    superseded: &[String],
    listed_now: bool,
) -> SupersededFate {
    if superseded.is_empty() {
        return SupersededFate::default();
    }
    let (retry, absent): (Vec<String>, Vec<String>) = superseded
        .iter()
        .cloned()
        .partition(|id| remote.iter().any(|a| &a.id == id));
    remote.retain(|a| !superseded.contains(&a.id));
    SupersededFate {
        retry,
        gone: if listed_now { absent } else { Vec::new() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttachmentKind;

    fn att(id: &str) -> RemoteAttachment {
        RemoteAttachment {
            id: id.into(),
            file_id: None,
            file_name: "a.pdf".into(),
            size: 1,
            kind: AttachmentKind::File,
            created_time: None,
            modified_time: None,
        }
    }

    #[test]
    fn listed_versions_are_retried_and_hidden_absent_ones_are_gone_only_on_a_fresh_list() {
        let superseded = vec!["1".to_string(), "9".to_string()];
        let mut list = vec![att("1"), att("2")];
        let fate = set_superseded_aside(&mut list, &superseded, true);
        assert_eq!(list, vec![att("2")]);
        assert_eq!(fate.retry, vec!["1".to_string()]);
        assert_eq!(fate.gone, vec!["9".to_string()]);

        let mut cached = vec![att("1"), att("2")];
        let fate = set_superseded_aside(&mut cached, &superseded, false);
        assert_eq!(cached, vec![att("2")]);
        assert_eq!(fate.retry, vec!["1".to_string()]);
        assert!(fate.gone.is_empty(), "a cached list proves nothing gone");
    }
}
