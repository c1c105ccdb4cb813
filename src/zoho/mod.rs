//! The HTTP client for Zoho Bigin (v2) and Zoho CRM (v8) record attachments, and OAuth.
//!
//! # The API it speaks
//! All calls go to `{api_domain}/{prefix}/{Module}/{record_id}/Attachments[/{attachment_id}]`
//! where `prefix` is `bigin/v2` or `crm/v8`, with the header
//! `Authorization: Zoho-oauthtoken <access token>` and `User-Agent: bigin-sync/<version>`.
//!
//! | operation | request | success |
//! |---|---|---|
//! | [`ZohoClient::list`] | `GET …/Attachments?fields=…&per_page=200&page=N` | JSON `data[]` + `info.more_records`, or **204** when empty ([`list`]) |
//! | [`ZohoClient::upload_file`] / [`ZohoClient::upload_link`] | `POST …/Attachments`, multipart `file` or `attachmentUrl`+`title` | `data[0].details.id` ([`upload`]) |
//! | [`ZohoClient::download_to_temp`] / [`ZohoClient::download`] | `GET …/Attachments/{id}` | raw bytes + `Content-Disposition` ([`download`]) |
//! | [`ZohoClient::delete`] | `DELETE …/Attachments/{id}` | `data[0].code == "SUCCESS"` ([`delete`]) |
//! | [`ZohoClient::list_records`] | `GET /{Module}?fields=…&per_page=200&page=N` (`page_token` past 2,000) | `data[]` + `info`, 204 when none, 304 with `If-Modified-Since` ([`records`]) |
//! | [`ZohoClient::get_record`] | `GET /{Module}/{id}` | `data[0]`, or **204** when the record is gone ([`records`]) |
//!
//! Access tokens come from the refresh-token grant at `{accounts_url}/oauth/v2/token`
//! (see [`auth`] for caching, single-flight refresh and the "Access Denied" throttle).
//! Data centers map to hosts via [`data_center`]; plain `http://` is allowed only for
//! loopback hosts ([`validate_base_url`]).
//!
//! # Errors
//! Every failure is a [`ZohoError`]; [`ZohoError::class`] tells the executor whether to
//! retry (network, timeouts, 5xx, 429 with `Retry-After`, token throttle), stop for
//! credentials (`INVALID_TOKEN` after one refresh, `AUTHENTICATION_FAILURE`, revoked refresh
//! token), or give up on the request (other 4xx: `INVALID_MODULE`, `INVALID_DATA`,
//! `NO_PERMISSION`, `OAUTH_SCOPE_MISMATCH`, `DOWNLOAD_NOT_ALLOWED`, over-size, ...).
//! [`ZohoError::outcome_unknown`] flags uploads that may have been stored although no reply
//! came; [`ZohoError::is_missing_attachment`] flags deletes/downloads of an id already gone.
//!
//! # Limits
//! One semaphore of [`ClientConfig::concurrency`] permits is shared by all requests and held
//! until a response body is fully read (or an upload body fully sent). The client itself
//! retries only once, after a token refresh; backoff is the executor's job.

pub mod auth;
mod client;
pub mod config;
pub mod content_disposition;
pub mod dc;
pub mod delete;
pub mod download;
pub mod error;
pub mod list;
pub mod modules;
pub mod records;
mod request;
mod secret;
mod transfer;
pub mod upload;

pub use auth::{CachedToken, MemoryTokenCache, TokenCache, exchange_grant_code};
pub use client::ZohoClient;
pub use config::{ClientConfig, validate_base_url};
pub use content_disposition::parse_content_disposition;
pub use dc::{DATA_CENTERS, DataCenter, data_center};
pub use download::{Downloaded, PART_SUFFIX, Persist, TempDownload};
pub use error::{ErrorClass, Op, ZohoError};
pub use list::LIST_FIELDS;
pub use records::{ListedRecord, RecordListing, RecordQuery};
pub use request::USER_AGENT;
pub use secret::Secret;
pub use upload::{UploadSource, Uploaded};
