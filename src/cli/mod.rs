//! The command line: `bigin-sync [--config PATH] <command>`.

// First: its `outln!`/`errln!` macros are used by the modules below.
#[macro_use]
mod out;

mod auth;
mod check;
mod completions;
mod credits;
// The demo needs the sandbox; without it `demo` only says how to get it.
#[cfg(feature = "sandbox")]
mod demo;
mod follow;
mod man;
mod once;
mod records;
mod status;
mod verdict;

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
/// The command line.
pub struct Cli {
    /// Config file (default: $BIGIN_SYNC_CONFIG, else /etc/bigin-sync/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
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
    ///
    /// Exit codes: 0 in sync; 1 work pending (actions waiting, failures being
    /// retried); 2 needs a person (parked entries, a conflict copy still on disk, deletes
    /// held back by the delete guard, Zoho refusing the refresh token; also a config
    /// that cannot be loaded); 3 cannot tell (no journal yet, or it cannot be read).
    /// `--json` carries the same verdict ("verdict", "exit_code", "reasons").
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
    /// the browser); the label is the one a followed record's folder carries.
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
    /// Make one record's folder `<id> <label>` now, as the daemon would (the module's
    /// `[[follow]]` label, else its default); an existing folder for that record is kept.
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
    /// Print the manual page (roff), or write all pages into a folder.
    Man(man::Args),
    /// Print a shell completion script (bash: source it, or put it in
    /// /usr/share/bash-completion/completions/bigin-sync).
    Completions(completions::Args),
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
    // Commands that need no config file.
    match &cli.command {
        Command::Demo { dir } => return report(run_demo(dir).await),
        Command::Man(args) => return report(man::exec(args)),
        Command::Completions(args) => return report(completions::exec(args)),
        _ => {}
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
        Command::Status { json } => match status::run(&cfg, json) {
            Ok(verdict) => ExitCode::from(verdict.exit_code()),
            Err(e) => {
                errln!("bigin-sync: {e:#}");
                ExitCode::from(verdict::Verdict::CannotTell.exit_code())
            }
        },
        Command::Check => check::run(&cfg).await,
        Command::Auth { code } => report(auth::run(&cfg, code.as_deref()).await),
        Command::Retry => report(retry(&cfg)),
        Command::Records { module, view, json } => {
            report(records::run(&cfg, &module, view.as_deref(), json).await)
        }
        Command::Follow { module, id } => report(follow::run(&cfg, &module, &id).await),
        Command::Demo { .. } | Command::Man(_) | Command::Completions(_) => ExitCode::SUCCESS,
    }
}

#[cfg(feature = "sandbox")]
async fn run_demo(dir: &std::path::Path) -> anyhow::Result<()> {
    demo::run(dir).await
}

/// A build without the sandbox (the packaged one) says how to get a build with it.
#[cfg(not(feature = "sandbox"))]
async fn run_demo(_dir: &std::path::Path) -> anyhow::Result<()> {
    anyhow::bail!(
        "`demo` is not in this build: it was built without the `sandbox` feature (the \
         embedded fake Zoho), as the packaged binary is. Run it from the source tree, where \
         it is on by default: `cargo run --release -- demo` (or `cargo install --path .`)"
    )
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
