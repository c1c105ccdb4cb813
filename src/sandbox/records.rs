//! The records themselves, for Zoho's records API (`GET /{module}`, `GET /{module}/{id}`):
//! their fields, `Created_Time`, `Modified_Time`, `Last_Activity_Time`, the custom views
//! defined on them, and the page tokens handed out past Zoho's 2,000-record page limit
//! (each tied to the listing it continues, and valid for 24 hours).
//!
//! Pure data like [`super::store`], which owns one [`RecordTable`] and keeps it in step
//! with the records that own attachments (a record seeded through an attachment exists
//! here too, with no fields).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use super::options::AttachmentTouch;
use super::store::{RecordRef, Store};
use crate::model::Product;

/// One record's data.
#[derive(Clone, Debug)]
pub(crate) struct RecordData {
    pub fields: Map<String, Value>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
}

/// A custom view: the records of `module` whose every filtered field equals one of the
/// listed values.
#[derive(Clone, Debug)]
struct View {
    product: Product,
    module: String,
    filter: Vec<(String, Vec<Value>)>,
}

/// What `GET /{module}` sorts by (Zoho accepts these three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SortBy {
    Id,
    CreatedTime,
    ModifiedTime,
}

impl SortBy {
    pub fn parse(s: &str) -> Option<SortBy> {
        match s {
            "id" => Some(SortBy::Id),
            "Created_Time" => Some(SortBy::CreatedTime),
            "Modified_Time" => Some(SortBy::ModifiedTime),
            _ => None,
        }
    }
}

/// Which records a listing selects, in which order; a page token remembers it.
#[derive(Clone, Debug)]
pub(crate) struct Selection {
    pub product: Product,
    pub module: String,
    pub cvid: Option<String>,
    pub sort_by: SortBy,
    pub descending: bool,
    /// `If-Modified-Since`: only records with `Modified_Time` after it.
    pub since: Option<DateTime<Utc>>,
}

/// Where a page token points: the selection it continues, the fields that listing asked
/// for, and the offset of its next record.
#[derive(Clone, Debug)]
pub(crate) struct Cursor {
    pub selection: Selection,
    pub fields: Vec<String>,
    pub offset: usize,
}

/// How long a page token lasts: Zoho's expire 24 hours after they were issued.
pub(crate) const PAGE_TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// Why a selection cannot be made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SelectError {
    /// No view with that cvid in that module.
    UnknownView,
}

/// Records, views and page tokens.
#[derive(Default)]
pub(crate) struct RecordTable {
    touch: AttachmentTouch,
    /// Added to the wall clock, so tests can let time pass without sleeping.
    clock_offset: TimeDelta,
    rows: HashMap<RecordRef, RecordData>,
    /// Records deleted once: they never come back, even through auto-creation.
    deleted: HashSet<RecordRef>,
    views: HashMap<String, View>,
    /// Page tokens handed out: what each continues, and when it expires.
    tokens: HashMap<String, (Cursor, DateTime<Utc>)>,
    next_view: u64,
    next_token: u64,
    /// Numbers (counted from 1) of the `GET /{module}` calls that answer 500, so a test
    /// can fail one page in the middle of a listing.
    failing_listings: HashSet<u64>,
}

/// First custom view id; 19 digits like Zoho's cvids.
const VIEW_BASE: u64 = 2_034_020_000_000_123_000;

impl RecordTable {
    /// The sandbox's "now", to the second (Zoho shows times to the second).
    pub fn now(&self) -> DateTime<Utc> {
        (Utc::now() + self.clock_offset).trunc_subsecs(0)
    }

    /// Moves the sandbox clock forward by `by`.
    pub fn advance_clock(&mut self, by: TimeDelta) {
        self.clock_offset += by;
    }

    /// Makes `r` exist with no fields if it does not yet (a record seeded through an
    /// attachment); a deleted id comes back to life only this way.
    pub fn ensure(&mut self, r: &RecordRef) {
        if self.rows.contains_key(r) {
            return;
        }
        let now = self.now();
        self.deleted.remove(r);
        self.rows.insert(
            r.clone(),
            RecordData {
                fields: Map::new(),
                created: now,
                modified: now,
                last_activity: now,
            },
        );
    }

    /// Forgets `r` and remembers it was deleted.
    pub fn remove(&mut self, r: &RecordRef) {
        self.rows.remove(r);
        self.deleted.insert(r.clone());
    }

    /// True when `r` was deleted (and not created again since).
    pub fn was_deleted(&self, r: &RecordRef) -> bool {
        self.deleted.contains(r)
    }

    /// An attachment of `r` was uploaded, linked or deleted: moves the time the
    /// [`AttachmentTouch`] option says.
    pub fn attachment_changed(&mut self, r: &RecordRef) {
        let now = self.now();
        let touch = self.touch;
        let Some(row) = self.rows.get_mut(r) else {
            return;
        };
        match touch {
            AttachmentTouch::LastActivity => row.last_activity = now,
            AttachmentTouch::Modified => {
                row.modified = now;
                row.last_activity = now;
            }
            AttachmentTouch::Nothing => {}
        }
    }

    /// Merges `fields` into `r` (a `null` clears a field) as an edit in Bigin does:
    /// `Modified_Time` and `Last_Activity_Time` move. False if `r` does not exist.
    pub fn edit(&mut self, r: &RecordRef, fields: Map<String, Value>) -> bool {
        let now = self.now();
        let Some(row) = self.rows.get_mut(r) else {
            return false;
        };
        for (k, v) in fields {
            if is_system_field(&k) {
                continue;
            }
            if v.is_null() {
                row.fields.remove(&k);
            } else {
                row.fields.insert(k, v);
            }
        }
        row.modified = now;
        row.last_activity = now;
        true
    }

    /// One record's data.
    pub fn get(&self, r: &RecordRef) -> Option<&RecordData> {
        self.rows.get(r)
    }

    /// Defines a custom view of `module` and returns its cvid.
    pub fn define_view(
        &mut self,
        product: Product,
        module: &str,
        filter: Vec<(String, Vec<Value>)>,
    ) -> String {
        let id = (VIEW_BASE + self.next_view).to_string();
        self.next_view += 1;
        self.views.insert(
            id.clone(),
            View {
                product,
                module: module.to_string(),
                filter,
            },
        );
        id
    }

    /// The records `sel` selects, sorted, as `(id, data)`.
    pub fn select(&self, sel: &Selection) -> Result<Vec<(&str, &RecordData)>, SelectError> {
        let view = match &sel.cvid {
            None => None,
            Some(cvid) => match self.views.get(cvid) {
                Some(v) if v.product == sel.product && v.module == sel.module => Some(v),
                _ => return Err(SelectError::UnknownView),
            },
        };
        let mut out: Vec<(&str, &RecordData)> = self
            .rows
            .iter()
            .filter(|((p, m, _), _)| *p == sel.product && *m == sel.module)
            .filter(|(_, d)| view.is_none_or(|v| in_view(v, d)))
            .filter(|(_, d)| sel.since.is_none_or(|t| d.modified > t))
            .map(|((_, _, id), d)| (id.as_str(), d))
            .collect();
        out.sort_by(|a, b| {
            let by = match sel.sort_by {
                SortBy::Id => Ordering::Equal,
                SortBy::CreatedTime => a.1.created.cmp(&b.1.created),
                SortBy::ModifiedTime => a.1.modified.cmp(&b.1.modified),
            };
            let ord = by.then_with(|| id_order(a.0, b.0));
            if sel.descending { ord.reverse() } else { ord }
        });
        Ok(out)
    }

    /// Hands out a page token continuing `cursor`; returns it and when it expires.
    pub fn issue_token(&mut self, cursor: Cursor) -> (String, DateTime<Utc>) {
        self.next_token += 1;
        let token = format!("{:x}{:016x}", self.next_token, rand::random::<u64>());
        let expires = self.now() + PAGE_TOKEN_LIFETIME;
        self.tokens.insert(token.clone(), (cursor, expires));
        (token, expires)
    }

    /// The cursor of a page token, if the sandbox handed it out and it has not expired.
    pub fn cursor(&self, token: &str) -> Option<Cursor> {
        let now = self.now();
        self.tokens
            .get(token)
            .filter(|(_, expires)| now < *expires)
            .map(|(cursor, _)| cursor.clone())
    }

    /// True (once) when listing call number `n` was set to fail.
    pub fn take_listing_failure(&mut self, n: u64) -> bool {
        self.failing_listings.remove(&n)
    }

    pub(crate) fn with_touch(touch: AttachmentTouch) -> RecordTable {
        RecordTable {
            touch,
            ..RecordTable::default()
        }
    }
}

impl Store {
    /// A store whose attachment changes move record times as `touch` says.
    pub fn with_touch(touch: AttachmentTouch) -> Store {
        let mut s = Store::default();
        s.table = RecordTable::with_touch(touch);
        s
    }

    /// Creates a record with `fields` (a new 19-digit id unless `id` is given) and returns
    /// its id; an existing id is edited instead.
    pub fn create_record(
        &mut self,
        product: Product,
        module: &str,
        id: Option<&str>,
        fields: Map<String, Value>,
    ) -> String {
        let id = match id {
            Some(id) => id.to_string(),
            None => self.next_id(),
        };
        let r: RecordRef = (product, module.to_string(), id.clone());
        self.add_record(&r);
        self.table.edit(&r, fields);
        // A new record's times are its creation time.
        if let Some(row) = self.table.rows.get_mut(&r) {
            row.created = row.modified;
        }
        id
    }
}

/// The records side of the test handle: what a Bigin user does to records and views.
impl super::Sandbox {
    /// Creates a record with `fields` (a JSON object; anything else counts as no fields)
    /// and returns its new 19-digit id; its times are now.
    pub fn create_record(&self, product: Product, module: &str, fields: Value) -> String {
        let fields = object_or_empty(fields);
        super::lock(&self.shared.store).create_record(product, module, None, fields)
    }

    /// Like [`Self::create_record`] with a chosen id (an existing record is edited).
    pub fn create_record_with_id(&self, product: Product, module: &str, id: &str, fields: Value) {
        let fields = object_or_empty(fields);
        super::lock(&self.shared.store).create_record(product, module, Some(id), fields);
    }

    /// Edits a record as a Bigin user would (`null` clears a field): `Modified_Time` and
    /// `Last_Activity_Time` move. False if there is no such record.
    pub fn edit_record(&self, product: Product, module: &str, id: &str, fields: Value) -> bool {
        let r: RecordRef = (product, module.to_string(), id.to_string());
        super::lock(&self.shared.store)
            .table
            .edit(&r, object_or_empty(fields))
    }

    /// Deletes a record and its attachments; false if there was no such record.
    pub fn delete_record(&self, product: Product, module: &str, id: &str) -> bool {
        let r: RecordRef = (product, module.to_string(), id.to_string());
        super::lock(&self.shared.store).remove_record(&r)
    }

    /// Defines a custom view of `module`: the records whose field equals one of the given
    /// values, for every field given. Returns its cvid.
    pub fn define_view(
        &self,
        product: Product,
        module: &str,
        filter: &[(&str, &[&str])],
    ) -> String {
        let filter = filter
            .iter()
            .map(|(f, values)| ((*f).to_string(), values.iter().map(|v| json!(v)).collect()))
            .collect();
        super::lock(&self.shared.store)
            .table
            .define_view(product, module, filter)
    }

    /// A record as `GET /{module}/{id}` shows it (all fields and times), if it exists.
    pub fn record(&self, product: Product, module: &str, id: &str) -> Option<Value> {
        let r: RecordRef = (product, module.to_string(), id.to_string());
        let store = super::lock(&self.shared.store);
        store.table.get(&r).map(|d| render(id, d, None))
    }

    /// Makes the `n`-th `GET /{module}` call since the start (counted from 1, as
    /// `calls(Route::Records)` counts) answer 500 `INTERNAL_ERROR`: one failed page.
    pub fn fail_records_call(&self, n: u64) {
        super::lock(&self.shared.store)
            .table
            .failing_listings
            .insert(n);
    }

    /// Lets `by` pass on the sandbox's clock (record times), without sleeping.
    pub fn advance_clock(&self, by: std::time::Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        super::lock(&self.shared.store).table.advance_clock(by);
    }
}

fn object_or_empty(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Times the sandbox keeps itself; an edit cannot set them.
fn is_system_field(name: &str) -> bool {
    matches!(
        name,
        "id" | "Created_Time" | "Modified_Time" | "Last_Activity_Time"
    )
}

/// Ids are numbers written out: shorter is smaller.
fn id_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn in_view(v: &View, d: &RecordData) -> bool {
    v.filter.iter().all(|(field, allowed)| {
        let value = d.fields.get(field).unwrap_or(&Value::Null);
        allowed.iter().any(|a| a == value)
    })
}

/// A time as Zoho prints it: ISO 8601 to the second with the local `+hh:mm` offset.
pub(crate) fn zoho_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// `id` plus each asked field the record has a value for (system times included);
/// fields it lacks are `null`, as Zoho shows empty fields. `fields = None`: all of them.
pub(crate) fn render(id: &str, d: &RecordData, fields: Option<&[&str]>) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    let value = |f: &str| match f {
        "Created_Time" => json!(zoho_time(d.created)),
        "Modified_Time" => json!(zoho_time(d.modified)),
        "Last_Activity_Time" => json!(zoho_time(d.last_activity)),
        _ => d.fields.get(f).cloned().unwrap_or(Value::Null),
    };
    match fields {
        Some(fields) => {
            for f in fields.iter().filter(|f| **f != "id") {
                out.insert((*f).to_string(), value(f));
            }
        }
        None => {
            for f in ["Created_Time", "Modified_Time", "Last_Activity_Time"] {
                out.insert(f.to_string(), value(f));
            }
            for (k, v) in &d.fields {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(module: &str) -> Selection {
        Selection {
            product: Product::Bigin,
            module: module.to_string(),
            cvid: None,
            sort_by: SortBy::Id,
            descending: false,
            since: None,
        }
    }

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn views_filter_and_ids_sort_as_numbers() {
        let mut s = Store::default();
        let a = s.create_record(
            Product::Bigin,
            "Pipelines",
            Some("99"),
            fields(json!({"Stage": "Won"})),
        );
        let b = s.create_record(
            Product::Bigin,
            "Pipelines",
            Some("100"),
            fields(json!({"Stage": "Lost"})),
        );
        s.create_record(Product::Bigin, "Contacts", Some("5"), Map::new());
        let ids = |s: &Store, sel: &Selection| -> Vec<String> {
            s.table
                .select(sel)
                .unwrap()
                .iter()
                .map(|(id, _)| id.to_string())
                .collect()
        };
        assert_eq!(ids(&s, &sel("Pipelines")), [a.clone(), b.clone()]);
        let cvid = s.table.define_view(
            Product::Bigin,
            "Pipelines",
            vec![("Stage".into(), vec![json!("Lost"), json!("Open")])],
        );
        let mut v = sel("Pipelines");
        v.cvid = Some(cvid.clone());
        assert_eq!(ids(&s, &v), [b]);
        let mut other = sel("Contacts");
        other.cvid = Some(cvid);
        assert_eq!(
            s.table.select(&other).unwrap_err(),
            SelectError::UnknownView
        );
    }

    #[test]
    fn attachment_changes_move_the_time_the_option_names() {
        for (touch, moves_modified, moves_activity) in [
            (AttachmentTouch::LastActivity, false, true),
            (AttachmentTouch::Modified, true, true),
            (AttachmentTouch::Nothing, false, false),
        ] {
            let mut s = Store::with_touch(touch);
            let id = s.create_record(Product::Bigin, "Pipelines", None, Map::new());
            let r: RecordRef = (Product::Bigin, "Pipelines".into(), id);
            let before = s.table.get(&r).cloned().unwrap();
            s.table.advance_clock(TimeDelta::seconds(5));
            s.table.attachment_changed(&r);
            let after = s.table.get(&r).cloned().unwrap();
            assert_eq!(
                after.modified > before.modified,
                moves_modified,
                "{touch:?}"
            );
            assert_eq!(
                after.last_activity > before.last_activity,
                moves_activity,
                "{touch:?}"
            );
        }
    }

    #[test]
    fn deleted_records_are_gone_with_their_attachments() {
        let mut s = Store::default();
        let id = s.create_record(Product::Bigin, "Pipelines", None, Map::new());
        let r: RecordRef = (Product::Bigin, "Pipelines".into(), id);
        assert!(s.remove_record(&r));
        assert!(!s.has_record(&r) && s.table.get(&r).is_none() && s.table.was_deleted(&r));
        assert!(!s.remove_record(&r));
    }
}
