//! Everything the server shares between requests and the test-facing handle.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::auth::AuthState;
use super::faults::FaultState;
use super::options::{Faults, Route, SandboxOptions};
use super::store::{RecordRef, Store};

/// Shared state behind an `Arc`: the data, the knobs and the counters.
pub(crate) struct Shared {
    pub opts: SandboxOptions,
    pub base_url: String,
    pub store: Mutex<Store>,
    pub auth: Mutex<AuthState>,
    pub faults: Mutex<FaultState>,
    pub no_permission: Mutex<HashSet<String>>,
    /// Deletes that land right after a given page of a record's list is served, as if a
    /// Bigin user deleted while a client was paging (see `Sandbox::delete_after_list_page`).
    pub deletes_after_page: Mutex<Vec<PageDelete>>,
    pub down: AtomicBool,
    pub scope_mismatch: AtomicBool,
    calls: [AtomicU64; 7],
    /// Credits Zoho would have charged (see [`Shared::charge`]).
    credits: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// A delete scheduled for right after `page` of `record`'s list is served.
pub(crate) struct PageDelete {
    pub record: RecordRef,
    pub page: usize,
    pub attachment_id: String,
}

pub(crate) use crate::lock;

impl Shared {
    pub fn new(opts: SandboxOptions, base_url: String) -> Self {
        let auth = AuthState::new(&opts.refresh_token);
        let touch = opts.attachment_touch;
        Shared {
            opts,
            base_url,
            store: Mutex::new(Store::with_touch(touch)),
            auth: Mutex::new(auth),
            faults: Mutex::new(FaultState::new(Faults::default())),
            no_permission: Mutex::new(HashSet::new()),
            deletes_after_page: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
            scope_mismatch: AtomicBool::new(false),
            calls: Default::default(),
            credits: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        }
    }

    pub fn count(&self, route: Route) {
        self.calls[route.index()].fetch_add(1, Ordering::SeqCst);
    }

    /// Charges one request on `route` that Zoho handled (`custom_view`: a records listing
    /// with `cvid`), at the client's prices.
    pub fn charge(&self, route: Route, custom_view: bool) {
        let credits = route.api_op().credits(custom_view);
        self.credits.fetch_add(u64::from(credits), Ordering::SeqCst);
    }

    pub fn credits(&self) -> u64 {
        self.credits.load(Ordering::SeqCst)
    }

    pub fn calls(&self, route: Route) -> u64 {
        self.calls[route.index()].load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Marks an API request in flight until the guard is dropped.
    pub fn enter(self: &std::sync::Arc<Self>) -> InFlight {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self.clone())
    }

    pub fn roll(&self, pick: impl FnOnce(&Faults) -> f64) -> bool {
        let mut f = lock(&self.faults);
        let rate = pick(&f.faults);
        f.roll(rate)
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).faults.clone()
    }

    /// Takes the deletes due after `page` of `record` was served.
    pub fn deletes_due(&self, record: &RecordRef, page: usize) -> Vec<String> {
        let mut pending = lock(&self.deletes_after_page);
        let (due, rest): (Vec<PageDelete>, Vec<PageDelete>) = pending
            .drain(..)
            .partition(|d| &d.record == record && d.page == page);
        *pending = rest;
        due.into_iter().map(|d| d.attachment_id).collect()
    }
}

/// Keeps the in-flight count up while an API request is handled.
pub(crate) struct InFlight(std::sync::Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
