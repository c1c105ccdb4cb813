//! `bigin-sync check`: validates the setup end to end and says in plain words what is
//! wrong (the config was already validated when it loaded).

use crate::config::Config;
use crate::daemon::setup;
use crate::executor::RetryPolicy;
use crate::scan;
use crate::zoho::{ErrorClass, ZohoError};
use std::process::ExitCode;

fn ok(msg: &str) {
    outln!("ok       {msg}");
}

fn problem(msg: &str) {
    outln!("PROBLEM  {msg}");
}

/// Plain-words advice for an error, by Zoho's code.
fn advice(e: &ZohoError, cfg: &Config) -> String {
    let dc = &cfg.zoho.dc;
    // The accounts server's error codes arrive inside TokenRejected's text.
    let code = match e {
        ZohoError::TokenRejected(msg) if msg.contains("invalid_client") => Some("invalid_client"),
        ZohoError::TokenRejected(_) => Some("invalid_code"),
        _ => e.code(),
    };
    match code {
        Some("invalid_code") => format!(
            "the refresh token was revoked, has expired, or belongs to another data center (dc = \"{dc}\"); \
             generate a new grant code and run `bigin-sync auth --code ...`"
        ),
        Some("invalid_client") => format!(
            "client_id / client_secret are wrong, or the client was created in another data center (dc = \"{dc}\")"
        ),
        Some("OAUTH_SCOPE_MISMATCH") => "the token lacks a scope: grant ZohoBigin.modules.ALL and \
             ZohoBigin.modules.attachments.ALL (CRM: ZohoCRM.modules.ALL, ZohoCRM.modules.attachments.ALL) \
             and run `bigin-sync auth` again"
            .to_string(),
        Some("INVALID_TOKEN") | Some("AUTHENTICATION_FAILURE") => format!(
            "the API refused the token: usually the API domain does not match the account's data center \
             (dc = \"{dc}\", api_domain = {})",
            cfg.zoho.api_domain
        ),
        Some("NO_PERMISSION") | Some("AUTHORIZATION_FAILED") => {
            "the Zoho user behind the token may not read attachments of this module".to_string()
        }
        Some("INVALID_MODULE") => "this module is not available in the account (or not via the API)".to_string(),
        Some("INVALID_DATA") => "no such record in this account: check the record folder's id".to_string(),
        _ => match e.class() {
            ErrorClass::Retryable { .. } => format!(
                "Zoho could not be reached or is busy: check the network and the data center (dc = \"{dc}\", accounts_url = {})",
                cfg.zoho.accounts_url
            ),
            _ => "see the message above".to_string(),
        },
    }
}

pub async fn run(cfg: &Config) -> ExitCode {
    let mut failed = false;
    ok(&format!("config {} is valid", cfg.path.display()));
    for w in crate::config::warnings(cfg) {
        outln!("warning  {w}");
    }

    let discovery = match scan::discover_records(&cfg.root, cfg.zoho.product, &cfg.zoho.modules) {
        Ok(d) => {
            ok(&format!(
                "root {} is readable; {} record folders",
                cfg.root.display(),
                d.records.len()
            ));
            Some(d)
        }
        Err(e) => {
            problem(&format!("root {} cannot be read: {e}", cfg.root.display()));
            failed = true;
            None
        }
    };

    let journal = match setup::open_journal(cfg) {
        Ok(j) => {
            ok(&format!(
                "state_dir {} holds the journal",
                cfg.state_dir.display()
            ));
            j
        }
        Err(e) => {
            problem(&format!("{e:#}"));
            return ExitCode::from(1);
        }
    };
    let rt = match setup::build(cfg, journal, RetryPolicy::once()) {
        Ok(rt) => rt,
        Err(e) => {
            problem(&format!("{e:#}"));
            return ExitCode::from(1);
        }
    };
    match rt.client.ensure_token().await {
        Ok(()) => ok(&format!(
            "got an access token from {}",
            cfg.zoho.accounts_url
        )),
        Err(e) => {
            problem(&format!("no access token: {e}"));
            outln!("         → {}", advice(&e, cfg));
            return ExitCode::from(1);
        }
    }
    match discovery.as_ref().and_then(|d| d.records.first()) {
        Some(rec) => match rt.client.list(&rec.key.module, &rec.key.record_id).await {
            Ok(list) => ok(&format!("listed {}: {} attachments", rec.key, list.len())),
            Err(e) => {
                problem(&format!("listing {} failed: {e}", rec.key));
                outln!("         → {}", advice(&e, cfg));
                failed = true;
            }
        },
        None => outln!(
            "note     no record folder to test a list call with; create <root>/<Module>/<record_id>/ first"
        ),
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
