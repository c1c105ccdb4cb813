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

use crate::dir_handle::DirHandle;
use reqwest::Method;
use tokio::io::AsyncWriteExt;

use super::client::ZohoClient;
use super::content_disposition::parse_content_disposition;
use super::error::{Op, ZohoError};
use super::request::{Call, Payload};
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
    /// Bytes written.
    pub bytes: u64,
    /// BLAKE3 of the bytes written.
    pub hash: ContentHash,
    /// The name from `Content-Disposition`, when sent.
    pub server_file_name: Option<String>,
}

/// A complete, checked download not yet under its final name: still in memory (small
/// bodies) or in a temp file, which is removed on drop unless persisted.
#[derive(Debug)]
pub struct TempDownload {
    held: Held,
    /// Bytes received.
    pub bytes: u64,
    /// Computed on the way for a streamed body; for one held in memory, when first asked
    /// ([`TempDownload::hash`], usually inside [`TempDownload::persist`] on the blocking
    /// pool), so the async worker that gathered it does not spend the time.
    hash: Option<ContentHash>,
    /// The name from `Content-Disposition`, when sent.
    pub server_file_name: Option<String>,
}

/// Where the content of a [`TempDownload`] is.
#[derive(Debug)]
enum Held {
    /// Not written yet: the temp file is created in `dir` when the body is placed, so
    /// writing and renaming cost one trip to the blocking pool, and a download that is
    /// only compared (an interrupted upload's candidate) never touches the disk.
    Memory { body: Vec<u8>, dir: DirHandle },
    /// A temp file (a large body, streamed) in `dir`; `name` is empty once moved away.
    File { dir: DirHandle, name: String },
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
            Held::File { dir, name } => {
                crate::scan::hash_reader(&mut dir.open_regular(name)?.file)?.0
            }
        };
        self.hash = Some(hash);
        Ok(hash)
    }

    /// The temp file's name in its folder, written first if the body is still in
    /// memory. Blocking.
    fn temp_name(&mut self) -> std::io::Result<(DirHandle, String)> {
        if let Held::Memory { body, dir } = &self.held {
            let name = write_part_file(dir, body)?;
            self.held = Held::File {
                dir: dir.clone(),
                name,
            };
        }
        match &self.held {
            Held::File { dir, name } => Ok((dir.clone(), name.clone())),
            Held::Memory { .. } => Err(std::io::Error::other("download body not written")),
        }
    }

    /// Where the temp file is (written first if the body is still in memory), for
    /// messages and tests. Blocking.
    pub fn temp_path(&mut self) -> std::io::Result<PathBuf> {
        let (dir, name) = self.temp_name()?;
        Ok(dir.display_path(&name))
    }

    /// Moves the content to `dest`, a name in the folder the download was made for,
    /// through a temp file. Blocking. Durability is the caller's: [`TempDownload::sync`]
    /// before, and a folder sync (or a file system flush) after.
    pub fn persist(mut self, dest: &str, mode: Persist) -> std::io::Result<Downloaded> {
        let hash = self.hash()?;
        let (dir, name) = self.temp_name()?;
        match mode {
            Persist::Overwrite => {
                rustix::fs::renameat(dir.as_fd(), name.as_str(), dir.as_fd(), dest)?
            }
            // One atomic step that refuses to replace (or link + unlink where the file
            // system lacks it).
            Persist::NoClobber => dir.rename_noreplace(&name, &dir, dest)?,
        }
        // Nothing left under the temp name; make Drop a no-op.
        self.held = Held::File {
            dir,
            name: String::new(),
        };
        Ok(Downloaded {
            bytes: self.bytes,
            hash,
            server_file_name: self.server_file_name.take(),
        })
    }

    /// Flushes the content to disk (written to its temp file first if needed). Blocking.
    pub fn sync(&mut self) -> std::io::Result<()> {
        let (dir, name) = self.temp_name()?;
        dir.open_regular(&name)?.file.sync_all()
    }
}

impl Drop for TempDownload {
    fn drop(&mut self) {
        if let Held::File { dir, name } = &self.held
            && !name.is_empty()
        {
            let _ = dir.remove_file(name);
        }
    }
}

/// A fresh `.<random>.bigin-sync.part` name.
fn part_name() -> String {
    format!(".{:016x}{}", rand::random::<u64>(), PART_SUFFIX)
}

/// Writes `body` to a new temp file in `dir`; nothing is left behind on failure.
fn write_part_file(dir: &DirHandle, body: &[u8]) -> std::io::Result<String> {
    use std::io::Write;
    let name = part_name();
    let mut file = dir.create_new(&name)?;
    let mut guard = PartGuard {
        dir: dir.clone(),
        name,
    };
    file.write_all(body)?;
    Ok(std::mem::take(&mut guard.name))
}

/// Removes a partial temp file unless disarmed (its name taken).
struct PartGuard {
    dir: DirHandle,
    name: String,
}

impl Drop for PartGuard {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            let _ = self.dir.remove_file(&self.name);
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
        dir: &DirHandle,
    ) -> Result<TempDownload, ZohoError> {
        let call = Call {
            op: Op::Download,
            method: Method::GET,
            url: self.attachments_url(module, record_id, Some(attachment_id))?,
            query: Vec::new(),
            headers: Vec::new(),
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
        let local = |e| local_error(e, attachment_id, expected, dir.path());
        let name = part_name();
        let (d, n) = (dir.clone(), name.clone());
        let file = tokio::task::spawn_blocking(move || d.create_new(&n))
            .await
            .map_err(|e| ZohoError::Io(std::io::Error::other(e)))?
            .map_err(local)?;
        let mut file = tokio::fs::File::from_std(file);
        let mut guard = PartGuard {
            dir: dir.clone(),
            name,
        };
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
            held: Held::File {
                dir: dir.clone(),
                name: std::mem::take(&mut guard.name),
            },
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
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                ZohoError::InvalidArgument(format!("{} is not a file path", dest.display()))
            })?
            .to_owned();
        // The caller names the destination: its folder is trusted as given.
        let dir = tokio::task::spawn_blocking(move || DirHandle::open(&parent))
            .await
            .map_err(|e| ZohoError::Io(std::io::Error::other(e)))??;
        let mut temp = self
            .download_to_temp(module, record_id, attachment_id, &dir)
            .await?;
        tokio::task::spawn_blocking(move || {
            temp.sync()?;
            let done = temp.persist(&name, mode)?;
            // Some file systems refuse a folder fsync; the rename stands regardless.
            let _ = dir.sync();
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
    dir: &DirHandle,
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
            dir: dir.clone(),
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
                dir: DirHandle::open(dir).unwrap(),
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
        let dest = "final.txt";
        let d = temp_in(dir.path(), b"one")
            .persist(dest, Persist::NoClobber)
            .unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(d.hash, ContentHash::of_bytes(b"one"));
        assert_eq!(entries(dir.path()), vec!["final.txt"]);

        let err = temp_in(dir.path(), b"two")
            .persist(dest, Persist::NoClobber)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(dir.path().join(dest)).unwrap(), b"one");
        assert_eq!(
            entries(dir.path()),
            vec!["final.txt"],
            "temp removed after failure"
        );

        temp_in(dir.path(), b"three")
            .persist(dest, Persist::Overwrite)
            .unwrap();
        assert_eq!(std::fs::read(dir.path().join(dest)).unwrap(), b"three");
        assert_eq!(entries(dir.path()), vec!["final.txt"]);

        drop(temp_in(dir.path(), b"dropped"));
        assert_eq!(entries(dir.path()), vec!["final.txt"], "never written");
        let mut spilled = temp_in(dir.path(), b"spilled");
        let part = spilled.temp_path().unwrap();
        assert_eq!(std::fs::read(&part).unwrap(), b"spilled");
        assert_eq!(entries(dir.path()).len(), 2);
        drop(spilled);
        assert_eq!(entries(dir.path()), vec!["final.txt"], "temp file removed");
    }
}
