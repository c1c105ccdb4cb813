//! Printing for the commands, whose output often goes to a pipe that closes early
//! (`bigin-sync status | head -1`, `bigin-sync once --dry-run | head`).
//!
//! `println!` panics when stdout is a closed pipe (exit 101 and a panic message). Here a
//! closed stdout ends the command quietly with status 0, as `head` users expect; a closed
//! stderr is ignored, since there is nobody left to tell. Exiting is safe at any point:
//! the daemon lock is an `flock` the kernel drops, and the journal is crash-safe.
//! (The conventional alternative, dying of SIGPIPE, is not used: restoring SIGPIPE's default
//! would also let a write to a closed network socket kill the process.)

use std::fmt;
use std::io::{ErrorKind, Write};

/// `println!` for command output; see the module docs for what a closed stdout does.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out::stdout_line(format_args!($($arg)*))
    };
}

/// `eprintln!` for messages to the user; a closed stderr is ignored instead of panicking.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::out::stderr_line(format_args!($($arg)*))
    };
}

/// Writes one line to stdout. A reader that went away ends the process with status 0;
/// any other failure (a full disk behind `>`) with status 1, so output is never lost silently.
pub(crate) fn stdout_line(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    // Stdout is line-buffered: the newline pushes the line out, so errors show up here.
    match out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            stderr_line(format_args!("bigin-sync: writing the output failed: {e}"));
            std::process::exit(1)
        }
    }
}

/// Writes one line to stderr, ignoring failure.
pub(crate) fn stderr_line(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}
