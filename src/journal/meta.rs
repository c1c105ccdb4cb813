//! The cached access token and small key/value facts (daemon pid, last pass time).

use super::{Journal, Result};
use rusqlite::{OptionalExtension, params};

/// Meta key: the pending work per record (JSON of counts by direction), published by the
/// daemon's scheduler for `status`.
pub const PENDING_META_KEY: &str = "pending";

/// Meta key: the watch state (how folders are watched), written by each daemon start and
/// shown by `status` while the daemon runs.
pub const WATCH_META_KEY: &str = "watch_state";

/// Meta key: the folders under the root that are not followed, with why, as JSON
/// `[[path, reason], …]` (written by discovery, read by `status`).
pub const NOT_FOLLOWED_META_KEY: &str = "not_followed";

impl Journal {
    /// The cached access token: `(access_token, expires_at_unix, api_domain)`.
    pub fn load_token(&self) -> Result<Option<(String, i64, Option<String>)>> {
        self.read("load token", |conn| {
            conn.query_row(
                "SELECT access_token, expires_at_unix, api_domain FROM token WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })
    }

    /// Replaces the cached access token (there is only ever one).
    pub fn store_token(
        &self,
        access_token: &str,
        expires_at_unix: i64,
        api_domain: Option<&str>,
    ) -> Result<()> {
        self.write("store token", |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO token (id, access_token, expires_at_unix, api_domain)
                 VALUES (1, ?1, ?2, ?3)",
                params![access_token, expires_at_unix, api_domain],
            )?;
            Ok(())
        })
    }

    /// Sets a free-form fact for `status` under one of the `*_META_KEY`s of this module.
    pub fn set_meta(&self, k: &str, v: &str) -> Result<()> {
        self.write("set meta", |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
                params![k, v],
            )?;
            Ok(())
        })
    }

    /// Reads a fact set by [`Journal::set_meta`].
    pub fn meta(&self, k: &str) -> Result<Option<String>> {
        self.read("read meta", |conn| {
            conn.query_row("SELECT v FROM meta WHERE k = ?1", [k], |r| r.get(0))
                .optional()
        })
    }
}
