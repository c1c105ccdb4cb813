//! Unit tests: every rejection names the file and the key; defaults, durations, DC table,
//! secrets precedence, relative paths, loopback rule.

use super::*;
use std::collections::HashMap;
use std::fs;
use tempfile::TempDir;

struct Fixture {
    dir: TempDir,
    env: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Self {
        let dir = TempDir::new().unwrap();
        let mut env = HashMap::new();
        env.insert(
            "HOME".to_owned(),
            dir.path().join("home").display().to_string(),
        );
        Fixture { dir, env }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn load(&self, text: &str) -> Result<Config, ConfigError> {
        fs::write(self.path(), text).unwrap();
        let env = self.env.clone();
        load_with_env(&self.path(), &move |k| env.get(k).cloned())
    }

    fn err(&self, text: &str) -> ConfigError {
        match self.load(text) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    /// Asserts the error names `key` and the file, and mentions `expect` (the "what was
    /// expected" part), returning the message for further checks.
    fn err_names(&self, text: &str, key: &str, expect: &str) -> String {
        let e = self.err(text);
        let msg = e.to_string();
        assert_eq!(e.key(), Some(key), "wrong key in: {msg}");
        assert!(
            msg.contains(&format!("`{key}`")),
            "key not in message: {msg}"
        );
        assert!(
            msg.contains(&self.path().display().to_string()),
            "file not in message: {msg}"
        );
        assert!(msg.contains(expect), "`{expect}` not in message: {msg}");
        msg
    }
}

const MIN: &str = r#"
root = "/srv/bigin"
state_dir = "/var/lib/bigin-sync"
[zoho]
client_id = "1000.ABC"
client_secret = "s3cret"
refresh_token = "1000.rt"
"#;

fn with(extra_top: &str, zoho: &str, sync: &str) -> String {
    format!(
        "root = \"/srv/bigin\"\nstate_dir = \"/var/lib/bigin-sync\"\n{extra_top}\n[zoho]\nclient_id = \"1000.ABC\"\nclient_secret = \"s3cret\"\nrefresh_token = \"1000.rt\"\n{zoho}\n[sync]\n{sync}\n"
    )
}

#[test]
fn minimal_config_gets_documented_defaults() {
    let f = Fixture::new();
    let c = f.load(MIN).unwrap();
    assert_eq!(c.path, f.path());
    assert_eq!(c.root, PathBuf::from("/srv/bigin"));
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/bigin-sync"));
    assert_eq!(c.log_format, LogFormat::Auto);
    assert_eq!(c.log_level, "info");
    let z = &c.zoho;
    assert_eq!(z.product, Product::Bigin);
    assert_eq!(z.dc, "us");
    assert_eq!(z.api_domain, "https://www.zohoapis.com");
    assert_eq!(z.accounts_url, "https://accounts.zoho.com");
    assert_eq!(z.client_id, "1000.ABC");
    assert_eq!(z.client_secret.expose(), "s3cret");
    assert_eq!(z.refresh_token.as_ref().unwrap().expose(), "1000.rt");
    assert_eq!(z.refresh_token_file, None);
    assert_eq!(z.concurrency, 4);
    assert_eq!(z.timeout, Duration::from_secs(60));
    assert_eq!(z.connect_timeout, Duration::from_secs(10));
    assert!(z.modules.is_empty());
    let s = &c.sync;
    assert_eq!(s.poll_interval, Duration::from_secs(60));
    assert_eq!(s.poll_interval_max, Duration::from_secs(900));
    // No edition: Bigin Free (5,000 credits) is assumed, and 40 % of it is the budget.
    assert_eq!(z.edition, crate::zoho::limits::Edition::BiginFree);
    assert!(z.edition_assumed);
    assert_eq!(z.users, 1);
    assert_eq!(z.max_upload_size, None);
    assert_eq!(s.api_budget_per_day, 2_000);
    assert_eq!(s.api_budget_share, 0.4);
    assert!(!s.api_budget_explicit);
    assert_eq!(s.debounce, Duration::from_secs(2));
    assert_eq!(s.rescan_interval, Duration::from_secs(600));
    assert_eq!(s.watch, WatchMode::Auto);
    assert_eq!(s.direction, Direction::Both);
    assert_eq!(s.max_delete_percent, 50);
    assert_eq!(s.trash_retention, Some(Duration::from_secs(30 * 86_400)));
    assert!(s.ignore.is_empty());
    assert!(warnings(&c).is_empty(), "{:?}", warnings(&c));
}

#[test]
fn explicit_values_are_read() {
    let f = Fixture::new();
    let c = f
        .load(&with(
            "log_format = \"json\"\nlog_level = \"bigin_sync=debug,info\"",
            "product = \"crm\"\ndc = \"EU\"\nconcurrency = 2\ntimeout = \"2m\"\nconnect_timeout = \"5s\"\nmodules = [\"Custom_Mod\"]",
            "poll_interval = \"2m\"\npoll_interval_max = \"1h\"\napi_budget_per_day = 5000\ndebounce = \"300ms\"\nrescan_interval = \"1h30m\"\nwatch = \"poll\"\ndirection = \"download\"\nmax_delete_percent = 100\nignore = [\"*.tmp\", \"~$*\"]",
        ))
        .unwrap();
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.log_level, "bigin_sync=debug,info");
    assert_eq!(c.zoho.product, Product::Crm);
    assert_eq!(c.zoho.dc, "eu");
    assert_eq!(c.zoho.api_domain, "https://www.zohoapis.eu");
    assert_eq!(c.zoho.accounts_url, "https://accounts.zoho.eu");
    assert_eq!(c.zoho.concurrency, 2);
    assert_eq!(c.zoho.timeout, Duration::from_secs(120));
    assert_eq!(c.zoho.connect_timeout, Duration::from_secs(5));
    assert_eq!(c.zoho.modules, vec!["Custom_Mod".to_owned()]);
    assert_eq!(c.sync.poll_interval, Duration::from_secs(120));
    assert_eq!(c.sync.poll_interval_max, Duration::from_secs(3600));
    assert_eq!(c.sync.api_budget_per_day, 5000);
    assert_eq!(c.sync.debounce, Duration::from_millis(300));
    assert_eq!(c.sync.rescan_interval, Duration::from_secs(5400));
    assert_eq!(c.sync.watch, WatchMode::Poll);
    assert_eq!(c.sync.direction, Direction::DownloadOnly);
    assert_eq!(c.sync.max_delete_percent, 100);
    assert_eq!(c.sync.ignore, vec!["*.tmp".to_owned(), "~$*".to_owned()]);
}

#[test]
fn directions_map_to_planner_values() {
    let f = Fixture::new();
    for (word, want) in [
        ("both", Direction::Both),
        ("upload", Direction::UploadOnly),
        ("download", Direction::DownloadOnly),
    ] {
        let c = f
            .load(&with("", "", &format!("direction = \"{word}\"")))
            .unwrap();
        assert_eq!(c.sync.direction, want);
    }
}

// ---- durations ----

#[test]
fn durations_parse_with_units() {
    let ok = [
        ("300ms", Duration::from_millis(300)),
        ("1s", Duration::from_secs(1)),
        ("15m", Duration::from_secs(900)),
        ("1h", Duration::from_secs(3600)),
        ("2h30m", Duration::from_secs(9000)),
        ("1d", Duration::from_secs(86_400)),
        (" 90s ", Duration::from_secs(90)),
        ("1m 30s", Duration::from_secs(90)),
    ];
    for (s, d) in ok {
        assert_eq!(parse_duration(s), Ok(d), "{s}");
    }
    for bad in [
        "",
        "0s",
        "0ms",
        "60",
        "s",
        "1x",
        "1.5s",
        "-1s",
        "1 h",
        "h1",
        "99999999999999999999s",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
    }
    assert!(parse_duration("60").unwrap_err().contains("no unit"));
}

#[test]
fn format_duration_round_trips() {
    for s in ["300ms", "1s", "15m", "1h", "2h30m", "1h0m5s"] {
        let d = parse_duration(s).unwrap();
        assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{s}");
    }
    assert_eq!(format_duration(Duration::from_secs(9000)), "2h30m");
}

#[test]
fn bad_duration_names_key() {
    let f = Fixture::new();
    f.err_names(
        &with("", "", "debounce = \"2 seconds\""),
        "sync.debounce",
        "unit",
    );
    f.err_names(
        &with("", "", "poll_interval = \"0s\""),
        "sync.poll_interval",
        "positive",
    );
    f.err_names(
        &with("", "timeout = \"abc\"", ""),
        "zoho.timeout",
        "expected",
    );
    f.err_names(
        &with("", "connect_timeout = \"5\"", ""),
        "zoho.connect_timeout",
        "unit",
    );
    f.err_names(
        &with("", "", "rescan_interval = \"1w\""),
        "sync.rescan_interval",
        "ms, s, m, h, d",
    );
}

#[test]
fn duration_given_as_number_names_key_and_unit() {
    let f = Fixture::new();
    let msg = f.err_names(
        &with("", "", "poll_interval = 60"),
        "sync.poll_interval",
        "duration string with a unit",
    );
    assert!(msg.contains("wrong type"), "{msg}");
}

#[test]
fn poll_interval_max_below_poll_interval_is_refused() {
    let f = Fixture::new();
    f.err_names(
        &with(
            "",
            "",
            "poll_interval = \"10m\"\npoll_interval_max = \"1m\"",
        ),
        "sync.poll_interval_max",
        "at least",
    );
}

// ---- unknown keys and wrong types ----

#[test]
fn unknown_keys_name_the_dotted_key_and_the_allowed_ones() {
    let f = Fixture::new();
    let m = f.err_names(
        &with("", "", "debounse = \"2s\""),
        "sync.debounse",
        "sync.debounce",
    );
    assert!(m.contains("unknown key"), "{m}");
    f.err_names(
        &with("", "client_secrets = \"x\"", ""),
        "zoho.client_secrets",
        "zoho.client_secret_file",
    );
    f.err_names(&with("rot = \"/x\"", "", ""), "rot", "state_dir");
    f.err_names(&format!("{MIN}\n[extra]\na = 1\n"), "extra", "zoho");
}

#[test]
fn unknown_key_in_inline_table_is_located() {
    let f = Fixture::new();
    let text = "root = \"/srv/bigin\"\nstate_dir = \"/var/lib/x\"\nsync = { watch = \"auto\", wach = \"poll\" }\n[zoho]\nclient_id = \"1\"\nclient_secret = \"s\"\n";
    f.err_names(text, "sync.wach", "sync.watch");
}

#[test]
fn wrong_types_name_the_key() {
    let f = Fixture::new();
    f.err_names(
        &with("", "concurrency = \"four\"", ""),
        "zoho.concurrency",
        "expected an integer",
    );
    f.err_names(
        &with("", "", "max_delete_percent = 5.5"),
        "sync.max_delete_percent",
        "integer",
    );
    f.err_names(
        &with("", "", "ignore = \"*.tmp\""),
        "sync.ignore",
        "expected",
    );
    f.err_names(
        &with("", "", "ignore = [\"*.tmp\", 3]"),
        "sync.ignore",
        "string",
    );
    f.err_names(&with("", "modules = \"X\"", ""), "zoho.modules", "expected");
    f.err_names(&with("log_level = 3", "", ""), "log_level", "string");
    f.err_names(
        &with("", "", "").replace("client_id = \"1000.ABC\"", "client_id = 1000"),
        "zoho.client_id",
        "string",
    );
    f.err_names("root = \"/srv/bigin\"\nzoho = 5\n", "zoho", "table");
}

#[test]
fn syntax_error_gives_file_line_and_column() {
    let f = Fixture::new();
    let e = f.err("root = \"/srv/bigin\"\n[zoho\nclient_id = 1\n");
    let msg = e.to_string();
    assert!(matches!(e, ConfigError::Syntax { line: 2, .. }), "{msg}");
    assert!(msg.contains(&format!("{}:2:", f.path().display())), "{msg}");
}

#[test]
fn unreadable_file_names_it() {
    let f = Fixture::new();
    let missing = f.dir.path().join("nope.toml");
    let e = load_with_env(&missing, &|_| None).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains(&missing.display().to_string()));
}

// ---- bad values ----

#[test]
fn bad_enumerations_list_the_valid_values() {
    let f = Fixture::new();
    let m = f.err_names(
        &with("", "dc = \"de\"", ""),
        "zoho.dc",
        "us, eu, au, in, cn, jp, sa, ca",
    );
    assert!(m.contains("`de`"), "{m}");
    // `com` names no DC (the US one is `us`), whatever the old client table took.
    f.err_names(&with("", "dc = \"com\"", ""), "zoho.dc", "us, eu");
    f.err_names(
        &with("", "product = \"desk\"", ""),
        "zoho.product",
        "\"bigin\", \"crm\"",
    );
    f.err_names(
        &with("", "", "direction = \"up\""),
        "sync.direction",
        "\"both\", \"upload\", \"download\"",
    );
    f.err_names(
        &with("", "", "watch = \"inotify\""),
        "sync.watch",
        "\"auto\", \"poll\"",
    );
    f.err_names(
        &with("log_format = \"xml\"", "", ""),
        "log_format",
        "\"auto\", \"text\", \"json\", \"journald\"",
    );
    f.err_names(&with("log_level = \"loud\"", "", ""), "log_level", "info");
    f.err_names(&with("log_level = \"info,,\"", "", ""), "log_level", "info");
    f.err_names(
        &with("log_level = \"bigin_sync=lots\"", "", ""),
        "log_level",
        "info",
    );
    for ok in [
        "warn",
        "DEBUG",
        "off",
        "bigin_sync=trace,warn",
        "bigin_sync::zoho=debug",
    ] {
        assert!(
            f.load(&with(&format!("log_level = \"{ok}\""), "", ""))
                .is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn ranges_are_enforced() {
    let f = Fixture::new();
    for v in ["0", "101", "-1", "300"] {
        f.err_names(
            &with("", "", &format!("max_delete_percent = {v}")),
            "sync.max_delete_percent",
            "from 1 to 100",
        );
    }
    for v in ["0", "26"] {
        f.err_names(
            &with("", &format!("concurrency = {v}"), ""),
            "zoho.concurrency",
            "from 1 to 25",
        );
    }
    f.err_names(
        &with("", "", "api_budget_per_day = 0"),
        "sync.api_budget_per_day",
        "from 1",
    );
    for (v, ok) in [("1", true), ("100", true), ("25", true)] {
        assert_eq!(
            f.load(&with("", "", &format!("max_delete_percent = {v}")))
                .is_ok(),
            ok
        );
    }
    assert_eq!(
        f.load(&with("", "concurrency = 25", ""))
            .unwrap()
            .zoho
            .concurrency,
        25
    );
    assert_eq!(
        f.load(&with("", "concurrency = 1", ""))
            .unwrap()
            .zoho
            .concurrency,
        1
    );
}

#[test]
fn bad_ignore_glob_and_module_names_the_element() {
    let f = Fixture::new();
    f.err_names(
        &with("", "", "ignore = [\"ok\", \"a[\"]"),
        "sync.ignore[1]",
        "glob",
    );
    f.err_names(
        &with("", "modules = [\"Good\", \"Bad/Name\"]", ""),
        "zoho.modules[1]",
        "API name",
    );
}

// ---- DC table and URL overrides ----

#[test]
fn every_dc_has_its_hosts() {
    let f = Fixture::new();
    let want = [
        (
            "us",
            "https://accounts.zoho.com",
            "https://www.zohoapis.com",
        ),
        ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        (
            "au",
            "https://accounts.zoho.com.au",
            "https://www.zohoapis.com.au",
        ),
        ("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
        (
            "cn",
            "https://accounts.zoho.com.cn",
            "https://www.zohoapis.com.cn",
        ),
        ("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
        ("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
        (
            "ca",
            "https://accounts.zohocloud.ca",
            "https://www.zohoapis.ca",
        ),
    ];
    assert_eq!(crate::zoho::DATA_CENTERS.len(), want.len());
    for (code, acc, api) in want {
        let c = f.load(&with("", &format!("dc = \"{code}\""), "")).unwrap();
        assert_eq!(
            (
                c.zoho.dc.as_str(),
                c.zoho.accounts_url.as_str(),
                c.zoho.api_domain.as_str()
            ),
            (code, acc, api)
        );
    }
}

#[test]
fn url_overrides_win_over_dc() {
    let f = Fixture::new();
    let c = f
        .load(&with("", "dc = \"eu\"\napi_domain = \"https://proxy.example.com/\"\naccounts_url = \"https://auth.example.com\"", ""))
        .unwrap();
    assert_eq!(c.zoho.dc, "eu");
    assert_eq!(c.zoho.api_domain, "https://proxy.example.com");
    assert_eq!(c.zoho.accounts_url, "https://auth.example.com");
}

#[test]
fn http_is_only_allowed_on_loopback() {
    let f = Fixture::new();
    for host in [
        "http://127.0.0.1:8080",
        "http://localhost:1234",
        "http://[::1]:9000",
        "http://127.0.0.2",
    ] {
        let c = f
            .load(&with(
                "",
                &format!("api_domain = \"{host}\"\naccounts_url = \"{host}/\""),
                "",
            ))
            .unwrap();
        assert_eq!(c.zoho.api_domain, host);
        assert_eq!(c.zoho.accounts_url, host);
    }
    for host in [
        "http://www.zohoapis.com",
        "http://10.0.0.1",
        "http://localhost.evil.com",
        "http://[::2]",
    ] {
        f.err_names(
            &with("", &format!("api_domain = \"{host}\""), ""),
            "zoho.api_domain",
            "https://",
        );
        f.err_names(
            &with("", &format!("accounts_url = \"{host}\""), ""),
            "zoho.accounts_url",
            "loopback",
        );
    }
    f.err_names(
        &with("", "api_domain = \"ftp://x.com\"", ""),
        "zoho.api_domain",
        "https://",
    );
    f.err_names(
        &with("", "api_domain = \"not a url\"", ""),
        "zoho.api_domain",
        "URL",
    );
}

#[test]
fn credentials_in_urls_are_refused_without_echoing_them() {
    // The client refused these; the config let them through to it. Both now share one rule.
    let f = Fixture::new();
    for (key, url) in [
        ("zoho.api_domain", "https://user:hunter2@www.zohoapis.com"),
        (
            "zoho.accounts_url",
            "https://user:hunter2@accounts.zoho.com",
        ),
        ("zoho.api_domain", "https://user@www.zohoapis.com"),
        ("zoho.accounts_url", "http://me:hunter2@127.0.0.1:8080"),
    ] {
        let field = key.trim_start_matches("zoho.");
        let m = f.err_names(
            &with("", &format!("{field} = \"{url}\""), ""),
            key,
            "user name or password",
        );
        assert!(!m.contains("hunter2"), "password echoed: {m}");
    }
}

// ---- root / state_dir ----

#[test]
fn root_is_required() {
    let f = Fixture::new();
    let m = f.err_names(
        "[zoho]\nclient_id = \"1\"\nclient_secret = \"s\"\n",
        "root",
        "absolute path",
    );
    assert!(m.contains("missing"), "{m}");
    f.err_names(
        &with("", "", "").replacen("root = \"/srv/bigin\"", "root = \"\"", 1),
        "root",
        "absolute",
    );
    f.err_names(
        &with("", "", "").replacen("root = \"/srv/bigin\"", "root = \"/\"", 1),
        "root",
        "dedicated",
    );
}

#[test]
fn root_and_state_dir_must_not_nest() {
    let f = Fixture::new();
    let base = "[zoho]\nclient_id = \"1\"\nclient_secret = \"s\"\n";
    f.err_names(
        &format!("root = \"/srv/bigin\"\nstate_dir = \"/srv/bigin/.state\"\n{base}"),
        "state_dir",
        "outside root",
    );
    f.err_names(
        &format!("root = \"/srv/bigin\"\nstate_dir = \"/srv/bigin\"\n{base}"),
        "state_dir",
        "outside root",
    );
    f.err_names(
        &format!("root = \"/var/lib/bs/files\"\nstate_dir = \"/var/lib/bs\"\n{base}"),
        "root",
        "separate",
    );
    f.err_names(
        &format!("root = \"/srv/x/../bigin\"\nstate_dir = \"/srv/bigin/s\"\n{base}"),
        "state_dir",
        "inside root",
    );
    // A sibling with a common string prefix is not nested.
    assert!(
        f.load(&format!(
            "root = \"/srv/bigin\"\nstate_dir = \"/srv/bigin-state\"\n{base}"
        ))
        .is_ok()
    );
}

/// Issue 11: the daemon's private files inside root are refused after following links,
/// not only by text.
#[test]
fn private_paths_inside_root_through_a_link_are_refused() {
    let mut f = Fixture::new();
    let d = f.dir.path().to_path_buf();
    fs::create_dir_all(d.join("root/Contacts")).unwrap();
    fs::create_dir_all(d.join("etc")).unwrap();
    fs::write(d.join("root/Contacts/cs"), "s").unwrap();
    std::os::unix::fs::symlink(d.join("root/Contacts"), d.join("into-root")).unwrap();
    std::os::unix::fs::symlink(d.join("root"), d.join("root-link")).unwrap();
    let base = "[zoho]\nclient_id = \"1\"\nclient_secret = \"s\"\nrefresh_token = \"r\"\n";
    // A state dir (not yet created) reached through a link into root.
    f.err_names(
        &format!(
            "root = \"{}/root\"\nstate_dir = \"{}/into-root/state\"\n{base}",
            d.display(),
            d.display()
        ),
        "state_dir",
        "after following links",
    );
    // A root given through a link, a state dir given by its real path inside it.
    f.err_names(
        &format!(
            "root = \"{}/root-link\"\nstate_dir = \"{}/root/st\"\n{base}",
            d.display(),
            d.display()
        ),
        "state_dir",
        "inside root",
    );
    // A secret file read from inside root.
    let cs = format!(
        "[zoho]\nclient_id = \"1\"\nclient_secret_file = \"{}/into-root/cs\"\nrefresh_token = \"r\"\n",
        d.display()
    );
    f.err_names(
        &format!(
            "root = \"{}/root\"\nstate_dir = \"{}/st\"\n{cs}",
            d.display(),
            d.display()
        ),
        "zoho.client_secret_file",
        "inside root",
    );
    // systemd's credentials directory inside root.
    f.env.insert(
        "CREDENTIALS_DIRECTORY".into(),
        d.join("into-root/creds").display().to_string(),
    );
    f.err_names(
        &format!(
            "root = \"{}/root\"\nstate_dir = \"{}/st\"\n{base}",
            d.display(),
            d.display()
        ),
        "$CREDENTIALS_DIRECTORY",
        "inside root",
    );
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let mut f = Fixture::new();
    let d = f.dir.path().to_path_buf();
    fs::write(d.join("cs.txt"), "  from-file\n").unwrap();
    f.env.remove("HOME");
    let c = f
        .load("root = \"files\"\nstate_dir = \"./state/../st\"\n[zoho]\nclient_id = \"1\"\nclient_secret_file = \"cs.txt\"\nrefresh_token_file = \"secrets/rt\"\n")
        .unwrap();
    assert_eq!(c.root, d.join("files"));
    assert_eq!(c.state_dir, d.join("st"));
    assert_eq!(c.zoho.client_secret.expose(), "from-file");
    assert_eq!(c.zoho.refresh_token_file, Some(d.join("secrets/rt")));
    assert!(c.zoho.refresh_token.is_none());
}

#[test]
fn state_dir_defaults_to_systemd_then_home() {
    let mut f = Fixture::new();
    let text = "root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret = \"s\"\n";
    let home = f.env["HOME"].clone();
    assert_eq!(
        f.load(text).unwrap().state_dir,
        PathBuf::from(&home).join(".local/state/bigin-sync")
    );
    f.env.insert(
        "STATE_DIRECTORY".into(),
        "/var/lib/bigin-sync:/var/lib/other".into(),
    );
    assert_eq!(
        f.load(text).unwrap().state_dir,
        PathBuf::from("/var/lib/bigin-sync")
    );
    f.env.clear();
    f.err_names(text, "state_dir", "$STATE_DIRECTORY");
}

// ---- secrets ----

#[test]
fn missing_client_secret_lists_the_three_ways() {
    let f = Fixture::new();
    let m = f.err_names(
        "root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\n",
        "zoho.client_secret",
        "client_secret_file",
    );
    assert!(
        m.contains("CREDENTIALS_DIRECTORY") && m.contains("LoadCredential"),
        "{m}"
    );
}

#[test]
fn missing_client_id_is_refused() {
    let f = Fixture::new();
    f.err_names(
        "root = \"/srv/bigin\"\n[zoho]\nclient_secret = \"s\"\n",
        "zoho.client_id",
        "client id",
    );
}

#[test]
fn missing_refresh_token_loads_but_require_fails() {
    let f = Fixture::new();
    let c = f
        .load("root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret = \"s\"\n")
        .unwrap();
    let e = c.require_refresh_token().unwrap_err();
    let m = e.to_string();
    assert_eq!(e.key(), Some("zoho.refresh_token"));
    for part in [
        "refresh_token_file",
        "CREDENTIALS_DIRECTORY",
        "auth",
        &f.path().display().to_string(),
    ] {
        assert!(m.contains(part), "{part} not in {m}");
    }
}

#[test]
fn credentials_directory_wins_and_is_trimmed() {
    let mut f = Fixture::new();
    let creds = f.dir.path().join("creds");
    fs::create_dir(&creds).unwrap();
    fs::write(creds.join("client_secret"), "cred-secret\n").unwrap();
    fs::write(creds.join("refresh_token"), "\t cred-rt \n").unwrap();
    f.env
        .insert("CREDENTIALS_DIRECTORY".into(), creds.display().to_string());
    let c = f.load(MIN).unwrap();
    assert_eq!(c.zoho.client_secret.expose(), "cred-secret");
    assert_eq!(c.require_refresh_token().unwrap().expose(), "cred-rt");

    // Only one credential present: the other comes from the file.
    fs::remove_file(creds.join("refresh_token")).unwrap();
    let c = f.load(MIN).unwrap();
    assert_eq!(c.zoho.client_secret.expose(), "cred-secret");
    assert_eq!(c.require_refresh_token().unwrap().expose(), "1000.rt");

    // Credentials satisfy a file that gives no secrets at all.
    let c = f
        .load("root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\n")
        .unwrap();
    assert_eq!(c.zoho.client_secret.expose(), "cred-secret");

    // An empty credential is an error, not an empty secret.
    fs::write(creds.join("client_secret"), " \n").unwrap();
    f.err_names(MIN, "zoho.client_secret", "empty");
}

#[test]
fn secret_files_are_read_and_trimmed() {
    let f = Fixture::new();
    let d = f.dir.path();
    fs::write(d.join("cs"), "\n file-secret \n").unwrap();
    fs::write(d.join("rt"), "file-rt\n").unwrap();
    let cs = d.join("cs").display().to_string();
    let rt = d.join("rt").display().to_string();
    let c = f
        .load(&format!("root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret_file = \"{cs}\"\nrefresh_token_file = \"{rt}\"\n"))
        .unwrap();
    assert_eq!(c.zoho.client_secret.expose(), "file-secret");
    assert_eq!(c.require_refresh_token().unwrap().expose(), "file-rt");
    assert_eq!(c.zoho.refresh_token_file, Some(d.join("rt")));
}

#[test]
fn secret_file_problems_name_the_key() {
    let f = Fixture::new();
    let d = f.dir.path();
    let missing = d.join("missing").display().to_string();
    f.err_names(
        &format!(
            "root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret_file = \"{missing}\"\n"
        ),
        "zoho.client_secret_file",
        "cannot read",
    );
    fs::write(d.join("empty"), "  \n").unwrap();
    f.err_names(
        "root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret_file = \"empty\"\n",
        "zoho.client_secret_file",
        "empty",
    );
    f.err_names(
        "root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret = \"a\"\nclient_secret_file = \"empty\"\n",
        "zoho.client_secret",
        "not both",
    );
    f.err_names(
        "root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret = \"  \"\n",
        "zoho.client_secret",
        "empty",
    );
    // A refresh token file that does not exist yet is fine: `auth` creates it.
    let c = f
        .load("root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret = \"s\"\nrefresh_token_file = \"later\"\n")
        .unwrap();
    assert!(c.zoho.refresh_token.is_none());
    assert!(c.require_refresh_token().is_err());
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let mut f = Fixture::new();
    let c = f.load(MIN).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("s3cret") && !dbg.contains("1000.rt"), "{dbg}");
    assert!(dbg.contains("<redacted>"));
    f.env.clear();
    assert_eq!(format!("{:?}", Secret::new("x".to_owned())), "<redacted>");
}

// ---- config path resolution ----

#[test]
fn config_path_precedence() {
    let env = |k: &str| (k == CONFIG_ENV).then(|| "/from/env.toml".to_owned());
    let none = |_: &str| None;
    let empty = |_: &str| Some(String::new());
    assert_eq!(
        resolve_config_path_with_env(Some(Path::new("/cli.toml")), &env),
        PathBuf::from("/cli.toml")
    );
    assert_eq!(
        resolve_config_path_with_env(None, &env),
        PathBuf::from("/from/env.toml")
    );
    assert_eq!(
        resolve_config_path_with_env(None, &none),
        PathBuf::from(DEFAULT_CONFIG_PATH)
    );
    assert_eq!(
        resolve_config_path_with_env(None, &empty),
        PathBuf::from(DEFAULT_CONFIG_PATH)
    );
}

// ---- editions and the daily budget (issue 14) ----

#[test]
fn the_budget_is_a_share_of_the_editions_allowance() {
    use crate::zoho::limits::Edition;
    let f = Fixture::new();
    let c = f
        .load(&with("", "edition = \"Premier\"\nusers = 10", ""))
        .unwrap();
    assert_eq!(c.zoho.edition, Edition::BiginPremier);
    assert!(!c.zoho.edition_assumed);
    // (50,000 + 10 × 250) × 0.40
    assert_eq!(c.sync.api_budget_per_day, 21_000);
    let c = f
        .load(&with(
            "",
            "edition = \"express\"\nusers = 1000",
            "api_budget_share = 0.25",
        ))
        .unwrap();
    // Capped at 100,000, then a quarter.
    assert_eq!(c.sync.api_budget_per_day, 25_000);
    let c = f
        .load(&with(
            "",
            "product = \"crm\"\nedition = \"enterprise\"\nusers = 100",
            "",
        ))
        .unwrap();
    assert_eq!(c.sync.api_budget_per_day, 60_000);
    // An explicit budget still wins.
    let c = f
        .load(&with(
            "",
            "edition = \"express\"",
            "api_budget_per_day = 777",
        ))
        .unwrap();
    assert_eq!(c.sync.api_budget_per_day, 777);
    assert!(c.sync.api_budget_explicit);
    // CRM without an edition: CRM Free is assumed.
    let c = f.load(&with("", "product = \"crm\"", "")).unwrap();
    assert_eq!(c.zoho.edition, Edition::CrmFree);
    assert_eq!(c.sync.api_budget_per_day, 2_000);
}

#[test]
fn an_edition_of_the_other_product_is_refused() {
    let f = Fixture::new();
    let msg = f.err_names(
        &with("", "edition = \"ultimate\"", ""),
        "zoho.edition",
        "\"free\", \"express\", \"premier\"",
    );
    assert!(msg.contains("bigin"), "{msg}");
    f.err_names(
        &with("", "product = \"crm\"\nedition = \"premier\"", ""),
        "zoho.edition",
        "\"ultimate\"",
    );
    f.err_names(
        &with("", "", "api_budget_share = 1.5"),
        "sync.api_budget_share",
        "at most 1",
    );
    f.err_names(
        &with("", "", "api_budget_share = 0.0"),
        "sync.api_budget_share",
        "above 0",
    );
    f.err_names(&with("", "users = 0", ""), "zoho.users", "from 1");
}

#[test]
fn concurrency_is_checked_against_the_editions_published_limit() {
    let f = Fixture::new();
    f.err_names(
        &with(
            "",
            "product = \"crm\"\nedition = \"standard\"\nconcurrency = 11",
            "",
        ),
        "zoho.concurrency",
        "at most 10",
    );
    let c = f
        .load(&with(
            "",
            "product = \"crm\"\nedition = \"ultimate\"\nconcurrency = 25",
            "",
        ))
        .unwrap();
    assert_eq!(c.zoho.concurrency, 25);
}

#[test]
fn max_upload_size_takes_bytes_or_a_unit() {
    let f = Fixture::new();
    let size = |v: &str| {
        f.load(&with("", &format!("max_upload_size = {v}"), ""))
            .unwrap()
            .zoho
            .max_upload_size
    };
    assert_eq!(size("1000"), Some(1000));
    assert_eq!(size("\"20MB\""), Some(20 * 1024 * 1024));
    assert_eq!(size("\"2 GiB\""), Some(2 * 1024 * 1024 * 1024));
    f.err_names(
        &with("", "max_upload_size = \"lots\"", ""),
        "zoho.max_upload_size",
        "20MB",
    );
    f.err_names(
        &with("", "max_upload_size = -1", ""),
        "zoho.max_upload_size",
        "positive",
    );
}

// ---- warnings ----

#[test]
fn warnings_flag_costly_or_useless_settings() {
    let f = Fixture::new();
    let c = f
        .load(&with(
            "",
            "edition = \"premier\"\nusers = 500\nconcurrency = 10\ntimeout = \"5s\"\nconnect_timeout = \"10s\"",
            "poll_interval = \"1s\"\ndebounce = \"300ms\"\napi_budget_per_day = 200000",
        ))
        .unwrap();
    let w = warnings(&c).join("\n");
    for key in [
        "sync.poll_interval =",
        "86400 calls",
        "100000",
        "zoho.concurrency",
        "sync.debounce",
        "zoho.connect_timeout",
    ] {
        assert!(w.contains(key), "{key} not in:\n{w}");
    }
    let c = f
        .load(&with(
            "",
            "",
            "poll_interval = \"1m\"\npoll_interval_max = \"1m\"\napi_budget_per_day = 1000",
        ))
        .unwrap();
    let w = warnings(&c).join("\n");
    assert!(w.contains("allows only 0 record"), "{w}");
    assert!(w.contains("sync.poll_interval_max"), "{w}");
}

/// Runs `f` on a thread and fails the test if it does not return within 10 s, so a read
/// that blocks (a FIFO without a writer) fails instead of hanging the suite.
fn within_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("loading the config blocked")
}

fn make_fifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn secret_files_that_are_devices_fifos_or_huge_are_refused_without_blocking() {
    let mut f = Fixture::new();
    let d = f.dir.path().to_path_buf();
    make_fifo(&d.join("fifo"));
    fs::write(d.join("huge"), vec![b'a'; 65 * 1024]).unwrap();
    for (file, expect) in [
        ("/dev/zero", "not a regular file"),
        ("fifo", "not a regular file"),
        ("huge", "larger than 64 KiB"),
    ] {
        let text = format!(
            "root = \"/srv/bigin\"\n[zoho]\nclient_id = \"1\"\nclient_secret_file = \"{file}\"\n"
        );
        fs::write(f.path(), &text).unwrap();
        let (path, env) = (f.path(), f.env.clone());
        let e = within_deadline(move || load_with_env(&path, &move |k| env.get(k).cloned()))
            .expect_err(file);
        let msg = e.to_string();
        assert_eq!(e.key(), Some("zoho.client_secret_file"), "{msg}");
        assert!(msg.contains(expect), "{file}: {msg}");
    }
    // The same rules hold for systemd credentials.
    let creds = d.join("creds");
    fs::create_dir(&creds).unwrap();
    make_fifo(&creds.join("client_secret"));
    f.env
        .insert("CREDENTIALS_DIRECTORY".into(), creds.display().to_string());
    fs::write(f.path(), MIN).unwrap();
    let (path, env) = (f.path(), f.env.clone());
    let e = within_deadline(move || load_with_env(&path, &move |k| env.get(k).cloned()))
        .expect_err("fifo credential");
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn config_files_that_are_devices_fifos_or_huge_are_refused_without_blocking() {
    let f = Fixture::new();
    let d = f.dir.path().to_path_buf();
    make_fifo(&d.join("fifo.toml"));
    let mut big = MIN.to_owned();
    big.push_str(&format!("# {}\n", "x".repeat(1024 * 1024)));
    fs::write(d.join("big.toml"), big).unwrap();
    for (file, expect) in [
        (PathBuf::from("/dev/zero"), "not a regular file"),
        (d.join("fifo.toml"), "not a regular file"),
        (d.join("big.toml"), "larger than 1 MiB"),
    ] {
        let env = f.env.clone();
        let shown = file.display().to_string();
        let e = within_deadline(move || load_with_env(&file, &move |k| env.get(k).cloned()))
            .expect_err(&shown);
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Read { .. }), "{msg}");
        assert!(msg.contains(expect) && msg.contains(&shown), "{msg}");
    }
}

#[test]
fn metrics_listen_is_loopback_unless_remote_is_allowed() {
    let f = Fixture::new();
    assert_eq!(f.load(MIN).unwrap().metrics, None);
    for addr in ["127.0.0.1:9464", "[::1]:9464"] {
        let c = f
            .load(&format!("{MIN}\n[metrics]\nlisten = \"{addr}\"\n"))
            .unwrap();
        assert_eq!(c.metrics.unwrap().listen, addr.parse().unwrap());
    }
    for addr in ["0.0.0.0:9464", "192.168.1.5:9464", "[::]:9464"] {
        let msg = f.err_names(
            &format!("{MIN}\n[metrics]\nlisten = \"{addr}\"\n"),
            "metrics.listen",
            "metrics.allow_remote = true",
        );
        assert!(msg.contains("loopback"), "{msg}");
    }
    let c = f
        .load(&format!(
            "{MIN}\n[metrics]\nlisten = \"0.0.0.0:9464\"\nallow_remote = true\n"
        ))
        .unwrap();
    assert_eq!(c.metrics.unwrap().listen, "0.0.0.0:9464".parse().unwrap());
    f.err_names(
        &format!("{MIN}\n[metrics]\nlisten = \"localhost\"\n"),
        "metrics.listen",
        "127.0.0.1:9464",
    );
    f.err_names(
        &format!("{MIN}\n[metrics]\nport = 1\n"),
        "metrics.port",
        "metrics.listen, metrics.allow_remote",
    );
}

#[test]
fn alert_command_and_webhook_are_checked() {
    let f = Fixture::new();
    assert_eq!(f.load(MIN).unwrap().alerts, AlertSettings::default());
    let c = f
        .load(&format!(
            "{MIN}\n[alerts]\nexec = [\"/usr/local/bin/notify\", \"-v\"]\nwebhook = \"https://ntfy.sh/office/\"\n"
        ))
        .unwrap();
    assert_eq!(c.alerts.exec, vec!["/usr/local/bin/notify", "-v"]);
    assert_eq!(c.alerts.webhook.as_deref(), Some("https://ntfy.sh/office"));
    f.err_names(
        &format!("{MIN}\n[alerts]\nexec = [\"notify\"]\n"),
        "alerts.exec",
        "absolute path",
    );
    f.err_names(
        &format!("{MIN}\n[alerts]\nwebhook = \"http://hooks.example.com/x\"\n"),
        "alerts.webhook",
        "non-loopback",
    );
    let msg = f.err_names(
        &format!("{MIN}\n[alerts]\nwebhook = \"https://user:hunter2@hooks.example.com/x\"\n"),
        "alerts.webhook",
        "user name or password",
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[test]
fn trash_retention_is_a_duration_or_off_and_never_a_bare_zero() {
    let f = Fixture::new();
    for (v, want) in [
        ("\"7d\"", Some(Duration::from_secs(7 * 86_400))),
        ("\"12h\"", Some(Duration::from_secs(12 * 3600))),
        ("\"off\"", None),
        ("\"OFF\"", None),
    ] {
        let c = f
            .load(&with("", "", &format!("trash_retention = {v}")))
            .unwrap();
        assert_eq!(c.sync.trash_retention, want, "{v}");
    }
    let msg = f.err_names(
        &with("", "", "trash_retention = \"0\""),
        "sync.trash_retention",
        "\"off\"",
    );
    assert!(msg.contains("ambiguous"), "{msg}");
    f.err_names(
        &with("", "", "trash_retention = \"soon\""),
        "sync.trash_retention",
        "unit",
    );
    f.err_names(
        &with("", "", "trash_retention = 30"),
        "sync.trash_retention",
        "duration",
    );
}
