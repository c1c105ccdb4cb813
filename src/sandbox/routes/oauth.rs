//! `POST /oauth/v2/token`: Zoho accounts' refresh-token and authorization-code grants.
//! Errors come back as HTTP 200 with an `error` field, except the throttle (400).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sandbox::auth::GrantError;
use crate::sandbox::options::Route;
use crate::sandbox::server::ConnHandle;
use crate::sandbox::state::{Shared, lock};

const SCOPE: &str = "ZohoBigin.modules.ALL ZohoBigin.modules.attachments.ALL ZohoCRM.modules.ALL ZohoCRM.modules.attachments.ALL";

pub(crate) async fn token(
    State(s): State<Arc<Shared>>,
    Extension(conn): Extension<ConnHandle>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    s.count(Route::Token);
    if s.down.load(std::sync::atomic::Ordering::SeqCst) {
        return conn.drop_connection().await;
    }
    if let Some(reply) = super::list::oversized(&s, Route::Token) {
        return reply;
    }
    // Zoho takes the parameters from the query string or a form body.
    let mut p = query;
    if let Ok(Form(form)) = Form::<HashMap<String, String>>::from_request(req, &()).await {
        p.extend(form);
    }
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    let opts = &s.opts;
    if get("client_id") != opts.client_id || get("client_secret") != opts.client_secret {
        return error_reply(GrantError::InvalidClient);
    }
    let mut auth = lock(&s.auth);
    let mut reply = match get("grant_type") {
        "refresh_token" => {
            let rt = get("refresh_token");
            if !auth.refresh_valid(rt) {
                return error_reply(GrantError::InvalidCode);
            }
            match auth.grant(
                rt,
                opts.grants_per_window,
                opts.grant_window,
                opts.token_ttl,
            ) {
                Ok(access) => base_reply(&s, access),
                Err(e) => return error_reply(e),
            }
        }
        "authorization_code" => {
            if get("code") != opts.grant_code {
                return error_reply(GrantError::InvalidCode);
            }
            // The new refresh token owns the access token, as if refreshed right away.
            let refresh = auth.issue_refresh();
            let access = match auth.grant(
                &refresh,
                opts.grants_per_window,
                opts.grant_window,
                opts.token_ttl,
            ) {
                Ok(access) => access,
                Err(e) => return error_reply(e),
            };
            let mut r = base_reply(&s, access);
            r["refresh_token"] = json!(refresh);
            r
        }
        _ => return axum::Json(json!({"error": "unsupported_grant_type"})).into_response(),
    };
    if let Value::Object(m) = &mut reply {
        m.insert("expires_in".into(), json!(opts.token_ttl.as_secs()));
    }
    axum::Json(reply).into_response()
}

fn base_reply(s: &Shared, access_token: String) -> Value {
    json!({
        "access_token": access_token,
        "scope": SCOPE,
        "api_domain": s.base_url,
        "token_type": "Bearer",
    })
}

fn error_reply(e: GrantError) -> Response {
    match e {
        GrantError::InvalidClient => axum::Json(json!({"error": "invalid_client"})).into_response(),
        GrantError::InvalidCode => axum::Json(json!({"error": "invalid_code"})).into_response(),
        GrantError::AccessDenied => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": "Access Denied",
                "error_description": "You have made too many requests continuously. Please try again after some time.",
            })),
        )
            .into_response(),
    }
}
