//! One follow pass over one followed module: list the records, read the module folder
//! and the journal, plan, confirm the missing records, act. The daemon runs it every
//! `follow_interval` per module.

use super::folders::{archive_folder, make_recorded_folder, rename_folder};
use super::plan::{
    ArchiveWhy, Confirmation, Folder, FollowAction, FollowInput, FollowRow, Listed, Listing,
    RowState, plan_follow,
};
use super::template::LabelTemplate;
use crate::config::FollowSettings;
use crate::dir_handle::{DirHandle, EntryKind};
use crate::journal::Journal;
use crate::log_fields::{MODULE, RECORD};
use crate::model::RecordKey;
use crate::planner::folder_label;
use crate::scan::parse_record_folder_name;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A record as a listing returns it: its id and the text of the fields asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchedRecord {
    /// The record id (digits).
    pub id: String,
    /// Field API name → label text (absent when empty).
    pub values: HashMap<String, String>,
}

/// The outcome of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// 304: nothing modified since the time given.
    NotModified,
    /// Every page of the listing.
    Records(Vec<FetchedRecord>),
}

/// A listing or record request that failed; nothing is concluded from it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// What a follow pass needs from Zoho (the records API; a fake in unit tests).
pub trait RecordSource: Send + Sync {
    /// Lists every record of `module` (all pages, or an error), with `fields`; only the
    /// view's when `view` is set; only those modified since the time when it is set.
    fn list(
        &self,
        module: &str,
        fields: &[String],
        view: Option<&str>,
        modified_since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> impl Future<Output = Result<Fetched, SourceError>> + Send;

    /// One record; `Ok(None)` when Zoho says it is gone (204).
    fn get(
        &self,
        module: &str,
        id: &str,
        fields: &[String],
    ) -> impl Future<Output = Result<Option<FetchedRecord>, SourceError>> + Send;
}

/// One followed module, ready to run passes.
#[derive(Debug, Clone)]
pub struct FollowedModule {
    /// Its `[[follow]]` table, validated.
    pub settings: FollowSettings,
    /// The configured label, or the module's default (`None`: the folder is the id).
    pub label: Option<LabelTemplate>,
    /// The module's other folder names (Bigin's `Deals` when `Pipelines` is followed): a
    /// hand-made record folder there is the record's folder too, so none is made.
    pub other_folders: Vec<String>,
}

impl FollowedModule {
    /// The fields a listing asks for: the label's, the filter's and the hint field.
    pub fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = self.label.as_ref().map(|l| l.fields()).unwrap_or_default();
        let extra = self
            .settings
            .filter
            .keys()
            .cloned()
            .chain(self.settings.hint_field.clone());
        for f in extra {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    /// Credits Zoho charges for one page of this module's listing.
    pub fn credits_per_page(&self) -> u32 {
        crate::zoho::ApiOp::ListRecords.credits(self.settings.view.is_some())
    }

    /// The planner's view of a fetched record.
    pub fn listed(&self, r: &FetchedRecord) -> Listed {
        let value = |f: &str| r.values.get(f).cloned();
        let label = self
            .label
            .as_ref()
            .map(|t| folder_label(&t.render(value)))
            .unwrap_or_default();
        let in_scope = self.settings.filter.iter().all(|(field, accepted)| {
            r.values
                .get(field)
                .is_some_and(|v| accepted.iter().any(|a| a == v))
        });
        Listed {
            id: r.id.clone(),
            label,
            hint: self
                .settings
                .hint_field
                .as_ref()
                .and_then(|h| r.values.get(h).map(|v| super::plan::hint_text(h, v))),
            in_scope,
        }
    }

    fn key(&self, id: &str) -> RecordKey {
        RecordKey {
            module: self.settings.module.clone(),
            record_id: id.to_string(),
        }
    }
}

/// What a pass did, for the scheduler and the logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassOutcome {
    /// Records whose hint moved: their attachments are listed now.
    pub poll_now: Vec<RecordKey>,
    /// Folders were made, renamed or archived: the folders must be read again.
    pub folders_changed: bool,
    /// API calls spent (listing pages are counted by the caller's estimate).
    pub confirm_calls: u32,
    /// Records listed (to estimate the pages of the next listing).
    pub listed: usize,
    /// Whether the listing failed.
    pub failed: bool,
    /// After a full listing: the view's records it missed although they exist (the next
    /// pass's `missed_before`). `None` after a failed or partial listing, which says
    /// nothing about them.
    pub missed: Option<HashSet<String>>,
    /// When some records missing from the listing were left for later passes
    /// ([`MAX_CONFIRMS_PER_PASS`]): the last one asked about, after which the next pass's
    /// turns start.
    pub confirm_after: Option<String>,
}

/// Reads the record folders of the module folder (made when missing, so that a new
/// followed module works at once), and those of the module's `other_folders` (UI names
/// of the same module) when they exist. Only real folders count; names that are not
/// record folders are the scan's business.
///
/// A folder found under another name of the module is listed as `<that folder>/<name>`:
/// a name with a `/` is never one the daemon gave, so the planner makes no second folder
/// for its record and never renames or archives it.
pub(crate) fn read_module_folder(
    root: &Path,
    module_folder: &str,
    other_folders: &[String],
) -> std::io::Result<(DirHandle, DirHandle, Vec<Folder>)> {
    let root = DirHandle::open(root)?;
    let dir = root.open_or_create_dir(module_folder)?;
    let mut folders = record_folders(&dir, None)?;
    for other in other_folders {
        match root.open_dir(other) {
            Ok(d) => folders.extend(record_folders(&d, Some(other))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    folders.sort();
    Ok((root, dir, folders))
}

/// The record folders directly in `dir`; their names prefixed with `<prefix>/` if given.
fn record_folders(dir: &DirHandle, prefix: Option<&str>) -> std::io::Result<Vec<Folder>> {
    let mut folders = Vec::new();
    for (name, kind) in dir.entries()? {
        let Some(name) = name.to_str() else { continue };
        if kind != EntryKind::Dir {
            continue;
        }
        if let Some(id) = parse_record_folder_name(name) {
            folders.push(Folder {
                id: id.to_string(),
                name: match prefix {
                    Some(p) => format!("{p}/{name}"),
                    None => name.to_string(),
                },
            });
        }
    }
    Ok(folders)
}

/// Runs one pass. `modified_since` is used only with `hint_field = "Modified_Time"`
/// (see the caller); such a listing is partial and never finds a record gone.
/// `missed_before` and `confirm_after` are the previous pass's [`PassOutcome::missed`] and
/// [`PassOutcome::confirm_after`].
pub async fn follow_pass<S: RecordSource>(
    source: &S,
    journal: &Arc<Journal>,
    root: &Path,
    m: &FollowedModule,
    modified_since: Option<chrono::DateTime<chrono::Utc>>,
    missed_before: &HashSet<String>,
    confirm_after: Option<&str>,
) -> anyhow::Result<PassOutcome> {
    let s = &m.settings;
    let fields = m.fields();
    let mut outcome = PassOutcome {
        // Kept when this pass asks about nothing.
        confirm_after: confirm_after.map(str::to_owned),
        ..PassOutcome::default()
    };
    let listing = match source
        .list(&s.module, &fields, s.view.as_deref(), modified_since)
        .await
    {
        Ok(Fetched::NotModified) => Listing::Partial(Vec::new()),
        Ok(Fetched::Records(r)) => {
            outcome.listed = r.len();
            let listed = r.iter().map(|r| m.listed(r)).collect();
            if modified_since.is_some() {
                Listing::Partial(listed)
            } else {
                Listing::Full(listed)
            }
        }
        Err(e) => {
            tracing::warn!({ MODULE } = %s.module, module_folder = %s.folder, error = %e, "listing the followed module failed; no folder is archived until a listing succeeds");
            outcome.failed = true;
            Listing::Failed
        }
    };

    let (root_path, folder_name, others) = (
        root.to_path_buf(),
        s.folder.clone(),
        m.other_folders.clone(),
    );
    let (root_dir, dir, folders) =
        tokio::task::spawn_blocking(move || read_module_folder(&root_path, &folder_name, &others))
            .await??;
    let (j, module) = (journal.clone(), s.module.clone());
    let rows: HashMap<String, FollowRow> =
        tokio::task::spawn_blocking(move || j.follow_rows(&module))
            .await??
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();

    let mut confirmed: HashMap<String, Confirmation> = HashMap::new();
    let plan = loop {
        let plan = plan_follow(&FollowInput {
            listing: &listing,
            folders: &folders,
            rows: &rows,
            confirmed: &confirmed,
            on_leave: s.on_leave,
            has_view: s.view.is_some(),
            missed_before,
        });
        let to_confirm: Vec<String> = plan
            .iter()
            .filter_map(|a| match a {
                FollowAction::Confirm { id } => Some(id.clone()),
                _ => None,
            })
            .collect();
        if to_confirm.is_empty() {
            break plan;
        }
        let ConfirmTurn {
            ask,
            later,
            next_after,
        } = confirmations_now(
            to_confirm,
            missed_before,
            confirm_after,
            MAX_CONFIRMS_PER_PASS,
        );
        outcome.confirm_after = next_after;
        if !later.is_empty() {
            tracing::info!({ MODULE } = %s.module, asked = ask.len(), later = later.len(), "many records are missing from the listing: the rest are asked about at the next listings (their folders stay meanwhile)");
        }
        for id in later {
            confirmed.insert(id, Confirmation::Unknown);
        }
        for id in ask {
            outcome.confirm_calls += 1;
            let answer = match source.get(&s.module, &id, &[]).await {
                Ok(None) => Confirmation::Gone,
                Ok(Some(_)) => Confirmation::Exists,
                Err(e) => {
                    tracing::warn!({ RECORD } = %id, { MODULE } = %m.settings.module, error = %e, "could not confirm whether a record left; its folder stays");
                    Confirmation::Unknown
                }
            };
            confirmed.insert(id, answer);
        }
    };

    if matches!(listing, Listing::Full(_)) {
        outcome.missed = Some(HashSet::new());
    }
    for a in &plan {
        match a {
            FollowAction::PollNow { id } => outcome.poll_now.push(m.key(id)),
            FollowAction::Missed { id } => {
                tracing::info!({ RECORD } = %id, { MODULE } = %m.settings.module, "record missing from the view's listing though it exists; it is taken as gone from the view if the next listing misses it too");
                if let Some(missed) = &mut outcome.missed {
                    missed.insert(id.clone());
                }
            }
            _ => {}
        }
    }
    let actions: Vec<FollowAction> = plan
        .into_iter()
        .filter(|a| {
            !matches!(
                a,
                FollowAction::PollNow { .. }
                    | FollowAction::Confirm { .. }
                    | FollowAction::Missed { .. }
            )
        })
        .collect();
    if actions.is_empty() {
        return Ok(outcome);
    }
    let (j, root, mm) = (journal.clone(), root.to_path_buf(), m.clone());
    outcome.folders_changed =
        tokio::task::spawn_blocking(move || apply(&j, &root, &root_dir, &dir, &mm, &actions))
            .await?;
    Ok(outcome)
}

/// Performs the plan: each folder operation writes its journal row first, so that a
/// crash at any point leaves one folder and a row a restart recognises. Returns whether
/// a folder was made, renamed or moved. A failed action is logged and left for the next
/// pass. `root_dir` is the root `dir` was opened from: an archive move stays within it.
fn apply(
    j: &Journal,
    root: &Path,
    root_dir: &DirHandle,
    dir: &DirHandle,
    m: &FollowedModule,
    actions: &[FollowAction],
) -> bool {
    let module = m.settings.module.as_str();
    let mut changed = false;
    for a in actions {
        let result: anyhow::Result<()> = (|| {
            match a {
                FollowAction::Make { id, name, hint } => {
                    make_recorded_folder(j, dir, module, id, name, hint.as_deref())?;
                    changed = true;
                    tracing::info!({ RECORD } = %id, { MODULE } = %m.settings.module, folder = %dir.display_path(name).display(), "made a folder for a followed record");
                }
                FollowAction::Rename { id, from, to } => {
                    j.follow_pending(module, id, to)?;
                    rename_folder(dir, from, to)?;
                    j.follow_settle(module, id, to)?;
                    changed = true;
                    tracing::info!({ RECORD } = %id, { MODULE } = %m.settings.module, from = %from, to = %to, "record renamed in Zoho: folder renamed");
                }
                FollowAction::Archive { id, folder, why } => {
                    j.follow_set_state(module, id, RowState::Archiving)?;
                    let to = archive_folder(root_dir, dir, &m.settings.folder, folder)?;
                    j.follow_set_state(module, id, RowState::Archived)?;
                    changed = true;
                    let why = match why {
                        ArchiveWhy::Deleted => "record deleted in Zoho",
                        ArchiveWhy::LeftScope => "record left the followed view or filter",
                        ArchiveWhy::Resume => "finishing an interrupted archive move",
                    };
                    tracing::warn!(
                        { RECORD } = %id, { MODULE } = %m.settings.module,
                        archived_to = %root.join(super::folders::ARCHIVE_DIR).join(&m.settings.folder).join(&to).display(),
                        "{why}: its folder was moved to the archive and unfollowed; nothing was deleted"
                    );
                }
                FollowAction::Settle { id, name } => j.follow_settle(module, id, name)?,
                FollowAction::MarkArchived { id } => {
                    j.follow_set_state(module, id, RowState::Archived)?
                }
                FollowAction::Release { id } => {
                    j.follow_release(module, id)?;
                    tracing::info!({ RECORD } = %id, { MODULE } = %m.settings.module, "record left the followed view or filter; its folder stays and is no longer renamed");
                }
                FollowAction::SetHint { id, hint } => {
                    j.follow_set_hint(module, id, hint.as_deref())?
                }
                FollowAction::Confirm { .. }
                | FollowAction::PollNow { .. }
                | FollowAction::Missed { .. } => {}
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!({ RECORD } = %a.record_id(), { MODULE } = %m.settings.module, module_folder = %m.settings.folder, action = ?a, error = format!("{e:#}"), "follow action failed; retried at the next pass");
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::follow::plan::OnLeave;
    use std::sync::Mutex;

    /// Zoho's records as a map; `fail` makes listings fail.
    #[derive(Default)]
    struct Fake {
        records: Mutex<Vec<FetchedRecord>>,
        fail: Mutex<bool>,
        gets: Mutex<u32>,
        /// Records that exist but listings leave out (out of the view, or skipped).
        unlisted: Mutex<Vec<String>>,
    }

    impl Fake {
        fn set(&self, id: &str, name: &str) {
            let mut r = self.records.lock().unwrap();
            r.retain(|x| x.id != id);
            r.push(FetchedRecord {
                id: id.into(),
                values: [("Deal_Name".to_string(), name.to_string())].into(),
            });
        }
        fn delete(&self, id: &str) {
            self.records.lock().unwrap().retain(|x| x.id != id);
        }
    }

    impl RecordSource for Fake {
        async fn list(
            &self,
            _module: &str,
            _fields: &[String],
            _view: Option<&str>,
            _since: Option<chrono::DateTime<chrono::Utc>>,
        ) -> Result<Fetched, SourceError> {
            if *self.fail.lock().unwrap() {
                return Err(SourceError("listing failed".into()));
            }
            let unlisted = self.unlisted.lock().unwrap().clone();
            let mut r = self.records.lock().unwrap().clone();
            r.retain(|x| !unlisted.contains(&x.id));
            Ok(Fetched::Records(r))
        }
        async fn get(
            &self,
            _module: &str,
            id: &str,
            _fields: &[String],
        ) -> Result<Option<FetchedRecord>, SourceError> {
            *self.gets.lock().unwrap() += 1;
            Ok(self
                .records
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.id == id)
                .cloned())
        }
    }

    struct T {
        tmp: tempfile::TempDir,
        journal: Arc<Journal>,
        fake: Fake,
        m: FollowedModule,
        /// What the last pass missed, for the next (as the loop keeps it).
        missed: Mutex<HashSet<String>>,
        /// Where the last pass's confirmations stopped (as the loop keeps it).
        confirm_after: Mutex<Option<String>>,
    }

    impl T {
        fn new() -> T {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::create_dir(tmp.path().join("root")).unwrap();
            let journal = Arc::new(Journal::open(&tmp.path().join("state")).unwrap());
            let m = FollowedModule {
                settings: FollowSettings {
                    folder: "Pipelines".into(),
                    module: "Pipelines".into(),
                    label: None,
                    view: None,
                    filter: Default::default(),
                    on_leave: OnLeave::Keep,
                    hint_field: None,
                },
                label: Some(LabelTemplate::parse("{Deal_Name}").unwrap()),
                other_folders: vec!["Deals".into()],
            };
            T {
                tmp,
                journal,
                fake: Fake::default(),
                m,
                missed: Mutex::default(),
                confirm_after: Mutex::default(),
            }
        }
        fn root(&self) -> PathBuf {
            self.tmp.path().join("root")
        }
        async fn pass(&self) -> PassOutcome {
            let missed = std::mem::take(&mut *self.missed.lock().unwrap());
            let after = self.confirm_after.lock().unwrap().take();
            let mut o = follow_pass(
                &self.fake,
                &self.journal,
                &self.root(),
                &self.m,
                None,
                &missed,
                after.as_deref(),
            )
            .await
            .unwrap();
            *self.missed.lock().unwrap() = o.missed.take().unwrap_or(missed);
            *self.confirm_after.lock().unwrap() = o.confirm_after.clone();
            o
        }
        fn names(&self, sub: &str) -> Vec<String> {
            let mut v: Vec<String> = match std::fs::read_dir(self.root().join(sub)) {
                Ok(d) => d
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect(),
                Err(_) => Vec::new(),
            };
            v.sort();
            v
        }
    }

    #[tokio::test]
    async fn make_rename_user_rename_and_delete_to_archive() {
        let t = T::new();
        t.fake.set("100001", "Acme / deal");
        t.fake.set("100002", "Beta");
        t.pass().await;
        assert_eq!(t.names("Pipelines"), ["100001 Acme  deal", "100002 Beta"]);
        std::fs::write(t.root().join("Pipelines/100001 Acme  deal/a.pdf"), b"a").unwrap();

        t.fake.set("100001", "Acme Ltd");
        std::fs::rename(
            t.root().join("Pipelines/100002 Beta"),
            t.root().join("Pipelines/100002 mine"),
        )
        .unwrap();
        t.fake.set("100002", "Beta 2");
        t.pass().await;
        assert_eq!(t.names("Pipelines"), ["100001 Acme Ltd", "100002 mine"]);

        // A failed listing archives nothing.
        t.fake.delete("100001");
        *t.fake.fail.lock().unwrap() = true;
        t.pass().await;
        assert_eq!(t.names("Pipelines"), ["100001 Acme Ltd", "100002 mine"]);
        *t.fake.fail.lock().unwrap() = false;
        t.pass().await;
        assert_eq!(t.names("Pipelines"), ["100002 mine"]);
        assert_eq!(
            std::fs::read(t.root().join(".archive/Pipelines/100001 Acme Ltd/a.pdf")).unwrap(),
            b"a"
        );
        // Archived and not listed: nothing more happens, no more confirmations.
        let gets = *t.fake.gets.lock().unwrap();
        t.pass().await;
        assert_eq!(*t.fake.gets.lock().unwrap(), gets);
    }

    #[tokio::test]
    async fn a_crash_during_a_rename_leaves_one_folder_and_converges() {
        for renamed_before_crash in [false, true] {
            let t = T::new();
            t.fake.set("100001", "Old");
            t.pass().await;
            t.fake.set("100001", "New");
            // The crash: the row says a rename to "New" was starting; it did or did not
            // happen.
            t.journal
                .follow_pending("Pipelines", "100001", "100001 New")
                .unwrap();
            if renamed_before_crash {
                std::fs::rename(
                    t.root().join("Pipelines/100001 Old"),
                    t.root().join("Pipelines/100001 New"),
                )
                .unwrap();
            }
            t.pass().await;
            assert_eq!(t.names("Pipelines"), ["100001 New"]);
            let row = &t.journal.follow_rows("Pipelines").unwrap()[0];
            assert_eq!(
                (row.given.as_deref(), row.pending.as_deref()),
                (Some("100001 New"), None)
            );
        }
    }

    #[tokio::test]
    async fn a_crash_during_an_archive_move_leaves_one_folder_and_converges() {
        for moved_before_crash in [false, true] {
            let t = T::new();
            t.fake.set("100001", "Acme");
            t.pass().await;
            t.fake.delete("100001");
            t.journal
                .follow_set_state("Pipelines", "100001", RowState::Archiving)
                .unwrap();
            if moved_before_crash {
                std::fs::create_dir_all(t.root().join(".archive/Pipelines")).unwrap();
                std::fs::rename(
                    t.root().join("Pipelines/100001 Acme"),
                    t.root().join(".archive/Pipelines/100001 Acme"),
                )
                .unwrap();
            }
            t.pass().await;
            assert!(t.names("Pipelines").is_empty());
            assert_eq!(t.names(".archive/Pipelines"), ["100001 Acme"]);
            assert_eq!(
                t.journal.follow_rows("Pipelines").unwrap()[0].state,
                RowState::Archived
            );
        }
    }

    #[tokio::test]
    async fn a_moved_hint_brings_the_poll_forward_and_a_first_sighting_does_not() {
        let mut t = T::new();
        t.m.settings.hint_field = Some("Last_Activity_Time".into());
        let set = |t: &T, at: &str| {
            let mut r = t.fake.records.lock().unwrap();
            r.clear();
            r.push(FetchedRecord {
                id: "100001".into(),
                values: [
                    ("Deal_Name".to_string(), "Acme".to_string()),
                    ("Last_Activity_Time".to_string(), at.to_string()),
                ]
                .into(),
            });
        };
        set(&t, "2026-12-01T10:00:00+00:00");
        assert!(t.pass().await.poll_now.is_empty());
        assert!(t.pass().await.poll_now.is_empty());
        set(&t, "2026-12-01T10:05:00+00:00");
        assert_eq!(t.pass().await.poll_now, [t.m.key("100001")]);
        assert!(t.pass().await.poll_now.is_empty());
        // hint_field changed in the config: every stored hint differs, none moved.

        t.m.settings.hint_field = Some("Modified_Time".into());
        t.fake.records.lock().unwrap()[0]
            .values
            .insert("Modified_Time".into(), "2026-12-01T09:00:00+00:00".into());
        assert!(t.pass().await.poll_now.is_empty());
        t.fake.records.lock().unwrap()[0]
            .values
            .insert("Modified_Time".into(), "2026-12-01T10:09:00+00:00".into());
        assert_eq!(t.pass().await.poll_now, [t.m.key("100001")]);
    }

    #[tokio::test]
    async fn leaving_the_filter_keeps_or_archives_as_configured() {
        for on_leave in [OnLeave::Keep, OnLeave::Archive] {
            let mut t = T::new();
            t.m.settings.on_leave = on_leave;
            t.m.settings.filter = [("Deal_Name".to_string(), vec!["Acme".to_string()])].into();
            t.fake.set("100001", "Acme");
            t.fake.set("100002", "Other");
            t.pass().await;
            assert_eq!(t.names("Pipelines"), ["100001 Acme"]);
            t.fake.set("100001", "Gone elsewhere");
            t.pass().await;
            match on_leave {
                // Kept, and from now on the user's (back in scope, it is not doubled).
                OnLeave::Keep => {
                    assert_eq!(t.names("Pipelines"), ["100001 Acme"]);
                    t.fake.set("100001", "Acme");
                    t.pass().await;
                    assert_eq!(t.names("Pipelines"), ["100001 Acme"]);
                }
                OnLeave::Archive => {
                    assert!(t.names("Pipelines").is_empty());
                    assert_eq!(t.names(".archive/Pipelines"), ["100001 Acme"]);
                }
            }
        }
    }

    #[test]
    fn the_follow_interval_stretches_to_the_budget_share() {
        let ten = std::time::Duration::from_secs(600);
        assert_eq!(stretched_interval(ten, &[(1_000, 1)], 20_000), ten);
        // 10,000 records = 50 pages a listing; 500 listing credits a day allowed.
        assert_eq!(
            stretched_interval(ten, &[(10_000, 1)], 5_000),
            std::time::Duration::from_secs(8_640)
        );
        // Through a custom view each page costs 3 credits.
        assert_eq!(
            stretched_interval(ten, &[(10_000, 3)], 5_000),
            std::time::Duration::from_secs(3 * 8_640)
        );
        assert_eq!(stretched_interval(ten, &[(0, 1), (0, 1)], 20_000), ten);
    }

    #[tokio::test]
    async fn a_hand_made_folder_under_the_modules_other_name_is_not_doubled() {
        let t = T::new();
        std::fs::create_dir_all(t.root().join("Deals/100001 mine")).unwrap();
        t.fake.set("100001", "Acme");
        t.fake.set("100002", "Beta");
        t.pass().await;
        assert_eq!(t.names("Pipelines"), ["100002 Beta"]);
        assert_eq!(t.names("Deals"), ["100001 mine"]);
        // Deleted in Zoho: the user's folder is not archived either.
        t.fake.delete("100001");
        t.pass().await;
        assert_eq!(t.names("Deals"), ["100001 mine"]);
        assert!(t.names(".archive").is_empty());
    }

    #[tokio::test]
    async fn a_record_one_view_listing_skipped_is_not_taken_as_gone_from_the_view() {
        let mut t = T::new();
        t.m.settings.view = Some("2034020000000123456".into());
        t.m.settings.on_leave = OnLeave::Archive;
        t.fake.set("100001", "Acme");
        t.fake.set("100002", "Beta");
        t.pass().await;
        // One listing skips a record that is still in the view (Zoho pages by offset: a
        // record deleted meanwhile moves the others back by one).
        t.fake.unlisted.lock().unwrap().push("100002".into());
        t.pass().await;
        t.fake.unlisted.lock().unwrap().clear();
        t.pass().await;
        assert_eq!(t.names("Pipelines"), ["100001 Acme", "100002 Beta"]);
        // Missed by two listings in a row while it exists: it left the view.
        t.fake.unlisted.lock().unwrap().push("100002".into());
        t.pass().await;
        assert_eq!(t.names("Pipelines"), ["100001 Acme", "100002 Beta"]);
        t.pass().await;
        assert_eq!(t.names("Pipelines"), ["100001 Acme"]);
        assert_eq!(t.names(".archive/Pipelines"), ["100002 Beta"]);
    }

    #[tokio::test]
    async fn records_missing_from_a_listing_are_asked_about_a_limited_number_a_pass() {
        let n = MAX_CONFIRMS_PER_PASS + 10;
        let ids: Vec<String> = (0..n).map(|i| format!("{}", 100_000 + i)).collect();
        let mut t = T::new();
        t.m.settings.view = Some("2034020000000123456".into());
        t.m.settings.on_leave = OnLeave::Archive;
        for id in &ids {
            t.fake.set(id, "Deal");
        }
        t.pass().await;
        assert_eq!(t.names("Pipelines").len(), n);
        let gets = || *t.fake.gets.lock().unwrap() as usize;

        // The view's criteria changed in Zoho: every record left it at once.
        *t.fake.unlisted.lock().unwrap() = ids.clone();
        let o = t.pass().await;
        assert_eq!(
            (gets(), o.confirm_calls as usize),
            (MAX_CONFIRMS_PER_PASS, MAX_CONFIRMS_PER_PASS)
        );
        // The second miss of those asked about comes first: they leave the view now.
        t.pass().await;
        assert_eq!(gets(), 2 * MAX_CONFIRMS_PER_PASS);
        assert_eq!(t.names(".archive/Pipelines").len(), MAX_CONFIRMS_PER_PASS);
        assert_eq!(t.names("Pipelines").len(), 10);
        // The rest follow, never more than the limit a pass.
        t.pass().await;
        t.pass().await;
        assert_eq!(gets(), 2 * MAX_CONFIRMS_PER_PASS + 20);
        assert_eq!(t.names("Pipelines").len(), 0);
        assert_eq!(t.names(".archive/Pipelines").len(), n);
        t.pass().await;
        assert_eq!(
            gets(),
            2 * MAX_CONFIRMS_PER_PASS + 20,
            "archived: asked no more"
        );
    }

    #[tokio::test]
    async fn records_that_never_settle_do_not_hold_every_turn() {
        // More records than a pass may ask about keep existing while the listing misses
        // them (no view: each pass asks again). A deleted record with a higher id still
        // gets its turn.
        let stuck: Vec<String> = (0..MAX_CONFIRMS_PER_PASS + 10)
            .map(|i| format!("{}", 100_000 + i))
            .collect();
        let t = T::new();
        for id in &stuck {
            t.fake.set(id, "Deal");
        }
        t.fake.set("900000", "Gone soon");
        t.pass().await;
        *t.fake.unlisted.lock().unwrap() = stuck.clone();
        t.fake.delete("900000");
        t.pass().await;
        t.pass().await;
        assert_eq!(t.names(".archive/Pipelines"), ["900000 Gone soon"]);
        assert_eq!(t.names("Pipelines").len(), stuck.len());
    }

    #[test]
    fn the_records_missed_before_are_asked_about_first_and_the_others_take_turns() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let before: HashSet<String> = ["9", "7"].iter().map(|s| s.to_string()).collect();
        let all = ids(&["1", "7", "2", "9", "3", "4"]);
        let t = confirmations_now(all.clone(), &before, None, 3);
        assert_eq!(
            (t.ask, t.later),
            (ids(&["7", "9", "1"]), ids(&["2", "3", "4"]))
        );
        assert_eq!(t.next_after.as_deref(), Some("1"));
        // The next turn starts after the last one asked, and wraps around.
        let t = confirmations_now(ids(&["1", "2", "3", "4"]), &HashSet::new(), Some("1"), 2);
        assert_eq!(
            (t.ask, t.next_after.as_deref()),
            (ids(&["2", "3"]), Some("3"))
        );
        let t = confirmations_now(ids(&["1", "2", "3", "4"]), &HashSet::new(), Some("3"), 2);
        assert_eq!(
            (t.ask, t.next_after.as_deref()),
            (ids(&["4", "1"]), Some("1"))
        );
        // Missed records alone fill the turn: the others' place is kept.
        let t = confirmations_now(all.clone(), &before, Some("2"), 2);
        assert_eq!(
            (t.ask, t.next_after.as_deref()),
            (ids(&["7", "9"]), Some("2"))
        );
        // Everyone asked: the next pass starts from the beginning.
        let t = confirmations_now(ids(&["2", "1"]), &before, Some("1"), 3);
        assert_eq!(
            (t.ask, t.later, t.next_after),
            (ids(&["2", "1"]), vec![], None)
        );
    }

    #[test]
    fn a_reload_keeps_the_state_of_modules_followed_the_same_way() {
        let t = T::new();
        let kept = t.m.clone();
        let mut changed = t.m.clone();
        changed.settings.view = Some("123".into());
        let state = |n| ModuleState {
            records: n,
            ..Default::default()
        };
        let new = carry_states(
            std::slice::from_ref(&kept),
            &[state(7)],
            &[changed, kept.clone()],
        );
        assert_eq!(
            new.iter().map(|s| s.records).collect::<Vec<_>>(),
            [0, 7],
            "a changed module starts afresh, an unchanged one keeps its state"
        );
    }

    #[test]
    fn labels_are_made_safe_and_cut() {
        let t = T::new();
        let long = "é".repeat(100);
        for (raw, want) in [
            ("  ..hidden/../x\u{202e}  ", "hidden..x"),
            ("   ", ""),
            (". .x", "x"),
            ("\u{3000}\u{a0}Acme\u{a0}.\u{2003}", "Acme"),
            (long.as_str(), &"é".repeat(40)[..]),
        ] {
            let l = t.m.listed(&FetchedRecord {
                id: "100001".into(),
                values: [("Deal_Name".to_string(), raw.to_string())].into(),
            });
            assert_eq!(l.label, want, "{raw:?}");
            assert_eq!(
                crate::follow::plan::folder_name("100001", &l.label),
                if want.is_empty() {
                    "100001".to_string()
                } else {
                    format!("100001 {want}")
                }
            );
        }
    }
}

/// Share of `sync.api_budget_per_day` the follow listings may plan for; polls plan for
/// 80% (see `poller`), the rest is left for transfers.
pub const FOLLOW_BUDGET_SHARE: f64 = 0.1;

/// At most this many records missing from a listing are asked about (`GET
/// /{module}/{id}`, a credit each) in one pass: a view whose criteria changed in Zoho can
/// drop thousands of records at once, and asking about all of them would spend a day's
/// budget in minutes. The rest wait for the next passes, their folders untouched.
pub const MAX_CONFIRMS_PER_PASS: usize = 50;

/// Splits the records to ask about into those asked now (at most `limit`) and those left
/// for later passes, and says where the next pass goes on. Records the previous listing
/// already missed come first: their second miss is what lets them leave the view, and a
/// turn skipped would start them over. The others take turns in id order from after
/// `after` (the previous pass's last), so that records that never settle (a request that
/// keeps failing, a record the listing keeps missing) cannot hold every turn.
fn confirmations_now(
    mut ids: Vec<String>,
    missed_before: &HashSet<String>,
    after: Option<&str>,
    limit: usize,
) -> ConfirmTurn {
    let turn = |id: &String| {
        if missed_before.contains(id) {
            0
        } else if after.is_none_or(|a| id.as_str() > a) {
            1
        } else {
            2
        }
    };
    ids.sort_by(|a, b| (turn(a), a).cmp(&(turn(b), b)));
    let later = ids.split_off(limit.min(ids.len()));
    let next_after = match later.is_empty() {
        // Everyone had a turn: the next pass starts from the beginning.
        true => None,
        false => ids
            .iter()
            .rev()
            .find(|id| !missed_before.contains(*id))
            .cloned()
            .or_else(|| after.map(str::to_owned)),
    };
    ConfirmTurn {
        ask: ids,
        later,
        next_after,
    }
}

/// What [`confirmations_now`] decided.
#[derive(Debug, PartialEq, Eq)]
struct ConfirmTurn {
    /// Asked about now.
    ask: Vec<String>,
    /// Left for the next passes.
    later: Vec<String>,
    /// Where the next pass's turns start ([`PassOutcome::confirm_after`]).
    next_after: Option<String>,
}

/// Zoho lists at most this many records per page.
pub const PAGE_SIZE: usize = 200;

/// With `hint_field = "Modified_Time"`, every this many passes is a full listing anyway:
/// an If-Modified-Since listing never shows a deleted record.
const FULL_LISTING_EVERY: u32 = 6;

/// Zoho's clock and ours disagree a little: an If-Modified-Since time reaches back this
/// far before the previous listing started.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The follow interval actually used: `interval`, stretched so that the listing pages
/// of every module fit the budget share. Each module is `(records, credits a page)`: a
/// page filtered by a custom view (`cvid`) costs Zoho 3 credits, others 1.
pub fn stretched_interval(
    interval: std::time::Duration,
    modules: &[(usize, u32)],
    budget_per_day: u32,
) -> std::time::Duration {
    let credits: f64 = modules
        .iter()
        .map(|&(n, per_page)| (n.div_ceil(PAGE_SIZE).max(1) * per_page as usize) as f64)
        .sum();
    let per_day = f64::from(budget_per_day.max(1)) * FOLLOW_BUDGET_SHARE;
    interval.max(std::time::Duration::from_secs_f64(
        credits * 86_400.0 / per_day,
    ))
}

/// Per module: what the next pass needs to know.
#[derive(Debug, Default, Clone)]
struct ModuleState {
    records: usize,
    last_start: Option<chrono::DateTime<chrono::Utc>>,
    since_full: u32,
    /// The view's records the last full listing missed although they exist.
    missed: HashSet<String>,
    /// Where the next pass's confirmations go on ([`PassOutcome::confirm_after`]).
    confirm_after: Option<String>,
}

/// What the follow loop follows and how often; replaced as a whole on SIGHUP.
#[derive(Debug, Clone, Default)]
pub struct FollowConfig {
    /// The followed modules (none: the loop idles until a reload brings some).
    pub modules: Vec<FollowedModule>,
    /// `sync.follow_interval`.
    pub interval: std::time::Duration,
    /// `sync.api_budget_per_day`: the listings plan for [`FOLLOW_BUDGET_SHARE`] of it.
    pub budget_per_day: u32,
}

impl FollowConfig {
    /// The config's `[[follow]]` tables (missing labels filled with the module's default)
    /// and the settings the loop reads.
    pub fn of(cfg: &crate::config::Config) -> FollowConfig {
        FollowConfig {
            modules: super::source::configured_modules(cfg),
            interval: cfg.sync.follow_interval,
            budget_per_day: cfg.sync.api_budget_per_day,
        }
    }
}

/// The modules of a new [`FollowConfig`] with the state of the modules that were already
/// followed with the same settings (so a reload does not list them again at once).
fn carry_states(
    old: &[FollowedModule],
    old_states: &[ModuleState],
    new: &[FollowedModule],
) -> Vec<ModuleState> {
    new.iter()
        .map(|m| {
            old.iter()
                .position(|o| o.settings == m.settings && o.label == m.label)
                .map(|i| old_states[i].clone())
                .unwrap_or_default()
        })
        .collect()
}

/// The daemon's follow loop: a pass per followed module every `interval` (stretched to
/// the budget, with one WARN), until `shutdown`. A new [`FollowConfig`] on `config`
/// (SIGHUP) takes effect at once: modules added are listed, modules removed are no
/// longer listed (their folders stay, like hand-made ones). `budget_spent` is asked with
/// the current budget before each round; `notify` gets each pass's outcome (the
/// scheduler brings hinted polls forward and re-reads the folders).
pub async fn run_follows<S: RecordSource>(
    source: S,
    journal: Arc<Journal>,
    root: PathBuf,
    mut config: tokio::sync::watch::Receiver<FollowConfig>,
    budget_spent: impl Fn(u32) -> bool + Send,
    notify: impl Fn(PassOutcome) + Send,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut cfg = config.borrow_and_update().clone();
    let mut states: Vec<ModuleState> = vec![ModuleState::default(); cfg.modules.len()];
    let mut warned = false;
    loop {
        // A spent budget holds listings back like polls (the credit meter says so once);
        // nothing is archived or renamed meanwhile, since nothing was listed.
        let modules_now = if cfg.modules.is_empty() || budget_spent(cfg.budget_per_day) {
            &[][..]
        } else {
            &cfg.modules[..]
        };
        for (m, st) in modules_now.iter().zip(states.iter_mut()) {
            if shutdown.is_cancelled() {
                return;
            }
            let incremental = m.settings.hint_field.as_deref() == Some("Modified_Time")
                && st.since_full + 1 < FULL_LISTING_EVERY;
            let since = st
                .last_start
                .filter(|_| incremental)
                .map(|t| t - CLOCK_SKEW);
            let start = chrono::Utc::now();
            let after = st.confirm_after.clone();
            match follow_pass(
                &source,
                &journal,
                &root,
                m,
                since,
                &st.missed,
                after.as_deref(),
            )
            .await
            {
                Ok(mut outcome) => {
                    if let Some(missed) = outcome.missed.take() {
                        st.missed = missed;
                    }
                    st.confirm_after = outcome.confirm_after.take();
                    if !outcome.failed {
                        st.last_start = Some(start);
                        if since.is_some() {
                            st.since_full += 1;
                        } else {
                            st.since_full = 0;
                            st.records = outcome.listed;
                        }
                    }
                    notify(outcome);
                }
                Err(e) => {
                    tracing::warn!({ MODULE } = %m.settings.module, module_folder = %m.settings.folder, error = format!("{e:#}"), "follow pass failed; retried at the next one")
                }
            }
        }
        let listings: Vec<(usize, u32)> = cfg
            .modules
            .iter()
            .zip(&states)
            .map(|(m, s)| (s.records, m.credits_per_page()))
            .collect();
        let wait = stretched_interval(cfg.interval, &listings, cfg.budget_per_day);
        if wait > cfg.interval && !warned {
            warned = true;
            tracing::warn!(
                follow_interval = %crate::config::format_duration(cfg.interval),
                stretched_to = %crate::config::format_duration(wait),
                "followed modules are listed less often than follow_interval to stay within sync.api_budget_per_day"
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            changed = config.changed() => {
                if changed.is_err() {
                    // The daemon dropped the sender: no reload can come any more.
                    shutdown.cancelled().await;
                    return;
                }
                let new = config.borrow_and_update().clone();
                states = carry_states(&cfg.modules, &states, &new.modules);
                if new.modules.is_empty() && !cfg.modules.is_empty() {
                    tracing::info!("no module is followed any more; the folders made for their records stay as they are");
                } else if !new.modules.is_empty() {
                    let names: Vec<&str> = new.modules.iter().map(|m| m.settings.folder.as_str()).collect();
                    tracing::info!(modules = %names.join(", "), "followed modules after the reload");
                }
                warned = false;
                cfg = new;
            }
        }
    }
}
