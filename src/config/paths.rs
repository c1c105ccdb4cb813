//! Where the config file is, and how paths written inside it are read.

use std::path::{Component, Path, PathBuf};

/// Where the config lives when nothing says otherwise; the systemd unit's
/// `ConfigurationDirectory=bigin-sync` makes this directory.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/bigin-sync/config.toml";

/// The environment variable that overrides [`DEFAULT_CONFIG_PATH`] (below `--config`).
pub const CONFIG_ENV: &str = "BIGIN_SYNC_CONFIG";

/// Picks the config file: `--config`, else `$BIGIN_SYNC_CONFIG`, else the default.
pub fn resolve_config_path(cli: Option<&Path>) -> PathBuf {
    resolve_config_path_with_env(cli, &|k| std::env::var(k).ok())
}

/// [`resolve_config_path`] with the environment passed in, so tests need not mutate the
/// process environment (which races with other tests).
pub fn resolve_config_path_with_env(
    cli: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> PathBuf {
    if let Some(p) = cli {
        return p.to_path_buf();
    }
    match env(CONFIG_ENV) {
        Some(v) if !v.trim().is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_CONFIG_PATH),
    }
}

/// Resolves `value` against `base` (the config file's directory) and removes `.`/`..`
/// lexically, so that the root/state_dir nesting check compares like with like.
pub(super) fn resolve(base: &Path, value: &str) -> PathBuf {
    let p = Path::new(value);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    normalize(&joined)
}

/// Lexical normalisation (no filesystem access: the root may not exist yet at load time).
pub(super) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The directory of the config file as an absolute path, the base for relative paths.
pub(super) fn config_base(config: &Path) -> PathBuf {
    let abs = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    match abs.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The state directory when the file names none: systemd's `$STATE_DIRECTORY` (its first
/// entry; systemd joins several with `:`), else the XDG-style `~/.local/state/bigin-sync`.
pub(super) fn default_state_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(v) = env("STATE_DIRECTORY")
        && let Some(first) = v.split(':').find(|s| !s.trim().is_empty())
    {
        return Some(normalize(Path::new(first.trim())));
    }
    let home = env("HOME").filter(|h| !h.trim().is_empty())?;
    Some(normalize(&Path::new(&home).join(".local/state/bigin-sync")))
}
