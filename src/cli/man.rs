//! `bigin-sync man`: the manual page, rendered from the same clap definition as `--help`
//! so the two never drift apart.

use anyhow::Context;
use clap::CommandFactory;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `bigin-sync man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write bigin-sync.1 and one page per command (bigin-sync-run.1, …) into this
    /// folder instead of printing bigin-sync(1) to stdout (what the package build does).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints bigin-sync(1), or writes every page into `args.dir`.
pub fn exec(args: &Args) -> anyhow::Result<()> {
    let cmd = super::Cli::command();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .context("rendering the man page")?;
            std::io::stdout()
                .lock()
                .write_all(&page)
                .context("writing the man page to stdout")
        }
    }
}
