//! Listings and `sync.api_budget_per_day`: a budget whose follow share cannot pay for a
//! listing every `follow_interval` stretches the interval (one WARN) and the sandbox sees
//! no more listing calls than the stretched schedule; a spent budget stops listings while
//! the daemon keeps running.

use super::*;
use bigin_sync::zoho::ApiOp;
use std::time::{Duration, Instant};

/// Listing pages of 401 records (200 a page).
const PAGES: u64 = 3;
/// 10 % of 864,000 credits a day is a listing page a second: 3 pages every 1 s stretch to
/// one listing every 3 s.
const BUDGET: &str = "api_budget_per_day = 864000\n";
const STRETCHED: Duration = Duration::from_secs(3);
const STRETCH_WARNING: &str = "listed less often than follow_interval";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tight_budget_stretches_the_follow_interval_with_one_warn() {
    // The filter matches none of the records: each listing still returns all of them (the
    // filter is checked locally) but no folder is made, so only listings use the API.
    let env = follow_env_with(
        SandboxOptions::default(),
        BUDGET,
        "\n[[follow]]\nmodule = \"Pipelines\"\nwhere = { Stage = [\"Nobody\"] }\n",
        false,
    )
    .await;
    for n in 0..401 {
        create_deal(&env, &format!("Deal {n}"), None);
    }
    let d = env.spawn_daemon();
    d.wait_log(STRETCH_WARNING).await;
    assert!(d.log_text().contains("stretched_to=3s"), "{}", d.log_text());

    // Four more passes: with a listing every 3 s that takes at least 9 s.
    let (calls_before, started) = (env.calls(Route::Records), Instant::now());
    assert!(
        wait_until(DEADLINE, || env.calls(Route::Records)
            >= calls_before + 4 * PAGES)
        .await,
        "{}",
        d.log_text()
    );
    let window = started.elapsed();
    let calls = env.calls(Route::Records) - calls_before;
    // A pass per started stretched interval, plus the one under way at the start.
    let allowed = PAGES * ((window.as_secs_f64() / STRETCHED.as_secs_f64()).ceil() as u64 + 1);
    assert!(
        calls <= allowed,
        "{calls} listing calls in {window:?}, the stretched schedule allows {allowed}\n{}",
        d.log_text()
    );
    assert_eq!(
        d.log_text().matches(STRETCH_WARNING).count(),
        1,
        "{}",
        d.log_text()
    );
    let folders = std::fs::read_dir(env.root.join(P)).map_or(0, |d| d.count());
    assert_eq!(folders, 0, "{}", d.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_stops_listings_while_the_daemon_keeps_running() {
    // A listing a second fits this budget's follow share (nothing is stretched), but
    // earlier today all of it but one credit was spent.
    let env = follow_env_with(
        SandboxOptions::default(),
        BUDGET,
        "\n[[follow]]\nmodule = \"Pipelines\"\n",
        false,
    )
    .await;
    env.spent_an_hour_ago(ApiOp::ListRecords, 863_999);
    let first = create_deal(&env, "First", Some(("a.txt", b"aaa")));
    let mut d = env.spawn_daemon();
    // The first listing spends the last credit: its record gets a folder, then no more.
    let folder = env.root.join(P).join(format!("{first} First"));
    assert!(
        wait_until(DEADLINE, || folder.is_dir()).await,
        "{}",
        d.log_text()
    );
    d.wait_log("API budget for the last 24 h spent").await;
    let later = create_deal(&env, "Later", None);
    // The scheduler says each second that the record's poll waits: a clock for the
    // follow loop's passes, which would list every second.
    let waits = || d.log_text().matches("API budget spent: poll waits").count();
    let waited = waits();
    assert!(
        wait_until(DEADLINE, || waits() >= waited + 4).await,
        "{}",
        d.log_text()
    );
    assert_eq!(env.calls(Route::Records), 1, "{}", d.log_text());
    assert!(folders_of(&env.root.join(P), &later).is_empty());

    // Still running, and still syncing what needs no listing: the user's new file goes up.
    let running = d.child.as_mut().map(|c| c.try_wait().unwrap().is_none());
    assert_eq!(running, Some(true), "{}", d.log_text());
    drop_file(&folder, "offer.txt", b"offer");
    assert!(
        wait_until(DEADLINE, || env
            .remote_names(P, &first)
            .contains(&"offer.txt".to_string()))
        .await,
        "{}",
        d.log_text()
    );
    assert_eq!(env.calls(Route::Records), 1, "{}", d.log_text());
}
