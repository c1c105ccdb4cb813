//! Zoho's records API: `GET /{Module}` (every record of a module, or of a custom view)
//! and `GET /{Module}/{id}` (one record), for following records.
//!
//! The listing asks for `id` plus the caller's fields, 200 records a page, sorted by id
//! ascending (so records created while paging land on later pages, not shift earlier
//! ones). `page` reaches only the first 2,000 records; past them Zoho wants the
//! `page_token` of the previous reply's `info.next_page_token`. With `If-Modified-Since`
//! Zoho answers 304 when no record's `Modified_Time` is later. A module without records
//! answers 204. One record answers 204 once it is deleted.
//!
//! Everything in a reply is untrusted: ids must be digits, a page must have the documented
//! shape, and every page is read under the client's reply cap. A page that fails fails the
//! whole listing, so a caller never mistakes a partial listing for the full one.

use std::collections::HashSet;

use reqwest::Method;
use reqwest::header::IF_MODIFIED_SINCE;
use serde_json::{Map, Value};

use super::client::ZohoClient;
use super::error::{Op, ZohoError};
use super::request::{Call, Payload};
use super::transfer::read_reply;

/// Page size (Zoho's maximum).
const PER_PAGE: usize = 200;
/// How many records `page` reaches; past them only `page_token` does.
const PAGE_NUMBER_LIMIT: usize = 2000;
/// Zoho accepts at most 50 field names in one listing (`id` included).
pub const MAX_FIELDS: usize = 50;
/// A guard against a server that always says `more_records` (a million records).
const MAX_PAGES: usize = 5000;
/// Zoho documents page tokens of at most 2,000 characters.
const MAX_TOKEN_LEN: usize = 2000;

/// One record from a listing: its id and the fields asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedRecord {
    /// The record id (digits).
    pub id: String,
    /// The asked fields present in the reply, as Zoho sent them (`id` not repeated).
    pub fields: Map<String, Value>,
}

impl ListedRecord {
    /// A field's value as text for labels: strings as they are, numbers and booleans
    /// printed, a lookup/owner object's "name", null/missing → None. A multi-select list
    /// gives its texts joined by ", " (None when it has none).
    pub fn text(&self, field: &str) -> Option<String> {
        match self.fields.get(field)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
            Value::Array(items) => {
                let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                (!texts.is_empty()).then(|| texts.join(", "))
            }
        }
    }
}

/// What to list.
#[derive(Debug, Clone, Copy)]
pub struct RecordQuery<'a> {
    /// API name, e.g. "Pipelines", "Deals".
    pub module: &'a str,
    /// Field API names to fetch; "id" is added if missing.
    pub fields: &'a [String],
    /// A custom view id (`cvid`): only that view's records.
    pub view: Option<&'a str>,
    /// Sent as `If-Modified-Since`: only records whose `Modified_Time` is later, and
    /// [`RecordListing::NotModified`] when there are none.
    pub modified_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// A listing's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordListing {
    /// 304: no record modified since `modified_since`.
    NotModified,
    /// Every record (or every one modified since), in id order.
    Records(Vec<ListedRecord>),
}

/// One page of a listing reply.
#[derive(Debug, PartialEq)]
struct RecordsPage {
    records: Vec<ListedRecord>,
    more_records: bool,
    next_page_token: Option<String>,
}

impl ZohoClient {
    /// Every page (200 per page; page_token beyond 2,000). A failed page fails the whole
    /// listing (never a partial Vec).
    pub async fn list_records(&self, q: &RecordQuery<'_>) -> Result<RecordListing, ZohoError> {
        self.check_module(q.module)?;
        let fields = field_param(q.fields)?;
        let url = self.api_url(&[q.module])?;
        let headers = match q.modified_since {
            // Zoho's documented form: ISO 8601 with an explicit offset.
            Some(t) => vec![(
                IF_MODIFIED_SINCE,
                t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            )],
            None => Vec::new(),
        };
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut token: Option<String> = None;
        for page in 1..=MAX_PAGES {
            let mut query = vec![
                ("fields", fields.clone()),
                ("per_page", PER_PAGE.to_string()),
                ("sort_by", "id".to_owned()),
                ("sort_order", "asc".to_owned()),
            ];
            if let Some(view) = q.view {
                query.push(("cvid", view.to_owned()));
            }
            match token.take() {
                Some(t) => query.push(("page_token", t)),
                None => query.push(("page", page.to_string())),
            }
            let call = Call {
                op: Op::ListRecords,
                method: Method::GET,
                url: url.clone(),
                query,
                headers: headers.clone(),
                payload: Payload::Empty,
            };
            let reply = self.send(&call).await?;
            let status = reply.resp.status().as_u16();
            match status {
                304 if page == 1 && q.modified_since.is_some() => {
                    return Ok(RecordListing::NotModified);
                }
                // Records deleted while we paged: the listing ended earlier than announced.
                204 if page > 1 => return Ok(RecordListing::Records(out)),
                204 => return Ok(RecordListing::Records(Vec::new())),
                200..=299 => {}
                _ => return Err(self.read_error(Op::ListRecords, reply.resp).await),
            }
            let body = read_reply(reply.resp, Op::ListRecords, self.inner.cfg.timeout).await?;
            let parsed = parse_records_page(&body, q.fields)?;
            let got = parsed.records.len();
            // A record moved between pages is seen twice; keep the first sighting.
            out.extend(
                parsed
                    .records
                    .into_iter()
                    .filter(|r| seen.insert(r.id.clone())),
            );
            if !parsed.more_records {
                return Ok(RecordListing::Records(out));
            }
            if got == 0 {
                return Err(bad(
                    Op::ListRecords,
                    format!("page {page} is empty but more_records is true"),
                ));
            }
            if (page + 1) * PER_PAGE > PAGE_NUMBER_LIMIT {
                match parsed.next_page_token {
                    Some(t) => token = Some(t),
                    None => {
                        return Err(bad(
                            Op::ListRecords,
                            format!(
                                "more than {PAGE_NUMBER_LIMIT} records but no info.next_page_token"
                            ),
                        ));
                    }
                }
            }
        }
        Err(bad(
            Op::ListRecords,
            format!("more than {MAX_PAGES} pages of records"),
        ))
    }

    /// GET /{module}/{id}: Some(record) when it exists, None on 204.
    pub async fn get_record(
        &self,
        module: &str,
        id: &str,
        fields: &[String],
    ) -> Result<Option<ListedRecord>, ZohoError> {
        self.check_module(module)?;
        if !is_record_id(id) {
            return Err(ZohoError::InvalidArgument(format!(
                "record id {id:?} is not a Zoho id"
            )));
        }
        let call = Call {
            op: Op::GetRecord,
            method: Method::GET,
            url: self.api_url(&[module, id])?,
            query: vec![("fields", field_param(fields)?)],
            headers: Vec::new(),
            payload: Payload::Empty,
        };
        let reply = self.send(&call).await?;
        let status = reply.resp.status().as_u16();
        match status {
            204 => return Ok(None),
            200..=299 => {}
            _ => return Err(self.read_error(Op::GetRecord, reply.resp).await),
        }
        let body = read_reply(reply.resp, Op::GetRecord, self.inner.cfg.timeout).await?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| bad(Op::GetRecord, format!("body is not JSON: {e}")))?;
        let first = v
            .get("data")
            .and_then(Value::as_array)
            .and_then(|d| d.first())
            .ok_or_else(|| bad(Op::GetRecord, "no \"data\" array with a record"))?;
        let record = parse_record(Op::GetRecord, first, fields)?;
        if record.id != id {
            return Err(bad(
                Op::GetRecord,
                format!("asked for record {id}, got {}", record.id),
            ));
        }
        Ok(Some(record))
    }
}

/// `id,` + the asked fields (each once), checked: no commas, at most 50.
fn field_param(fields: &[String]) -> Result<String, ZohoError> {
    let mut names: Vec<&str> = vec!["id"];
    for f in fields {
        let f = f.trim();
        if f.is_empty() || f.contains(',') {
            return Err(ZohoError::InvalidArgument(format!(
                "field name {f:?} is not a Zoho field API name"
            )));
        }
        if !names.contains(&f) {
            names.push(f);
        }
    }
    if names.len() > MAX_FIELDS {
        return Err(ZohoError::InvalidArgument(format!(
            "{} fields asked; Zoho accepts at most {MAX_FIELDS}",
            names.len()
        )));
    }
    Ok(names.join(","))
}

fn bad(op: Op, message: impl Into<String>) -> ZohoError {
    ZohoError::InvalidResponse {
        op,
        message: message.into(),
    }
}

/// Zoho record ids are digits (19 of them today); anything else is not put in a path.
fn is_record_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 30 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Parses one 200 reply of a listing.
fn parse_records_page(body: &[u8], fields: &[String]) -> Result<RecordsPage, ZohoError> {
    let op = Op::ListRecords;
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(op, format!("body is not JSON: {e}")))?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(op, "no \"data\" array"))?;
    let info = v.get("info");
    // Zoho always says whether more pages follow. A reply that does not is malformed:
    // taking it as the last page would make a cut listing look whole, and the follow
    // planner concludes from what a whole listing leaves out.
    let more_records = match info.and_then(|i| i.get("more_records")) {
        None | Some(Value::Null) => return Err(bad(op, "no info.more_records")),
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad(op, format!("info.more_records is {other}"))),
    };
    let next_page_token = match info.and_then(|i| i.get("next_page_token")) {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.is_empty() && t.len() <= MAX_TOKEN_LEN => Some(t.clone()),
        Some(other) => {
            let shown: String = other.to_string().chars().take(80).collect();
            return Err(bad(
                op,
                format!("info.next_page_token is unusable: {shown}"),
            ));
        }
    };
    let records = data
        .iter()
        .map(|item| parse_record(op, item, fields))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordsPage {
        records,
        more_records,
        next_page_token,
    })
}

/// One record object: its digit id and the asked fields it carries.
fn parse_record(op: Op, item: &Value, fields: &[String]) -> Result<ListedRecord, ZohoError> {
    let obj = item
        .as_object()
        .ok_or_else(|| bad(op, "a record is not an object"))?;
    let id = match obj.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(bad(op, "a record has no id")),
    };
    if !is_record_id(&id) {
        let shown: String = id.chars().take(40).collect();
        return Err(bad(op, format!("record id {shown:?} is not digits")));
    }
    let fields = fields
        .iter()
        .map(|f| f.trim())
        .filter(|f| *f != "id")
        .filter_map(|f| obj.get(f).map(|v| (f.to_owned(), v.clone())))
        .collect();
    Ok(ListedRecord { id, fields })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn text_of_each_kind_of_value() {
        let r = ListedRecord {
            id: "1".into(),
            fields: json!({
                "Deal_Name": "Big deal", "Amount": 12.5, "Closed": false,
                "Owner": {"name": "Ann", "id": "9"}, "Tags": ["a", "b"], "Empty": null,
                "Odd": {"id": "9"}
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        };
        assert_eq!(r.text("Deal_Name").as_deref(), Some("Big deal"));
        assert_eq!(r.text("Amount").as_deref(), Some("12.5"));
        assert_eq!(r.text("Closed").as_deref(), Some("false"));
        assert_eq!(r.text("Owner").as_deref(), Some("Ann"));
        assert_eq!(r.text("Tags").as_deref(), Some("a, b"));
        assert_eq!(r.text("Empty"), None);
        assert_eq!(r.text("Odd"), None);
        assert_eq!(r.text("Missing"), None);
    }

    #[test]
    fn fields_get_id_once_and_are_checked() {
        assert_eq!(field_param(&names(&["Deal_Name"])).unwrap(), "id,Deal_Name");
        assert_eq!(field_param(&names(&["id", "A", "A"])).unwrap(), "id,A");
        assert_eq!(field_param(&[]).unwrap(), "id");
        assert!(field_param(&names(&["A,B"])).is_err());
        let many: Vec<String> = (0..50).map(|i| format!("F{i}")).collect();
        assert!(field_param(&many).is_err());
    }

    #[test]
    fn pages_keep_asked_fields_and_refuse_bad_ids() {
        let body = br#"{"data":[{"id":"2034020000000489124","Deal_Name":"A","Other":1},{"id":77,"Deal_Name":null}],
            "info":{"more_records":true,"next_page_token":"abc","count":2,"page":1,"per_page":200}}"#;
        let p = parse_records_page(body, &names(&["Deal_Name"])).unwrap();
        assert!(p.more_records);
        assert_eq!(p.next_page_token.as_deref(), Some("abc"));
        assert_eq!(p.records[0].id, "2034020000000489124");
        assert_eq!(p.records[0].fields.len(), 1);
        assert_eq!(p.records[1].id, "77");
        for body in [
            &br#"{"data":[{"id":"../1"}]}"#[..],
            br#"{"data":[{"id":""}]}"#,
            br#"{"data":[{"Deal_Name":"x"}]}"#,
            br#"{"data":[7]}"#,
            br#"{"info":{}}"#,
            br#"{"data":[],"info":{"more_records":"yes"}}"#,
            br#"{"data":[],"info":{"more_records":false,"next_page_token":5}}"#,
            // Whole-looking data without `info`: a cut listing must not pass for whole.
            br#"{"data":[{"id":"1"}]}"#,
            br#"{"data":[{"id":"1"}],"info":{"count":1}}"#,
            b"<html>",
        ] {
            let e = parse_records_page(body, &[]).unwrap_err();
            assert!(matches!(e, ZohoError::InvalidResponse { .. }), "{e:?}");
        }
    }
}
