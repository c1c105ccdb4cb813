//! What every API request goes through before its handler does real work, in Zoho's
//! order: injected faults, then authentication, scope, module, permission, record.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use axum::response::Response;

use crate::model::Product;
use crate::sandbox::errors;
use crate::sandbox::options::Route;
use crate::sandbox::server::ConnHandle;
use crate::sandbox::state::{InFlight, Shared, lock};
use crate::sandbox::store::RecordRef;

/// A request that passed the gate: the record it addresses, and the in-flight marker.
pub(crate) struct Admitted {
    pub record: RecordRef,
    pub _in_flight: InFlight,
}

/// Maps the first two path segments to a product (`bigin/v2`, `crm/v8`).
pub(crate) fn product_of(name: &str, version: &str) -> Option<Product> {
    match (name, version) {
        ("bigin", "v2") => Some(Product::Bigin),
        ("crm", "v8") => Some(Product::Crm),
        _ => None,
    }
}

/// Runs the checks shared by all API routes; `Err` is the reply to send instead.
pub(crate) async fn admit(
    s: &Arc<Shared>,
    conn: &ConnHandle,
    route: Route,
    path: (&str, &str, &str, &str),
    headers: &HeaderMap,
) -> Result<Admitted, Response> {
    let (name, version, module, record_id) = path;
    let (product, in_flight) =
        admit_module(s, conn, route, (name, version, module), headers, false).await?;
    let record: RecordRef = (product, module.to_string(), record_id.to_string());
    {
        let mut store = lock(&s.store);
        if !store.has_record(&record) {
            // A record deleted in Zoho stays gone, even for the demo's auto-creation.
            if s.opts.auto_create_records && !store.table.was_deleted(&record) {
                store.add_record(&record);
            } else {
                return Err(errors::invalid_record());
            }
        }
    }
    Ok(Admitted {
        record,
        _in_flight: in_flight,
    })
}

/// The checks of [`admit`] up to the module (faults, token, scope, module, permission),
/// for the routes that address a module rather than one record's attachments.
///
/// Charges the request's credits as the client counts them (`ApiCall::replied`): every
/// request that gets a reply, except one turned away before any work (429, 401); a
/// dropped connection costs nothing. `custom_view`: a records listing with `cvid`.
pub(crate) async fn admit_module(
    s: &Arc<Shared>,
    conn: &ConnHandle,
    route: Route,
    path: (&str, &str, &str),
    headers: &HeaderMap,
    custom_view: bool,
) -> Result<(Product, InFlight), Response> {
    let (name, version, module) = path;
    let Some(product) = product_of(name, version) else {
        return Err(errors::invalid_url_pattern());
    };
    s.count(route);
    let in_flight = s.enter();
    if s.down.load(std::sync::atomic::Ordering::SeqCst) {
        return conn.drop_connection().await;
    }
    let latency = s.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if s.roll(|f| f.rate_for(route, f.drop_before_rate)) {
        return conn.drop_connection().await;
    }
    if s.roll(|f| f.rate_for(route, f.error_500_rate)) {
        s.charge(route, custom_view);
        return Err(errors::internal_error());
    }
    if s.roll(|f| f.rate_for(route, f.error_429_rate)) {
        return Err(errors::too_many_requests(s.faults().retry_after_secs));
    }
    check_token(s, headers).map_err(|reply| reply())?;
    if s.scope_mismatch.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(errors::scope_mismatch());
    }
    // From here on every reply is Zoho's answer to the request itself: charged.
    s.charge(route, custom_view);
    if !lock(&s.store).module_known(product, module) {
        return Err(errors::invalid_module());
    }
    if lock(&s.no_permission).contains(module) {
        return Err(errors::no_permission());
    }
    Ok((product, in_flight))
}

/// `Authorization: Zoho-oauthtoken <token>`; anything else is an authentication failure.
/// The error is the builder of the reply, keeping the `Result` small.
fn check_token(s: &Shared, headers: &HeaderMap) -> Result<(), fn() -> Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Zoho-oauthtoken "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(errors::authentication_failure);
    };
    if lock(&s.auth).access_valid(token) {
        Ok(())
    } else {
        Err(errors::invalid_token)
    }
}
