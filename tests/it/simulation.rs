//! Seeded, replayable crash/fault simulation of the real engine, executor and journal
//! against the sandbox (issue 3, "Done when").
//!
//! Seeds `0..SIM_SEEDS` (default 200) run by default; `SIM_SEED=<n>` replays one seed and
//! prints its steps. A failure names every failing seed and how to replay it.

mod sim;

use bigin_sync::sandbox::{Sandbox, SandboxOptions};
use std::time::Instant;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The sandbox lives on its own runtime for the whole run: engines come and go (and are
/// killed) on theirs.
pub fn sandbox_runtime() -> (tokio::runtime::Runtime, Sandbox) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("sandbox runtime");
    let opts = SandboxOptions {
        // Every seed starts with an empty journal and so asks for a token once.
        grants_per_window: u32::MAX,
        ..SandboxOptions::default()
    };
    let sandbox = rt.block_on(Sandbox::start(opts)).expect("start sandbox");
    (rt, sandbox)
}

fn run_seeds(seeds: impl Iterator<Item = u64>, verbose: bool, colliding_sizes: bool) {
    let (rt, sandbox) = sandbox_runtime();
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut count = 0;
    let progress = std::env::var_os("SIM_PROGRESS").is_some();
    for seed in seeds {
        count += 1;
        if progress {
            eprintln!("seed {seed} ({:.1}s)", started.elapsed().as_secs_f64());
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sim::run_seed(seed, &sandbox, colliding_sizes)
        }));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(f)) => failures.push(f),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".to_string());
                failures.push(sim::Failure {
                    seed,
                    problems: vec![format!("panicked: {msg}")],
                    log: Vec::new(),
                });
            }
        }
        if verbose && let Some(f) = failures.last().filter(|f| f.seed == seed) {
            eprintln!("seed {seed} steps:\n{}", f.log.join("\n"));
        }
    }
    eprintln!(
        "simulation: {count} seeds in {:.1}s, {} failed",
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    drop(sandbox);
    drop(rt);
    if failures.is_empty() {
        return;
    }
    let mut msg = String::new();
    for f in &failures {
        msg.push_str(&format!(
            "seed {} failed:\n  {}\n  replay: SIM_SEED={} cargo test --release --test it simulation\n",
            f.seed,
            f.problems.join("\n  "),
            f.seed
        ));
    }
    let first = &failures[0];
    msg.push_str(&format!(
        "steps of seed {}:\n{}\n",
        first.seed,
        first.log.join("\n")
    ));
    panic!(
        "{} of {count} simulation seeds failed: {:?}\n{msg}",
        failures.len(),
        failures.iter().map(|f| f.seed).collect::<Vec<_>>()
    );
}

fn run_from_env(colliding_sizes: bool) {
    match env_u64("SIM_SEED") {
        Some(seed) => run_seeds(std::iter::once(seed), true, colliding_sizes),
        None => run_seeds(
            0..env_u64("SIM_SEEDS").unwrap_or(200),
            false,
            colliding_sizes,
        ),
    }
}

#[test]
fn seeded_crash_and_fault_simulation() {
    run_from_env(false);
}

/// The same simulation where different contents often share a name and a size: this is
/// what exposes the intent-recovery mix-up (see `sim::bugs`).
#[test]
fn seeded_simulation_with_colliding_sizes() {
    run_from_env(true);
}
