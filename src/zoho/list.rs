//! `GET …/Attachments`: every attachment of a record, all pages.
//!
//! Zoho requires `fields`; we always ask for
//! `File_Name,Size,$file_id,$type,$link_url,Created_Time,Modified_Time` with `per_page=200`
//! and follow `page` while `info.more_records` is true. No attachments is HTTP 204 with an
//! empty body (some versions: 200 with `"data": []`). `Size` is a string of digits.
//! Link attachments have `"$type":"Link URL"`, a `$link_url` and `"$file_id":null`.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::Value;

use super::client::ZohoClient;
use super::error::{Op, ZohoError};
use super::request::{Call, Payload};
use super::transfer::read_reply;
use crate::model::{AttachmentKind, RemoteAttachment};

/// The fields requested on every list call.
pub const LIST_FIELDS: &str = "File_Name,Size,$file_id,$type,$link_url,Created_Time,Modified_Time";
/// Page size (Zoho's maximum).
pub const PER_PAGE: u32 = 200;
/// A guard against a server that always says `more_records` (200 × 500 = 100 000 attachments).
const MAX_PAGES: u32 = 500;

/// One page of a list reply.
#[derive(Debug, PartialEq)]
pub(crate) struct ListPage {
    pub(crate) items: Vec<RemoteAttachment>,
    pub(crate) more_records: bool,
}

impl ZohoClient {
    /// Lists every attachment of a record (files and links), following pages.
    /// A malformed reply is an error, never an empty list.
    pub async fn list(
        &self,
        module: &str,
        record_id: &str,
    ) -> Result<Vec<RemoteAttachment>, ZohoError> {
        let url = self.attachments_url(module, record_id, None)?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for page in 1..=MAX_PAGES {
            let call = Call {
                op: Op::List,
                method: Method::GET,
                url: url.clone(),
                query: vec![
                    ("fields", LIST_FIELDS.to_owned()),
                    ("per_page", PER_PAGE.to_string()),
                    ("page", page.to_string()),
                ],
                headers: Vec::new(),
                payload: Payload::Empty,
            };
            let reply = self.send(&call).await?;
            let status = reply.resp.status().as_u16();
            if !(200..300).contains(&status) {
                return Err(self.read_error(Op::List, reply.resp).await);
            }
            // Capped: a page of 200 attachments is small, and a huge reply must not
            // fill the memory.
            let body = read_reply(reply.resp, Op::List, self.inner.cfg.timeout).await?;
            let parsed = parse_list_page(status, &body)?;
            let got = parsed.items.len();
            // Attachments added while paging shift later pages; keep the first sighting.
            out.extend(
                parsed
                    .items
                    .into_iter()
                    .filter(|a| seen.insert(a.id.clone())),
            );
            if !parsed.more_records {
                return Ok(out);
            }
            if got == 0 {
                // Stopping here would return a partial list as if it were complete.
                return Err(bad(format!(
                    "page {page} is empty but more_records is true"
                )));
            }
        }
        Err(ZohoError::InvalidResponse {
            op: Op::List,
            message: format!("more than {MAX_PAGES} pages of attachments"),
        })
    }
}

fn bad(message: impl Into<String>) -> ZohoError {
    ZohoError::InvalidResponse {
        op: Op::List,
        message: message.into(),
    }
}

/// Parses one list reply (a 2xx status and its body).
pub(crate) fn parse_list_page(status: u16, body: &[u8]) -> Result<ListPage, ZohoError> {
    // Only a 204 means "no attachments": an empty 200 could be a cut reply, and reading it
    // as empty would make the planner treat every remote file as deleted.
    if status == 204 {
        return Ok(ListPage {
            items: Vec::new(),
            more_records: false,
        });
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("body is not JSON: {e}")))?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no \"data\" array"))?;
    let more_records = match v.get("info").and_then(|i| i.get("more_records")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad(format!("info.more_records is {other}"))),
    };
    let items = data.iter().map(parse_item).collect::<Result<Vec<_>, _>>()?;
    Ok(ListPage {
        items,
        more_records,
    })
}

fn opt_str(item: &Value, key: &str) -> Result<Option<String>, ZohoError> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(bad(format!("{key} is not a string: {other}"))),
    }
}

fn parse_item(item: &Value) -> Result<RemoteAttachment, ZohoError> {
    let id = match item.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        other => return Err(bad(format!("attachment without a usable id: {other:?}"))),
    };
    let size = match item.get("Size") {
        None | Some(Value::Null) => 0,
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| bad(format!("attachment {id}: Size {s:?} is not a number")))?,
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| bad(format!("attachment {id}: Size {n} is not a byte count")))?,
        Some(other) => return Err(bad(format!("attachment {id}: Size is {other}"))),
    };
    let file_name = opt_str(item, "File_Name")?.unwrap_or_default();
    let link_url = opt_str(item, "$link_url")?.filter(|u| !u.is_empty());
    let is_link = opt_str(item, "$type")?.as_deref() == Some("Link URL") || link_url.is_some();
    let kind = if is_link {
        AttachmentKind::Link {
            url: link_url.unwrap_or_default(),
        }
    } else {
        AttachmentKind::File
    };
    Ok(RemoteAttachment {
        file_id: opt_str(item, "$file_id")?,
        file_name,
        size,
        kind,
        created_time: opt_str(item, "Created_Time")?,
        modified_time: opt_str(item, "Modified_Time")?,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sample_parses() {
        let body = br#"{"data":[
            {"File_Name":"wellness-retreat.pdf","Size":"7544","Parent_Id":null,"id":"2034020000000703037","$file_id":"kvjww7732c6fd16684d49b56f78010e7f20b3"},
            {"File_Name":"wellness-retreat1.jpg","Size":"3134197","Parent_Id":null,"id":"2034020000000703026","$file_id":"kvjww524b4dc760d24f5cabeafb4b859da36b"}],
            "info":{"per_page":200,"next_page_token":null,"count":2,"page":1,"previous_page_token":null,"page_token_expiry":null,"more_records":false}}"#;
        let page = parse_list_page(200, body).unwrap();
        assert!(!page.more_records);
        assert_eq!(page.items.len(), 2);
        let a = &page.items[0];
        assert_eq!(a.id, "2034020000000703037");
        assert_eq!(a.size, 7544);
        assert_eq!(a.file_name, "wellness-retreat.pdf");
        assert_eq!(a.kind, AttachmentKind::File);
        assert_eq!(
            a.file_id.as_deref(),
            Some("kvjww7732c6fd16684d49b56f78010e7f20b3")
        );
        assert_eq!(page.items[1].size, 3_134_197);
    }

    #[test]
    fn empty_replies() {
        assert_eq!(parse_list_page(204, b"").unwrap().items, vec![]);
        let p = parse_list_page(200, br#"{"data":[],"info":{"more_records":false}}"#).unwrap();
        assert!(p.items.is_empty() && !p.more_records);
    }

    #[test]
    fn links_numbers_and_paging() {
        let body = br#"{"data":[
            {"id":"1","File_Name":"Spec","Size":"0","$type":"Link URL","$file_id":null,"$link_url":"https://example.com/x","Created_Time":"2024-01-02T03:04:05+05:30","Modified_Time":"2024-01-02T03:04:05+05:30"},
            {"id":"2","File_Name":"t","Size":"0","$link_url":"https://example.com/y"},
            {"id":3,"File_Name":"n.bin","Size":12,"$type":"File"}],
            "info":{"more_records":true}}"#;
        let p = parse_list_page(200, body).unwrap();
        assert!(p.more_records);
        assert_eq!(
            p.items[0].kind,
            AttachmentKind::Link {
                url: "https://example.com/x".into()
            }
        );
        assert_eq!(
            p.items[0].created_time.as_deref(),
            Some("2024-01-02T03:04:05+05:30")
        );
        assert_eq!(p.items[0].file_id, None);
        assert!(matches!(p.items[1].kind, AttachmentKind::Link { .. }));
        assert_eq!(p.items[2].id, "3");
        assert_eq!(p.items[2].size, 12);
        assert_eq!(p.items[2].kind, AttachmentKind::File);
    }

    #[test]
    fn malformed_replies_are_errors_not_empty() {
        for body in [
            &b"<html>oops</html>"[..],
            b"",
            br#"{"info":{}}"#,
            br#"{"data":{}}"#,
            br#"{"data":[{"File_Name":"x"}]}"#,
            br#"{"data":[{"id":"1","Size":"12a"}]}"#,
            br#"{"data":[{"id":"1","Size":-1}]}"#,
            br#"{"data":[{"id":"1","File_Name":7}]}"#,
            br#"{"data":[],"info":{"more_records":"yes"}}"#,
        ] {
            let e = parse_list_page(200, body).unwrap_err();
            assert!(matches!(e, ZohoError::InvalidResponse { .. }), "{e:?}");
        }
    }
}
