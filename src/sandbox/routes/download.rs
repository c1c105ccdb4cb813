//! `GET .../Attachments/{id}`: the raw bytes, named in `Content-Disposition`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::gate::admit;
use crate::sandbox::errors::zoho_error;
use crate::sandbox::faults::Pace;
use crate::sandbox::options::Route;
use crate::sandbox::server::ConnHandle;
use crate::sandbox::state::{Shared, lock};

pub(crate) async fn download(
    State(s): State<Arc<Shared>>,
    Extension(conn): Extension<ConnHandle>,
    Path((name, version, module, record, attachment)): Path<(
        String,
        String,
        String,
        String,
        String,
    )>,
    headers: HeaderMap,
) -> Response {
    let admitted = match admit(
        &s,
        &conn,
        Route::Download,
        (&name, &version, &module, &record),
        &headers,
    )
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let found = lock(&s.store)
        .get(&admitted.record, &attachment)
        .map(|a| (a.meta.file_name.clone(), a.content.clone()));
    let Some((file_name, content)) = found else {
        // Zoho answers an unknown attachment id with 204 and no body.
        return StatusCode::NO_CONTENT.into_response();
    };
    let Some(bytes) = content else {
        return zoho_error(
            StatusCode::BAD_REQUEST,
            "DOWNLOAD_NOT_ALLOWED",
            "download not allowed for link attachments",
            json!({"id": attachment}),
        );
    };
    let len = bytes.len();
    let pace = Pace::new(&s.faults(), Route::Download);
    let body = if s.roll(|f| f.rate_for(Route::Download, f.truncate_download_rate)) {
        // Full Content-Length, half the bytes, then an error: hyper aborts the connection.
        Body::from_stream(truncated(bytes.slice(..len / 2)))
    } else if pace.is_free() {
        Body::from(bytes)
    } else {
        Body::from_stream(pace.stream(bytes))
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Yields `half`, pauses so hyper flushes the headers and those bytes to the socket (it
/// would otherwise meet the error while still buffering and send nothing at all), then fails.
fn truncated(half: Bytes) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(Some(half), |state| async move {
        match state {
            Some(half) => Some((Ok(half), None)),
            None => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "sandbox: truncated download",
                    )),
                    None,
                ))
            }
        }
    })
}

/// `attachment; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
pub(crate) fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
        if keep {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn non_ascii_names_get_both_forms() {
        assert_eq!(
            content_disposition("résumé \"1\".pdf"),
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
    }
}
