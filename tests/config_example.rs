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
        "follow_interval",
        "[[follow]]",
        "module",
        "label",
        "view",
        "where",
        "on_leave",
        "hint_field",
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

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/bigin-sync.service")
}

/// The unit, the example config and the loader must agree on names and paths, or the
/// service starts without its secrets or cannot write its root.
#[test]
fn unit_agrees_with_example_config() {
    let unit = std::fs::read_to_string(unit_path()).unwrap();
    let has = |line: &str| unit.lines().any(|l| l.trim() == line);
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=/usr/local/bin/bigin-sync run",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=60",
        "Restart=on-failure",
        "StateDirectory=bigin-sync",
        "ConfigurationDirectory=bigin-sync",
        "LoadCredential=client_secret:/etc/bigin-sync/client_secret",
        "LoadCredential=refresh_token:/etc/bigin-sync/refresh_token",
        "ReadWritePaths=/srv/bigin",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    ] {
        assert!(has(line), "unit lacks `{line}`");
    }
    // The credentials the unit loads are the ones the loader looks for.
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("client_secret"), "a").unwrap();
    std::fs::write(creds.path().join("refresh_token"), "b").unwrap();
    let env = systemd_env(creds.path());
    let cfg = config::load_with_env(&example_path(), &|k| env.get(k).cloned()).unwrap();
    assert!(has(&format!("ReadWritePaths={}", cfg.root.display())));
}

/// Runs systemd's own checks when systemd-analyze is installed (CI images without systemd
/// skip it, saying so on stderr).
#[test]
fn unit_passes_systemd_analyze_when_available() {
    use std::process::Command;
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed: skipping unit checks");
        return;
    };
    assert!(version.status.success());

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(unit_path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for bigin-sync.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 1.5, "exposure {level} > 1.5:\n{text}");

    // `verify` insists the ExecStart binary exists; check a copy pointing at one that does.
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(unit_path()).unwrap().replace(
        "ExecStart=/usr/local/bin/bigin-sync run",
        "ExecStart=/bin/sh -c true",
    );
    let copy = dir.path().join("bigin-sync.service");
    std::fs::write(&copy, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
