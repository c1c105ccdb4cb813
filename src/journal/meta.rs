//! The cached access token and small key/value facts shared between the daemon and
//! `status` (pending work, watch state, folders not followed, delete guard, refused
//! credentials, Zoho's upload limit, remote changes by hint or poll): every key is one of the `*_META_KEY` constants below.

use super::{Journal, Result};
use crate::model::RecordKey;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Meta key: the pending work per record (JSON of counts by direction), published by the
/// daemon's scheduler for `status`.
pub const PENDING_META_KEY: &str = "pending";

/// Meta key: the watch state (how folders are watched), written by each daemon start and
/// shown by `status` while the daemon runs.
pub const WATCH_META_KEY: &str = "watch_state";

/// Meta key: the folders under the root that are not followed, with why, as JSON
/// `[[path, reason], …]` (written by discovery, read by `status`).
pub const NOT_FOLLOWED_META_KEY: &str = "not_followed";

/// Meta key: the records whose deletes the delete guard holds back, as JSON
/// `{"<Module>/<record>": {"since_unix": …, "deletes": …}}` (written by each pass, read by
/// `status`). A record leaves it when a pass over it has no held-back delete.
pub const DELETE_GUARD_META_KEY: &str = "delete_guard";

/// Meta key: Zoho refused the refresh token, as JSON [`AuthFailure`] (written when a
/// token grant is refused, removed by the next grant that works; read by `status`).
pub const AUTH_FAILURE_META_KEY: &str = "auth_failure";

/// Meta key: the per-file upload limit Zoho stated in its first
/// `FILE_SIZE_MORE_THAN_ALLOWED` reply (Bigin publishes none), in bytes.
pub const UPLOAD_LIMIT_META_KEY: &str = "zoho_upload_limit";

/// Meta key: remote changes found through a follow hint vs by a scheduled poll, as JSON
/// [`crate::follow::RemoteChangeCounts`] (written by the daemon, read by `status`).
pub const REMOTE_CHANGES_META_KEY: &str = "remote_changes";

/// One record whose deletes the delete guard held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardTrip {
    /// When the guard first held this record's deletes back.
    pub since_unix: i64,
    /// How many deletes the last pass over it held back.
    pub deletes: u64,
}

/// The delete guard's held-back records, keyed by `<Module>/<record>`.
pub type GuardTrips = BTreeMap<String, GuardTrip>;

/// Zoho refused the OAuth credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFailure {
    /// When it was first refused.
    pub since_unix: i64,
    /// Zoho's reason (an error code such as `invalid_code`; never a secret).
    pub reason: String,
}

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

    /// Removes a fact set by [`Journal::set_meta`] (nothing when it is not there).
    pub fn clear_meta(&self, k: &str) -> Result<()> {
        self.write("clear meta", |tx| {
            tx.execute("DELETE FROM meta WHERE k = ?1", [k])?;
            Ok(())
        })
    }

    /// The records whose deletes the delete guard holds back (empty when the fact is
    /// missing or unreadable).
    pub fn delete_guard_trips(&self) -> Result<GuardTrips> {
        Ok(self
            .meta(DELETE_GUARD_META_KEY)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default())
    }

    /// Notes what the delete guard did in one pass: every record in `passed` had no
    /// delete held back (it leaves the list), every one in `tripped` had that many held
    /// back (it joins, keeping its first `since_unix`). Read and written in one
    /// transaction, as passes over different records end concurrently; nothing is
    /// written when nothing changes.
    pub fn note_delete_guard(
        &self,
        passed: &[RecordKey],
        tripped: &[(RecordKey, u64)],
        now_unix: i64,
    ) -> Result<()> {
        let apply = |old: &GuardTrips| {
            let mut new = old.clone();
            for key in passed {
                new.remove(&key.to_string());
            }
            for (key, deletes) in tripped {
                let since_unix = old.get(&key.to_string()).map_or(now_unix, |t| t.since_unix);
                let trip = GuardTrip {
                    since_unix,
                    deletes: *deletes,
                };
                new.insert(key.to_string(), trip);
            }
            new
        };
        // Every pass comes here: the usual "nothing changes" costs one read, not a write
        // lock.
        let seen = self.delete_guard_trips()?;
        if apply(&seen) == seen {
            return Ok(());
        }
        self.write("note delete guard", |tx| {
            let old: GuardTrips = tx
                .query_row(
                    "SELECT v FROM meta WHERE k = ?1",
                    [DELETE_GUARD_META_KEY],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default();
            let new = apply(&old);
            if new == old {
                return Ok(());
            }
            if new.is_empty() {
                tx.execute("DELETE FROM meta WHERE k = ?1", [DELETE_GUARD_META_KEY])?;
            } else {
                let json = serde_json::to_string(&new)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                tx.execute(
                    "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
                    params![DELETE_GUARD_META_KEY, json],
                )?;
            }
            Ok(())
        })
    }

    /// Whether Zoho refuses the refresh token, and since when.
    pub fn auth_failure(&self) -> Result<Option<AuthFailure>> {
        Ok(self
            .meta(AUTH_FAILURE_META_KEY)?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Notes that Zoho refused the refresh token (`Some(reason)`), or that a grant
    /// worked (`None`). A refusal keeps the time of the first one.
    pub fn note_auth(&self, refused: Option<&str>, now_unix: i64) -> Result<()> {
        let Some(reason) = refused else {
            return self.clear_meta(AUTH_FAILURE_META_KEY);
        };
        let since_unix = self.auth_failure()?.map_or(now_unix, |f| f.since_unix);
        let failure = AuthFailure {
            since_unix,
            reason: reason.to_string(),
        };
        let json = serde_json::to_string(&failure).unwrap_or_default();
        self.set_meta(AUTH_FAILURE_META_KEY, &json)
    }

    /// Reads a fact set by [`Journal::set_meta`].
    pub fn meta(&self, k: &str) -> Result<Option<String>> {
        self.read("read meta", |conn| {
            conn.query_row("SELECT v FROM meta WHERE k = ?1", [k], |r| r.get(0))
                .optional()
        })
    }
}
