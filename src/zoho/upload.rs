//! `POST …/Attachments` (multipart/form-data): part `file` for a file, or
//! `attachmentUrl` + `title` for a link — never both in one call. The reply is
//! `{"data":[{"code":"SUCCESS","details":{"id":"…","Created_Time":"…",…},"message":"attachment uploaded successfully","status":"success"}]}`.
//!
//! Files are streamed from disk with their length declared, so the request carries a
//! `Content-Length` and memory use does not grow with the file.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tokio_util::io::ReaderStream;

use super::client::ZohoClient;
use super::error::{Op, ZohoError};
use super::request::{Call, FileForm, Payload};
use super::transfer::{Progress, read_reply};
use crate::dir_handle::DirHandle;
use crate::model::Stat;

/// Size of the chunks read from disk while uploading.
const UPLOAD_CHUNK: usize = 64 * 1024;

/// What Zoho assigned to a new attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    /// The new attachment id.
    pub id: String,
    /// `Created_Time` from the reply, when sent.
    pub created_time: Option<String>,
}

/// Files up to this size are read in one go and sent from memory: one trip to the
/// blocking pool instead of one per chunk, which is most of the cost of a small upload.
/// With `zoho.concurrency` uploads at once this bounds the memory held to a few MiB.
const IN_MEMORY_UPLOAD: u64 = 1024 * 1024;

/// The file to send: small ones read whole, larger ones opened for streaming.
enum Source {
    Read(Vec<u8>),
    Stream(std::fs::File, u64),
}

/// Where an upload's bytes come from: a file in a folder, opened through the folder's
/// handle (never through a link, never a FIFO or a device) each time the request is
/// built, and, when `scanned` is set, only while it is still the version that was
/// scanned: a file swapped or rewritten between the scan and a send (or between two
/// retries) fails with the "changed" error of [`crate::dir_handle::is_changed`] instead
/// of sending what is there now.
#[derive(Clone, Debug)]
pub struct UploadSource {
    /// The folder.
    pub dir: DirHandle,
    /// The file's name in it.
    pub name: String,
    /// The stat the scan saw; `None` sends whatever regular file is there.
    pub scanned: Option<Stat>,
}

impl UploadSource {
    /// The file at `path`, whatever version it is (for callers that name a file
    /// themselves, like tests and one-off commands); its folder is trusted as given.
    pub fn at(path: &Path) -> std::io::Result<UploadSource> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a file path", path.display()),
            )
        })?;
        Ok(UploadSource {
            dir: DirHandle::open(dir)?,
            name: name.to_owned(),
            scanned: None,
        })
    }

    /// Opens the file (see the type's doc). Blocking.
    fn open(&self) -> std::io::Result<std::fs::File> {
        let opened = match &self.scanned {
            Some(scanned) => self.dir.open_scanned(&self.name, scanned)?,
            None => self.dir.open_regular(&self.name)?,
        };
        Ok(opened.file)
    }
}

/// Builds the multipart form with the file from `source` (read whole when small, else
/// streamed); returns it with the progress of its bytes, which the request watches for
/// silence. Opened afresh for each send, so a resend after a token refresh works, and is
/// checked again each time.
async fn file_form(
    source: &UploadSource,
    file_name: &str,
) -> Result<(Form, Arc<Progress>), ZohoError> {
    let source = source.clone();
    let source = tokio::task::spawn_blocking(move || -> std::io::Result<Source> {
        use std::io::Read;
        let mut file = source.open()?;
        let len = file.metadata()?.len();
        if len > IN_MEMORY_UPLOAD {
            return Ok(Source::Stream(file, len));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)?;
        Ok(Source::Read(bytes))
    })
    .await
    .map_err(|e| ZohoError::Io(std::io::Error::other(e)))??;
    let len = match &source {
        Source::Read(bytes) => bytes.len() as u64,
        Source::Stream(_, len) => *len,
    };
    // Both kinds go out in chunks that count as progress, so a slow link is told from
    // a stalled one whatever the size.
    let progress = Progress::new(len);
    let body = match source {
        Source::Read(bytes) => {
            let bytes = Bytes::from(bytes);
            let chunks: Vec<std::io::Result<Bytes>> = (0..bytes.len())
                .step_by(UPLOAD_CHUNK)
                .map(|at| Ok(bytes.slice(at..(at + UPLOAD_CHUNK).min(bytes.len()))))
                .collect();
            reqwest::Body::wrap_stream(progress.track(futures_util::stream::iter(chunks)))
        }
        Source::Stream(file, _) => {
            let file = tokio::fs::File::from_std(file);
            reqwest::Body::wrap_stream(
                progress.track(ReaderStream::with_capacity(file, UPLOAD_CHUNK)),
            )
        }
    };
    let part = Part::stream_with_length(body, len)
        .file_name(file_name.to_owned())
        .mime_str("application/octet-stream")
        .map_err(|e| ZohoError::InvalidArgument(format!("mime type: {e}")))?;
    Ok((Form::new().part("file", part), progress))
}

/// The body of a file upload, as the client's request path asks for it on each send.
struct FileUpload<'a> {
    source: &'a UploadSource,
    file_name: &'a str,
}

impl FileForm for FileUpload<'_> {
    fn form(
        &self,
    ) -> futures_util::future::BoxFuture<'_, Result<(Form, Arc<Progress>), ZohoError>> {
        Box::pin(file_form(self.source, self.file_name))
    }
}

impl ZohoClient {
    /// Uploads the file at `path` as `file_name` (see [`UploadSource::at`]).
    pub async fn upload_file(
        &self,
        module: &str,
        record_id: &str,
        path: &Path,
        file_name: &str,
    ) -> Result<Uploaded, ZohoError> {
        let p = path.to_path_buf();
        let source = tokio::task::spawn_blocking(move || UploadSource::at(&p))
            .await
            .map_err(|e| ZohoError::Io(std::io::Error::other(e)))??;
        self.upload_from(module, record_id, &source, file_name)
            .await
    }

    /// Uploads the file `source` names as `file_name`. If this fails with
    /// [`ZohoError::outcome_unknown`], Zoho may have stored it: list before retrying.
    pub async fn upload_from(
        &self,
        module: &str,
        record_id: &str,
        source: &UploadSource,
        file_name: &str,
    ) -> Result<Uploaded, ZohoError> {
        if file_name.is_empty() {
            return Err(ZohoError::InvalidArgument("empty file name".into()));
        }
        let body = FileUpload { source, file_name };
        let call = Call {
            op: Op::Upload,
            method: Method::POST,
            url: self.attachments_url(module, record_id, None)?,
            query: Vec::new(),
            headers: Vec::new(),
            payload: Payload::File(&body),
        };
        self.finish_upload(&call).await
    }

    /// Adds a link attachment (`attachmentUrl`) titled `title`.
    pub async fn upload_link(
        &self,
        module: &str,
        record_id: &str,
        url: &str,
        title: &str,
    ) -> Result<Uploaded, ZohoError> {
        if url.is_empty() {
            return Err(ZohoError::InvalidArgument("empty link URL".into()));
        }
        let call = Call {
            op: Op::Upload,
            method: Method::POST,
            url: self.attachments_url(module, record_id, None)?,
            query: Vec::new(),
            headers: Vec::new(),
            payload: Payload::Link { url, title },
        };
        self.finish_upload(&call).await
    }

    async fn finish_upload(&self, call: &Call<'_>) -> Result<Uploaded, ZohoError> {
        let reply = self.send(call).await?;
        let status = reply.resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self.read_error(Op::Upload, reply.resp).await);
        }
        // The request went through: a reply cut off now leaves the attachment possibly
        // stored, which `read_reply` reports as `outcome_unknown` for uploads.
        let body = read_reply(reply.resp, Op::Upload, self.inner.cfg.timeout).await?;
        parse_upload_reply(status, &body, self.product())
    }
}

/// Reads `data[0]` of an upload reply: SUCCESS with `details.id`, or Zoho's error.
pub(crate) fn parse_upload_reply(
    status: u16,
    body: &[u8],
    product: crate::model::Product,
) -> Result<Uploaded, ZohoError> {
    let bad = |m: String| ZohoError::InvalidResponse {
        op: Op::Upload,
        message: m,
    };
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("body is not JSON: {e}")))?;
    let first = v
        .get("data")
        .and_then(|d| d.get(0))
        .ok_or_else(|| bad("no data[0] in upload reply".into()))?;
    let code = first
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if code != "SUCCESS" {
        return Err(super::error::api_error(
            Op::Upload,
            product,
            status,
            None,
            body,
        ));
    }
    let details = first.get("details");
    let id = match details.and_then(|d| d.get("id")) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(bad("upload reply has no details.id".into())),
    };
    let created_time = details
        .and_then(|d| d.get("Created_Time"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Uploaded { id, created_time })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Product;

    #[test]
    fn seed_reply_parses() {
        let body = br#"{"data":[{"code":"SUCCESS","details":{"Modified_Time":"2021-05-03T18:03:00+05:30","Modified_By":{"name":"Patricia Boyle","id":"4150868000000225013"},"Created_Time":"2021-05-03T18:03:00+05:30","id":"4150868000005277036","Created_By":{"name":"Patricia Boyle","id":"4150868000000225013"}},"message":"attachment uploaded successfully","status":"success"}]}"#;
        let u = parse_upload_reply(200, body, Product::Crm).unwrap();
        assert_eq!(u.id, "4150868000005277036");
        assert_eq!(u.created_time.as_deref(), Some("2021-05-03T18:03:00+05:30"));
    }

    #[test]
    fn non_success_and_malformed_replies() {
        let e = parse_upload_reply(
            200,
            br#"{"data":[{"code":"INVALID_DATA","details":{},"message":"both given","status":"error"}]}"#,
            Product::Bigin,
        )
        .unwrap_err();
        assert_eq!(e.code(), Some("INVALID_DATA"));
        for body in [
            &b"nope"[..],
            br#"{"data":[]}"#,
            br#"{"data":[{"code":"SUCCESS","details":{}}]}"#,
        ] {
            assert!(matches!(
                parse_upload_reply(200, body, Product::Bigin),
                Err(ZohoError::InvalidResponse { .. })
            ));
        }
    }

    use std::path::Path;

    #[tokio::test]
    async fn file_form_declares_the_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        std::fs::write(&p, vec![7u8; 1000]).unwrap();
        let at = |p: &Path| UploadSource::at(p).unwrap();
        let (_form, progress) = file_form(&at(&p), "a.bin").await.unwrap();
        assert_eq!(progress.len(), 1000);
        // Above the in-memory limit the file is streamed, with its length declared.
        let big = dir.path().join("big.bin");
        std::fs::write(&big, vec![7u8; IN_MEMORY_UPLOAD as usize + 1]).unwrap();
        let (form, progress) = file_form(&at(&big), "big.bin").await.unwrap();
        assert_eq!(progress.len(), IN_MEMORY_UPLOAD + 1);
        drop(form);
        let missing = file_form(&at(&dir.path().join("missing")), "x").await;
        assert!(matches!(missing, Err(ZohoError::Io(_))));
    }

    #[tokio::test]
    async fn a_file_swapped_after_the_scan_is_never_sent() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"scanned").unwrap();
        let mut source = UploadSource::at(&p).unwrap();
        source.scanned = Some(source.dir.stat("a.txt").unwrap().stat);
        assert!(file_form(&source, "a.txt").await.is_ok());
        // Swapped for a link to a secret between two sends: refused as "changed".
        std::fs::write(dir.path().join("secret"), b"1000.refresh").unwrap();
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), &p).unwrap();
        match file_form(&source, "a.txt").await {
            Err(ZohoError::Io(e)) => assert!(crate::dir_handle::is_changed(&e), "{e}"),
            other => panic!("sent a swapped file: {:?}", other.map(|(_, n)| n)),
        }
        // Even without a scanned stat, a link or a FIFO is never opened.
        source.scanned = None;
        assert!(file_form(&source, "a.txt").await.is_err());
    }
}
