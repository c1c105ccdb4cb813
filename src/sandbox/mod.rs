//! A faithful in-process fake of Zoho's accounts (OAuth) and attachments API, for tests
//! and `bigin-sync demo`.
//!
//! It follows Zoho's documents (the seeds and `zoho-api-notes.md`), not our client: its
//! job is to tell whether the client is right. One server on `127.0.0.1` answers both the
//! accounts route (`/oauth/v2/token`) and the API routes (`/bigin/v2/…`, `/crm/v8/…`), and
//! a small admin API under `/__sandbox/` lets a human change the remote side with curl.
//!
//! Tests drive it through [`Sandbox`]: seed records and attachments, inject faults
//! ([`Faults`]), force token expiry, and read per-route call counts.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use bigin_sync::model::Product;
//! use bigin_sync::sandbox::{Faults, Route, Sandbox, SandboxOptions};
//!
//! let sb = Sandbox::start(SandboxOptions::default()).await?;
//! let id = sb.add_file(Product::Bigin, "Pipelines", "2034020000000489124", "a.txt", b"hi".to_vec());
//! // Point the client at sb.base_url() for both accounts and API, then e.g.:
//! sb.set_faults(Faults { error_500_rate: 0.2, seed: 7, ..Faults::default() });
//! assert!(sb.content(&id).is_some());
//! assert_eq!(sb.calls(Route::List), 0);
//! sb.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod auth;
mod errors;
mod faults;
mod options;
mod records;
mod routes;
mod server;
mod state;
mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

use crate::model::{ContentHash, Product};
use state::{Shared, lock};
use store::NewContent;

pub use options::{AttachmentTouch, Faults, Route, SandboxOptions};
pub use store::SandboxAttachment;

/// Handle to a running sandbox server; the server itself runs on tokio tasks.
pub struct Sandbox {
    shared: Arc<Shared>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

/// Receive buffer asked for the sandbox's connections (the kernel doubles it, and caps it
/// at `net.core.rmem_max`: smaller still on a stock kernel, which only helps).
///
/// The sandbox paces a slow upload by reading its body slowly ([`Faults`]), which stands
/// for a slow link to a server that reads whatever arrives. On loopback with the kernel's
/// receive-buffer autotuning (up to `tcp_rmem`'s maximum, 32 MiB on recent kernels), a
/// slowly read body would instead pile up in the sandbox's socket: a 16 MiB upload was
/// taken from the client in 0.3 s and then drained for 4 s in silence, which no link does
/// and which made the client's stall detection fire while bytes were still moving. A set
/// buffer also turns the autotuning off, so what piles up is bounded by it and by the
/// client's send buffer (`tcp_wmem`'s maximum, 4 MiB by default), as on a real link.
const RECEIVE_BUFFER: u32 = 512 * 1024;

/// A listening socket on `addr` whose connections buffer at most [`RECEIVE_BUFFER`].
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted sandbox can take a fixed port back at once.
    socket.set_reuseaddr(true)?;
    // Set before `listen` so that accepted connections inherit it (and the window scale
    // is chosen for it).
    socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl Sandbox {
    /// Starts a sandbox on `127.0.0.1` with a port chosen by the OS, so parallel tests
    /// never collide.
    pub async fn start(opts: SandboxOptions) -> std::io::Result<Sandbox> {
        Self::start_at(opts, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a sandbox on a given address (e.g. a fixed port for a human with curl).
    pub async fn start_at(opts: SandboxOptions, addr: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = listen(addr)?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared::new(opts, format!("http://{local}")));
        let stop = CancellationToken::new();
        let router = routes::router(shared.clone());
        let task = server::spawn_accept_loop(listener, router, stop.clone());
        Ok(Sandbox {
            shared,
            stop,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: both the accounts URL and the API domain.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// A bigin-sync config (TOML) pointing at this sandbox with its credentials: what
    /// `demo`, the tests and the benchmarks run with. `top` goes before the tables (e.g.
    /// `log_level`), `sync` into `[sync]`. Paths are written as given.
    pub fn config_toml(&self, root: &Path, state_dir: &Path, top: &str, sync: &str) -> String {
        let o = self.options();
        format!(
            r#"root = "{root}"
state_dir = "{state}"
{top}

[zoho]
product = "bigin"
api_domain = "{url}"
accounts_url = "{url}"
client_id = "{id}"
client_secret = "{secret}"
refresh_token = "{refresh}"
timeout = "10s"
# A paid edition: its default budget (40 % of 50,250 credits) lets polls run every few
# seconds; Bigin Free's would space one record's polls a minute apart.
edition = "premier"

[sync]
{sync}
"#,
            root = root.display(),
            state = state_dir.display(),
            url = self.base_url(),
            id = o.client_id,
            secret = o.client_secret,
            refresh = o.refresh_token,
        )
    }

    /// The options the sandbox was started with (client id, secrets, limits).
    pub fn options(&self) -> &SandboxOptions {
        &self.shared.opts
    }

    /// Makes a record exist (and its module name valid), as if created in Bigin.
    pub fn add_record(&self, product: Product, module: &str, record_id: &str) {
        lock(&self.shared.store).add_record(&rec(product, module, record_id));
    }

    /// Attaches a file as a Bigin user would; creates the record. Returns the attachment id.
    pub fn add_file(
        &self,
        product: Product,
        module: &str,
        record_id: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> String {
        let hash = ContentHash::of_bytes(&bytes);
        let content = NewContent::File {
            bytes: Bytes::from(bytes),
            hash,
        };
        lock(&self.shared.store)
            .insert(&rec(product, module, record_id), file_name, content)
            .meta
            .id
    }

    /// Attaches a link titled `title`; creates the record. Returns the attachment id.
    pub fn add_link(
        &self,
        product: Product,
        module: &str,
        record_id: &str,
        title: &str,
        url: &str,
    ) -> String {
        let content = NewContent::Link {
            url: url.to_string(),
        };
        lock(&self.shared.store)
            .insert(&rec(product, module, record_id), title, content)
            .meta
            .id
    }

    /// Deletes an attachment as a Bigin user would; false if it was not on that record.
    pub fn delete_attachment(
        &self,
        product: Product,
        module: &str,
        record_id: &str,
        id: &str,
    ) -> bool {
        lock(&self.shared.store).delete(&rec(product, module, record_id), id)
    }

    /// Deletes an attachment right after page `page` of the record's list has been served
    /// (once), as a Bigin user may while a client reads the pages: the attachments after it
    /// move up a place, so the first one of the next page is never served.
    pub fn delete_after_list_page(
        &self,
        product: Product,
        module: &str,
        record_id: &str,
        page: usize,
        id: &str,
    ) {
        lock(&self.shared.deletes_after_page).push(state::PageDelete {
            record: rec(product, module, record_id),
            page,
            attachment_id: id.to_string(),
        });
    }

    /// The record's attachments, newest first (as the list call orders them).
    pub fn attachments(
        &self,
        product: Product,
        module: &str,
        record_id: &str,
    ) -> Vec<SandboxAttachment> {
        lock(&self.shared.store)
            .list(&rec(product, module, record_id))
            .into_iter()
            .map(|s| s.meta.clone())
            .collect()
    }

    /// Content of a file attachment by id (any record); `None` for links and unknown ids.
    pub fn content(&self, id: &str) -> Option<Bytes> {
        lock(&self.shared.store).content(id)
    }

    /// Replaces the injected faults and reseeds their RNG.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults::FaultState::new(faults);
    }

    /// While down, every API and token request has its connection dropped unanswered.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Invalidates every access token issued so far (401 `INVALID_TOKEN` from now on).
    pub fn expire_tokens(&self) {
        lock(&self.shared.auth).expire_all();
    }

    /// Revokes the refresh token(s): grants answer `{"error":"invalid_code"}`.
    pub fn revoke_refresh_token(&self) {
        lock(&self.shared.auth).revoke_refresh();
    }

    /// Toggles 403 `NO_PERMISSION` for every API request on `module`.
    pub fn set_no_permission(&self, module: &str, on: bool) {
        let mut set = lock(&self.shared.no_permission);
        if on {
            set.insert(module.to_string());
        } else {
            set.remove(module);
        }
    }

    /// Toggles 401 `OAUTH_SCOPE_MISMATCH` on every API request.
    pub fn set_scope_mismatch(&self, on: bool) {
        self.shared.scope_mismatch.store(on, Ordering::SeqCst);
    }

    /// Requests received on `route`, failed and dropped ones included.
    pub fn calls(&self, route: Route) -> u64 {
        self.shared.calls(route)
    }

    /// Every API call Zoho counts (attachment list, upload, download, delete, records
    /// listing, one record), as received: failed and dropped ones included. Token grants
    /// go to the accounts server and are not API calls.
    pub fn total_api_calls(&self) -> u64 {
        [
            Route::List,
            Route::Upload,
            Route::Download,
            Route::Delete,
            Route::Records,
            Route::Record,
        ]
        .into_iter()
        .map(|r| self.shared.calls(r))
        .sum()
    }

    /// Credits Zoho would have charged, at the client's prices (`ApiOp::credits`: 1 a
    /// request, 3 for a records listing with `cvid`) and by its rule (`ApiCall::replied`):
    /// nothing for a request turned away with 401 or 429, or never answered. One
    /// difference: an upload whose connection is dropped after it was stored is charged
    /// here, while the client, which got no reply, counts nothing.
    pub fn credits_charged(&self) -> u64 {
        self.shared.credits()
    }

    /// Most API requests ever in flight at once, to check a client's concurrency limit.
    pub fn max_concurrent_requests(&self) -> u64 {
        self.shared.max_in_flight()
    }

    /// Stops accepting, closes live connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "sandbox accept loop ended abnormally");
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // A test that forgets shutdown must not leave a server running on its runtime.
        self.stop.cancel();
    }
}

fn rec(product: Product, module: &str, record_id: &str) -> store::RecordRef {
    (product, module.to_string(), record_id.to_string())
}
