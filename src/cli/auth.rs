//! `bigin-sync auth --code CODE`: turns a self-client grant code into a refresh token.

use crate::config::Config;
use anyhow::Context;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

const STEPS: &str = "\
To get a refresh token:
  1. Open https://api-console.zoho.com (use your data center's console, e.g. api-console.zoho.eu).
  2. Add a client of type \"Self Client\" (or open the existing one); note its client id and secret
     and put them in the config (client_id, client_secret or client_secret_file).
  3. Generate Code with the scopes
       ZohoBigin.modules.ALL,ZohoBigin.modules.attachments.ALL
     (Zoho CRM: ZohoCRM.modules.ALL,ZohoCRM.modules.attachments.ALL), duration 10 minutes.
  4. Within those minutes run:  bigin-sync auth --code <the code>
     The refresh token is written to zoho.refresh_token_file with mode 0600.";

pub async fn run(cfg: &Config, code: Option<&str>) -> anyhow::Result<()> {
    let Some(code) = code else {
        outln!("{STEPS}");
        return Ok(());
    };
    let Some(path) = cfg.zoho.refresh_token_file.clone() else {
        anyhow::bail!(
            "{}: zoho.refresh_token_file is not set; set it to where the refresh token should be written (e.g. /etc/bigin-sync/refresh_token)",
            cfg.path.display()
        );
    };
    let token = crate::zoho::exchange_grant_code(
        &cfg.zoho.accounts_url,
        &cfg.zoho.client_id,
        &cfg.zoho.client_secret,
        code.trim(),
    )
    .await
    .context("exchanging the grant code (codes expire after a few minutes and work once)")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    // An existing file keeps its mode on open: make it private before writing.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", path.display()))?;
    writeln!(f, "{}", token.expose()).with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    outln!(
        "refresh token written to {} (mode 0600); next: bigin-sync check",
        path.display()
    );
    Ok(())
}
