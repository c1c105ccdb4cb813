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
    assert_eq!(cfg.log_format, LogFormat::Auto);
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
    // Bigin Free (the example's edition): 40 % of 5,000 credits.
    assert_eq!(z.edition, bigin_sync::zoho::limits::Edition::BiginFree);
    assert!(!z.edition_assumed);
    assert_eq!(z.max_upload_size, None);
    assert_eq!(s.api_budget_per_day, 2_000);
    assert!(!s.api_budget_explicit);
    assert_eq!(s.debounce, Duration::from_secs(2));
    assert_eq!(s.rescan_interval, Duration::from_secs(10 * 60));
    assert_eq!(s.watch, WatchMode::Auto);
    assert_eq!(s.direction, Direction::Both);
    assert_eq!(s.max_delete_percent, 50);
    assert_eq!(s.trash_retention, Some(Duration::from_secs(30 * 86_400)));
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
        "edition",
        "users",
        "max_upload_size",
        "[sync]",
        "poll_interval",
        "poll_interval_max",
        "api_budget_per_day",
        "api_budget_share",
        "debounce",
        "rescan_interval",
        "watch",
        "direction",
        "max_delete_percent",
        "trash_retention",
        "ignore",
        "[metrics]",
        "listen",
        "allow_remote",
        "[alerts]",
        "exec",
        "webhook",
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

fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/bigin-sync@.service")
}

/// The `[Service]` settings of a unit, comments and blank lines left out.
fn service_settings(unit: &str) -> Vec<String> {
    unit.lines()
        .map(str::trim)
        .skip_while(|l| *l != "[Service]")
        .take_while(|l| *l != "[Install]")
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The settings that differ between instances; everything else, the hardening above all,
/// must be the single unit's.
const PER_INSTANCE: [&str; 4] = [
    "StateDirectory=",
    "LoadCredential=",
    "Environment=",
    "ReadWritePaths=",
];

#[test]
fn template_unit_differs_from_the_single_unit_only_per_instance() {
    let single = std::fs::read_to_string(unit_path()).unwrap();
    let template = std::fs::read_to_string(template_path()).unwrap();
    let shared = |unit: &str| -> Vec<String> {
        service_settings(unit)
            .into_iter()
            .filter(|l| !PER_INSTANCE.iter().any(|k| l.starts_with(k)))
            .collect()
    };
    assert_eq!(shared(&template), shared(&single));
    // The per-instance settings all name the instance.
    for l in service_settings(&template) {
        if PER_INSTANCE.iter().any(|k| l.starts_with(k)) {
            assert!(l.contains("%i"), "`{l}` is shared by every instance");
        }
    }
    let install = |unit: &str| {
        unit.split("[Install]")
            .nth(1)
            .map(str::trim)
            .map(str::to_owned)
    };
    assert_eq!(install(&template), install(&single));
}

/// The instance config an admin writes by following the template's header: its
/// `sed -e 's|PATTERN|REPLACEMENT|'` lines applied to the example config.
fn instance_config_from_header(template: &str, instance: &str) -> String {
    let edits: Vec<(String, String)> = template
        .lines()
        .filter_map(|l| l.split("-e 's|").nth(1))
        .map(|e| {
            let mut parts = e.split('|');
            let pattern = parts.next().unwrap().replace("org2", instance);
            let replacement = parts.next().unwrap().replace("org2", instance);
            (pattern, replacement)
        })
        .collect();
    assert!(edits.len() >= 4, "the header shows the per-instance edits");
    let example = std::fs::read_to_string(example_path()).unwrap();
    let mut out = String::new();
    for line in example.lines() {
        let mut line = line.to_owned();
        for (pattern, replacement) in &edits {
            // Only the sed forms the header uses: `^prefix.*`, `^prefix`, a literal.
            line = match pattern.strip_prefix('^') {
                Some(p) => match p.strip_suffix(".*") {
                    Some(p) if line.starts_with(p) => replacement.clone(),
                    Some(_) => line,
                    None => match line.strip_prefix(p) {
                        Some(rest) => format!("{replacement}{rest}"),
                        None => line,
                    },
                },
                None => line.replace(pattern.as_str(), replacement),
            };
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// An instance's config, made as the template's header says, loads under the template's
/// environment with state, root and secrets of its own.
#[test]
fn template_unit_agrees_with_example_config() {
    let template = std::fs::read_to_string(template_path()).unwrap();
    let has = |line: &str| template.lines().any(|l| l.trim() == line);
    for line in [
        "Environment=BIGIN_SYNC_CONFIG=/etc/bigin-sync/%i.toml",
        "StateDirectory=bigin-sync/%i",
        "LoadCredential=client_secret:/etc/bigin-sync/%i/client_secret",
        "LoadCredential=refresh_token:/etc/bigin-sync/%i/refresh_token",
        "ReadWritePaths=/srv/bigin/%i",
    ] {
        assert!(has(line), "template lacks `{line}`");
    }

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("org2.toml");
    std::fs::write(&config, instance_config_from_header(&template, "org2")).unwrap();
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("client_secret"), "a").unwrap();
    std::fs::write(creds.path().join("refresh_token"), "b").unwrap();
    let mut env = systemd_env(creds.path());
    env.insert(
        "STATE_DIRECTORY".to_owned(),
        "/var/lib/bigin-sync/org2".to_owned(),
    );
    let cfg = config::load_with_env(&config, &|k| env.get(k).cloned()).unwrap();
    assert_eq!(cfg.state_dir, PathBuf::from("/var/lib/bigin-sync/org2"));
    // From an operator's shell (no $STATE_DIRECTORY): `status` reads the same journal.
    let mut shell = env.clone();
    shell.remove("STATE_DIRECTORY");
    shell.insert("HOME".to_owned(), "/root".to_owned());
    let from_shell = config::load_with_env(&config, &|k| shell.get(k).cloned()).unwrap();
    assert_eq!(from_shell.state_dir, cfg.state_dir);
    assert!(has(&format!(
        "ReadWritePaths={}",
        cfg.root.display().to_string().replace("org2", "%i")
    )));
    // `auth` writes the refresh token where the unit loads it from.
    assert_eq!(
        cfg.zoho.refresh_token_file,
        Some(PathBuf::from("/etc/bigin-sync/org2/refresh_token"))
    );
    let secret = template
        .lines()
        .find_map(|l| l.strip_prefix("LoadCredential=client_secret:"))
        .unwrap()
        .replace("%i", "org2");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains(&format!("client_secret_file = \"{secret}\"")),
        "the instance config names the secret the unit loads"
    );
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
    systemd_analyze(&unit_path(), "bigin-sync.service");
}

#[test]
fn template_unit_passes_systemd_analyze_when_available() {
    // systemd-analyze checks a template as its instance "i".
    systemd_analyze(&template_path(), "bigin-sync@i.service");
}

/// Exposure ≤ 1.5 in `security --offline=yes`, and `verify` silent.
fn systemd_analyze(unit_path: &Path, shown_as: &str) {
    use std::process::Command;
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed: skipping unit checks");
        return;
    };
    assert!(version.status.success());

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(unit_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| {
            l.split(&format!("Overall exposure level for {shown_as}:"))
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 1.5, "exposure {level} > 1.5:\n{text}");

    // `verify` insists the ExecStart binary exists; check a copy pointing at one that does.
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(unit_path).unwrap().replace(
        "ExecStart=/usr/local/bin/bigin-sync run",
        "ExecStart=/bin/sh -c true",
    );
    let copy = dir.path().join(unit_path.file_name().unwrap());
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
