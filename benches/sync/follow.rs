//! Following records (issue 13): folders for a module's records from cold, remote-add →
//! local latency through follow hints, and what a followed module costs in credits a day.
//!
//! Credits are counted from the sandbox: record listing pages (`GET /{module}`), single
//! record reads, attachment lists (polls) and downloads; token grants are free in Zoho.

use crate::Sizes;
use crate::harness::{DEADLINE, Daemon, Env, MODULE, lock, wait_until};
use crate::procfs::cpu_seconds;
use crate::report::{Row, failed};
use anyhow::{Result, bail};
use bigin_sync::config::format_duration;
use bigin_sync::follow::run::{PAGE_SIZE, stretched_interval};
use bigin_sync::model::Product;
use bigin_sync::poller::PollPolicy;
use bigin_sync::sandbox::{Route, SandboxOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::{Duration, Instant};

/// The sandbox config's edition (Bigin Premier, 1 user: 50,250 credits) at the default
/// budget share of 40 %.
const PREMIER_BUDGET: u32 = 20_100;
/// Shipped `[sync]` defaults.
const POLL_INTERVAL: Duration = Duration::from_secs(60);
const POLL_INTERVAL_MAX: Duration = Duration::from_secs(900);
const FOLLOW_INTERVAL: Duration = Duration::from_secs(600);
const DAY: f64 = 86_400.0;

/// Sizes of the follow scenario.
#[derive(Debug, Clone)]
pub struct FollowSizes {
    /// Records of the cold-start row.
    pub cold_records: usize,
    /// Records of the latency and idle rows.
    pub records: usize,
    /// `follow_interval` of the latency row.
    pub hint_interval: Duration,
    /// Files added in Zoho during the latency row, and the time they are spread over.
    pub samples: usize,
    pub spread: Duration,
    /// Polls alone (hints off) at the hinted setup's spend: files added, the time they are
    /// spread over, and the compression (every interval divided by it, the budget
    /// multiplied by it).
    pub alone_samples: usize,
    pub alone_spread: Duration,
    pub alone_compression: u32,
    /// The idle row runs every interval divided (and the budget multiplied) by this.
    pub idle_compression: u32,
}

/// `BENCH_SYNC_FOLLOW=cold,hints,idle` (the default: all) picks the parts to run, to
/// repeat one without the others.
pub async fn run(sizes: &Sizes) -> Vec<Row> {
    let f = &sizes.follow;
    let parts = std::env::var("BENCH_SYNC_FOLLOW").unwrap_or_else(|_| "cold,hints,idle".into());
    let wanted = |p: &str| parts.split(',').any(|x| x == p);
    let mut rows = Vec::new();
    if wanted("cold") {
        match cold(f.cold_records).await {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(failed("follow: folders from cold", &e)),
        }
    }
    if wanted("hints") {
        match hinted_latency(f).await {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(failed("follow: remote-add → local latency", &e)),
        }
    }
    if wanted("idle") {
        match idle_credits(f).await {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(failed("follow: idle credits per day", &e)),
        }
    }
    rows
}

/// Credits Zoho charges, as the sandbox counted them.
fn credits(env: &Env) -> Credits {
    Credits {
        pages: env.calls(Route::Records),
        reads: env.calls(Route::Record),
        polls: env.calls(Route::List),
        transfers: [Route::Upload, Route::Download, Route::Delete]
            .into_iter()
            .map(|r| env.calls(r))
            .sum(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Credits {
    pages: u64,
    reads: u64,
    polls: u64,
    transfers: u64,
}

impl std::ops::Sub for Credits {
    type Output = Credits;
    fn sub(self, o: Credits) -> Credits {
        Credits {
            pages: self.pages - o.pages,
            reads: self.reads - o.reads,
            polls: self.polls - o.polls,
            transfers: self.transfers - o.transfers,
        }
    }
}

/// An env whose `[sync]` is `sync`, `zoho_extra` added to `[zoho]`, following Pipelines;
/// `follow_extra` goes into the `[[follow]]` table.
async fn follow_env(sync: &str, zoho_extra: &str, follow_extra: &str) -> Result<Env> {
    let env = Env::new(SandboxOptions::default(), sync).await?;
    let text = std::fs::read_to_string(&env.config)?;
    let anchor = "edition = \"premier\"";
    if !text.contains(anchor) {
        bail!("the sandbox config no longer names the edition:\n{text}");
    }
    let text = text.replace(anchor, &format!("{anchor}\n{zoho_extra}"));
    std::fs::write(
        &env.config,
        format!("{text}\n[[follow]]\nmodule = \"{MODULE}\"\n{follow_extra}\n"),
    )?;
    Ok(env)
}

fn deal_name(i: usize) -> String {
    format!("Deal {i:05}")
}

/// Creates `n` deals in the sandbox; returns their ids.
fn create_deals(env: &Env, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            env.sandbox.create_record(
                Product::Bigin,
                MODULE,
                serde_json::json!({ "Deal_Name": deal_name(i) }),
            )
        })
        .collect()
}

fn folder_count(module_dir: &Path) -> usize {
    std::fs::read_dir(module_dir).map_or(0, |d| d.count())
}

/// Waits (reading the module folder every 20 ms) until it holds `n` entries.
async fn wait_folders(env: &Env, d: &Daemon, n: usize) -> Result<()> {
    let dir = env.root.join(MODULE);
    let end = Instant::now() + DEADLINE;
    while folder_count(&dir) < n {
        if Instant::now() > end {
            bail!(
                "{} of {n} folders after {DEADLINE:?}; log:\n{}",
                folder_count(&dir),
                d.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Row 1: every record of a module gets its `<id> <label>` folder, listed 200 at a time.
async fn cold(n: usize) -> Result<Vec<Row>> {
    let env = follow_env("debounce = \"100ms\"", "", "").await?;
    let ids = create_deals(&env, n);
    let d = env.spawn_daemon()?;
    wait_folders(&env, &d, n).await?;
    let took = d.started.elapsed();
    let pages = env.calls(Route::Records);
    let reads = env.calls(Route::Record);
    // Every folder carries the record's name, and the listing does not go on.
    let module_dir = env.root.join(MODULE);
    let named = ids
        .iter()
        .enumerate()
        .filter(|(i, id)| module_dir.join(format!("{id} {}", deal_name(*i))).is_dir())
        .count();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pages_after = env.calls(Route::Records);
    drop(d);
    if named != n {
        bail!("{named} of {n} folders carry their record's label");
    }
    let want = n.div_ceil(PAGE_SIZE) as u64;
    eprintln!(
        "follow cold: {n} folders in {:.2} s, {pages} listing pages ({pages_after} a second later), {reads} record reads",
        took.as_secs_f64()
    );
    Ok(vec![
        Row::new(
            format!(
                "follow: folders for {n} records from cold (spawn → all `<id> <label>` folders)"
            ),
            format!("{:.2} s", took.as_secs_f64()),
        ),
        Row::new(
            format!("follow: listing calls for {n} records (page_token past 2,000)"),
            format!("{pages} pages, {reads} record reads"),
        )
        .target(format!("ceil(n/200) = {want}"))
        .ratio(pages as f64 / want as f64)
        .pass(pages == want && pages_after == want && reads == 0),
    ])
}

/// Quantile `q` of sorted durations (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Adds one file in Zoho to each of `samples` distinct random records, at random moments
/// spread over `spread`, and times each until it exists in its local folder. Returns the
/// latencies (sorted), the window (first add → last arrival) and the credits spent in it.
async fn sample_latencies(
    env: &Env,
    d: &Daemon,
    ids: &[String],
    samples: usize,
    spread: Duration,
    give_up: Duration,
) -> Result<(Vec<Duration>, Duration, Credits)> {
    let n = ids.len();
    let mut rng = StdRng::seed_from_u64(13);
    let mut order: Vec<usize> = (0..n).collect();
    // Distinct records: a record's second file must not ride on its first one's poll.
    for i in 0..samples.min(n) {
        let j = rng.random_range(i..n);
        order.swap(i, j);
    }
    let mean_gap = spread.as_secs_f64() / samples as f64;
    let start = Instant::now();
    let before = credits(env);
    let mut next_add = start;
    let mut added = 0usize;
    // (local path, when added)
    let mut pending: Vec<(std::path::PathBuf, Instant)> = Vec::new();
    let mut lat: Vec<Duration> = Vec::new();
    let (window, spent) = loop {
        let now = Instant::now();
        if added < samples.min(n) && now >= next_add {
            let i = order[added];
            let name = format!("added-{added:03}.txt");
            env.sandbox.add_file(
                Product::Bigin,
                MODULE,
                &ids[i],
                &name,
                format!("sample {added}").into_bytes(),
            );
            let path = env
                .root
                .join(MODULE)
                .join(format!("{} {}", ids[i], deal_name(i)))
                .join(name);
            pending.push((path, Instant::now()));
            added += 1;
            next_add = now + Duration::from_secs_f64(rng.random_range(0.0..2.0 * mean_gap));
        }
        pending.retain(|(path, at)| {
            if path.exists() {
                lat.push(at.elapsed());
                false
            } else {
                true
            }
        });
        // The window ends when the last file has arrived.
        if added == samples.min(n) && pending.is_empty() {
            break (start.elapsed(), credits(env) - before);
        }
        if let Some((_, at)) = pending.first()
            && at.elapsed() > give_up
        {
            bail!(
                "a file added in Zoho was not downloaded within {give_up:?}; log:\n{}",
                d.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    lat.sort();
    Ok((lat, window, spent))
}

/// Row 2: files added in Zoho to random followed records at random moments, timed until
/// they exist locally; then what that setup spends and what polls alone would give for it.
async fn hinted_latency(f: &FollowSizes) -> Result<Vec<Row>> {
    let n = f.records;
    let interval = f.hint_interval;
    // The smallest budget under which the follow loop keeps `follow_interval`: listings
    // may plan for FOLLOW_BUDGET_SHARE of it (see `stretched_interval`). On Bigin that
    // takes Premier (or Express) with enough users (100: 75,000 credits) and the budget
    // set by hand; the default share (40 %) gives at most 40,000.
    let pages_per_pass = n.div_ceil(PAGE_SIZE).max(1);
    let budget = (pages_per_pass as f64 * DAY / interval.as_secs_f64() / 0.1).ceil() as u32;
    let sync = format!(
        "debounce = \"100ms\"\nfollow_interval = \"{}\"\napi_budget_per_day = {budget}",
        format_duration(interval)
    );
    let env = follow_env(&sync, "users = 100", "").await?;
    let ids = create_deals(&env, n);
    let d = env.spawn_daemon()?;
    wait_folders(&env, &d, n).await?;
    // The start-up polls of the new folders (each is listed once at once) must be over,
    // and one more follow pass made, before changes are made.
    if !wait_until(DEADLINE, || env.calls(Route::List) >= n as u64).await {
        bail!("start-up polls never finished; log:\n{}", d.log_tail());
    }
    let pages0 = env.calls(Route::Records);
    if !wait_until(DEADLINE, || env.calls(Route::Records) > pages0).await {
        bail!("no second follow pass; log:\n{}", d.log_tail());
    }

    let give_up = 3 * interval + Duration::from_secs(60);
    let (lat, window, spent) =
        sample_latencies(&env, &d, &ids, f.samples, f.spread, give_up).await?;
    let status = env.run(&["status", "--json"]).await?.0.stdout;
    let stretched = lock(&d.log)
        .lines
        .iter()
        .any(|l| l.contains("listed less often than follow_interval"));
    drop(d);
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap_or_default();
    let by_hint = &status["remote_changes"]["through_hint"];
    let by_poll = &status["remote_changes"]["by_poll"];

    let (p50, p90) = (quantile(&lat, 0.5), quantile(&lat, 0.9));
    let goal = interval + Duration::from_secs(5);

    // Spend: measured over the window (listing pages + polls + record reads) and per the
    // config (listing pages at the follow interval actually used + scheduled polls at
    // an idle record's delay).
    // Only the listing pages extrapolate: the polls in the window are the ones the
    // bench's changes caused (one each, brought forward by a hint) plus any scheduled
    // poll that falls in it, and a scheduled poll's period is longer than the window.
    let per_day = DAY / window.as_secs_f64();
    let pages_measured = (spent.pages + spent.reads) as f64 * per_day;
    let policy = PollPolicy {
        poll_interval: POLL_INTERVAL,
        poll_interval_max: POLL_INTERVAL_MAX,
        api_budget_per_day: budget,
    };
    let follow_every = stretched_interval(interval, &[(n, 1)], budget);
    let pages_day = pages_per_pass as f64 * DAY / follow_every.as_secs_f64();
    let poll_every = policy.next_delay(20, n);
    let polls_day = n as f64 * DAY / poll_every.as_secs_f64();
    let computed = pages_day + polls_day;
    // Polls alone at that spend: each record polled every R·86400/C s, a change waits
    // half of that on average; measured compressed.
    let alone_every = n as f64 * DAY / computed;
    let alone = polls_alone(f, computed).await?;
    eprintln!(
        "follow hints: latencies {:?}",
        lat.iter()
            .map(|l| l.as_secs_f64().round())
            .collect::<Vec<_>>()
    );
    Ok(vec![
        Row::new(
            format!(
                "follow: remote add → local p50, hints, follow_interval {}, {n} records, n={} over {:.0} s (budget {budget}/day, Premier 100 users)",
                format_duration(interval),
                lat.len(),
                window.as_secs_f64()
            ),
            format!("{} (p90 {}){}", secs(p50), secs(p90), if stretched { "; interval STRETCHED" } else { "" }),
        )
        .target(format!("≤ follow_interval + 5 s = {}", secs(goal)))
        .ratio(p50.as_secs_f64() / goal.as_secs_f64())
        .pass(p50 <= goal),
        Row::new(
            "follow: changes found through a hint / by a scheduled poll (status --json)",
            format!("{by_hint} / {by_poll}"),
        ),
        Row::new(
            format!("follow: credits/day of that setup ({n} records; measured over the window, extrapolated / computed from the config)"),
            format!(
                "listing pages {pages_measured:.0} ({} pages, {} record reads in {:.0} s) / {pages_day:.0}; scheduled polls, one per record every {:.0} s: computed {polls_day:.0}; polls in the window: {} for {} changes; total computed {computed:.0}",
                spent.pages,
                spent.reads,
                window.as_secs_f64(),
                poll_every.as_secs_f64(),
                spent.polls,
                lat.len(),
            ),
        ),
        Row::new(
            format!(
                "follow: polls alone at {computed:.0} credits/day, {n} records (hints off; measured ×1/{} compressed, n={}, times scaled back)",
                f.alone_compression,
                alone.latencies.len()
            ),
            format!(
                "p50 {} (p90 {}); {:.0} polls/day measured",
                secs(alone.p50),
                secs(alone.p90),
                alone.polls_per_day
            ),
        )
        .target(format!(
            "computed p50 ≈ {} (polled every {alone_every:.0} s); hints: p50 {}",
            secs(Duration::from_secs_f64(alone_every / 2.0)),
            secs(p50)
        ))
        .ratio(alone.p50.as_secs_f64() / p50.as_secs_f64().max(1e-3)),
    ])
}

/// What scheduled polls alone gave, scaled back to real time.
struct Alone {
    latencies: Vec<Duration>,
    p50: Duration,
    p90: Duration,
    polls_per_day: f64,
}

/// Polls alone (hints off) spending `per_day` credits on `f.records` records: the budget
/// is set so that the poller's share (80 %) is `per_day`, every interval is divided by
/// `f.alone_compression` and the budget multiplied by it; latencies are multiplied back.
async fn polls_alone(f: &FollowSizes, per_day: f64) -> Result<Alone> {
    let (n, k) = (f.records, f.alone_compression);
    let budget = (per_day / 0.8 * f64::from(k)).ceil() as u64;
    let scaled = |d: Duration| d / k;
    // Folders are made by the first listing; the next is a day away (compressed: never
    // within the run) and carries no hint.
    let sync = format!(
        "debounce = \"100ms\"\nfollow_interval = \"1d\"\npoll_interval = \"{}\"\npoll_interval_max = \"{}\"\napi_budget_per_day = {budget}",
        format_duration(scaled(POLL_INTERVAL)),
        format_duration(scaled(POLL_INTERVAL_MAX)),
    );
    let env = follow_env(&sync, "users = 100", "hint_field = \"none\"").await?;
    let ids = create_deals(&env, n);
    let d = env.spawn_daemon()?;
    wait_folders(&env, &d, n).await?;
    if !wait_until(DEADLINE, || env.calls(Route::List) >= n as u64).await {
        bail!("start-up polls never finished; log:\n{}", d.log_tail());
    }
    let period = Duration::from_secs_f64(n as f64 * DAY / per_day);
    let give_up = 3 * scaled(period) + Duration::from_secs(30);
    let (lat, window, spent) =
        sample_latencies(&env, &d, &ids, f.alone_samples, f.alone_spread, give_up).await?;
    drop(d);
    let real: Vec<Duration> = lat.iter().map(|l| *l * k).collect();
    eprintln!(
        "follow polls alone: latencies (real time) {:?}",
        real.iter()
            .map(|l| l.as_secs_f64().round())
            .collect::<Vec<_>>()
    );
    Ok(Alone {
        p50: quantile(&real, 0.5),
        p90: quantile(&real, 0.9),
        polls_per_day: spent.polls as f64 * DAY / window.as_secs_f64() / f64::from(k),
        latencies: real,
    })
}

/// Row 3: credits a day for followed records nobody changes, hints on, shipped defaults,
/// with every interval divided by `idle_compression` (and the budget multiplied by it) so
/// that whole follow and poll cycles fit the window; the measured rate is divided back.
async fn idle_credits(f: &FollowSizes) -> Result<Vec<Row>> {
    let n = f.records;
    let k = f.idle_compression;
    let scaled = |d: Duration| d / k;
    let budget = PREMIER_BUDGET * k;
    let sync = format!(
        "debounce = \"100ms\"\nfollow_interval = \"{}\"\npoll_interval = \"{}\"\npoll_interval_max = \"{}\"\napi_budget_per_day = {budget}",
        format_duration(scaled(FOLLOW_INTERVAL)),
        format_duration(scaled(POLL_INTERVAL)),
        format_duration(scaled(POLL_INTERVAL_MAX)),
    );
    let env = follow_env(&sync, "", "").await?;
    create_deals(&env, n);
    let d = env.spawn_daemon()?;
    wait_folders(&env, &d, n).await?;
    if !wait_until(DEADLINE, || env.calls(Route::List) >= n as u64).await {
        bail!("start-up polls never finished; log:\n{}", d.log_tail());
    }
    // Shipped settings, computed: listing pages at the follow interval used, and each
    // record's scheduled poll at an idle record's delay (the budget floor for many).
    let shipped = PollPolicy {
        poll_interval: POLL_INTERVAL,
        poll_interval_max: POLL_INTERVAL_MAX,
        api_budget_per_day: PREMIER_BUDGET,
    };
    let pages_per_pass = n.div_ceil(PAGE_SIZE).max(1);
    let follow_every = stretched_interval(FOLLOW_INTERVAL, &[(n, 1)], PREMIER_BUDGET);
    let pages_day = pages_per_pass as f64 * DAY / follow_every.as_secs_f64();
    let poll_every = shipped.next_delay(20, n);
    let polls_day = n as f64 * DAY / poll_every.as_secs_f64();
    let computed = pages_day + polls_day;
    // An idle record's polls back off (1, 2, 4 × poll_interval ... up to the budget floor
    // or poll_interval_max): that ramp is waited out, then two whole poll cycles
    // (compressed) are counted, so that each record is polled about twice.
    let ramp: Duration = (1..20)
        .map(|idle| shipped.next_delay(idle, n))
        .take_while(|d| *d < poll_every)
        .sum();
    // The start-up polls all ended just now, so each record's polls come at whole
    // periods from now: a window of two periods starting now would end on the second
    // round's polls and count some of them, or not, by a hair (0.64–1.0 of the
    // computed figure from run to run). Starting half a period later, each record is
    // polled exactly twice within it.
    tokio::time::sleep(scaled(ramp) + scaled(poll_every) / 2).await;
    let window = scaled(poll_every) * 2;
    let before = credits(&env);
    let cpu0 = cpu_seconds(d.pid())?;
    let t0 = Instant::now();
    tokio::time::sleep(window).await;
    let spent = credits(&env) - before;
    let took = t0.elapsed();
    // A daemon short of CPU would poll late and make the compressed figure low.
    let cpu = cpu_seconds(d.pid())? - cpu0;
    drop(d);
    let per_day = DAY / took.as_secs_f64() / f64::from(k);
    let measured = (spent.pages + spent.reads + spent.polls + spent.transfers) as f64 * per_day;
    let ratio = measured / computed;
    Ok(vec![Row::new(
        format!(
            "follow: credits/day, {n} idle followed records, hints on (Premier 1 user, budget {PREMIER_BUDGET}; follow {}, polls {}–{}; measured ×1/{k} compressed over {:.0} s)",
            format_duration(follow_every),
            format_duration(POLL_INTERVAL),
            format_duration(POLL_INTERVAL_MAX),
            took.as_secs_f64()
        ),
        format!(
            "{measured:.0} ({} pages, {} polls, {} other; daemon CPU {:.0} % of one core)",
            spent.pages,
            spent.polls,
            spent.reads + spent.transfers,
            cpu * 100.0 / took.as_secs_f64()
        ),
    )
    .target(format!(
        "computed {computed:.0} = {pages_day:.0} pages + {polls_day:.0} polls (one per record every {:.0} s)",
        poll_every.as_secs_f64()
    ))
    .ratio(ratio)
    .pass((0.8..=1.2).contains(&ratio))])
}
