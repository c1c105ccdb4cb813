//! `bigin-sync demo`: the whole product on one machine, with no Zoho account.
//!
//! Starts the embedded sandbox (a faithful fake of Zoho's API) on loopback with two
//! sample records, writes a config that points at it, and runs the real daemon. The
//! config follows Pipelines, so the deal's folder (and any deal created with the printed
//! curl line) appears named after the deal, made by the daemon.

use crate::model::Product;
use crate::sandbox::{Sandbox, SandboxOptions};
use anyhow::Context;
use std::path::{Path, PathBuf};

const CONTACT_ID: &str = "2034020000000489124";
const DEAL_ID: &str = "2034020000000711002";

pub async fn run(dir: &Path) -> anyhow::Result<()> {
    let dir = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let root = dir.join("root");
    let state = dir.join("state");
    let contact = root
        .join("Contacts")
        .join(format!("{CONTACT_ID} Demo contact"));
    // The state dir is left to the daemon, which makes it private. The deal's folder is
    // the daemon's to make: Pipelines is followed.
    std::fs::create_dir_all(&contact).with_context(|| format!("creating {}", contact.display()))?;

    let opts = SandboxOptions {
        auto_create_records: true,
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(opts.clone())
        .await
        .context("starting the embedded sandbox")?;
    if sandbox
        .attachments(Product::Bigin, "Contacts", CONTACT_ID)
        .is_empty()
    {
        sandbox.create_record_with_id(
            Product::Bigin,
            "Pipelines",
            DEAL_ID,
            serde_json::json!({"Deal_Name": "Demo deal", "Stage": "Qualification"}),
        );
        sandbox.add_file(
            Product::Bigin,
            "Contacts",
            CONTACT_ID,
            "welcome.txt",
            b"Hello from the bigin-sync demo. This file is an attachment of a Contacts record.\n"
                .to_vec(),
        );
        sandbox.add_link(
            Product::Bigin,
            "Contacts",
            CONTACT_ID,
            "Zoho Bigin",
            "https://www.zoho.com/bigin/",
        );
        sandbox.add_file(
            Product::Bigin,
            "Pipelines",
            DEAL_ID,
            "quote.csv",
            b"item,qty,price\nwidget,3,9.50\n".to_vec(),
        );
    }
    let config_path = dir.join("config.toml");
    let config_text = sandbox.config_toml(
        &root,
        &state,
        "# Written by `bigin-sync demo`: points at the embedded sandbox, valid while the demo runs.",
        // The fake Zoho charges no credits: a big budget keeps follow_interval short.
        "poll_interval = \"5s\"\npoll_interval_max = \"30s\"\ndebounce = \"1s\"\nfollow_interval = \"5s\"\napi_budget_per_day = 1000000\n\n[[follow]]\nmodule = \"Pipelines\"",
    );
    std::fs::write(&config_path, config_text)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let cfg = crate::config::load(&config_path)?;
    crate::daemon::logging::init(cfg.log_format, &cfg.log_level);

    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("bigin-sync"));
    outln!(
        "\nbigin-sync demo\n\
         ===============\n\
         fake Zoho (sandbox):  {url}\n\
         synced folders:       {root}\n\
         config:               {cfg}\n\n\
         Try it:\n\
         - drop a file into    {contact}\n\
         \x20 and watch it become an attachment (log line `upload done`);\n\
         - delete it again and the attachment goes;\n\
         - add an attachment \"in Bigin\":\n\
         \x20   curl -X POST --data-binary @/etc/hostname '{url}/__sandbox/bigin/Contacts/{CONTACT_ID}/files?name=from-bigin.txt'\n\
         - create a deal \"in Bigin\" and watch its folder appear under {root}/Pipelines:\n\
         \x20   curl -X POST -d '{{\"Deal_Name\": \"Big order\"}}' '{url}/__sandbox/bigin/Pipelines'\n\
         - see what the fake Zoho holds:  curl {url}/__sandbox/state\n\
         - sync state, from another terminal:\n\
         \x20   {exe} --config {cfg} status\n\n\
         Ctrl-C stops the demo.\n",
        url = sandbox.base_url(),
        root = root.display(),
        cfg = config_path.display(),
        contact = contact.display(),
        exe = exe.display(),
    );
    let result = crate::daemon::run(cfg, tokio_util::sync::CancellationToken::new()).await;
    sandbox.shutdown().await;
    result
}
