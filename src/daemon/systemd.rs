//! sd_notify: READY, STATUS and the watchdog. All calls are no-ops outside systemd.

use sd_notify::NotifyState;
use std::time::Duration;

/// Tells systemd the daemon is ready (`READY=1`).
pub fn ready() {
    let _ = sd_notify::notify(&[NotifyState::Ready]);
}

/// Sets the line `systemctl status` shows (`STATUS=`).
pub fn status(line: &str) {
    let _ = sd_notify::notify(&[NotifyState::Status(line)]);
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

/// Tells systemd the daemon is reloading its config (SIGHUP).
pub fn reloading() {
    let _ = sd_notify::notify(&[NotifyState::Reloading]);
}

/// Half the watchdog interval when systemd asked for one (WatchdogSec=).
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

/// Pets the watchdog.
pub fn watchdog() {
    let _ = sd_notify::notify(&[NotifyState::Watchdog]);
}
