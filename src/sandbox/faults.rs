//! Deterministic fault decisions: one seeded RNG so a seed replays the same failures.

use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::options::{Faults, Route};

/// The active [`Faults`] and the RNG drawing from them.
pub(crate) struct FaultState {
    pub faults: Faults,
    rng: StdRng,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        let rng = StdRng::seed_from_u64(faults.seed);
        FaultState { faults, rng }
    }

    /// True with probability `rate`; draws nothing for 0 so unrelated knobs do not shift
    /// the sequence of another.
    pub fn roll(&mut self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        self.rng.random::<f64>() < rate
    }
}

/// How long a stalled transfer stays silent: longer than any test, and the connection is
/// closed when the sandbox shuts down anyway.
const STALL: Duration = Duration::from_secs(3600);

/// Paces one transfer body by the [`Faults::throttle_bytes_per_sec`] and
/// [`Faults::stall_after_bytes`] knobs in force when it started.
#[derive(Clone, Copy)]
pub(crate) struct Pace {
    start: Instant,
    rate: u64,
    stall_after: Option<u64>,
}

impl Pace {
    /// The pace of a body on `route` under `faults`.
    pub fn new(faults: &Faults, route: Route) -> Self {
        let on = faults.applies_to(route);
        Pace {
            start: Instant::now(),
            rate: if on { faults.throttle_bytes_per_sec } else { 0 },
            stall_after: faults.stall_after_bytes.filter(|_| on),
        }
    }

    /// True when the body can go out at full speed.
    pub fn is_free(&self) -> bool {
        self.rate == 0 && self.stall_after.is_none()
    }

    /// Returns once `done` bytes may have passed at the throttle rate; never returns
    /// (within a test's life) once the stall point is reached.
    pub async fn wait(&self, done: u64) {
        if self.stall_after.is_some_and(|s| done >= s) {
            tokio::time::sleep(STALL).await;
        }
        if self.rate > 0 {
            let due = self.start + Duration::from_secs_f64(done as f64 / self.rate as f64);
            tokio::time::sleep_until(due).await;
        }
    }

    /// `bytes` as a stream of small chunks, each sent when the pace allows.
    pub fn stream(
        self,
        bytes: Bytes,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
        const CHUNK: usize = 16 * 1024;
        futures_util::stream::unfold(0usize, move |off| {
            let bytes = bytes.clone();
            async move {
                if off >= bytes.len() {
                    return None;
                }
                self.wait(off as u64).await;
                let end = (off + CHUNK).min(bytes.len());
                Some((Ok(bytes.slice(off..end)), end))
            }
        })
    }
}

/// A valid JSON reply (`{"data":[],…,"pad":"xxx…"}`) of about `size` bytes, produced
/// chunk by chunk so that a huge one costs the sandbox no memory.
pub(crate) fn oversized_json(
    size: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    const HEAD: &[u8] = br#"{"data":[],"info":{"more_records":false},"access_token":"x","pad":""#;
    const CHUNK: u64 = 64 * 1024;
    static PAD: [u8; CHUNK as usize] = [b'x'; CHUNK as usize];
    let pad = size.saturating_sub(HEAD.len() as u64 + 2);
    let head = futures_util::stream::once(async { Ok(Bytes::from_static(HEAD)) });
    let body = futures_util::stream::unfold(pad, |left| async move {
        if left == 0 {
            return None;
        }
        let n = left.min(CHUNK);
        Some((Ok(Bytes::from_static(&PAD[..n as usize])), left - n))
    });
    let tail = futures_util::stream::once(async { Ok(Bytes::from_static(b"\"}")) });
    futures_util::StreamExt::chain(futures_util::StreamExt::chain(head, body), tail)
}
