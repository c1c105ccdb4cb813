//! `GET …/Attachments/{id}`: the raw bytes, held in memory or streamed into a temp file.
//!
//! Zoho sends the bytes with `Content-Disposition: attachment; filename="…"` and/or
//! `filename*=UTF-8''…`. A JSON error (e.g. 400 `DOWNLOAD_NOT_ALLOWED` for a link) is told
//! from content by status and `Content-Type`, and is never written as the file. A 204 means
//! no such attachment and is never turned into an empty file.
//!
//! The bytes are counted against `Content-Length` and hashed with BLAKE3 (a streamed body
//! on the way, a small one when placed). A small body stays in memory until it is placed;
//! a large one streams to
//! `.<random>.bigin-sync.part` in the destination folder. Either way it reaches its final
//! name by a rename from such a temp file (same file system), so a half-written file never
//! appears under a real name. Dropping a [`TempDownload`] removes its temp file.
//!
//! [`ZohoClient::download_to_temp`] does not fsync: the sync engine records its downloads
//! as unflushed and flushes the file system once, later (see `executor::flush`), instead
//! of two fsyncs per file. [`ZohoClient::download`], the one-file call, fsyncs the file
//! and its folder.

use std::path::{Path, PathBuf};

use reqwest::Method;
use tokio::io::AsyncWriteExt;

use super::client::{Call, Payload, ZohoClient};
use super::content_disposition::parse_content_disposition;
use super::error::{Op, ZohoError};
use crate::model::ContentHash;

/// Suffix of in-progress downloads; the scanner ignores such files.
pub const PART_SUFFIX: &str = ".bigin-sync.part";
/// A 200 reply labelled JSON is buffered up to this size to see whether it is an error.
const JSON_SNIFF_LIMIT: usize = 1024 * 1024;
/// Bodies with a `Content-Length` up to this size are gathered in memory and written in
/// one go; larger ones are streamed to disk (memory stays flat for any file size).
const IN_MEMORY_DOWNLOAD: u64 = 1024 * 1024;

/// How [`TempDownload::persist`] treats an existing file at the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persist {
    /// Atomically replace it (rename).
    Overwrite,
    /// Fail with `AlreadyExists` if it exists (hard link, then unlink the temp file),
    /// so a file the user created meanwhile is never clobbered.
    NoClobber,
}

/// A finished download under its final name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: u64,
    pub hash: ContentHash,
    /// The name from `Content-Disposition`, when sent.
    pub server_file_name: Option<String>,
}

/// A complete, checked download not yet under its final name: still in memory (small
/// bodies) or in a temp file, which is removed on drop unless persisted.
#[derive(Debug)]
pub struct TempDownload {
    held: Held,
    pub bytes: u64,
    /// Computed on the way for a streamed body; for one held in memory, when first asked
    /// ([`TempDownload::hash`], usually inside [`TempDownload::persist`] on the blocking
    /// pool), so the async worker that gathered it does not spend the time.
    hash: Option<ContentHash>,
    pub server_file_name: Option<String>,
}

/// Where the content of a [`TempDownload`] is.
#[derive(Debug)]
enum Held {
    /// Not written yet: the temp file is created in `dir` when the body is placed, so
    /// writing and renaming cost one trip to the blocking pool, and a download that is
    /// only compared (an interrupted upload's candidate) never touches the disk.
    Memory { body: Vec<u8>, dir: PathBuf },
    /// A temp file (a large body, streamed); empty once moved away.
    File(PathBuf),
}

impl TempDownload {
    /// The content's BLAKE3 hash. May hash the body (up to 1 MiB) or, in theory, read
    /// the temp file: call it off the async workers when it matters.
    pub fn hash(&mut self) -> std::io::Result<ContentHash> {
        if let Some(hash) = self.hash {
            return Ok(hash);
        }
        let hash = match &self.held {
            Held::Memory { body, .. } => ContentHash::of_bytes(body),
            Held::File(path) => crate::scan::hash_file(path)?.0,
        };
        self.hash = Some(hash);
        Ok(hash)
    }

    /// The temp file, written first if the body is still in memory. Blocking.
    pub fn temp_path(&mut self) -> std::io::Result<&Path> {
        if let Held::Memory { body, dir } = &self.held {
            let path = write_part_file(dir, body)?;
            self.held = Held::File(path);
        }
        match &self.held {
            Held::File(path) => Ok(path),
            Held::Memory { .. } => Err(std::io::Error::other("download body not written")),
        }
    }

    /// Moves the content to `dest` (same folder or file system), through a temp file.
    /// Blocking. Durability is the caller's: [`TempDownload::sync`] before, and a folder
    /// sync (or a file system flush) after.
    pub fn persist(mut self, dest: &Path, mode: Persist) -> std::io::Result<Downloaded> {
        let hash = self.hash()?;
        let path = self.temp_path()?.to_path_buf();
        match mode {
            Persist::Overwrite => std::fs::rename(&path, dest)?,
            Persist::NoClobber => match rename_noreplace(&path, dest) {
                // One atomic step that refuses to replace: nothing left to unlink.
                Ok(()) => self.held = Held::File(PathBuf::new()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(e),
                // Kernels or file systems without RENAME_NOREPLACE: link, then unlink.
                Err(_) => self.persist_by_link(&path, dest)?,
            },
        }
        let done = Downloaded {
            bytes: self.bytes,
            hash,
            server_file_name: self.server_file_name.take(),
        };
        if mode == Persist::Overwrite {
            // Nothing left under the temp name; make Drop a no-op.
            self.held = Held::File(PathBuf::new());
        }
        // (NoClobber by link: Drop unlinks the temp name, the data stays under `dest`.)
        Ok(done)
    }

    /// Flushes the content to disk (written to its temp file first if needed). Blocking.
    pub fn sync(&mut self) -> std::io::Result<()> {
        std::fs::File::open(self.temp_path()?)?.sync_all()
    }

    /// No-clobber placement where `renameat2` is unavailable.
    fn persist_by_link(&mut self, path: &Path, dest: &Path) -> std::io::Result<()> {
        match std::fs::hard_link(path, dest) {
            // Drop removes the temp name below; the content lives on under `dest`.
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(e),
            // File systems without hard links (FAT, some FUSE mounts): check, then
            // rename. A file created in between would be replaced; that window is tiny.
            Err(_) => {
                if std::fs::symlink_metadata(dest).is_ok() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        format!("{} exists", dest.display()),
                    ));
                }
                std::fs::rename(path, dest)?;
                self.held = Held::File(PathBuf::new());
            }
        }
        Ok(())
    }
}

/// `rename` that fails with `AlreadyExists` instead of replacing `to` (Linux
/// `renameat2(RENAME_NOREPLACE)`): a file the user created meanwhile is never overwritten.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let from = std::ffi::CString::new(from.as_os_str().as_bytes())?;
    let to = std::ffi::CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl Drop for TempDownload {
    fn drop(&mut self) {
        if let Held::File(path) = &self.held
            && !path.as_os_str().is_empty()
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A fresh `.<random>.bigin-sync.part` path in `dir`.
fn part_path(dir: &Path) -> PathBuf {
    dir.join(format!(".{:016x}{}", rand::random::<u64>(), PART_SUFFIX))
}

/// Writes `body` to a new temp file in `dir`; nothing is left behind on failure.
fn write_part_file(dir: &Path, body: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let path = part_path(dir);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let mut guard = PartGuard(path);
    file.write_all(body)?;
    Ok(std::mem::take(&mut guard.0))
}

/// Makes a rename durable; failures are ignored (some file systems refuse dir fsync).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes a partial temp file unless disarmed.
struct PartGuard(PathBuf);

impl Drop for PartGuard {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

impl ZohoClient {
    /// Downloads an attachment, checked but not written yet (small) or in a temp file in
    /// `dir` (large); not fsynced (see the module doc).
    pub async fn download_to_temp(
        &self,
        module: &str,
        record_id: &str,
        attachment_id: &str,
        dir: &Path,
    ) -> Result<TempDownload, ZohoError> {
        let call = Call {
            op: Op::Download,
            method: Method::GET,
            url: self.attachments_url(module, record_id, Some(attachment_id))?,
            query: Vec::new(),
            payload: Payload::Empty,
        };
        let reply = self.send(&call).await?;
        let mut resp = reply.resp;
        let status = resp.status().as_u16();
        if status == 204 {
            return Err(ZohoError::MissingAttachment {
                id: attachment_id.to_owned(),
            });
        }
        if !(200..300).contains(&status) {
            return Err(self.read_error(Op::Download, resp).await);
        }
        let expected = resp.content_length();
        let server_file_name = resp
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| parse_content_disposition(v.as_bytes()));
        let is_json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));

        // Zoho answers some errors with 200 + JSON: look before writing anything.
        let mut prefix = Vec::new();
        if is_json && expected.is_none_or(|n| n <= JSON_SNIFF_LIMIT as u64) {
            while let Some(chunk) =
                next_chunk(&mut resp, attachment_id, self.inner.cfg.timeout).await?
            {
                prefix.extend_from_slice(&chunk);
                if prefix.len() > JSON_SNIFF_LIMIT {
                    break;
                }
            }
            if is_error_shape(&prefix) {
                return Err(super::error::api_error(
                    Op::Download,
                    self.product(),
                    status,
                    None,
                    &prefix,
                ));
            }
        }

        if expected.is_some_and(|n| n <= IN_MEMORY_DOWNLOAD) {
            return small_in_memory(
                resp,
                attachment_id,
                expected,
                prefix,
                dir,
                server_file_name,
                self.inner.cfg.timeout,
            )
            .await;
        }
        let local = |e| local_error(e, attachment_id, expected, dir);
        let path = part_path(dir);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(local)?;
        let mut guard = PartGuard(path);
        let mut hasher = blake3::Hasher::new();
        let mut bytes: u64 = 0;
        if !prefix.is_empty() {
            hasher.update(&prefix);
            file.write_all(&prefix).await.map_err(local)?;
            bytes += prefix.len() as u64;
        }
        while let Some(chunk) = next_chunk(&mut resp, attachment_id, self.inner.cfg.timeout).await?
        {
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(local)?;
            bytes += chunk.len() as u64;
        }
        check_length(expected, bytes, attachment_id)?;
        file.flush().await.map_err(local)?;
        drop(file);
        Ok(TempDownload {
            held: Held::File(std::mem::take(&mut guard.0)),
            bytes,
            hash: Some(ContentHash(*hasher.finalize().as_bytes())),
            server_file_name,
        })
    }

    /// Downloads an attachment to `dest` via a temp file in `dest`'s folder.
    pub async fn download(
        &self,
        module: &str,
        record_id: &str,
        attachment_id: &str,
        dest: &Path,
        mode: Persist,
    ) -> Result<Downloaded, ZohoError> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = self
            .download_to_temp(module, record_id, attachment_id, &dir)
            .await?;
        let dest = dest.to_path_buf();
        let mut temp = temp;
        tokio::task::spawn_blocking(move || {
            temp.sync()?;
            let done = temp.persist(&dest, mode)?;
            if let Some(parent) = dest.parent() {
                sync_dir(parent);
            }
            Ok(done)
        })
        .await
        .map_err(|e| ZohoError::Io(std::io::Error::other(e)))?
        .map_err(ZohoError::Io)
    }
}

/// A body small enough to hold is gathered and hashed in memory; it is written only
/// when placed ([`TempDownload::persist`]), so a small download costs one trip to the
/// blocking pool instead of one per chunk plus one for the rename.
async fn small_in_memory(
    mut resp: reqwest::Response,
    attachment_id: &str,
    expected: Option<u64>,
    mut body: Vec<u8>,
    dir: &Path,
    server_file_name: Option<String>,
    timeout: std::time::Duration,
) -> Result<TempDownload, ZohoError> {
    while let Some(chunk) = next_chunk(&mut resp, attachment_id, timeout).await? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > IN_MEMORY_DOWNLOAD {
            break;
        }
    }
    let bytes = body.len() as u64;
    check_length(expected, bytes, attachment_id)?;
    Ok(TempDownload {
        hash: None,
        held: Held::Memory {
            body,
            dir: dir.to_path_buf(),
        },
        bytes,
        server_file_name,
    })
}

/// A local write error. A full disk names the space the download needs, so the one
/// warning logged before it is retried tells what to free.
fn local_error(e: std::io::Error, id: &str, needed: Option<u64>, dir: &Path) -> ZohoError {
    if !super::error::is_disk_full(&e) {
        return ZohoError::Io(e);
    }
    let needed = needed.map_or_else(
        || "more space than is".to_owned(),
        |n| format!("{n} bytes ({:.1} MiB)", n as f64 / (1024.0 * 1024.0)),
    );
    ZohoError::Io(std::io::Error::new(
        e.kind(),
        format!(
            "{e}: attachment {id} needs {needed} free in {}",
            dir.display()
        ),
    ))
}

/// A body shorter (or longer) than its `Content-Length` is never kept.
fn check_length(expected: Option<u64>, got: u64, id: &str) -> Result<(), ZohoError> {
    match expected {
        Some(expected) if expected != got => Err(ZohoError::Truncated {
            id: id.to_owned(),
            expected,
            got,
        }),
        _ => Ok(()),
    }
}

/// A body chunk; a broken body (connection cut) is a retryable network error, and no
/// byte for `timeout` a retryable timeout.
async fn next_chunk(
    resp: &mut reqwest::Response,
    id: &str,
    timeout: std::time::Duration,
) -> Result<Option<bytes::Bytes>, ZohoError> {
    super::transfer::next_chunk(resp, Op::Download, timeout)
        .await
        .map_err(|mut err| {
            if let ZohoError::Network { message, .. } = &mut err {
                message.insert_str(0, &format!("attachment {id}: "));
            }
            err
        })
}

/// Zoho's error shapes: `{"code":…,"status":"error"}` or `{"data":[{…,"status":"error"}]}`.
fn is_error_shape(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let obj = if v.get("code").is_some() {
        &v
    } else {
        match v.get("data").and_then(|d| d.get(0)) {
            Some(o) => o,
            None => return false,
        }
    };
    obj.get("code").is_some_and(|c| c.is_string())
        && obj.get("status").and_then(|s| s.as_str()) == Some("error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shapes() {
        assert!(is_error_shape(
            br#"{"code":"DOWNLOAD_NOT_ALLOWED","details":{},"message":"m","status":"error"}"#
        ));
        assert!(is_error_shape(
            br#"{"data":[{"code":"INVALID_DATA","details":{},"message":"m","status":"error"}]}"#
        ));
        assert!(!is_error_shape(br#"{"code":"x","status":"ok"}"#));
        assert!(!is_error_shape(br#"{"name":"a user's json file"}"#));
        assert!(!is_error_shape(b"not json"));
    }

    fn temp_in(dir: &Path, content: &[u8]) -> TempDownload {
        TempDownload {
            held: Held::Memory {
                body: content.to_vec(),
                dir: dir.to_path_buf(),
            },
            bytes: content.len() as u64,
            hash: None,
            server_file_name: Some("n".into()),
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn persist_modes_and_drop() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("final.txt");
        let d = temp_in(dir.path(), b"one")
            .persist(&dest, Persist::NoClobber)
            .unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(d.hash, ContentHash::of_bytes(b"one"));
        assert_eq!(entries(dir.path()), vec!["final.txt"]);

        let err = temp_in(dir.path(), b"two")
            .persist(&dest, Persist::NoClobber)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"one");
        assert_eq!(
            entries(dir.path()),
            vec!["final.txt"],
            "temp removed after failure"
        );

        temp_in(dir.path(), b"three")
            .persist(&dest, Persist::Overwrite)
            .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"three");
        assert_eq!(entries(dir.path()), vec!["final.txt"]);

        drop(temp_in(dir.path(), b"dropped"));
        assert_eq!(entries(dir.path()), vec!["final.txt"], "never written");
        let mut spilled = temp_in(dir.path(), b"spilled");
        let part = spilled.temp_path().unwrap().to_path_buf();
        assert_eq!(std::fs::read(&part).unwrap(), b"spilled");
        assert_eq!(entries(dir.path()).len(), 2);
        drop(spilled);
        assert_eq!(entries(dir.path()), vec!["final.txt"], "temp file removed");
    }
}
