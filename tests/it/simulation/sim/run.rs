//! Engine lifetimes: each "incarnation" is a fresh tokio runtime, journal, client and
//! engine built from the same state dir. A crash drops the pass future at an arbitrary
//! await point and then drops everything (the runtime too), as kill -9 would.

use super::world::World;
use bigin_sync::daemon::{follow, setup};
use bigin_sync::engine::PassReport;
use bigin_sync::executor::RetryPolicy;
use rand::Rng;
use std::time::Duration;

/// How a pass ends.
#[derive(Debug, Clone, Copy)]
pub enum Crash {
    /// Runs to completion.
    None,
    /// Killed after this much wall-clock time.
    After(Duration),
    /// Killed after the runtime polled a yielding task this many times.
    Yields(u32),
}

impl Crash {
    pub fn random(rng: &mut impl Rng) -> Crash {
        match rng.random_range(0..4) {
            0 => Crash::None,
            1 => Crash::After(Duration::from_micros(rng.random_range(0..30_000))),
            _ => Crash::Yields(rng.random_range(0..400)),
        }
    }
}

/// `once`'s policy with short in-pass delays: the simulation is about outcomes, not waits.
pub fn policy() -> RetryPolicy {
    RetryPolicy {
        attempts_per_pass: 3,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
        max_persisted_delay: Duration::from_secs(1),
        ..RetryPolicy::once()
    }
}

async fn yields(n: u32) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

/// What one pass ended as.
pub enum PassEnd {
    Finished(Box<PassReport>),
    Crashed,
}

/// Runs an incarnation: boots from the state dir, runs `passes` passes (the user acts
/// between them when `between` says so), the last one possibly crashing.
pub fn incarnation(
    w: &mut World<'_>,
    passes: usize,
    user_between: bool,
    crash_last: Crash,
) -> Vec<PassEnd> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("engine runtime");
    let ends = rt.block_on(async {
        let journal = setup::open_journal(&w.cfg).expect("open journal");
        let app = setup::build(&w.cfg, journal.clone(), policy()).expect("build runtime");
        let mut ends = Vec::new();
        for i in 0..passes {
            if i > 0 && user_between {
                w.user_round();
            }
            let folders = follow::refresh_followed(&app.engine, &journal)
                .await
                .expect("refresh followed");
            if i == 0 {
                follow::clean_temp_files(&folders);
            }
            let poll = i == 0 || w.rng.random_bool(0.5);
            let crash = if i + 1 == passes {
                crash_last
            } else {
                Crash::None
            };
            w.note(format!("  pass poll={poll} crash={crash:?}"));
            let pass = app.engine.pass(&folders, poll, false);
            let end = match crash {
                Crash::None => PassEnd::Finished(Box::new(pass.await)),
                Crash::After(d) => match tokio::time::timeout(d, pass).await {
                    Ok(r) => PassEnd::Finished(Box::new(r)),
                    Err(_) => PassEnd::Crashed,
                },
                Crash::Yields(n) => tokio::select! {
                    r = pass => PassEnd::Finished(Box::new(r)),
                    _ = yields(n) => PassEnd::Crashed,
                },
            };
            match &end {
                PassEnd::Finished(r) => w.note(format!(
                    "  -> done={} skipped={} deferred={} parked={} unstable={} list_errors={} errors={:?}",
                    r.done, r.skipped, r.deferred, r.parked, r.unstable, r.list_errors, r.errors
                )),
                PassEnd::Crashed => w.note("  -> CRASH (engine dropped mid-pass)".to_string()),
            }
            let crashed = matches!(end, PassEnd::Crashed);
            ends.push(end);
            if crashed {
                break;
            }
        }
        drop(app);
        ends
    });
    // Dropping the runtime cancels every task; blocking work already running finishes
    // (a process killed mid-syscall would not leave a half-done rename either).
    drop(rt);
    ends
}

/// True when a pass found nothing to do and nothing in the way.
pub fn quiet(r: &PassReport) -> bool {
    r.done == 0
        && r.skipped == 0
        && r.deferred == 0
        && r.parked == 0
        && r.unstable == 0
        && r.list_errors == 0
        && r.blocked_deletes == 0
        && r.errors.is_empty()
}

/// Faults off; passes until one is quiet. Returns the last report, or an error text.
pub fn settle(w: &mut World<'_>) -> Result<(), String> {
    const MAX_PASSES: usize = 12;
    w.sandbox.set_faults(Default::default());
    w.note("settle: faults off".to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("engine runtime");
    let result = rt.block_on(async {
        let journal = setup::open_journal(&w.cfg).expect("open journal");
        let app = setup::build(&w.cfg, journal.clone(), policy()).expect("build runtime");
        let mut last = None;
        for i in 0..MAX_PASSES {
            let folders = follow::refresh_followed(&app.engine, &journal)
                .await
                .expect("refresh followed");
            if i == 0 {
                follow::clean_temp_files(&folders);
            }
            let r = app.engine.pass(&folders, true, false).await;
            w.note(format!(
                "  settle pass {i}: done={} skipped={} deferred={} parked={} unstable={} list_errors={} errors={:?}",
                r.done, r.skipped, r.deferred, r.parked, r.unstable, r.list_errors, r.errors
            ));
            if quiet(&r) {
                return Ok(());
            }
            if r.unstable > 0 {
                // Files the daemon is waiting on to settle: give the debounce a chance.
                tokio::time::sleep(w.cfg.sync.debounce).await;
            }
            last = Some(r);
        }
        Err(format!(
            "no quiet pass after {MAX_PASSES} passes without faults; last: {:?}",
            last.map(|r| r.errors)
        ))
    });
    drop(rt);
    result
}
