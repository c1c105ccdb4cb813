//! Drop → attached: files renamed into a watched record folder one at a time, timed until
//! the sandbox holds the attachment. The debounce is the user's own setting, so it is
//! subtracted: what remains is the daemon's overhead.

use crate::Sizes;
use crate::harness::{DEADLINE, Env, content, drop_file, wait_until};
use crate::report::{Row, failed, ms};
use anyhow::{Result, bail};
use bigin_sync::sandbox::{Route, SandboxOptions};
use std::time::{Duration, Instant};

const DEBOUNCE: Duration = Duration::from_millis(200);
const RECORD: &str = "2034020000000100001";

pub async fn run(sizes: &Sizes) -> Vec<Row> {
    match measure(sizes).await {
        Ok(rows) => rows,
        Err(e) => vec![failed("drop → attached latency", &e)],
    }
}

async fn measure(sizes: &Sizes) -> Result<Vec<Row>> {
    let env = Env::new(SandboxOptions::default(), "debounce = \"200ms\"").await?;
    let dir = env.record(RECORD)?;
    let daemon = env.spawn_daemon()?;
    daemon.wait_ready().await?;
    // The start-up poll of the record must be over, or the first drop waits for it.
    if !wait_until(DEADLINE, || env.calls(Route::List) >= 1).await {
        bail!("the record was never listed; log:\n{}", daemon.log_tail());
    }
    let calls_before = env.api_calls();
    let (lists_before, uploads_before) = (env.calls(Route::List), env.calls(Route::Upload));
    let window = Instant::now();
    let mut lat: Vec<Duration> = Vec::with_capacity(sizes.latency_files);
    for i in 0..sizes.latency_files {
        let body = content(i as u64, 1024);
        drop_file(&dir, &format!("drop-{i:04}.txt"), &body)?;
        let t0 = Instant::now();
        if !wait_until(DEADLINE, || env.remote_count(RECORD) > i).await {
            bail!("drop {i} never attached; log:\n{}", daemon.log_tail());
        }
        lat.push(t0.elapsed().saturating_sub(DEBOUNCE));
    }
    let calls = env.api_calls() - calls_before;
    let lists = env.calls(Route::List) - lists_before;
    let uploads = env.calls(Route::Upload) - uploads_before;
    // Scheduled polls (shipped poll_interval: 60 s) are not caused by the drops.
    let scheduled_polls = window.elapsed().as_secs() / 60 + 1;
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1];
    let (p50, p99) = (p(0.50), p(0.99));
    let per_file = calls as f64 / sizes.latency_files as f64;
    let n = sizes.latency_files;
    Ok(vec![
        Row::new(
            format!(
                "drop → attached p50 (latency − debounce {}ms, n={n})",
                DEBOUNCE.as_millis()
            ),
            ms(p50),
        )
        .target("≤ 50 ms")
        .ratio(p50.as_secs_f64() / 0.050)
        .pass(p50 <= Duration::from_millis(50)),
        Row::new(format!("drop → attached p99 (n={n})"), ms(p99))
            .target("≤ 250 ms")
            .ratio(p99.as_secs_f64() / 0.250)
            .pass(p99 <= Duration::from_millis(250)),
        Row::new(
            "API calls per dropped file (running daemon)",
            format!("{per_file:.3} ({uploads} uploads, {lists} lists, {calls} calls in all)"),
        )
        .target(format!("1 (+ ≤ {scheduled_polls} scheduled polls)"))
        .ratio(per_file)
        .pass(uploads == n as u64 && calls - uploads <= scheduled_polls),
    ])
}
