//! The accept loop. axum's `serve` cannot close a connection without answering, which is
//! exactly what the drop faults need, so connections are served with hyper directly and
//! each one gets a [`ConnHandle`] a handler can use to kill it.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use hyper::body::Incoming;
use hyper::service::{Service, service_fn};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Request extension that lets a handler close its own connection without a reply.
#[derive(Clone)]
pub(crate) struct ConnHandle(CancellationToken);

impl ConnHandle {
    /// Closes the connection; never returns (the handler future is dropped with it), so
    /// the client sees a reset or EOF and no response at all.
    pub async fn drop_connection<T>(&self) -> T {
        self.0.cancel();
        std::future::pending::<T>().await
    }
}

/// Accepts connections until `stop` is cancelled; cancelling also closes live connections.
pub(crate) fn spawn_accept_loop(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => break,
                a = listener.accept() => a,
            };
            let (stream, _peer): (_, SocketAddr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or similar: keep serving the others.
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::task::yield_now().await;
                    continue;
                }
            };
            let conn_token = stop.child_token();
            tokio::spawn(serve_one(stream, router.clone(), conn_token));
        }
    })
}

fn serve_one(
    stream: tokio::net::TcpStream,
    router: Router,
    token: CancellationToken,
) -> impl Future<Output = ()> {
    let tower = TowerToHyperService::new(router);
    let handle = ConnHandle(token.clone());
    let svc = service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        tower.call(req)
    });
    async move {
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), svc)
            .with_upgrades();
        tokio::select! {
            // Dropping the connection future closes the socket mid-request.
            _ = token.cancelled() => {}
            res = conn => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "sandbox connection ended with error");
                }
            }
        }
    }
}
