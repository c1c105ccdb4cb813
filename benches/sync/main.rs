//! `cargo bench --bench sync -- [--quick] [--only a,b] [--scale RECORDS:FILES]`
//!
//! Drives the real `bigin-sync` binary against the in-process sandbox on loopback and
//! prints one markdown table of figures, targets (issue 5) and ratios against a raw
//! reqwest baseline measured in the same run. `--quick` shrinks every size so the whole
//! run takes well under a minute (CI runs it so this code cannot rot).

mod baseline;
mod bulk;
mod follow;
mod harness;
mod latency;
mod memory;
mod procfs;
mod report;
mod scale;

use report::Row;
use std::time::{Duration, Instant};

/// Sizes of one run.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub latency_files: usize,
    pub bulk_files: usize,
    pub bulk_file_bytes: usize,
    /// Files of the bulk scenarios repeated with a delay on every API call, and the delays:
    /// loopback answers in well under a millisecond, Zoho in tens to hundreds of them
    /// (50 ms is closer to a real round trip; throughput is judged on these rows).
    pub rtt_files: usize,
    pub rtts: [Duration; 2],
    pub big_file_bytes: usize,
    pub scale_records: usize,
    pub scale_files_per_record: usize,
    pub idle_window: Duration,
    /// Parallel API calls: the shipped default of `zoho.concurrency`, used by the baseline too.
    pub concurrency: usize,
    /// Following records (issue 13).
    pub follow: follow::FollowSizes,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            latency_files: 200,
            bulk_files: 2000,
            bulk_file_bytes: 64 * 1024,
            rtt_files: 500,
            rtts: [Duration::from_millis(10), Duration::from_millis(50)],
            big_file_bytes: 200 * 1024 * 1024,
            scale_records: 10_000,
            scale_files_per_record: 10,
            idle_window: Duration::from_secs(60),
            concurrency: 4,
            follow: follow::FollowSizes {
                cold_records: 10_000,
                records: 1_000,
                hint_interval: Duration::from_secs(60),
                samples: 30,
                spread: Duration::from_secs(180),
                alone_samples: 20,
                alone_spread: Duration::from_secs(60),
                alone_compression: 40,
                idle_compression: 120,
            },
        }
    }

    fn quick() -> Sizes {
        Sizes {
            latency_files: 20,
            bulk_files: 50,
            bulk_file_bytes: 64 * 1024,
            rtt_files: 20,
            rtts: [Duration::from_millis(10), Duration::from_millis(50)],
            big_file_bytes: 5 * 1024 * 1024,
            scale_records: 20,
            scale_files_per_record: 10,
            idle_window: Duration::from_secs(5),
            concurrency: 4,
            follow: follow::FollowSizes {
                cold_records: 20,
                // Enough that the budget, not poll_interval_max, spaces idle polls, as
                // it does at 1,000.
                records: 200,
                hint_interval: Duration::from_secs(1),
                samples: 3,
                spread: Duration::from_secs(2),
                alone_samples: 3,
                alone_spread: Duration::from_secs(1),
                alone_compression: 60,
                idle_compression: 600,
            },
        }
    }
}

const SCENARIOS: [&str; 5] = ["latency", "bulk", "memory", "scale", "follow"];

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut sizes = if quick { Sizes::quick() } else { Sizes::full() };
    let mut only: Vec<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
    // cargo passes `--bench`; anything unknown is ignored.
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--only" => {
                if let Some(v) = it.next() {
                    only = v.split(',').map(str::to_string).collect();
                }
            }
            "--scale" => {
                if let Some((r, f)) = it.next().and_then(|v| v.split_once(':'))
                    && let (Ok(r), Ok(f)) = (r.parse(), f.parse())
                {
                    sizes.scale_records = r;
                    sizes.scale_files_per_record = f;
                }
            }
            _ => {}
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    eprintln!("bench sizes: {sizes:?}");
    let rows = rt.block_on(async {
        let mut rows: Vec<Row> = Vec::new();
        for s in &only {
            let t = Instant::now();
            eprintln!("== {s}");
            match s.as_str() {
                "latency" => rows.extend(latency::run(&sizes).await),
                "bulk" => rows.extend(bulk::run(&sizes).await),
                "memory" => rows.extend(memory::run(&sizes).await),
                "scale" => rows.extend(scale::run(&sizes).await),
                "follow" => rows.extend(follow::run(&sizes).await),
                other => eprintln!("unknown scenario {other:?} (known: {SCENARIOS:?})"),
            }
            eprintln!("== {s} took {:.1} s", t.elapsed().as_secs_f64());
        }
        rows
    });
    harness::remove_fixtures();
    println!("{}", report::markdown(&rows));
    println!(
        "mode: {}, wall time {:.1} s, nproc {}, memory {}",
        if quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem_total()
    );
    // Missed targets are findings, not harness failures; only a broken scenario fails.
    if rows.iter().any(|r| r.measured.starts_with("ERROR")) {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_default()
}
