//! Schema migrations, in the style of atuin: an ordered list of forward-only SQL batches;
//! `PRAGMA user_version` holds how many have been applied. Never edit a released
//! migration, append a new one.

use rusqlite::{Connection, TransactionBehavior};

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "
    CREATE TABLE records (
        module          TEXT    NOT NULL,
        record_id       TEXT    NOT NULL,
        folder_name     TEXT    NOT NULL,
        followed_unix   INTEGER NOT NULL,
        last_poll_unix  INTEGER,
        next_poll_unix  INTEGER NOT NULL,
        idle_polls      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (module, record_id)
    );
    CREATE TABLE entries (
        module          TEXT    NOT NULL,
        record_id       TEXT    NOT NULL,
        local_name      TEXT    NOT NULL,
        attachment_id   TEXT    NOT NULL,
        file_id         TEXT,
        remote_name     TEXT    NOT NULL,
        size            INTEGER NOT NULL,
        hash            TEXT    NOT NULL,
        mtime_ns        INTEGER NOT NULL,
        inode           INTEGER NOT NULL,
        link_url        TEXT,
        PRIMARY KEY (module, record_id, local_name)
    );
    CREATE INDEX entries_attachment ON entries (attachment_id);
    CREATE TABLE failures (
        module             TEXT    NOT NULL,
        record_id          TEXT    NOT NULL,
        subject            TEXT    NOT NULL,
        action             TEXT    NOT NULL,
        message            TEXT    NOT NULL,
        parked             INTEGER NOT NULL,
        attempts           INTEGER NOT NULL,
        next_attempt_unix  INTEGER NOT NULL,
        since_unix         INTEGER NOT NULL,
        PRIMARY KEY (module, record_id, subject)
    );
    CREATE TABLE intents (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        module        TEXT    NOT NULL,
        record_id     TEXT    NOT NULL,
        local_name    TEXT    NOT NULL,
        remote_name   TEXT    NOT NULL,
        size          INTEGER NOT NULL,
        hash          TEXT    NOT NULL,
        created_unix  INTEGER NOT NULL
    );
    CREATE INDEX intents_record ON intents (module, record_id);
    CREATE TABLE token (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        access_token     TEXT    NOT NULL,
        expires_at_unix  INTEGER NOT NULL,
        api_domain       TEXT
    );
    CREATE TABLE meta (
        k TEXT PRIMARY KEY,
        v TEXT NOT NULL
    );
    ",
    // 2: the record folder's fingerprint after its last reconcile that left nothing to
    // do, so that a restart re-checks only the folders that changed meanwhile.
    "
    ALTER TABLE records ADD COLUMN local_fingerprint INTEGER;
    ",
    // 3: downloads reach the disk in one flush per pass instead of an fsync per file;
    // 0 marks a row whose file may not be on disk yet (checked by hash before trusted).
    "
    ALTER TABLE entries ADD COLUMN flushed INTEGER NOT NULL DEFAULT 1;
    ",
    // 4: the file's ctime, so that the hash cache also sees a same-size rewrite that put
    // the old mtime back; 0 (older rows) means unknown.
    "
    ALTER TABLE entries ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;
    ",
    // 5: the boot an unflushed download was written in. Without a reboot since, the page
    // cache still holds what was written, so the row is trusted without waiting for the
    // disk; after one, it is checked by hash. NULL (older rows): checked.
    "
    ALTER TABLE entries ADD COLUMN written_boot TEXT;
    ",
    // 6: attachments deliberately not downloaded (a name the scan ignores, an unsafe
    // link), so that `status` lists them with the reason.
    "
    CREATE TABLE remote_skips (
        module         TEXT NOT NULL,
        record_id      TEXT NOT NULL,
        attachment_id  TEXT NOT NULL,
        remote_name    TEXT NOT NULL,
        reason         TEXT NOT NULL,
        PRIMARY KEY (module, record_id, attachment_id)
    );
    ",
    // 7: API requests and their credits per minute, kind and outcome, for the rolling
    // 24 h budget and `status` (see `credits.rs`).
    "
    CREATE TABLE api_calls (
        minute_unix  INTEGER NOT NULL,
        op           TEXT    NOT NULL,
        outcome      TEXT    NOT NULL,
        calls        INTEGER NOT NULL,
        credits      INTEGER NOT NULL,
        PRIMARY KEY (minute_unix, op, outcome)
    );
    ",
    // 8: records of followed
    // modules: the folder name the daemon gave (NULL for the user's own folder) and the
    // one being given (written before the mkdir/rename, so a crash leaves a name the
    // restart recognises), the last hint value, and archive moves in progress.
    "
    CREATE TABLE follows (
        module        TEXT NOT NULL,
        record_id     TEXT NOT NULL,
        given_name    TEXT,
        pending_name  TEXT,
        hint          TEXT,
        state         TEXT NOT NULL DEFAULT 'active',
        PRIMARY KEY (module, record_id)
    );
    ",
];

/// The schema version this build reads and writes.
pub(super) const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

/// Reads `PRAGMA user_version`.
pub(super) fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies every migration above the file's version, each in its own transaction together
/// with the version bump, so a crash mid-way leaves a consistent, resumable schema. The
/// version is re-read inside each write transaction, so two processes opening the same
/// file at once do not both apply a migration. Returns the version found before migrating.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let found = version(conn)?;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = version(&tx)?;
        let Some(sql) = MIGRATIONS.get(at as usize) else {
            return Ok(found);
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", at + 1)?;
        tx.commit()?;
    }
}
