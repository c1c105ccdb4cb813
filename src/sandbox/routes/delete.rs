//! `DELETE .../Attachments/{id}`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::gate::admit;
use crate::sandbox::options::Route;
use crate::sandbox::server::ConnHandle;
use crate::sandbox::state::{Shared, lock};

pub(crate) async fn delete(
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
        Route::Delete,
        (&name, &version, &module, &record),
        &headers,
    )
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let deleted = lock(&s.store).delete(&admitted.record, &attachment);
    if deleted {
        axum::Json(json!({"data": [{
            "code": "SUCCESS",
            "details": {"id": attachment},
            "message": "record deleted",
            "status": "success",
        }]}))
        .into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"data": [{
                "code": "INVALID_DATA",
                "details": {"id": attachment},
                "message": "record not deleted",
                "status": "error",
            }]})),
        )
            .into_response()
    }
}
