//! The HTTP surface: Zoho's accounts and attachments routes plus the `/__sandbox/` admin API.

mod admin;
mod admin_records;
mod delete;
mod download;
mod gate;
mod list;
mod oauth;
mod records;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::routing::{delete, get, patch, post};

use super::errors;
use super::state::Shared;

/// Builds the router; product and version are path parameters so both `/bigin/v2` and
/// `/crm/v8` share the handlers (anything else is `INVALID_URL_PATTERN`).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth/v2/token", post(oauth::token).fallback(wrong_method))
        .route(
            "/{product}/{version}/{module}/{record}/Attachments",
            get(list::list).post(upload::upload).fallback(wrong_method),
        )
        .route(
            "/{product}/{version}/{module}/{record}/Attachments/{attachment}",
            get(download::download)
                .delete(delete::delete)
                .fallback(wrong_method),
        )
        .route(
            "/{product}/{version}/{module}",
            get(records::list).fallback(wrong_method),
        )
        .route(
            "/{product}/{version}/{module}/{record}",
            get(records::get).fallback(wrong_method),
        )
        .route("/__sandbox/state", get(admin::state))
        .route("/__sandbox/{product}/{module}", post(admin_records::create))
        .route(
            "/__sandbox/{product}/{module}/views",
            post(admin_records::define_view),
        )
        .route(
            "/__sandbox/{product}/{module}/{record}",
            patch(admin_records::edit).delete(admin_records::delete),
        )
        .route(
            "/__sandbox/{product}/{module}/{record}/files",
            post(admin::add_file),
        )
        .route(
            "/__sandbox/{product}/{module}/{record}/links",
            post(admin::add_link),
        )
        .route(
            "/__sandbox/{product}/{module}/{record}/{attachment}",
            delete(admin::delete),
        )
        .fallback(not_found)
        // Uploads enforce their own limit (max_upload_bytes) while streaming.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

async fn wrong_method() -> Response {
    errors::invalid_request_method()
}

async fn not_found() -> Response {
    errors::invalid_url_pattern()
}
