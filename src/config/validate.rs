//! From raw TOML to a usable [`Config`]: defaults, range checks, paths, hosts, secrets.

use super::duration::parse_duration;
use super::locate::{key_at, line_col};
use super::paths::{config_base, default_state_dir, resolve};
use super::raw::{
    ALERTS_KEYS, METRICS_KEYS, RawConfig, RawDuration, RawSize, SYNC_KEYS, TOP_KEYS, ZOHO_KEYS,
};
use super::secrets::{SecretSpec, missing, resolve_secret};
use super::{
    AlertSettings, Config, ConfigError, LogFormat, MetricsSettings, SyncSettings, WatchMode,
    ZohoSettings,
};
use crate::model::Product;
use crate::planner::Direction;
use crate::zoho::dc::{data_center, valid_codes};
use crate::zoho::limits::Edition;
use crate::zoho::validate_base_url;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Parses the text, turning toml/serde errors into errors that name the key.
pub(super) fn parse(file: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    if let Err(e) = toml::de::DeTable::parse(text) {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        return Err(ConfigError::Syntax {
            file: file.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_owned(),
        });
    }
    toml::from_str::<RawConfig>(text).map_err(|e| {
        let key = e
            .span()
            .and_then(|s| key_at(text, s.start))
            .unwrap_or_else(|| "(top level)".to_owned());
        let message = tidy_message(e.message());
        if message.starts_with("unknown field") {
            let section = key.rsplit_once('.').map_or("", |(s, _)| s);
            let allowed = match section {
                "" => TOP_KEYS,
                "zoho" => ZOHO_KEYS,
                "sync" => SYNC_KEYS,
                "metrics" => METRICS_KEYS,
                "alerts" => ALERTS_KEYS,
                "follow" => super::follow::FOLLOW_KEYS,
                _ => &[][..],
            };
            let expected = allowed
                .iter()
                .map(|k| {
                    if section.is_empty() {
                        (*k).to_owned()
                    } else {
                        format!("{section}.{k}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            ConfigError::UnknownKey {
                file: file.to_path_buf(),
                key,
                expected,
            }
        } else {
            ConfigError::WrongType {
                file: file.to_path_buf(),
                key,
                message,
            }
        }
    })
}

/// serde's messages mention Rust types; say it in TOML words instead.
fn tidy_message(m: &str) -> String {
    m.trim()
        .replace("expected struct RawZoho", "expected a table")
        .replace("expected struct RawSync", "expected a table")
        .replace("expected struct RawMetrics", "expected a table")
        .replace("expected struct RawAlerts", "expected a table")
        .replace("expected struct RawFollow", "expected a table")
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array")
}

/// Validation context: the file for messages and the environment for defaults.
struct Ctx<'a> {
    file: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn duration(
        &self,
        key: &str,
        raw: Option<RawDuration>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match raw {
            None => Ok(default),
            Some(RawDuration(s)) => parse_duration(&s).map_err(|m| self.invalid(key, m)),
        }
    }

    fn int_in(
        &self,
        key: &str,
        raw: Option<i64>,
        default: i64,
        lo: i64,
        hi: i64,
    ) -> Result<i64, ConfigError> {
        let v = raw.unwrap_or(default);
        if v < lo || v > hi {
            return Err(self.invalid(
                key,
                format!("{v} is out of range; expected an integer from {lo} to {hi}"),
            ));
        }
        Ok(v)
    }

    fn choice<T: Copy>(
        &self,
        key: &str,
        raw: Option<String>,
        default: T,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let Some(s) = raw else { return Ok(default) };
        let wanted = s.trim().to_ascii_lowercase();
        options
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                self.invalid(
                    key,
                    format!("`{s}` is not allowed; expected one of {}", names.join(", ")),
                )
            })
    }
}

/// The share of the edition's allowance the default budget takes (issue 14: the Zoho UI
/// and other integrations keep the rest).
const DEFAULT_BUDGET_SHARE: f64 = 0.40;

/// Applies defaults and checks to the raw file.
pub(super) fn build(
    file: &Path,
    raw: RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let ctx = Ctx { file, env };
    let base = config_base(file);

    let (root, state_dir) = dirs(&ctx, &base, raw.root.as_deref(), raw.state_dir.as_deref())?;
    let log_format = ctx.choice(
        "log_format",
        raw.log_format,
        LogFormat::Auto,
        &[
            ("auto", LogFormat::Auto),
            ("text", LogFormat::Text),
            ("json", LogFormat::Json),
            ("journald", LogFormat::Journald),
        ],
    )?;
    let log_level = raw
        .log_level
        .unwrap_or_else(|| "info".to_owned())
        .trim()
        .to_owned();
    if !is_log_filter(&log_level) {
        return Err(ctx.invalid(
            "log_level",
            format!("`{log_level}` is not a log filter; expected trace, debug, info, warn, error, or a directive like \"bigin_sync=debug,info\""),
        ));
    }

    let secret_file = |p: &Option<String>| {
        p.as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| resolve(&base, p))
    };
    let client_secret_file = secret_file(&raw.zoho.client_secret_file);
    let zoho = zoho(&ctx, &base, raw.zoho)?;
    let credentials_dir = (ctx.env)("CREDENTIALS_DIRECTORY")
        .filter(|d| !d.trim().is_empty())
        .map(PathBuf::from);
    let private: [(&str, Option<&Path>); 4] = [
        ("state_dir", Some(&state_dir)),
        ("$CREDENTIALS_DIRECTORY", credentials_dir.as_deref()),
        ("zoho.client_secret_file", client_secret_file.as_deref()),
        (
            "zoho.refresh_token_file",
            zoho.refresh_token_file.as_deref(),
        ),
    ];
    for (key, path) in private {
        if let Some(path) = path {
            refuse_inside_root(&ctx, key, path, &root)?;
        }
    }
    let sync = sync(&ctx, raw.sync, &zoho)?;
    let metrics = metrics(&ctx, raw.metrics)?;
    let alerts = alerts(&ctx, raw.alerts)?;
    let follow = super::follow::validate(
        &|k, m| ctx.invalid(k, m),
        &|k, m| ConfigError::Missing {
            file: file.to_path_buf(),
            key: k.to_owned(),
            message: m,
        },
        raw.follow.unwrap_or_default(),
        zoho.product,
        &zoho.modules,
    )?;
    let tuning = super::Tuning::derive(&zoho, &sync);
    Ok(Config {
        path: file.to_path_buf(),
        root,
        state_dir,
        log_format,
        log_level,
        zoho,
        sync,
        metrics,
        alerts,
        follow,
        tuning,
    })
}

/// `[metrics]`: served only when `listen` is set, and only on loopback unless the
/// operator says otherwise (the endpoint has no authentication).
fn metrics(
    ctx: &Ctx<'_>,
    m: super::raw::RawMetrics,
) -> Result<Option<MetricsSettings>, ConfigError> {
    let Some(listen) = m.listen else {
        return Ok(None);
    };
    let addr: std::net::SocketAddr = listen.trim().parse().map_err(|_| {
        ctx.invalid(
            "metrics.listen",
            format!("`{listen}` is not an address with a port; expected e.g. \"127.0.0.1:9464\""),
        )
    })?;
    if !addr.ip().is_loopback() && m.allow_remote != Some(true) {
        return Err(ctx.invalid(
            "metrics.listen",
            format!(
                "{addr} is not a loopback address and the metrics endpoint has no authentication; \
                 expected 127.0.0.1 or [::1], or set metrics.allow_remote = true"
            ),
        ));
    }
    Ok(Some(MetricsSettings { listen: addr }))
}

/// `[alerts]`: the command must be an absolute path (no `$PATH` lookup by a daemon);
/// the webhook follows the rules of every other URL (https, or http on loopback; no
/// credentials in it).
fn alerts(ctx: &Ctx<'_>, a: super::raw::RawAlerts) -> Result<AlertSettings, ConfigError> {
    let exec = a.exec.unwrap_or_default();
    if let Some(program) = exec.first()
        && !Path::new(program).is_absolute()
    {
        return Err(ctx.invalid(
            "alerts.exec",
            format!("`{program}` is not an absolute path; expected e.g. [\"/usr/local/bin/notify-admin\"]"),
        ));
    }
    let webhook = match a.webhook {
        Some(u) => Some(validate_base_url(&u).map_err(|m| ctx.invalid("alerts.webhook", m))?),
        None => None,
    };
    Ok(AlertSettings { exec, webhook })
}

/// The daemon's private files (journal, trash, secrets) must never be inside the synced
/// tree, where they would be read as sync content: checked after resolving links (a
/// `state_dir` that is a link into root, or a root reached through a link), not only by
/// text (`dirs` does that).
fn refuse_inside_root(
    ctx: &Ctx<'_>,
    key: &str,
    path: &Path,
    root: &Path,
) -> Result<(), ConfigError> {
    let (real, real_root) = (resolve_links(path), resolve_links(root));
    if real.starts_with(&real_root) {
        return Err(ctx.invalid(
            key,
            format!(
                "{} is inside root {} (after following links: {} in {}); it would be synced as files. Expected a path outside root",
                path.display(),
                root.display(),
                real.display(),
                real_root.display()
            ),
        ));
    }
    Ok(())
}

/// `path` with every link in its longest existing prefix resolved; the part that does
/// not exist yet is appended as written (it holds no link).
fn resolve_links(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// A bare word is taken by `EnvFilter` as a target name (so a typo like `"inof"` would
/// silently log nothing); only level names are accepted bare, directives need `=`.
fn is_log_filter(s: &str) -> bool {
    const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
    let is_level = |l: &str| LEVELS.iter().any(|x| x.eq_ignore_ascii_case(l.trim()));
    !s.is_empty()
        && s.split(',').all(|part| {
            let part = part.trim();
            match part.rsplit_once('=') {
                Some((target, level)) => {
                    !target.trim().is_empty()
                        && is_level(level)
                        && tracing_subscriber::EnvFilter::try_new(part).is_ok()
                }
                None => is_level(part),
            }
        })
}

fn dirs(
    ctx: &Ctx<'_>,
    base: &Path,
    root: Option<&str>,
    state: Option<&str>,
) -> Result<(PathBuf, PathBuf), ConfigError> {
    let root = match root.map(str::trim) {
        None => {
            return Err(ConfigError::Missing {
                file: ctx.file.to_path_buf(),
                key: "root".into(),
                message: "expected the absolute path of the folder tree to sync, e.g. root = \"/srv/bigin\"".into(),
            });
        }
        Some("") => {
            return Err(ctx.invalid(
                "root",
                "is empty; expected an absolute path such as \"/srv/bigin\"",
            ));
        }
        Some(r) => resolve(base, r),
    };
    if !root.is_absolute() {
        return Err(ctx.invalid(
            "root",
            format!(
                "`{}` is not absolute; expected an absolute path",
                root.display()
            ),
        ));
    }
    if root.parent().is_none() {
        return Err(ctx.invalid(
            "root",
            "must not be `/`; expected a dedicated folder such as \"/srv/bigin\"",
        ));
    }
    let state_dir = match state.map(str::trim) {
        Some("") => {
            return Err(ctx.invalid(
                "state_dir",
                "is empty; expected a path, or leave the key out",
            ));
        }
        Some(s) => resolve(base, s),
        None => default_state_dir(ctx.env).ok_or_else(|| ConfigError::Missing {
            file: ctx.file.to_path_buf(),
            key: "state_dir".into(),
            message: "not set, and neither $STATE_DIRECTORY nor $HOME is available to derive it"
                .into(),
        })?,
    };
    if !state_dir.is_absolute() {
        return Err(ctx.invalid(
            "state_dir",
            format!(
                "`{}` is not absolute; expected an absolute path",
                state_dir.display()
            ),
        ));
    }
    if state_dir.starts_with(&root) {
        return Err(ctx.invalid(
            "state_dir",
            format!(
                "{} is inside root {}; the journal and trash would be synced as files. Expected a directory outside root",
                state_dir.display(),
                root.display()
            ),
        ));
    }
    if root.starts_with(&state_dir) {
        return Err(ctx.invalid(
            "root",
            format!(
                "{} is inside state_dir {}; expected root and state_dir to be separate trees",
                root.display(),
                state_dir.display()
            ),
        ));
    }
    Ok((root, state_dir))
}

fn zoho(ctx: &Ctx<'_>, base: &Path, z: super::raw::RawZoho) -> Result<ZohoSettings, ConfigError> {
    let product = ctx.choice(
        "zoho.product",
        z.product,
        Product::Bigin,
        &[("bigin", Product::Bigin), ("crm", Product::Crm)],
    )?;
    let dc_code = z.dc.unwrap_or_else(|| "us".to_owned());
    let dc = data_center(&dc_code).ok_or_else(|| {
        ctx.invalid(
            "zoho.dc",
            format!(
                "`{dc_code}` is not a Zoho data center; expected one of {}",
                valid_codes()
            ),
        )
    })?;
    let api_domain = match z.api_domain {
        Some(u) => validate_base_url(&u).map_err(|m| ctx.invalid("zoho.api_domain", m))?,
        None => dc.api_domain.to_owned(),
    };
    let accounts_url = match z.accounts_url {
        Some(u) => validate_base_url(&u).map_err(|m| ctx.invalid("zoho.accounts_url", m))?,
        None => dc.accounts_url.to_owned(),
    };
    let client_id = z.client_id.map(|s| s.trim().to_owned()).unwrap_or_default();
    if client_id.is_empty() {
        return Err(ConfigError::Missing {
            file: ctx.file.to_path_buf(),
            key: "zoho.client_id".into(),
            message: "expected the Self Client's client id from api-console.zoho.com, e.g. client_id = \"1000.XXXX\"".into(),
        });
    }

    let credentials_dir = (ctx.env)("CREDENTIALS_DIRECTORY")
        .filter(|d| !d.trim().is_empty())
        .map(PathBuf::from);
    let secret_path = |key: &str, v: Option<String>| -> Result<Option<PathBuf>, ConfigError> {
        match v.as_deref().map(str::trim) {
            None => Ok(None),
            Some("") => Err(ctx.invalid(key, "is empty; expected a path")),
            Some(p) => Ok(Some(resolve(base, p))),
        }
    };
    let client_secret_file = secret_path("zoho.client_secret_file", z.client_secret_file)?;
    let refresh_token_file = secret_path("zoho.refresh_token_file", z.refresh_token_file)?;

    let client_secret = resolve_secret(&SecretSpec {
        file: ctx.file,
        key: "zoho.client_secret",
        credential: "client_secret",
        inline: z.client_secret.as_deref(),
        path: client_secret_file,
        credentials_dir: credentials_dir.clone(),
        absent_file_ok: false,
    })?
    .ok_or_else(|| missing(ctx.file, "zoho.client_secret", "client_secret", ""))?;
    let refresh_token = resolve_secret(&SecretSpec {
        file: ctx.file,
        key: "zoho.refresh_token",
        credential: "refresh_token",
        inline: z.refresh_token.as_deref(),
        path: refresh_token_file.clone(),
        credentials_dir,
        absent_file_ok: true,
    })?;

    // Without an edition the smallest allowance is assumed (the product's Free edition,
    // 5,000 credits), so that the default budget can never starve a small organisation.
    let (edition, edition_assumed) = match z.edition {
        None => (Edition::smallest(product), true),
        Some(name) => {
            let e = Edition::parse(product, &name).ok_or_else(|| {
                let names: Vec<String> = Edition::all(product)
                    .iter()
                    .map(|(n, _)| format!("\"{n}\""))
                    .collect();
                ctx.invalid(
                    "zoho.edition",
                    format!(
                        "`{name}` is not an edition of Zoho {product} (zoho.product); expected one of {}",
                        names.join(", ")
                    ),
                )
            })?;
            (e, false)
        }
    };
    let users = ctx.int_in("zoho.users", z.users, 1, 1, 1_000_000)? as u32;
    let max_upload_size = match z.max_upload_size {
        None => None,
        Some(raw) => Some(size_bytes(raw).map_err(|m| ctx.invalid("zoho.max_upload_size", m))?),
    };
    let concurrency = ctx.int_in("zoho.concurrency", z.concurrency, 4, 1, 25)? as usize;
    // Only a stated edition is held against its limit; an assumed one only warns.
    if let Some(limit) = edition.concurrency_limit().filter(|_| !edition_assumed)
        && concurrency > limit
    {
        return Err(ctx.invalid(
            "zoho.concurrency",
            format!(
                "{concurrency} is above the {limit} concurrent calls Zoho allows {edition} (zoho.edition); expected at most {limit}"
            ),
        ));
    }
    let timeout = ctx.duration("zoho.timeout", z.timeout, Duration::from_secs(60))?;
    let connect_timeout = ctx.duration(
        "zoho.connect_timeout",
        z.connect_timeout,
        Duration::from_secs(10),
    )?;
    let modules = z.modules.unwrap_or_default();
    for (i, m) in modules.iter().enumerate() {
        let ok = !m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(ctx.invalid(
                &format!("zoho.modules[{i}]"),
                format!("`{m}` is not a module API name; expected letters, digits and `_` only, e.g. \"Invoices_X\""),
            ));
        }
    }
    Ok(ZohoSettings {
        product,
        dc: dc.code.to_owned(),
        api_domain,
        accounts_url,
        client_id,
        client_secret,
        refresh_token,
        refresh_token_file,
        concurrency,
        timeout,
        connect_timeout,
        modules,
        edition,
        edition_assumed,
        users,
        max_upload_size,
    })
}

/// `zoho.max_upload_size`: bytes as an integer, or a string with a unit (KB, MB, GB are
/// powers of 1024, as Zoho means them; KiB, MiB, GiB too).
fn size_bytes(raw: RawSize) -> Result<u64, String> {
    let bytes = match raw {
        RawSize::Bytes(n) => u64::try_from(n).ok(),
        RawSize::Text(text) => {
            let t = text.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (digits, unit) = t.split_at(split);
            let factor: Option<u64> = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => Some(1),
                "kb" | "kib" | "k" => Some(1 << 10),
                "mb" | "mib" | "m" => Some(1 << 20),
                "gb" | "gib" | "g" => Some(1 << 30),
                _ => None,
            };
            digits
                .parse::<u64>()
                .ok()
                .zip(factor)
                .and_then(|(n, f)| n.checked_mul(f))
        }
    };
    bytes.filter(|b| *b > 0).ok_or_else(|| {
        "expected a positive size: bytes as an integer, or a string such as \"20MB\"".to_owned()
    })
}

fn sync(
    ctx: &Ctx<'_>,
    s: super::raw::RawSync,
    zoho: &ZohoSettings,
) -> Result<SyncSettings, ConfigError> {
    let poll_interval = ctx.duration(
        "sync.poll_interval",
        s.poll_interval,
        Duration::from_secs(60),
    )?;
    let poll_interval_max = ctx.duration(
        "sync.poll_interval_max",
        s.poll_interval_max,
        Duration::from_secs(15 * 60),
    )?;
    if poll_interval_max < poll_interval {
        return Err(ctx.invalid(
            "sync.poll_interval_max",
            "is shorter than sync.poll_interval; expected a value at least as long",
        ));
    }
    let api_budget_share = s.api_budget_share.unwrap_or(DEFAULT_BUDGET_SHARE);
    if !(api_budget_share > 0.0 && api_budget_share <= 1.0) {
        return Err(ctx.invalid(
            "sync.api_budget_share",
            format!("{api_budget_share} is out of range; expected a fraction above 0 and at most 1, e.g. 0.4"),
        ));
    }
    let api_budget_explicit = s.api_budget_per_day.is_some();
    // Derived here once: everything downstream reads one number.
    let allowance = zoho.edition.daily_credits(zoho.users);
    let derived =
        ((allowance as f64 * api_budget_share).floor() as i64).clamp(1, i64::from(u32::MAX));
    let api_budget_per_day = ctx.int_in(
        "sync.api_budget_per_day",
        s.api_budget_per_day,
        derived,
        1,
        i64::from(u32::MAX),
    )? as u32;
    let debounce = ctx.duration("sync.debounce", s.debounce, Duration::from_secs(2))?;
    let rescan_interval = ctx.duration(
        "sync.rescan_interval",
        s.rescan_interval,
        Duration::from_secs(10 * 60),
    )?;
    let watch = ctx.choice(
        "sync.watch",
        s.watch,
        WatchMode::Auto,
        &[("auto", WatchMode::Auto), ("poll", WatchMode::Poll)],
    )?;
    let direction = ctx.choice(
        "sync.direction",
        s.direction,
        Direction::Both,
        &[
            ("both", Direction::Both),
            ("upload", Direction::UploadOnly),
            ("download", Direction::DownloadOnly),
        ],
    )?;
    let max_delete_percent =
        ctx.int_in("sync.max_delete_percent", s.max_delete_percent, 50, 1, 100)? as u8;
    let trash_retention = trash_retention(ctx, s.trash_retention)?;
    let ignore = s.ignore.unwrap_or_default();
    for (i, pattern) in ignore.iter().enumerate() {
        if let Err(e) = globset::Glob::new(pattern) {
            return Err(ctx.invalid(
                &format!("sync.ignore[{i}]"),
                format!("`{pattern}` is not a glob pattern: {e}"),
            ));
        }
    }
    let follow_interval = ctx.duration(
        "sync.follow_interval",
        s.follow_interval,
        Duration::from_secs(10 * 60),
    )?;
    Ok(SyncSettings {
        poll_interval,
        poll_interval_max,
        api_budget_per_day,
        api_budget_share,
        api_budget_explicit,
        debounce,
        rescan_interval,
        watch,
        direction,
        max_delete_percent,
        trash_retention,
        ignore,
        follow_interval,
    })
}

/// `sync.trash_retention`: a duration (default 30 days), or `"off"` to keep the trash
/// until a person empties it. `"0"` is refused: read as "keep nothing" it would empty
/// the trash at once, and the trash is there so that a person can still look at a file
/// Zoho deleted; read as "off" it would say the opposite of what it looks like.
fn trash_retention(
    ctx: &Ctx<'_>,
    raw: Option<RawDuration>,
) -> Result<Option<Duration>, ConfigError> {
    const KEY: &str = "sync.trash_retention";
    match raw {
        Some(RawDuration(s)) if s.trim().eq_ignore_ascii_case("off") => Ok(None),
        Some(RawDuration(s)) if s.trim() == "0" => Err(ctx.invalid(
            KEY,
            "`0` is ambiguous; write \"off\" to keep the trash until you empty it, or a duration such as \"30d\"",
        )),
        raw => ctx
            .duration(KEY, raw, Duration::from_secs(30 * 86_400))
            .map(Some),
    }
}
