//! Builds the parts a command needs from the config: journal, client, engine.

use crate::config::Config;
use crate::engine::{Engine, EngineSettings};
use crate::events::{Event, EventKind, Events};
use crate::executor::{Executor, RetryPolicy, SelfWrites};
use crate::journal::Journal;
use crate::planner::NameFolding;
use crate::scan::IgnoreRules;
use crate::zoho::{self, CachedToken, ClientConfig, TokenCache, ZohoClient};
use anyhow::Context;
use std::sync::Arc;

/// The access token lives in the journal so that a restart does not spend a grant
/// (Zoho allows ten per ten minutes). Grants and refusals are reported to the events.
pub struct JournalTokenCache(pub Arc<Journal>, pub Events);

impl TokenCache for JournalTokenCache {
    fn load(&self) -> Option<CachedToken> {
        match self.0.load_token() {
            Ok(Some((token, expires_at_unix, api_domain))) => Some(CachedToken {
                access_token: zoho::Secret::new(token),
                expires_at_unix,
                api_domain,
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the cached access token");
                None
            }
        }
    }

    fn store(&self, token: &CachedToken) {
        // Only a successful grant is stored: the credentials work (again).
        self.1.token_granted();
        self.1.clear(EventKind::AuthFailed);
        if let Err(e) = self.0.store_token(
            token.access_token.expose(),
            token.expires_at_unix,
            token.api_domain.as_deref(),
        ) {
            tracing::warn!(error = %e, "could not cache the access token");
        }
        // A grant worked: the credentials are good again.
        if let Err(e) = self.0.note_auth(None, crate::model::unix_now()) {
            tracing::warn!(error = %e, "could not clear the refused-credentials note");
        }
    }

    fn rejected(&self, why: &str) {
        if let Err(e) = self.0.note_auth(Some(why), crate::model::unix_now()) {
            tracing::warn!(error = %e, "could not note the refused credentials for status");
        }
        self.1.emit(Event::new(
            EventKind::AuthFailed,
            format!(
                "Zoho refused the refresh token ({why}); run `bigin-sync auth` to get a new one"
            ),
        ));
    }
}

/// The client's settings from the config.
pub fn client_config(cfg: &Config) -> anyhow::Result<ClientConfig> {
    let z = &cfg.zoho;
    let refresh = cfg.require_refresh_token()?;
    Ok(ClientConfig {
        product: z.product,
        api_domain: z.api_domain.clone(),
        accounts_url: z.accounts_url.clone(),
        client_id: z.client_id.clone(),
        client_secret: z.client_secret.clone(),
        refresh_token: refresh.clone(),
        extra_modules: z.modules.clone(),
        concurrency: z.concurrency,
        connect_timeout: z.connect_timeout,
        timeout: z.timeout,
    })
}

/// The reconcile settings from the config (also what SIGHUP swaps); `folding` is the
/// root's, probed once at start ([`name_folding`]).
pub fn engine_settings(cfg: &Config, folding: NameFolding) -> anyhow::Result<EngineSettings> {
    Ok(EngineSettings {
        root: cfg.root.clone(),
        product: cfg.zoho.product,
        extra_modules: cfg.zoho.modules.clone(),
        debounce: cfg.sync.debounce,
        direction: cfg.sync.direction,
        max_delete_percent: cfg.sync.max_delete_percent,
        ignore: IgnoreRules::new(&cfg.sync.ignore).context("sync.ignore")?,
        tuning: cfg.tuning,
        folding,
        max_upload_size: cfg
            .zoho
            .max_upload_size
            .or(crate::zoho::limits::documented_upload_limit(
                cfg.zoho.product,
            )),
    })
}

/// How the root's file system compares names. When it cannot be probed (the root is
/// missing or read-only), names are folded as much as any file system does: that costs
/// at most a ` (2)` in a name, while folding too little could overwrite a file.
pub fn name_folding(root: &std::path::Path) -> NameFolding {
    match crate::scan::probe_name_folding(root) {
        Ok(folding) => {
            if folding != NameFolding::None {
                tracing::info!(root = %root.display(), ?folding,
                    "the sync root's file system takes differently spelled names for one; such names are told apart with (2), (3) …");
            }
            folding
        }
        Err(e) => {
            tracing::warn!(root = %root.display(), error = %e,
                "cannot probe how the sync root compares names; treating it as case- and normalisation-insensitive");
            NameFolding::CaseAndUnicode
        }
    }
}

/// Everything a syncing command works with.
pub struct Runtime {
    /// The journal.
    pub journal: Arc<Journal>,
    /// The Zoho client.
    pub client: ZohoClient,
    /// The engine that runs reconciles.
    pub engine: Arc<Engine>,
    /// Files the daemon wrote itself, so the watcher ignores their events.
    pub self_writes: Arc<SelfWrites>,
    /// Where the sync reports what the operator must hear about (metrics, alerts).
    pub events: Events,
    /// Credits spent over the last 24 h (the budget), fed by every API request.
    pub credits: Arc<super::credits::CreditMeter>,
}

impl Drop for Runtime {
    /// The last API calls reach the journal before the command exits, whichever way it
    /// ends (the writer has at most one small batch left).
    fn drop(&mut self) {
        self.credits.close();
    }
}

/// Opens (and migrates) the journal in `state_dir`.
pub fn open_journal(cfg: &Config) -> anyhow::Result<Arc<Journal>> {
    let j = Journal::open(&cfg.state_dir)
        .with_context(|| format!("opening the journal in {}", cfg.state_dir.display()))?;
    Ok(Arc::new(j))
}

/// The client, executor and engine for `cfg`, reporting to one [`Events`].
pub fn build(cfg: &Config, journal: Arc<Journal>, policy: RetryPolicy) -> anyhow::Result<Runtime> {
    let events = Events::default();
    let client = ZohoClient::new(
        client_config(cfg)?,
        Arc::new(JournalTokenCache(journal.clone(), events.clone())),
    )
    .context("setting up the Zoho client")?;
    let credits = super::credits::CreditMeter::start(journal.clone());
    client.observe(credits.clone());
    let self_writes = Arc::new(SelfWrites::default());
    let executor = Executor::new(
        client.clone(),
        journal.clone(),
        &cfg.state_dir,
        self_writes.clone(),
        policy,
    )
    .with_events(events.clone());
    // Probed once: the root cannot change without a restart.
    let settings = engine_settings(cfg, name_folding(&cfg.root))?;
    let engine = Arc::new(Engine::new(settings, executor));
    Ok(Runtime {
        journal,
        client,
        engine,
        self_writes,
        events,
        credits,
    })
}
