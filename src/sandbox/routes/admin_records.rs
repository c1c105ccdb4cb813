//! `/__sandbox/…` routes for records and custom views: a human (or a test) plays the Bigin
//! user who creates, renames and deletes deals. Not Zoho's API: no auth, faults or counts.
//!
//! - `POST /__sandbox/{product}/{Module}` with a JSON object of fields (an optional `"id"`
//!   picks the record id) → `{"id": …}`;
//! - `PATCH /__sandbox/{product}/{Module}/{id}` with fields to change (`null` clears one);
//! - `DELETE /__sandbox/{product}/{Module}/{id}` deletes the record and its attachments;
//! - `POST /__sandbox/{product}/{Module}/views` with `{"Stage": ["Won", "Lost"], …}` (a
//!   value or a list of values per field) → `{"id": cvid}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::admin::{bad, product};
use crate::sandbox::state::{Shared, lock};

/// The body as a JSON object (an empty body is no fields); `None` if it is not one.
fn object(body: &[u8]) -> Option<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn not_an_object() -> Response {
    bad("the body must be a JSON object")
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "no such record"})),
    )
        .into_response()
}

/// `POST /__sandbox/{product}/{Module}`.
pub(crate) async fn create(
    State(s): State<Arc<Shared>>,
    Path((p, module)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = product(&p) else {
        return bad("product must be bigin or crm");
    };
    let Some(mut fields) = object(&body) else {
        return not_an_object();
    };
    let id = match fields.remove("id") {
        None => None,
        Some(Value::String(id)) if is_id(&id) => Some(id),
        Some(_) => return bad("\"id\" must be a string of digits"),
    };
    let id = lock(&s.store).create_record(p, &module, id.as_deref(), fields);
    axum::Json(json!({"id": id})).into_response()
}

/// `PATCH /__sandbox/{product}/{Module}/{id}`.
pub(crate) async fn edit(
    State(s): State<Arc<Shared>>,
    Path((p, module, record)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = product(&p) else {
        return bad("product must be bigin or crm");
    };
    let Some(fields) = object(&body) else {
        return not_an_object();
    };
    if lock(&s.store)
        .table
        .edit(&(p, module, record.clone()), fields)
    {
        axum::Json(json!({"edited": record})).into_response()
    } else {
        not_found()
    }
}

/// `DELETE /__sandbox/{product}/{Module}/{id}`.
pub(crate) async fn delete(
    State(s): State<Arc<Shared>>,
    Path((p, module, record)): Path<(String, String, String)>,
) -> Response {
    let Some(p) = product(&p) else {
        return bad("product must be bigin or crm");
    };
    if lock(&s.store).remove_record(&(p, module, record.clone())) {
        axum::Json(json!({"deleted": record})).into_response()
    } else {
        not_found()
    }
}

/// `POST /__sandbox/{product}/{Module}/views`.
pub(crate) async fn define_view(
    State(s): State<Arc<Shared>>,
    Path((p, module)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = product(&p) else {
        return bad("product must be bigin or crm");
    };
    let Some(filter) = object(&body).map(view_filter) else {
        return not_an_object();
    };
    let id = lock(&s.store).table.define_view(p, &module, filter);
    axum::Json(json!({"id": id})).into_response()
}

/// `{"Stage": ["Won", "Lost"], "Owner": "x"}` → field and its allowed values.
pub(crate) fn view_filter(f: Map<String, Value>) -> Vec<(String, Vec<Value>)> {
    f.into_iter()
        .map(|(k, v)| match v {
            Value::Array(values) => (k, values),
            one => (k, vec![one]),
        })
        .collect()
}

/// Record ids are digits, as Zoho's are.
pub(crate) fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 30 && id.bytes().all(|b| b.is_ascii_digit())
}
