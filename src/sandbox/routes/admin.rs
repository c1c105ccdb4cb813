//! `/__sandbox/…`: lets a human driving `bigin-sync demo` play the Bigin user with curl.
//! Not Zoho's API, so no auth, faults or call counting.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::model::{ContentHash, Product};
use crate::sandbox::state::{Shared, lock};
use crate::sandbox::store::NewContent;

pub(super) fn product(name: &str) -> Option<Product> {
    match name.to_ascii_lowercase().as_str() {
        "bigin" => Some(Product::Bigin),
        "crm" => Some(Product::Crm),
        _ => None,
    }
}

pub(super) fn bad(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": msg}))).into_response()
}

/// `GET /__sandbox/state`: every record and attachment.
pub(crate) async fn state(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(json!({"records": lock(&s.store).snapshot()})).into_response()
}

/// `POST /__sandbox/{product}/{Module}/{record}/files?name=x`, raw body = content.
pub(crate) async fn add_file(
    State(s): State<Arc<Shared>>,
    Path((p, module, record)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Some(p) = product(&p) else {
        return bad("product must be bigin or crm");
    };
    let Some(name) = q.get("name").filter(|n| !n.is_empty()) else {
        return bad("query parameter `name` is required");
    };
    let hash = ContentHash::of_bytes(&body);
    let stored = lock(&s.store).insert(
        &(p, module, record),
        name,
        NewContent::File { bytes: body, hash },
    );
    axum::Json(json!({"id": stored.meta.id})).into_response()
}

/// `POST /__sandbox/{product}/{Module}/{record}/links?url=…&title=…`.
pub(crate) async fn add_link(
    State(s): State<Arc<Shared>>,
    Path((p, module, record)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(p) = product(&p) else {
        return bad("product must be bigin or crm");
    };
    let Some(url) = q.get("url").filter(|u| !u.is_empty()) else {
        return bad("query parameter `url` is required");
    };
    let title = q.get("title").filter(|t| !t.is_empty()).unwrap_or(url);
    let stored = lock(&s.store).insert(
        &(p, module, record),
        title,
        NewContent::Link { url: url.clone() },
    );
    axum::Json(json!({"id": stored.meta.id})).into_response()
}

/// `DELETE /__sandbox/{product}/{Module}/{record}/{id}`.
pub(crate) async fn delete(
    State(s): State<Arc<Shared>>,
    Path((p, module, record, id)): Path<(String, String, String, String)>,
) -> Response {
    let Some(p) = product(&p) else {
        return bad("product must be bigin or crm");
    };
    if lock(&s.store).delete(&(p, module, record), &id) {
        axum::Json(json!({"deleted": id})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "no such attachment"})),
        )
            .into_response()
    }
}
