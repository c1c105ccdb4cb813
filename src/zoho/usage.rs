//! What each API request cost: the client reports every completed request, once, to the
//! observers registered on it (the journal's credit ledger, metrics), from its single
//! request path, so that calls added later are counted without any work of their own.
//!
//! Credits (Bigin's and CRM's credit tables, ../shared/zoho-api-notes.md "Editions and
//! credits"): attachment list, upload, download and delete cost 1; the records list 1, or
//! 3 with a custom view (`cvid`); one record 1; token grants go to the accounts server and
//! cost none. A request that got no reply, or a 401/429 (refused before any work was
//! done), is counted as a call but charged no credit.

use std::fmt;
use std::sync::{Arc, RwLock};

/// The kind of an API request, as counted in the journal and shown by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiOp {
    /// A refresh-token grant at the accounts server.
    Token,
    /// `GET …/Attachments` (one page).
    ListAttachments,
    /// `POST …/Attachments` with a file.
    Upload,
    /// `POST …/Attachments` with a link URL.
    Link,
    /// `GET …/Attachments/{id}`.
    Download,
    /// `DELETE …/Attachments/{id}`.
    Delete,
    /// `GET …/{Module}` (one page of records).
    ListRecords,
    /// `GET …/{Module}/{id}`.
    GetRecord,
}

impl ApiOp {
    /// Every kind, in display order.
    pub const ALL: [ApiOp; 8] = [
        ApiOp::Token,
        ApiOp::ListAttachments,
        ApiOp::Upload,
        ApiOp::Link,
        ApiOp::Download,
        ApiOp::Delete,
        ApiOp::ListRecords,
        ApiOp::GetRecord,
    ];

    /// The stable name stored in the journal and used in JSON and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ApiOp::Token => "token",
            ApiOp::ListAttachments => "list_attachments",
            ApiOp::Upload => "upload",
            ApiOp::Link => "link",
            ApiOp::Download => "download",
            ApiOp::Delete => "delete",
            ApiOp::ListRecords => "list_records",
            ApiOp::GetRecord => "get_record",
        }
    }

    /// The kind called `name` (see [`ApiOp::name`]).
    pub fn parse(name: &str) -> Option<ApiOp> {
        ApiOp::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Credits Zoho charges for one such request that it handled; `custom_view` is a
    /// records list filtered by `cvid`.
    pub fn credits(self, custom_view: bool) -> u32 {
        match self {
            ApiOp::Token => 0,
            ApiOp::ListRecords if custom_view => 3,
            _ => 1,
        }
    }
}

impl fmt::Display for ApiOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a request ended, coarsely (no per-file detail: metrics labels stay few).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A 2xx reply (204 included).
    Ok,
    /// A 4xx reply other than 429: Zoho refused the request.
    Refused,
    /// 429, or the token throttle: Zoho asked us to slow down.
    Throttled,
    /// A 5xx reply, or no reply at all (network, timeout).
    Failed,
}

impl Outcome {
    /// Every outcome, in display order.
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Refused,
        Outcome::Throttled,
        Outcome::Failed,
    ];

    /// The stable name stored in the journal and used in JSON and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Throttled => "throttled",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome called `name` (see [`Outcome::name`]).
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.name() == name)
    }

    /// The outcome of a reply with this HTTP status.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
            429 => Outcome::Throttled,
            400..=499 => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One completed API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCall {
    /// What was asked.
    pub op: ApiOp,
    /// How it ended.
    pub outcome: Outcome,
    /// Credits it cost (see the module doc).
    pub credits: u32,
}

impl ApiCall {
    /// A request that got an HTTP reply with `status`: charged unless Zoho turned it away
    /// before doing any work (401 token refused, 429 slow down).
    pub fn replied(op: ApiOp, status: u16, custom_view: bool) -> ApiCall {
        let charged = !matches!(status, 401 | 429);
        ApiCall {
            op,
            outcome: Outcome::of_status(status),
            credits: if charged { op.credits(custom_view) } else { 0 },
        }
    }

    /// A request that got no reply (connection refused or cut, timeout): not charged.
    pub fn unanswered(op: ApiOp) -> ApiCall {
        ApiCall {
            op,
            outcome: Outcome::Failed,
            credits: 0,
        }
    }
}

/// Told about every completed API request. Called on the request's task: implementations
/// must not block (hand slow work, like a journal write, to a thread of their own).
pub trait UsageObserver: Send + Sync {
    /// One request completed.
    fn on_call(&self, call: &ApiCall);
}

/// The observers of one client (and its token manager). Cheap to clone; observers can
/// be added after the client is built (metrics are wired later than the journal).
#[derive(Clone, Default)]
pub struct UsageObservers(Arc<RwLock<Vec<Arc<dyn UsageObserver>>>>);

impl UsageObservers {
    /// Adds an observer; it sees every request completed from now on.
    pub fn add(&self, observer: Arc<dyn UsageObserver>) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(observer);
    }

    /// Tells every observer about `call`.
    pub fn notify(&self, call: ApiCall) {
        let observers = self.0.read().unwrap_or_else(|p| p.into_inner());
        for o in observers.iter() {
            o.on_call(&call);
        }
    }
}

impl fmt::Debug for UsageObservers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.read().map_or(0, |v| v.len());
        write!(f, "UsageObservers({n})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn credits_follow_zohos_table() {
        assert_eq!(ApiCall::replied(ApiOp::ListRecords, 200, true).credits, 3);
        assert_eq!(ApiCall::replied(ApiOp::ListRecords, 200, false).credits, 1);
        assert_eq!(ApiCall::replied(ApiOp::Token, 200, false).credits, 0);
        assert_eq!(ApiCall::replied(ApiOp::Upload, 400, false).credits, 1);
        assert_eq!(
            ApiCall::replied(ApiOp::Upload, 400, false).outcome,
            Outcome::Refused
        );
        let throttled = ApiCall::replied(ApiOp::Download, 429, false);
        assert_eq!(
            (throttled.outcome, throttled.credits),
            (Outcome::Throttled, 0)
        );
        assert_eq!(ApiCall::replied(ApiOp::Delete, 401, false).credits, 0);
        assert_eq!(ApiCall::unanswered(ApiOp::Delete).credits, 0);
        for op in ApiOp::ALL {
            assert_eq!(ApiOp::parse(op.name()), Some(op));
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.name()), Some(o));
        }
    }

    #[test]
    fn every_observer_sees_every_call() {
        struct Log(Mutex<Vec<ApiCall>>);
        impl UsageObserver for Log {
            fn on_call(&self, call: &ApiCall) {
                self.0.lock().unwrap().push(*call);
            }
        }
        let obs = UsageObservers::default();
        let (a, b) = (
            Arc::new(Log(Mutex::new(Vec::new()))),
            Arc::new(Log(Mutex::new(Vec::new()))),
        );
        obs.add(a.clone());
        obs.clone().add(b.clone());
        obs.notify(ApiCall::replied(ApiOp::Upload, 200, false));
        assert_eq!(a.0.lock().unwrap().len(), 1);
        assert_eq!(b.0.lock().unwrap().len(), 1);
    }
}
