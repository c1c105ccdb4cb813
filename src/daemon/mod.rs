//! Process life of `bigin-sync run`: start-up, signals, systemd notification, shutdown.
//!
//! Start-up order matters for safety: take the state-dir lock (one daemon per journal),
//! remove download temp files a crash left behind, follow the record folders, start the
//! watcher, then tell systemd READY. Interrupted uploads are resolved by the first
//! reconcile of their record (the journal holds their intents).

pub mod alerts;
pub mod credits;
pub mod follow;
pub mod http;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod scheduler;
pub mod setup;
pub mod state_dir;
pub mod systemd;

use crate::config::{self, Config};
use crate::executor::RetryPolicy;
use crate::journal::Journal;
use crate::poller::PollPolicy;
use anyhow::Context;
use scheduler::{Control, Schedule, Scheduler};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// How long SIGTERM waits for running transfers before abandoning them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// The schedule the config asks for.
pub fn schedule_of(cfg: &Config) -> Schedule {
    Schedule {
        poll: PollPolicy {
            poll_interval: cfg.sync.poll_interval,
            poll_interval_max: cfg.sync.poll_interval_max,
            api_budget_per_day: cfg.sync.api_budget_per_day,
        },
        recheck_after: cfg.tuning.recheck_after,
        rescan_interval: cfg.sync.rescan_interval,
    }
}

/// How often the trash is checked for entries past `sync.trash_retention`.
pub const TRASH_EXPIRY_PERIOD: Duration = Duration::from_secs(3600);

/// Removes trash entries older than `retention` now and then every
/// [`TRASH_EXPIRY_PERIOD`] until `shutdown` (off the async workers: it walks folders).
fn spawn_trash_expiry(
    state_dir: &std::path::Path,
    retention: Duration,
    shutdown: CancellationToken,
) {
    let trash = crate::executor::trash::trash_root(state_dir);
    tokio::spawn(async move {
        loop {
            let cutoff = crate::model::unix_now()
                .saturating_sub(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX));
            let t = trash.clone();
            match tokio::task::spawn_blocking(move || crate::executor::trash::expire(&t, cutoff))
                .await
            {
                Ok(Ok(done)) => {
                    if done.removed.entries > 0 {
                        tracing::info!(
                            entries = done.removed.entries,
                            { crate::log_fields::BYTES } = done.removed.bytes,
                            retention = %config::format_duration(retention),
                            "removed from the trash: entries older than sync.trash_retention"
                        );
                    }
                    for e in &done.errors {
                        tracing::warn!(error = %e, "could not remove an expired trash entry");
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(trash = %trash.display(), error = %e, "could not read the trash to expire old entries")
                }
                Err(e) => tracing::error!(error = %e, "trash expiry task failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(TRASH_EXPIRY_PERIOD) => {}
            }
        }
    });
}

/// Records the watch state for `status`. The watcher reports from its own threads as well
/// as from the runtime, and the journal write blocks: it goes to the blocking pool.
fn watch_state_recorder(journal: Arc<Journal>) -> impl Fn(String) + Clone + Send + Sync + 'static {
    let runtime = tokio::runtime::Handle::current();
    move |state: String| {
        let journal = journal.clone();
        runtime.spawn_blocking(move || {
            if let Err(e) = journal.set_meta(crate::journal::WATCH_META_KEY, &state) {
                tracing::warn!(error = %e, "could not record the watch state for status");
            }
        });
    }
}

/// Runs the daemon until SIGTERM / SIGINT (or `shutdown` is cancelled, for `demo`).
pub async fn run(cfg: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    for w in config::warnings(&cfg) {
        tracing::warn!("{w}");
    }
    log_budget(&cfg);
    state_dir::prepare(&cfg.state_dir)
        .with_context(|| format!("preparing state_dir {}", cfg.state_dir.display()))?;
    let _lock = match lock::acquire(&cfg.state_dir).context("taking the daemon lock")? {
        Ok(l) => l,
        Err(msg) => anyhow::bail!(msg),
    };
    if !cfg.root.is_dir() {
        tracing::error!(root = %cfg.root.display(), "sync root missing or not a folder; waiting for it (nothing is deleted meanwhile)");
    }
    let journal = setup::open_journal(&cfg)?;
    let rt = Arc::new(setup::build(&cfg, journal, RetryPolicy::daemon())?);
    // Observers first: the start-up rescan already reports a missing root.
    let metrics = watch_with_metrics(&cfg, &rt.events, &shutdown).await?;
    if let Some(m) = &metrics {
        rt.client.observe(m.clone());
    }
    if let Some(alerts) =
        alerts::Alerts::start(&cfg.alerts, shutdown.clone()).context("setting up [alerts]")?
    {
        rt.events.subscribe(alerts);
    }

    let (hint_tx, hint_rx) = tokio::sync::mpsc::unbounded_channel();
    let (control_tx, control_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut scheduler = Scheduler::new(rt.clone(), schedule_of(&cfg));
    // Before any reconcile runs: follow the record folders and remove download temp
    // files a crash left behind.
    let folders = scheduler.rescan_at_start().await;
    follow::clean_temp_files(&folders);
    let record_watch_state = watch_state_recorder(rt.journal.clone());
    let on_watch_state: crate::watcher::OnWatchState = {
        let record = record_watch_state.clone();
        let events = rt.events.clone();
        Arc::new(move |state| {
            events.watch_mode(match state {
                crate::watcher::WatchState::Inotify => "inotify",
                _ => "poll",
            });
            record(state.to_string())
        })
    };
    let mut _watcher = match crate::watcher::start(
        &cfg.root,
        cfg.sync.watch,
        hint_tx.clone(),
        rt.self_writes.clone(),
        on_watch_state,
    ) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(error = %e, root = %cfg.root.display(), "cannot watch the sync root; relying on the periodic rescan");
            rt.events.watch_mode("none");
            record_watch_state(format!(
                "none ({e}); changes are found by the periodic rescan"
            ));
            None
        }
    };
    // Followed modules list their records on their own clock; what they find reaches the
    // scheduler as "poll now" and "read the folders again".
    let follows = crate::follow::start(
        rt.client.clone(),
        cfg.root.clone(),
        rt.journal.clone(),
        crate::follow::run::FollowConfig::of(&cfg),
        control_tx.clone(),
        {
            let credits = rt.credits.clone();
            move |budget| credits.budget_spent(budget)
        },
        shutdown.clone(),
    );
    systemd::ready();
    if let Some(retention) = cfg.sync.trash_retention {
        spawn_trash_expiry(&cfg.state_dir, retention, shutdown.clone());
    }
    let rt_for_flush = rt.clone();
    tokio::spawn(async move { rt_for_flush.engine.flush_earlier_downloads(&folders).await });
    tracing::info!(
        root = %cfg.root.display(),
        state_dir = %cfg.state_dir.display(),
        product = %cfg.zoho.product,
        version = env!("CARGO_PKG_VERSION"),
        "bigin-sync running"
    );

    let stop = shutdown.clone();
    let cfg_path: PathBuf = cfg.path.clone();
    let rt_for_signals = rt.clone();
    let signals = tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); stop.cancel(); return; }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); stop.cancel(); return; }
                _ = hup.recv() => {
                    systemd::reloading();
                    match reload(&cfg_path, &rt_for_signals) {
                        Ok(new) => {
                            let s = schedule_of(&new);
                            if let Some(m) = &metrics { m.set_stall_after(stall_limit(&s)); }
                            let _ = control_tx.send(Control::Reload(s));
                            // A product change needs a restart: the new [[follow]]
                            // tables name modules of the product not in use.
                            if new.zoho.product == rt_for_signals.engine.settings().product {
                                follows.send_replace(crate::follow::run::FollowConfig::of(&new));
                            }
                        }
                        Err(e) => tracing::error!(error = format!("{e:#}"), "SIGHUP: new config rejected; keeping the old one"),
                    }
                    systemd::ready();
                }
            }
        }
    });

    scheduler
        .run(hint_rx, control_rx, shutdown.clone(), SHUTDOWN_GRACE)
        .await;
    signals.abort();
    drop(_watcher.take());
    tracing::info!("stopped");
    Ok(())
}

/// How long without a completed pass makes `/healthz` unhealthy.
fn stall_limit(schedule: &Schedule) -> Duration {
    schedule.poll.poll_interval.saturating_mul(3)
}

/// With `[metrics]`: registers the metrics as an observer of `events` and serves them.
/// The port is bound here, before READY, so that a taken port fails the start.
async fn watch_with_metrics(
    cfg: &Config,
    events: &crate::events::Events,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Arc<metrics::Metrics>>> {
    let Some(settings) = cfg.metrics else {
        return Ok(None);
    };
    let listener = http::bind(settings.listen)
        .await
        .with_context(|| format!("metrics.listen: cannot listen on {}", settings.listen))?;
    let metrics = Arc::new(metrics::Metrics::new(stall_limit(&schedule_of(cfg))));
    events.subscribe(metrics.clone());
    tokio::spawn(http::serve(listener, metrics.clone(), shutdown.clone()));
    tracing::info!(listen = %settings.listen, "serving /metrics and /healthz");
    Ok(Some(metrics))
}

/// Says once at start which allowance the budget comes from, and when the edition was
/// only assumed.
fn log_budget(cfg: &Config) {
    let (z, s) = (&cfg.zoho, &cfg.sync);
    let allowance = z.edition.daily_credits(z.users);
    if z.edition_assumed {
        tracing::warn!(
            edition = %z.edition,
            allowance,
            "zoho.edition is not set: assuming {}, the smallest allowance ({allowance} credits a day); \
             set zoho.edition (and zoho.users) to let the daemon use more",
            z.edition
        );
    }
    let source = if s.api_budget_explicit {
        "sync.api_budget_per_day".to_owned()
    } else {
        format!(
            "sync.api_budget_share = {} of the allowance",
            s.api_budget_share
        )
    };
    tracing::info!(
        edition = %z.edition,
        users = z.users,
        allowance,
        budget = s.api_budget_per_day,
        "API budget: {} credits per rolling 24 h ({source})",
        s.api_budget_per_day
    );
}

/// Loads and applies a new config on SIGHUP; returns it for the parts that live outside
/// the engine (schedule, follows). Settings that need a restart (root, state_dir,
/// credentials) are reported and left as they were.
fn reload(path: &std::path::Path, rt: &setup::Runtime) -> anyhow::Result<Config> {
    let new = config::load(path)?;
    let old = rt.engine.settings();
    let settings = setup::engine_settings(&new, old.folding)?;
    if settings.root != old.root || settings.product != old.product {
        tracing::warn!("SIGHUP: root and product changes need a restart; they were not applied");
    }
    let settings = crate::engine::EngineSettings {
        root: old.root.clone(),
        product: old.product,
        ..settings
    };
    rt.engine.set_settings(settings);
    tracing::info!(config = %path.display(), "SIGHUP: config reloaded");
    Ok(new)
}
