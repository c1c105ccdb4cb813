//! The command line: `bigin-sync [--config PATH] <command>`.

// First: its `outln!`/`errln!` macros are used by the modules below.
#[macro_use]
mod out;

mod auth;
mod check;
mod demo;
mod follow;
mod once;
mod records;
mod status;

use crate::config::{self, Config};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "bigin-sync",
    version,
    about = "Two-way sync between folders and Zoho Bigin / CRM record attachments"
)]
pub struct Cli {
    /// Config file (default: $BIGIN_SYNC_CONFIG, else /etc/bigin-sync/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground (what systemd starts).
    Run,
    /// One full pass: scan, poll every followed record, execute until nothing is left.
    /// Exits 0 when in sync, 1 when entries remain in error.
    Once {
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Carry out deletes even when they exceed sync.max_delete_percent.
        #[arg(long)]
        confirm_deletes: bool,
    },
    /// Show the sync state from the journal (works while the daemon runs).
    Status {
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate the config, get a token, list one record, and say what is wrong.
    Check,
    /// Exchange a self-client grant code for a refresh token (written to refresh_token_file).
    Auth {
        /// The grant code from Zoho's API console (Self Client → Generate Code).
        #[arg(long)]
        code: Option<String>,
    },
    /// Clear parked and backing-off entries so the next pass tries them again.
    Retry,
    /// List a module's records, one line each: id and label (finds a record id without
    /// the browser).
    Records {
        /// Module API name (Pipelines, Contacts, ...) or alias (Companies).
        module: String,
        /// Only the records of this custom view (its cvid).
        #[arg(long, value_name = "ID")]
        view: Option<String>,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make one record's folder `<id> <label>` now (its module's default label); an
    /// existing folder for that record is kept.
    Follow {
        /// Module API name (Pipelines, Contacts, ...) or alias (Companies).
        module: String,
        /// The record id (19 digits; `records MODULE` lists them).
        id: String,
    },
    /// Start an embedded fake Zoho with sample records and run the daemon against it.
    Demo {
        /// Where to put the demo's folders, config and state.
        #[arg(long, default_value = "bigin-demo")]
        dir: PathBuf,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("bigin-sync: cannot start the async runtime: {e}");
            return ExitCode::from(70);
        }
    };
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> ExitCode {
    if let Command::Demo { dir } = &cli.command {
        return report(demo::run(dir).await);
    }
    let path = config::resolve_config_path(cli.config.as_deref());
    let cfg = match config::load(&path) {
        Ok(cfg) => cfg,
        Err(e) => {
            errln!("bigin-sync: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Run => {
            init_logging(&cfg);
            report(crate::daemon::run(cfg, tokio_util::sync::CancellationToken::new()).await)
        }
        Command::Once {
            dry_run,
            confirm_deletes,
        } => {
            init_logging(&cfg);
            match once::run(&cfg, dry_run, confirm_deletes).await {
                Ok(code) => code,
                Err(e) => report(Err(e)),
            }
        }
        Command::Status { json } => report(status::run(&cfg, json)),
        Command::Check => check::run(&cfg).await,
        Command::Auth { code } => report(auth::run(&cfg, code.as_deref()).await),
        Command::Retry => report(retry(&cfg)),
        Command::Records { module, view, json } => {
            report(records::run(&cfg, &module, view.as_deref(), json).await)
        }
        Command::Follow { module, id } => report(follow::run(&cfg, &module, &id).await),
        Command::Demo { .. } => ExitCode::SUCCESS,
    }
}

fn init_logging(cfg: &Config) {
    crate::daemon::logging::init(cfg.log_format, &cfg.log_level);
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("bigin-sync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn retry(cfg: &Config) -> anyhow::Result<()> {
    let journal = crate::daemon::setup::open_journal(cfg)?;
    let failures = journal.all_failures()?;
    for (key, f) in &failures {
        journal.clear_failure(key, &f.subject)?;
    }
    outln!(
        "cleared {} failing entries; the next pass retries them",
        failures.len()
    );
    Ok(())
}
