//! Zoho's records API: `GET /{module}` (a page of records) and `GET /{module}/{id}` (one
//! record), as documented for Bigin v2 and CRM v8 (zoho-api-notes.md, "Records").
//!
//! - `fields` is required for the listing (`REQUIRED_PARAM_MISSING`), at most 50 names;
//! - `per_page` ≤ 200; `page` reaches the first 2,000 records only
//!   (`DISCRETE_PAGINATION_LIMIT_EXCEEDED`), past them `page_token` from
//!   `info.next_page_token` continues, valid until `info.page_token_expiry` (24 hours).
//!   A token is `INVALID_DATA` when unknown, expired, sent with `page`, or sent for
//!   another listing than the one it was issued for (module, `fields`, and `sort_by`,
//!   `sort_order` or `cvid` when they are given);
//! - `sort_by` (`id`, `Created_Time`, `Modified_Time`), `sort_order` (`asc`, `desc`);
//! - `cvid` selects a custom view's records;
//! - `If-Modified-Since` keeps the records whose `Modified_Time` is later, 304 when none;
//! - no records is 204 with no body; a missing record on `GET /{module}/{id}` is 204, an
//!   id that is not digits `INVALID_DATA`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::admin_records::is_id;
use super::gate::admit_module;
use super::list::{number_param, oversized};
use crate::sandbox::errors::zoho_error;
use crate::sandbox::options::Route;
use crate::sandbox::records::{Cursor, Selection, SortBy, render, zoho_time};
use crate::sandbox::server::ConnHandle;
use crate::sandbox::state::{Shared, lock};

/// Zoho's page size cap and default.
const MAX_PER_PAGE: usize = 200;
/// Zoho accepts at most 50 field names.
const MAX_FIELDS: usize = 50;
/// How far `page` reaches; past it only `page_token` does.
const PAGE_LIMIT: usize = 2000;

/// `GET /{product}/{version}/{module}`.
pub(crate) async fn list(
    State(s): State<Arc<Shared>>,
    Extension(conn): Extension<ConnHandle>,
    Path((name, version, module)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let custom_view = q.get("cvid").is_some_and(|c| !c.is_empty());
    let (product, _in_flight) = match admit_module(
        &s,
        &conn,
        Route::Records,
        (&name, &version, &module),
        &headers,
        custom_view,
    )
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    if lock(&s.store)
        .table
        .take_listing_failure(s.calls(Route::Records))
    {
        return crate::sandbox::errors::internal_error();
    }
    if let Some(size) = oversized(&s, Route::Records) {
        return size;
    }
    let fields = match field_list(&q, true) {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return e.reply(),
    };
    let per_page = match number_param(&q, "per_page", MAX_PER_PAGE, MAX_PER_PAGE) {
        Ok(n) => n,
        Err(key) => return invalid_param(key),
    };
    let mut store = lock(&s.store);
    let table = &mut store.table;
    let (selection, start, page) = if let Some(token) = q.get("page_token") {
        if q.contains_key("page") {
            return invalid_param("page");
        }
        let Some(cursor) = table.cursor(token) else {
            return invalid_param("page_token");
        };
        if !continues(&cursor, product, &module, &fields, &q) {
            return invalid_param("page_token");
        }
        (cursor.selection, cursor.offset, None)
    } else {
        let page = match number_param(&q, "page", 1, usize::MAX) {
            Ok(n) => n,
            Err(key) => return invalid_param(key),
        };
        let start = (page - 1).saturating_mul(per_page);
        if start.saturating_add(per_page) > PAGE_LIMIT {
            return zoho_error(
                StatusCode::BAD_REQUEST,
                "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                "You can only get the first 2000 records without using page_token param.",
                json!({"limit": PAGE_LIMIT}),
            );
        }
        let selection = match selection(product, &module, &q, &headers) {
            Ok(sel) => sel,
            Err(key) => return invalid_param(key),
        };
        (selection, start, Some(page))
    };
    let all = match table.select(&selection) {
        Ok(all) => all,
        Err(_) => return invalid_param("cvid"),
    };
    if all.is_empty() && selection.since.is_some() {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let items: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|(id, d)| render(id, d, Some(&fields)))
        .collect();
    if items.is_empty() {
        // Zoho answers an empty listing with 204 and no body at all.
        return StatusCode::NO_CONTENT.into_response();
    }
    let next = start + items.len();
    let more = all.len() > next;
    let count = items.len();
    let (next_token, token_expiry) = if more {
        let (token, expires) = table.issue_token(Cursor {
            selection: selection.clone(),
            fields: fields.iter().map(|f| (*f).to_string()).collect(),
            offset: next,
        });
        (Some(token), Some(zoho_time(expires)))
    } else {
        (None, None)
    };
    axum::Json(json!({
        "data": items,
        "info": {
            "per_page": per_page,
            "next_page_token": next_token,
            "count": count,
            "page": page.unwrap_or(start / per_page + 1),
            "previous_page_token": null,
            "page_token_expiry": token_expiry,
            "sort_by": sort_name(selection.sort_by),
            "sort_order": if selection.descending { "desc" } else { "asc" },
            "more_records": more,
        }
    }))
    .into_response()
}

/// `GET /{product}/{version}/{module}/{id}`: the record in `data[0]`, 204 when there is
/// no such record (never created, or deleted).
pub(crate) async fn get(
    State(s): State<Arc<Shared>>,
    Extension(conn): Extension<ConnHandle>,
    Path((name, version, module, id)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (product, _in_flight) = match admit_module(
        &s,
        &conn,
        Route::Record,
        (&name, &version, &module),
        &headers,
        false,
    )
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let fields = match field_list(&q, false) {
        Ok(f) => f,
        Err(e) => return e.reply(),
    };
    if !is_id(&id) {
        return crate::sandbox::errors::invalid_id();
    }
    let store = lock(&s.store);
    let Some(d) = store.table.get(&(product, module, id.clone())) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    axum::Json(json!({"data": [render(&id, d, fields.as_deref())]})).into_response()
}

/// What is wrong with a `fields` parameter.
enum FieldsError {
    Missing,
    TooMany,
}

impl FieldsError {
    fn reply(self) -> Response {
        match self {
            FieldsError::Missing => zoho_error(
                StatusCode::BAD_REQUEST,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                json!({"param": "fields"}),
            ),
            FieldsError::TooMany => zoho_error(
                StatusCode::BAD_REQUEST,
                "LIMIT_EXCEEDED",
                "fields limit exceeded",
                json!({"param": "fields", "limit": MAX_FIELDS}),
            ),
        }
    }
}

/// The names in the `fields` query parameter (comma-separated, blanks dropped); empty
/// when absent. Attachment and record listings both read it this way.
pub(super) fn requested_fields(q: &HashMap<String, String>) -> Vec<&str> {
    q.get("fields")
        .map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The `fields` parameter as names; `Ok(None)` when absent and not `required`.
fn field_list(
    q: &HashMap<String, String>,
    required: bool,
) -> Result<Option<Vec<&str>>, FieldsError> {
    let fields = requested_fields(q);
    if fields.is_empty() {
        return if required {
            Err(FieldsError::Missing)
        } else {
            Ok(None)
        };
    }
    if fields.len() > MAX_FIELDS {
        return Err(FieldsError::TooMany);
    }
    Ok(Some(fields))
}

/// The selection a first page (no `page_token`) asks for.
fn selection(
    product: crate::model::Product,
    module: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Selection, &'static str> {
    // The error is the name of the invalid parameter.
    let sort_by = sort_by_param(q)?.unwrap_or(SortBy::Id);
    let descending = descending_param(q)?.unwrap_or(true);
    let since = match headers.get("if-modified-since") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or("If-Modified-Since")?,
        ),
    };
    let cvid = q.get("cvid").cloned().filter(|c| !c.is_empty());
    Ok(Selection {
        product,
        module: module.to_string(),
        cvid,
        sort_by,
        descending,
        since,
    })
}

/// `sort_by`, when given; the error is the parameter's name.
fn sort_by_param(q: &HashMap<String, String>) -> Result<Option<SortBy>, &'static str> {
    q.get("sort_by")
        .map(|s| SortBy::parse(s).ok_or("sort_by"))
        .transpose()
}

/// `sort_order` as "descending", when given; the error is the parameter's name.
fn descending_param(q: &HashMap<String, String>) -> Result<Option<bool>, &'static str> {
    match q.get("sort_order").map(String::as_str) {
        None => Ok(None),
        Some("desc") => Ok(Some(true)),
        Some("asc") => Ok(Some(false)),
        Some(_) => Err("sort_order"),
    }
}

/// Whether a `page_token` request continues the listing its token was issued for: the
/// same product, module and fields, and the same sort and view where the request names
/// them (a request may leave them out and let the token carry them).
fn continues(
    cursor: &Cursor,
    product: crate::model::Product,
    module: &str,
    fields: &[&str],
    q: &HashMap<String, String>,
) -> bool {
    let sel = &cursor.selection;
    let asked: BTreeSet<&str> = fields.iter().copied().collect();
    let issued: BTreeSet<&str> = cursor.fields.iter().map(String::as_str).collect();
    sel.product == product
        && sel.module == module
        && asked == issued
        && sort_by_param(q).is_ok_and(|s| s.is_none_or(|s| s == sel.sort_by))
        && descending_param(q).is_ok_and(|d| d.is_none_or(|d| d == sel.descending))
        && q.get("cvid")
            .filter(|c| !c.is_empty())
            .is_none_or(|c| sel.cvid.as_ref() == Some(c))
}

fn sort_name(s: SortBy) -> &'static str {
    match s {
        SortBy::Id => "id",
        SortBy::CreatedTime => "Created_Time",
        SortBy::ModifiedTime => "Modified_Time",
    }
}

fn invalid_param(key: &str) -> Response {
    zoho_error(
        StatusCode::BAD_REQUEST,
        "INVALID_DATA",
        "invalid data",
        json!({"param": key}),
    )
}
