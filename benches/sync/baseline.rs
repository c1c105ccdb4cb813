//! The physical limit on this machine: the same transfers with a bare reqwest loop, the
//! same concurrency and no engine (no journal, no scan, no planner).

use crate::harness::{Env, MODULE};
use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// An access token straight from the sandbox's token endpoint.
pub async fn token(env: &Env, http: &reqwest::Client) -> Result<String> {
    let o = env.sandbox.options();
    let reply: serde_json::Value = http
        .post(format!("{}/oauth/v2/token", env.sandbox.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", o.client_id.as_str()),
            ("client_secret", o.client_secret.as_str()),
            ("refresh_token", o.refresh_token.as_str()),
        ])
        .send()
        .await?
        .json()
        .await?;
    reply["access_token"]
        .as_str()
        .map(str::to_string)
        .context("no access_token in the grant reply")
}

/// A bare client bound to one record, with its token.
struct Client {
    http: reqwest::Client,
    auth: String,
    url: String,
}

impl Client {
    async fn new(env: &Env, record: &str) -> Result<Client> {
        let http = reqwest::Client::new();
        let token = token(env, &http).await?;
        Ok(Client {
            http,
            auth: format!("Zoho-oauthtoken {token}"),
            url: format!(
                "{}/bigin/v2/{MODULE}/{record}/Attachments",
                env.sandbox.base_url()
            ),
        })
    }

    /// POSTs the file (read from disk) as multipart `file`.
    async fn upload(&self, path: &std::path::Path) -> Result<()> {
        let bytes = tokio::fs::read(path).await?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .context("file name")?
            .to_string();
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = self
            .http
            .post(&self.url)
            .header("Authorization", &self.auth)
            .multipart(form)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("baseline upload: HTTP {}", r.status());
        }
        r.bytes().await?;
        Ok(())
    }

    /// GETs the attachment and writes it to `dir/<id>` (no fsync).
    async fn download(&self, id: &str, dir: &std::path::Path) -> Result<()> {
        let r = self
            .http
            .get(format!("{}/{id}", self.url))
            .header("Authorization", &self.auth)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("baseline download: HTTP {}", r.status());
        }
        let body = r.bytes().await?;
        tokio::fs::write(dir.join(id), &body).await?;
        Ok(())
    }
}

/// Runs `transfer` for every item, `concurrency` at a time; returns the wall time.
async fn timed<'a, T, F, Fut>(items: &'a [T], concurrency: usize, transfer: F) -> Result<Duration>
where
    F: Fn(&'a T) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let started = Instant::now();
    let results: Vec<Result<()>> = futures_util::stream::iter(items)
        .map(transfer)
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let took = started.elapsed();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(took)
}

/// POSTs every file (read from disk) as multipart `file`; returns the wall time.
pub async fn upload(
    env: &Env,
    record: &str,
    files: &[PathBuf],
    concurrency: usize,
) -> Result<Duration> {
    let client = Client::new(env, record).await?;
    timed(files, concurrency, |path| client.upload(path)).await
}

/// GETs every attachment id and writes it to `dir` (no fsync); returns the wall time.
pub async fn download(
    env: &Env,
    record: &str,
    ids: &[String],
    dir: &std::path::Path,
    concurrency: usize,
) -> Result<Duration> {
    let client = Client::new(env, record).await?;
    timed(ids, concurrency, |id| client.download(id, dir)).await
}
