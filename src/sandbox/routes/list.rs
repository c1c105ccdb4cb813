//! `GET .../Attachments?fields=…&page=&per_page=`: the record's attachments, newest first.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::gate::admit;
use crate::sandbox::errors::zoho_error;
use crate::sandbox::options::Route;
use crate::sandbox::server::ConnHandle;
use crate::sandbox::state::{Shared, lock};
use crate::sandbox::store::Stored;

/// Zoho's page size cap and default.
const MAX_PER_PAGE: usize = 200;
/// Zoho accepts at most 50 field names.
const MAX_FIELDS: usize = 50;

/// Who the sandbox pretends created every attachment.
fn sandbox_user() -> Value {
    json!({"name": "Sandbox User", "id": "2034020000000457001"})
}

pub(crate) async fn list(
    State(s): State<Arc<Shared>>,
    Extension(conn): Extension<ConnHandle>,
    Path((name, version, module, record)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let admitted = match admit(
        &s,
        &conn,
        Route::List,
        (&name, &version, &module, &record),
        &headers,
    )
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Some(size) = oversized(&s, Route::List) {
        return size;
    }
    let fields = super::records::requested_fields(&q);
    if fields.is_empty() {
        return zoho_error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param": "fields"}),
        );
    }
    if fields.len() > MAX_FIELDS {
        return zoho_error(
            StatusCode::BAD_REQUEST,
            "LIMIT_EXCEEDED",
            "fields limit exceeded",
            json!({"param": "fields", "limit": MAX_FIELDS}),
        );
    }
    let (page, per_page) = match (
        number_param(&q, "page", 1, usize::MAX),
        number_param(&q, "per_page", MAX_PER_PAGE, MAX_PER_PAGE),
    ) {
        (Ok(page), Ok(per_page)) => (page, per_page),
        (Err(key), _) | (_, Err(key)) => {
            return zoho_error(
                StatusCode::BAD_REQUEST,
                "INVALID_DATA",
                "invalid data",
                json!({"param": key, "expected_data_type": "integer"}),
            );
        }
    };
    let mut store = lock(&s.store);
    let all = store.list(&admitted.record);
    let start = (page - 1).saturating_mul(per_page);
    let items: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|a| render(a, &fields))
        .collect();
    if items.is_empty() {
        // Zoho answers an empty list with 204 and no body at all.
        return StatusCode::NO_CONTENT.into_response();
    }
    let more = all.len() > start + items.len();
    let count = items.len();
    for id in s.deletes_due(&admitted.record, page) {
        store.delete(&admitted.record, &id);
    }
    axum::Json(json!({
        "data": items,
        "info": {
            "per_page": per_page,
            "next_page_token": null,
            "count": count,
            "page": page,
            "previous_page_token": null,
            "page_token_expiry": null,
            "more_records": more,
        }
    }))
    .into_response()
}

/// Parses a positive integer query parameter bounded by `max`; the error names the key.
pub(crate) fn number_param<'k>(
    q: &HashMap<String, String>,
    key: &'k str,
    default: usize,
    max: usize,
) -> Result<usize, &'k str> {
    let Some(raw) = q.get(key) else {
        return Ok(default);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(key),
    }
}

/// One attachment with `id` plus the requested fields the sandbox knows; unknown names
/// are left out.
fn render(a: &Stored, fields: &[&str]) -> Value {
    let m = &a.meta;
    let mut out = Map::new();
    out.insert("id".into(), json!(m.id));
    for f in fields {
        let v = match *f {
            "File_Name" => json!(m.file_name),
            "Size" => json!(m.size.to_string()),
            "$file_id" => json!(m.file_id),
            "$type" => json!(if m.link_url.is_some() {
                "Link URL"
            } else {
                "File"
            }),
            "$link_url" => json!(m.link_url),
            "Created_Time" => json!(m.created_time),
            "Modified_Time" => json!(a.modified_time),
            "Parent_Id" => Value::Null,
            "Created_By" | "Modified_By" | "Owner" => sandbox_user(),
            "$editable" => json!(true),
            "$se_module" => json!(a.record.1),
            _ => continue,
        };
        out.insert((*f).to_string(), v);
    }
    Value::Object(out)
}

/// The streamed oversized reply, when that fault is on for `route`.
pub(crate) fn oversized(s: &Shared, route: Route) -> Option<Response> {
    let f = s.faults();
    let size = f.oversized_reply_bytes.filter(|_| f.applies_to(route))?;
    let mut resp = Response::new(axum::body::Body::from_stream(
        crate::sandbox::faults::oversized_json(size),
    ));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Some(resp)
}
