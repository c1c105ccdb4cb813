//! The shipped example config must load and say what the README says it says.

use bigin_sync::config::{self, LogFormat, WatchMode};
use bigin_sync::model::Product;
use bigin_sync::planner::Direction;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bigin-sync.example.toml")
}

/// An environment as systemd would give it: credentials in a private directory.
fn systemd_env(creds: &Path) -> HashMap<String, String> {
    let mut env = HashMap::new();
    env.insert(
        "CREDENTIALS_DIRECTORY".to_owned(),
        creds.display().to_string(),
    );
    env.insert(
        "STATE_DIRECTORY".to_owned(),
        "/var/lib/bigin-sync".to_owned(),
    );
    env
}

#[test]
fn example_config_loads_with_systemd_credentials() {
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("client_secret"), "example-secret\n").unwrap();
    std::fs::write(creds.path().join("refresh_token"), "1000.example.rt\n").unwrap();
    let env = systemd_env(creds.path());
    let cfg = config::load_with_env(&example_path(), &|k| env.get(k).cloned()).unwrap();

    assert_eq!(cfg.path, example_path());
    assert_eq!(cfg.root, PathBuf::from("/srv/bigin"));
    assert_eq!(cfg.state_dir, PathBuf::from("/var/lib/bigin-sync"));
    assert_eq!(cfg.log_format, LogFormat::Text);
    assert_eq!(cfg.log_level, "info");

    let z = &cfg.zoho;
    assert_eq!(z.product, Product::Bigin);
    assert_eq!(z.dc, "us");
    assert_eq!(z.api_domain, "https://www.zohoapis.com");
    assert_eq!(z.accounts_url, "https://accounts.zoho.com");
    assert_eq!(z.client_id, "1000.XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
    assert_eq!(z.client_secret.expose(), "example-secret");
    assert_eq!(
        cfg.require_refresh_token().unwrap().expose(),
        "1000.example.rt"
    );
    assert_eq!(
        z.refresh_token_file,
        Some(PathBuf::from("/etc/bigin-sync/refresh_token"))
    );
    assert_eq!(z.concurrency, 4);
    assert_eq!(z.timeout, Duration::from_secs(60));
    assert_eq!(z.connect_timeout, Duration::from_secs(10));
    assert!(z.modules.is_empty());

    let s = &cfg.sync;
    assert_eq!(s.poll_interval, Duration::from_secs(60));
    assert_eq!(s.poll_interval_max, Duration::from_secs(15 * 60));
    assert_eq!(s.api_budget_per_day, 20_000);
    assert_eq!(s.debounce, Duration::from_secs(2));
    assert_eq!(s.rescan_interval, Duration::from_secs(10 * 60));
    assert_eq!(s.watch, WatchMode::Auto);
    assert_eq!(s.direction, Direction::Both);
    assert_eq!(s.max_delete_percent, 50);
    assert_eq!(s.ignore, vec!["~$*".to_owned(), "*.tmp".to_owned()]);

    assert!(
        config::warnings(&cfg).is_empty(),
        "{:?}",
        config::warnings(&cfg)
    );
}

#[test]
fn example_config_mentions_every_key() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let keys = [
        "root",
        "state_dir",
        "log_format",
        "log_level",
        "[zoho]",
        "product",
        "dc",
        "api_domain",
        "accounts_url",
        "client_id",
        "client_secret",
        "client_secret_file",
        "refresh_token",
        "refresh_token_file",
        "concurrency",
        "timeout",
        "connect_timeout",
        "modules",
        "[sync]",
        "poll_interval",
        "poll_interval_max",
        "api_budget_per_day",
        "debounce",
        "rescan_interval",
        "watch",
        "direction",
        "max_delete_percent",
        "ignore",
    ];
    for key in keys {
        let set = text.lines().any(|l| {
            let l = l.trim_start_matches('#').trim_start();
            l == key || l.starts_with(&format!("{key} = "))
        });
        assert!(set, "example config does not show `{key}`");
    }
}

#[test]
fn example_config_without_secrets_names_the_secret_file_key() {
    let secret_file = Path::new("/etc/bigin-sync/client_secret");
    if secret_file.exists() {
        // A real installation on this machine: the file would satisfy the key.
        return;
    }
    let creds = tempfile::tempdir().unwrap();
    let env = systemd_env(creds.path());
    let err = config::load_with_env(&example_path(), &|k| env.get(k).cloned()).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.key(), Some("zoho.client_secret_file"), "{msg}");
    assert!(msg.contains("bigin-sync.example.toml"), "{msg}");
}
