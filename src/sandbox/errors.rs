//! Zoho's error replies, built in one place so every route speaks the same shape:
//! `{"code":"…","details":{},"message":"…","status":"error"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error reply with Zoho's body shape.
pub(crate) fn zoho_error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Value,
) -> Response {
    (
        status,
        axum::Json(
            json!({"code": code, "details": details, "message": message, "status": "error"}),
        ),
    )
        .into_response()
}

pub(crate) fn authentication_failure() -> Response {
    zoho_error(
        StatusCode::UNAUTHORIZED,
        "AUTHENTICATION_FAILURE",
        "Authentication failed",
        json!({}),
    )
}

pub(crate) fn invalid_token() -> Response {
    zoho_error(
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
        "invalid oauth token",
        json!({}),
    )
}

pub(crate) fn scope_mismatch() -> Response {
    zoho_error(
        StatusCode::UNAUTHORIZED,
        "OAUTH_SCOPE_MISMATCH",
        "invalid oauth scope to access this URL",
        json!({}),
    )
}

pub(crate) fn no_permission() -> Response {
    zoho_error(
        StatusCode::FORBIDDEN,
        "NO_PERMISSION",
        "permission denied",
        json!({}),
    )
}

pub(crate) fn invalid_module() -> Response {
    zoho_error(
        StatusCode::BAD_REQUEST,
        "INVALID_MODULE",
        "the module name given seems to be invalid",
        json!({"resource_path_index": 0}),
    )
}

pub(crate) fn invalid_record() -> Response {
    zoho_error(
        StatusCode::BAD_REQUEST,
        "INVALID_DATA",
        "the related id given seems to be invalid",
        json!({"resource_path_index": 1}),
    )
}

/// `GET /{module}/{id}` with an id that cannot be a record's (not digits).
pub(crate) fn invalid_id() -> Response {
    zoho_error(
        StatusCode::BAD_REQUEST,
        "INVALID_DATA",
        "the id given seems to be invalid",
        json!({"resource_path_index": 1}),
    )
}

pub(crate) fn internal_error() -> Response {
    zoho_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_ERROR",
        "Internal Server Error",
        json!({}),
    )
}

pub(crate) fn too_many_requests(retry_after: Option<u64>) -> Response {
    let mut r = zoho_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
        "You have made too many requests. Please try again after some time.",
        json!({}),
    );
    if let Some(secs) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

pub(crate) fn invalid_url_pattern() -> Response {
    zoho_error(
        StatusCode::NOT_FOUND,
        "INVALID_URL_PATTERN",
        "Please check if the URL trying to access is a correct one",
        json!({}),
    )
}

pub(crate) fn invalid_request_method() -> Response {
    zoho_error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST_METHOD",
        "The http request method type is not a valid one",
        json!({}),
    )
}
