//! End-to-end: what the package ships beside the daemon (man pages, completions) and the
//! template unit's promise that instances on one host never share a journal or a lock.

use crate::common::*;
use bigin_sync::cli::Cli;
use clap::CommandFactory;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The subcommands `--help` lists, from the same clap definition the binary uses.
fn subcommands() -> Vec<String> {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    // The definition itself must hold what users and the package rely on.
    for must in [
        "run",
        "once",
        "status",
        "check",
        "auth",
        "demo",
        "man",
        "completions",
    ] {
        assert!(names.iter().any(|n| n == must), "no `{must}` in {names:?}");
    }
    names
}

fn run_ok(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("BIGIN_SYNC_CONFIG")
        .output()
        .expect("run binary");
    assert_ok(&out);
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn man_prints_a_roff_page_naming_every_subcommand() {
    let page = run_ok(&["man"]);
    assert!(
        page.contains(".TH bigin-sync 1"),
        "not a roff page:\n{page}"
    );
    assert!(page.contains(".SH NAME"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for sub in subcommands() {
        // clap_mangen names each as `bigin-sync-<sub>(1)` in SUBCOMMANDS.
        assert!(
            page.contains(&format!("bigin\\-sync\\-{}(1)", sub.replace('-', "\\-"))),
            "man page does not name `{sub}`:\n{page}"
        );
    }
}

#[test]
fn man_dir_writes_one_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(&["man", "--dir", dir.path().to_str().unwrap()]);
    let mut want = vec!["bigin-sync.1".to_owned()];
    want.extend(subcommands().iter().map(|s| format!("bigin-sync-{s}.1")));
    want.sort();
    assert_eq!(files(dir.path()), want);
    let once = std::fs::read_to_string(dir.path().join("bigin-sync-once.1")).unwrap();
    assert!(once.contains("dry\\-run"), "{once}");
}

#[test]
fn completion_scripts_know_every_subcommand() {
    let subs = subcommands();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef bigin-sync"),
        ("fish", "complete -c bigin-sync"),
    ] {
        let script = run_ok(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no `{marker}`:\n{script}");
        for sub in &subs {
            assert!(
                script.contains(sub.as_str()),
                "{shell} completion lacks `{sub}`"
            );
        }
    }
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown shell is refused");
}

/// What systemd gives one instance of `bigin-sync@.service`, read from the unit itself
/// with `%i` expanded and `/etc`, `/var/lib` moved under `host`.
struct Instance {
    env: HashMap<String, String>,
    state: PathBuf,
    config: PathBuf,
    root: PathBuf,
}

fn template_unit() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/bigin-sync@.service");
    std::fs::read_to_string(path).unwrap()
}

/// Lays out `host` as an admin following the template's header would, for `name`:
/// `/etc/bigin-sync/<name>.toml` (no state_dir, as the header says), the credential files,
/// the root; returns the environment the unit gives the daemon.
fn instance(host: &Path, name: &str, env: &Env) -> Instance {
    let unit = template_unit();
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(key))
            .map(|v| v.replace("%i", name))
            .collect()
    };
    let on_host = |p: &str| host.join(p.trim_start_matches('/'));

    let config_env = values("Environment=BIGIN_SYNC_CONFIG=");
    assert_eq!(config_env.len(), 1, "one BIGIN_SYNC_CONFIG in the template");
    let config = on_host(&config_env[0]);
    let state_dirs = values("StateDirectory=");
    assert_eq!(state_dirs.len(), 1);
    let state = on_host(&format!("/var/lib/{}", state_dirs[0]));
    let rw = values("ReadWritePaths=");
    let root = on_host(&rw[0]);
    std::fs::create_dir_all(&root).unwrap();

    // LoadCredential=ID:PATH: systemd copies PATH into $CREDENTIALS_DIRECTORY/ID.
    let creds = host.join(format!("run/credentials/bigin-sync@{name}.service"));
    std::fs::create_dir_all(&creds).unwrap();
    let o = env.sandbox.options();
    for spec in values("LoadCredential=") {
        let (id, _source) = spec.split_once(':').expect("ID:PATH");
        let value = match id {
            "client_secret" => &o.client_secret,
            "refresh_token" => &o.refresh_token,
            other => panic!("unexpected credential {other}"),
        };
        std::fs::write(creds.join(id), value).unwrap();
    }

    // The sandbox's config without its secrets (the credentials carry them) and without
    // state_dir, as the template's header tells the admin.
    let text: String = env
        .sandbox
        .config_toml(
            &root,
            Path::new("/unused"),
            "",
            "poll_interval = \"1s\"\ndebounce = \"300ms\"",
        )
        .lines()
        .filter(|l| {
            !l.starts_with("state_dir")
                && !l.starts_with("client_secret")
                && !l.starts_with("refresh_token")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, text).unwrap();

    let mut vars = HashMap::new();
    vars.insert("BIGIN_SYNC_CONFIG".to_owned(), config.display().to_string());
    vars.insert("STATE_DIRECTORY".to_owned(), state.display().to_string());
    vars.insert(
        "CREDENTIALS_DIRECTORY".to_owned(),
        creds.display().to_string(),
    );
    Instance {
        env: vars,
        state,
        config,
        root,
    }
}

/// Starts `bigin-sync run` the way systemd starts the instance: no --config, only the env.
fn start(inst: &Instance, log: &Path) -> Daemon {
    let mut run = Command::new(BIN);
    run.arg("run")
        .env_remove("RUST_LOG")
        .env_remove("HOME")
        .envs(&inst.env);
    Daemon::spawn(run, log.to_path_buf())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_instances_have_their_own_journal_and_lock() {
    let env = Env::new().await;
    let host = env.tmp.path().join("host");
    let a = instance(&host, "org1", &env);
    let b = instance(&host, "org2", &env);
    assert_ne!(a.state, b.state);
    assert_ne!(a.config, b.config);

    let mut da = start(&a, &env.tmp.path().join("org1.log"));
    let mut db = start(&b, &env.tmp.path().join("org2.log"));
    da.wait_log("bigin-sync running").await;
    db.wait_log("bigin-sync running").await;

    // Each holds its own lock, in its own state dir, beside its own journal.
    for (inst, d) in [(&a, &da), (&b, &db)] {
        let pid = d.child.as_ref().unwrap().id();
        let lock = std::fs::read_to_string(inst.state.join("daemon.lock")).unwrap();
        assert_eq!(lock.trim(), pid.to_string(), "{}", d.log_text());
        assert!(
            inst.state.join(bigin_sync::journal::FILE_NAME).is_file(),
            "no journal in {}",
            inst.state.display()
        );
    }

    // A second daemon for the SAME instance is refused by that instance's lock.
    let second = Command::new(BIN)
        .arg("run")
        .env_remove("RUST_LOG")
        .env_remove("HOME")
        .envs(&a.env)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = stderr(&second);
    let pid_a = da.child.as_ref().unwrap().id();
    assert!(
        err.contains(&format!("another bigin-sync (pid {pid_a}) already runs")),
        "{err}"
    );

    // Both sync: a file dropped into each instance's root reaches its record.
    for (i, inst) in [&a, &b].into_iter().enumerate() {
        let id = format!("203402000000048912{i}");
        let dir = inst.root.join("Contacts").join(&id);
        env.sandbox
            .add_record(bigin_sync::model::Product::Bigin, "Contacts", &id);
        std::fs::create_dir_all(&dir).unwrap();
        drop_file(&dir, &format!("org{}.txt", i + 1), b"x");
    }
    for (i, d) in [&da, &db].into_iter().enumerate() {
        let id = format!("203402000000048912{i}");
        let want = vec![format!("org{}.txt", i + 1)];
        assert!(
            wait_until(DEADLINE, || env.remote_names("Contacts", &id) == want).await,
            "{}",
            d.log_text()
        );
    }

    // Both keep running: each stops cleanly on SIGTERM.
    for d in [&mut da, &mut db] {
        let (status, _) = d.terminate().await;
        assert!(status.success(), "{}", d.log_text());
    }
}
