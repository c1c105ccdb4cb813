//! Time and size limits of one exchange: `zoho.timeout` is a limit on *silence* (no byte
//! moving for that long), never on total time, so a large file over a slow but steady link
//! always finishes and a stalled one always fails; replies read into memory are capped.
//!
//! reqwest's own `read_timeout` cannot be used for this: it runs from the start of a
//! request until its reply, whatever the upload body does meanwhile, so it cut every upload
//! that took longer than `timeout` to send. Instead:
//! - while the request is sent, [`watch`] fails it after `timeout` without progress of the
//!   upload body ([`Progress`]; for requests without a streamed body, `timeout` after the
//!   start);
//! - reply bodies are read chunk by chunk with [`next_chunk`], which fails after `timeout`
//!   without a chunk.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::error::{Op, ZohoError};

/// Largest reply (list page, token, upload or delete reply) read into memory. A list
/// page of 200 attachments is well under 1 MiB; more means a broken or hostile server.
pub const REPLY_LIMIT: usize = 16 * 1024 * 1024;

/// Bytes handed to the connection sit in socket and HTTP buffers before they are on the
/// wire, so the end of an upload body is followed by silence while they drain. The drain
/// is taken to last at most as long as handing over this many bytes took (more than our
/// send buffer, `tcp_wmem`'s maximum, 4 MiB by default, plus what a link holds in flight),
/// measured at the end of the body. A body that fits in those buffers entirely gets no
/// such allowance, only `timeout`: on a link slower than (buffered bytes / `timeout`), a
/// healthy upload of it can be cut and retried (an unknown outcome, adopted, never sent
/// twice). A server reading slowly into a large receive buffer looks the same, which is
/// why the sandbox's buffer is set small.
const DRAIN_WINDOW: u64 = 16 * 1024 * 1024;

/// How far an upload body has got; shared by the body stream and [`watch`].
#[derive(Debug)]
pub(super) struct Progress {
    len: u64,
    state: Mutex<ProgressState>,
}

#[derive(Debug)]
struct ProgressState {
    /// When the last chunk was handed to the connection (or the body was created).
    last: Instant,
    sent: u64,
    /// When the last [`DRAIN_WINDOW`] bytes of the body started to be handed over.
    tail_from: Option<Instant>,
    /// When the whole body had been handed over.
    done_at: Option<Instant>,
}

impl Progress {
    /// Progress of a body of `len` bytes, nothing sent yet.
    pub(super) fn new(len: u64) -> Arc<Progress> {
        let now = Instant::now();
        Arc::new(Progress {
            len,
            state: Mutex::new(ProgressState {
                last: now,
                sent: 0,
                tail_from: (len <= DRAIN_WINDOW).then_some(now),
                done_at: (len == 0).then_some(now),
            }),
        })
    }

    /// The body's length.
    #[cfg(test)]
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressState> {
        // Plain numbers: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that `n` more bytes were handed to the connection.
    pub(super) fn advance(&self, n: usize) {
        let now = Instant::now();
        let mut s = self.lock();
        s.last = now;
        s.sent += n as u64;
        if s.tail_from.is_none() && s.sent + DRAIN_WINDOW >= self.len {
            s.tail_from = Some(now);
        }
        if s.done_at.is_none() && s.sent >= self.len {
            s.done_at = Some(now);
        }
    }

    /// When the request counts as stalled if nothing moves before.
    fn deadline(&self, timeout: Duration) -> Instant {
        let s = self.lock();
        match (s.done_at, s.tail_from) {
            (Some(done), Some(tail)) => done + (done - tail) + timeout,
            _ => s.last + timeout,
        }
    }

    /// Wraps an upload body stream so that each chunk it yields counts as progress.
    pub(super) fn track<S, E>(
        self: &Arc<Self>,
        stream: S,
    ) -> impl futures_util::Stream<Item = Result<Bytes, E>> + use<S, E>
    where
        S: futures_util::Stream<Item = Result<Bytes, E>>,
    {
        let progress = self.clone();
        futures_util::TryStreamExt::inspect_ok(stream, move |chunk| progress.advance(chunk.len()))
    }
}

/// Runs `send` (a request being sent, until its reply's headers arrive), failing it as
/// a timeout once `timeout` passes without the upload body moving (`progress`) or, for
/// requests without one, `timeout` after the start.
pub(super) async fn watch<F>(
    op: Op,
    send: F,
    progress: Option<&Progress>,
    timeout: Duration,
) -> Result<reqwest::Response, ZohoError>
where
    F: Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let start = Instant::now();
    let deadline = || progress.map_or(start + timeout, |p| p.deadline(timeout));
    tokio::pin!(send);
    loop {
        tokio::select! {
            res = &mut send => return res.map_err(|e| ZohoError::from_reqwest(op, &e)),
            _ = tokio::time::sleep_until(deadline()) => {
                if Instant::now() >= deadline() {
                    return Err(ZohoError::Timeout {
                        op,
                        // Part of an upload may have reached Zoho.
                        outcome_unknown: op == Op::Upload,
                    });
                }
            }
        }
    }
}

/// The next chunk of a reply body; `Ok(None)` at its end. No byte for `timeout` is a
/// timeout, a broken body a network error (both retryable).
pub(super) async fn next_chunk(
    resp: &mut reqwest::Response,
    op: Op,
    timeout: Duration,
) -> Result<Option<Bytes>, ZohoError> {
    match tokio::time::timeout(timeout, resp.chunk()).await {
        Ok(res) => res.map_err(|e| ZohoError::from_reqwest(op, &e)),
        Err(_) => Err(ZohoError::Timeout {
            op,
            outcome_unknown: op == Op::Upload,
        }),
    }
}

/// Reads a whole reply of at most [`REPLY_LIMIT`] bytes; a larger one is refused as soon
/// as its `Content-Length` or its bytes tell, before it can fill the memory.
pub(super) async fn read_reply(
    mut resp: reqwest::Response,
    op: Op,
    timeout: Duration,
) -> Result<Vec<u8>, ZohoError> {
    let too_large = || ZohoError::InvalidResponse {
        op,
        message: format!(
            "the reply is larger than {} MiB, far more than any {op} reply; refused",
            REPLY_LIMIT / (1024 * 1024)
        ),
    };
    if resp
        .content_length()
        .is_some_and(|n| n > REPLY_LIMIT as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(&mut resp, op, timeout).await? {
        if body.len() + chunk.len() > REPLY_LIMIT {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn silence_is_measured_from_the_last_chunk_and_the_end_allows_a_drain() {
        let t = Duration::from_secs(10);
        let p = Progress::new(3 * DRAIN_WINDOW);
        let start = Instant::now();
        assert_eq!(p.deadline(t), start + t);
        tokio::time::advance(Duration::from_secs(5)).await;
        p.advance(DRAIN_WINDOW as usize);
        assert_eq!(p.deadline(t), start + Duration::from_secs(15), "moved on");
        tokio::time::advance(Duration::from_secs(5)).await;
        p.advance(DRAIN_WINDOW as usize);
        tokio::time::advance(Duration::from_secs(4)).await;
        p.advance(DRAIN_WINDOW as usize);
        // The last window took 4 s to hand over: its bytes may take as long to drain.
        assert_eq!(p.deadline(t), start + Duration::from_secs(14 + 4 + 10));
    }
}
