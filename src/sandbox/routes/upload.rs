//! `POST .../Attachments`: a file part (streamed, hashed, counted) or a link, never both.
//! Links are also accepted as `attachmentUrl`/`title` query parameters with no body, the
//! way Zoho's SDKs send them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use serde_json::json;

use super::gate::admit;
use crate::model::ContentHash;
use crate::sandbox::errors::zoho_error;
use crate::sandbox::faults::Pace;
use crate::sandbox::options::Route;
use crate::sandbox::server::ConnHandle;
use crate::sandbox::state::{Shared, lock};
use crate::sandbox::store::{NewContent, Stored};

/// What the multipart body held once read.
#[derive(Default)]
struct Parts {
    file: Option<(Option<String>, BytesMut, blake3::Hasher)>,
    file_parts: u32,
    url: Option<String>,
    url_parts: u32,
    title: Option<String>,
    too_big: bool,
}

pub(crate) async fn upload(
    State(s): State<Arc<Shared>>,
    Extension(conn): Extension<ConnHandle>,
    Path((name, version, module, record)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let admitted = match admit(
        &s,
        &conn,
        Route::Upload,
        (&name, &version, &module, &record),
        &headers,
    )
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let is_multipart = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut parts = Parts::default();
    if is_multipart {
        let mp = match Multipart::from_request(req, &()).await {
            Ok(mp) => mp,
            Err(_) => return invalid_request("the multipart body could not be read"),
        };
        let pace = Pace::new(&s.faults(), Route::Upload);
        if let Err(r) = read_parts(mp, s.opts.max_upload_bytes, pace, &mut parts).await {
            return r;
        }
    }
    if let Some(url) = q.get("attachmentUrl") {
        parts.url_parts += 1;
        parts.url = Some(url.clone());
        if let Some(t) = q.get("title") {
            parts.title = Some(t.clone());
        }
    }
    if parts.file_parts > 0 && parts.url_parts > 0 {
        return zoho_error(
            StatusCode::BAD_REQUEST,
            "INVALID_DATA",
            "Both attachment content and attachment link provided. Only one should be given at a time.",
            json!({}),
        );
    }
    if parts.file_parts > 1 || parts.url_parts > 1 {
        return invalid_request("more than one file or link given in the input");
    }
    if parts.too_big {
        return zoho_error(
            StatusCode::BAD_REQUEST,
            "FILE_SIZE_MORE_THAN_ALLOWED",
            "the file size exceeds the allowed limit",
            json!({"maximum_size": s.opts.max_upload_bytes}),
        );
    }
    let stored = if let Some((file_name, bytes, hasher)) = parts.file {
        let Some(file_name) = file_name.filter(|n| !n.is_empty()) else {
            return invalid_request("the file part has no file name");
        };
        // CRM refuses executables as attachments (zoho::limits); the code is Zoho's
        // generic one for a bad value, as its docs give no dedicated code.
        if crate::zoho::limits::refused_file_type(admitted.record.0, &file_name) {
            return zoho_error(
                StatusCode::BAD_REQUEST,
                "INVALID_DATA",
                "the file type is not supported",
                json!({"api_name": "file"}),
            );
        }
        let content = NewContent::File {
            bytes: bytes.freeze(),
            hash: ContentHash(*hasher.finalize().as_bytes()),
        };
        lock(&s.store).insert(&admitted.record, &file_name, content)
    } else if let Some(url) = parts.url.filter(|u| !u.trim().is_empty()) {
        // Link URLs are unique per record.
        let taken = lock(&s.store)
            .list(&admitted.record)
            .iter()
            .any(|a| a.meta.link_url.as_deref() == Some(url.as_str()));
        if taken {
            return zoho_error(
                StatusCode::BAD_REQUEST,
                "DUPLICATE_DATA",
                "duplicate data",
                json!({"api_name": "attachmentUrl"}),
            );
        }
        let title = parts
            .title
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| url.clone());
        lock(&s.store).insert(&admitted.record, &title, NewContent::Link { url })
    } else {
        return invalid_request("no file or link given in the multipart form data");
    };
    if s.roll(|f| f.rate_for(Route::Upload, f.drop_after_upload_rate)) {
        return conn.drop_connection().await;
    }
    success(&stored)
}

/// Reads every part, streaming the `file` part chunk by chunk. Past the size limit the
/// rest is read and discarded, so the client gets the 400 rather than a broken pipe.
/// The file part is read at the pace the throttle knobs allow.
async fn read_parts(
    mut mp: Multipart,
    max: u64,
    pace: Pace,
    parts: &mut Parts,
) -> Result<(), Response> {
    let unreadable = |_| invalid_request("the multipart body could not be read");
    while let Some(mut field) = mp.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or_default() {
            "file" => {
                parts.file_parts += 1;
                let file_name = field.file_name().map(str::to_string);
                let mut buf = BytesMut::new();
                let mut hasher = blake3::Hasher::new();
                let mut total: u64 = 0;
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    total += chunk.len() as u64;
                    pace.wait(total).await;
                    if total > max {
                        parts.too_big = true;
                        buf = BytesMut::new();
                        continue;
                    }
                    hasher.update(&chunk);
                    buf.extend_from_slice(&chunk);
                }
                parts.file = Some((file_name, buf, hasher));
            }
            "attachmentUrl" => {
                parts.url_parts += 1;
                parts.url = Some(field.text().await.map_err(unreadable)?);
            }
            "title" => parts.title = Some(field.text().await.map_err(unreadable)?),
            // Unknown parts are skipped by next_field.
            _ => {}
        }
    }
    Ok(())
}

fn invalid_request(message: &str) -> Response {
    zoho_error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        message,
        json!({}),
    )
}

/// The reply of seed 000.
fn success(a: &Stored) -> Response {
    let user = json!({"name": "Sandbox User", "id": "2034020000000457001"});
    axum::Json(json!({
        "data": [{
            "code": "SUCCESS",
            "details": {
                "Modified_Time": a.modified_time,
                "Modified_By": user,
                "Created_Time": a.meta.created_time,
                "id": a.meta.id,
                "Created_By": user,
            },
            "message": "attachment uploaded successfully",
            "status": "success",
        }]
    }))
    .into_response()
}
