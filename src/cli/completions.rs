//! `bigin-sync completions <shell>`: tab completion scripts, generated from the clap
//! definition so they know every command and option `--help` shows.

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

/// Arguments of `bigin-sync completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script of `args.shell` to stdout.
pub fn exec(args: &Args) -> anyhow::Result<()> {
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "bigin-sync", &mut script);
    std::io::stdout()
        .lock()
        .write_all(&script)
        .context("writing the completion script to stdout")
}
