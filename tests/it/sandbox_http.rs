//! Contract tests of the sandbox over real HTTP with raw reqwest: they pin the sandbox to
//! Zoho's documents (seeds 000–004, zoho-api-notes.md), independently of our client.

use std::time::Duration;

use bigin_sync::model::{ContentHash, Product};
use bigin_sync::sandbox::{AttachmentTouch, Faults, Route, Sandbox, SandboxOptions};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::common::{add_deal, add_deal_at_stage};

const REC: &str = "2034020000000489124";

async fn sandbox() -> Sandbox {
    sandbox_with(SandboxOptions::default()).await
}

async fn sandbox_with(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts).await.expect("sandbox starts")
}

/// A sandbox holding the empty Pipelines record `REC`, and an access token.
async fn sandbox_with_record() -> (Sandbox, String) {
    let sb = sandbox().await;
    sb.add_record(Product::Bigin, "Pipelines", REC);
    let t = token(&sb).await;
    (sb, t)
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

fn grant_form(sb: &Sandbox) -> Vec<(&'static str, String)> {
    let o = sb.options();
    vec![
        ("grant_type", "refresh_token".to_string()),
        ("client_id", o.client_id.clone()),
        ("client_secret", o.client_secret.clone()),
        ("refresh_token", o.refresh_token.clone()),
    ]
}

async fn post_token(sb: &Sandbox, form: &[(&str, String)]) -> (StatusCode, Value) {
    let r = client()
        .post(format!("{}/oauth/v2/token", sb.base_url()))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = r.status();
    (status, r.json().await.expect("token body is json"))
}

async fn token(sb: &Sandbox) -> String {
    let (status, body) = post_token(sb, &grant_form(sb)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

fn auth(t: &str) -> String {
    format!("Zoho-oauthtoken {t}")
}

/// A request that carries the access token `t`.
fn authed(method: Method, url: impl reqwest::IntoUrl, t: &str) -> RequestBuilder {
    client()
        .request(method, url)
        .header("Authorization", auth(t))
}

fn url(sb: &Sandbox, module: &str, record: &str) -> String {
    format!("{}/bigin/v2/{module}/{record}/Attachments", sb.base_url())
}

/// The URL of one attachment of a Pipelines record (download, delete).
fn attachment_url(sb: &Sandbox, record: &str, id: &str) -> String {
    format!("{}/{id}", url(sb, "Pipelines", record))
}

const FIELDS: &str = "File_Name,Size,$file_id,$type,$link_url,Created_Time,Modified_Time";

async fn list(sb: &Sandbox, t: &str, record: &str, query: &[(&str, &str)]) -> reqwest::Response {
    authed(Method::GET, url(sb, "Pipelines", record), t)
        .query(query)
        .send()
        .await
        .expect("list request")
}

async fn error_code(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let body: Value = r.json().await.expect("error body is json");
    assert_eq!(body["status"], "error", "{body}");
    assert!(body["details"].is_object(), "{body}");
    assert!(body["message"].is_string(), "{body}");
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

/// Asserts that `r` is Zoho's error reply with this status and code.
async fn assert_error(r: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(error_code(r).await, (status, code.to_string()));
}

async fn upload_file(
    sb: &Sandbox,
    t: &str,
    record: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    authed(Method::POST, url(sb, "Pipelines", record), t)
        .multipart(form)
        .send()
        .await
}

#[tokio::test]
async fn token_grant_and_its_errors() {
    let sb = sandbox().await;
    let (status, body) = post_token(&sb, &grant_form(&sb)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("1000."))
    );
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["api_domain"], sb.base_url());
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none());

    let mut wrong_client = grant_form(&sb);
    wrong_client[2].1 = "nope".into();
    let (status, body) = post_token(&sb, &wrong_client).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::OK, Some("invalid_client"))
    );

    let mut wrong_refresh = grant_form(&sb);
    wrong_refresh[3].1 = "1000.unknown".into();
    let (status, body) = post_token(&sb, &wrong_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::OK, Some("invalid_code"))
    );

    sb.revoke_refresh_token();
    let (status, body) = post_token(&sb, &grant_form(&sb)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::OK, Some("invalid_code"))
    );
    assert_eq!(sb.calls(Route::Token), 4);
    assert_eq!(sb.total_api_calls(), 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn eleventh_grant_in_the_window_is_access_denied() {
    let sb = sandbox().await;
    for _ in 0..10 {
        token(&sb).await;
    }
    let (status, body) = post_token(&sb, &grant_form(&sb)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "Access Denied");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("too many requests"))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn authorization_code_grant_returns_a_working_refresh_token() {
    let sb = sandbox().await;
    let o = sb.options().clone();
    let form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("client_id", o.client_id.clone()),
        ("client_secret", o.client_secret.clone()),
        ("code", o.grant_code.clone()),
    ];
    let (status, body) = post_token(&sb, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh = body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    let mut again = grant_form(&sb);
    again[3].1 = refresh;
    let (_, body) = post_token(&sb, &again).await;
    assert!(body["access_token"].is_string(), "{body}");
    sb.shutdown().await;
}

#[tokio::test]
async fn empty_list_is_204_and_fields_are_required() {
    let (sb, t) = sandbox_with_record().await;
    let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.expect("body").is_empty());

    sb.add_file(Product::Bigin, "Pipelines", REC, "a.txt", b"a".to_vec());
    let r = list(&sb, &t, REC, &[]).await;
    assert_error(r, StatusCode::BAD_REQUEST, "REQUIRED_PARAM_MISSING").await;
    sb.shutdown().await;
}

#[tokio::test]
async fn four_hundred_fifty_attachments_come_in_three_pages() {
    let sb = sandbox().await;
    for i in 0..450 {
        sb.add_file(
            Product::Bigin,
            "Pipelines",
            REC,
            &format!("f{i}.txt"),
            vec![b'x'; i % 7],
        );
    }
    let t = token(&sb).await;
    let mut seen = std::collections::HashSet::new();
    for (page, count, more) in [(1, 200, true), (2, 200, true), (3, 50, false)] {
        let p = page.to_string();
        let r = list(&sb, &t, REC, &[("fields", FIELDS), ("page", &p)]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.expect("json");
        let data = body["data"].as_array().expect("data");
        assert_eq!(data.len(), count);
        assert_eq!(body["info"]["count"], count);
        assert_eq!(body["info"]["page"], page);
        assert_eq!(body["info"]["per_page"], 200);
        assert_eq!(body["info"]["more_records"], more);
        assert!(body["info"]["next_page_token"].is_null());
        for a in data {
            let id = a["id"].as_str().expect("id");
            assert_eq!(id.len(), 19);
            assert!(id.bytes().all(|b| b.is_ascii_digit()));
            assert!(seen.insert(id.to_string()), "duplicate id {id}");
        }
    }
    assert_eq!(seen.len(), 450);
    let r = list(
        &sb,
        &t,
        REC,
        &[("fields", FIELDS), ("page", "2"), ("per_page", "300")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_delete_between_pages_moves_the_next_attachment_out_of_sight() {
    let sb = sandbox().await;
    for i in 0..205 {
        sb.add_file(
            Product::Bigin,
            "Pipelines",
            REC,
            &format!("f{i}.txt"),
            vec![b'x'],
        );
    }
    let newest_first = sb.attachments(Product::Bigin, "Pipelines", REC);
    sb.delete_after_list_page(Product::Bigin, "Pipelines", REC, 1, &newest_first[3].id);
    let t = token(&sb).await;
    let mut served = Vec::new();
    for page in ["1", "2"] {
        let r = list(&sb, &t, REC, &[("fields", FIELDS), ("page", page)]).await;
        let body: Value = r.json().await.expect("json");
        for a in body["data"].as_array().expect("data") {
            served.push(a["id"].as_str().expect("id").to_string());
        }
    }
    // Page 1 still showed the deleted one; page 2 starts one place further on.
    assert_eq!(served.len(), 204);
    assert!(served.contains(&newest_first[3].id));
    assert!(!served.contains(&newest_first[200].id));
    assert_eq!(sb.attachments(Product::Bigin, "Pipelines", REC).len(), 204);
    sb.shutdown().await;
}

#[tokio::test]
async fn list_shows_size_as_string_links_and_shared_names() {
    let sb = sandbox().await;
    let f1 = sb.add_file(
        Product::Bigin,
        "Pipelines",
        REC,
        "same.txt",
        b"hello".to_vec(),
    );
    let f2 = sb.add_file(Product::Bigin, "Pipelines", REC, "same.txt", b"hi".to_vec());
    let l = sb.add_link(
        Product::Bigin,
        "Pipelines",
        REC,
        "Fence",
        "https://pixabay.com/x",
    );
    let t = token(&sb).await;
    let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    let body: Value = r.json().await.expect("json");
    let data = body["data"].as_array().expect("data");
    let by_id = |id: &str| {
        data.iter()
            .find(|a| a["id"] == id)
            .cloned()
            .expect("listed")
    };
    let a1 = by_id(&f1);
    assert_eq!(a1["Size"], "5");
    assert_eq!(a1["$type"], "File");
    assert_eq!(a1["File_Name"], "same.txt");
    assert!(a1["$file_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        a1["Created_Time"]
            .as_str()
            .is_some_and(|s| s.len() == 25 && s.contains('T'))
    );
    assert_eq!(by_id(&f2)["File_Name"], "same.txt");
    let link = by_id(&l);
    assert_eq!(link["$type"], "Link URL");
    assert_eq!(link["Size"], "0");
    assert!(link["$file_id"].is_null());
    assert_eq!(link["$link_url"], "https://pixabay.com/x");
    assert_eq!(link["File_Name"], "Fence");
    // Only the requested fields plus id.
    let r = list(&sb, &t, REC, &[("fields", "File_Name")]).await;
    let body: Value = r.json().await.expect("json");
    let keys: Vec<&String> = body["data"][0]
        .as_object()
        .expect("object")
        .keys()
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    sb.shutdown().await;
}

#[tokio::test]
async fn uploaded_file_downloads_with_its_non_ascii_name() {
    let (sb, t) = sandbox_with_record().await;
    let r = upload_file(&sb, &t, REC, "résumé 2024.pdf", b"%PDF-1.7 bytes".to_vec())
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["data"][0]["code"], "SUCCESS");
    assert_eq!(body["data"][0]["status"], "success");
    assert!(body["data"][0]["details"]["Created_Time"].is_string());
    let id = body["data"][0]["details"]["id"]
        .as_str()
        .expect("id")
        .to_string();

    let atts = sb.attachments(Product::Bigin, "Pipelines", REC);
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].file_name, "résumé 2024.pdf");
    assert_eq!(
        atts[0].content_hash,
        Some(ContentHash::of_bytes(b"%PDF-1.7 bytes"))
    );

    let r = authed(Method::GET, attachment_url(&sb, REC, &id), &t)
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["content-length"], "14");
    let cd = h["content-disposition"].to_str().expect("ascii header");
    assert!(
        cd.starts_with("attachment; filename=\"r_sum_ 2024.pdf\""),
        "{cd}"
    );
    assert!(
        cd.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf"),
        "{cd}"
    );
    assert_eq!(&r.bytes().await.expect("bytes")[..], b"%PDF-1.7 bytes");
    sb.shutdown().await;
}

#[tokio::test]
async fn upload_needs_exactly_one_of_file_or_link() {
    let (sb, t) = sandbox_with_record().await;
    let both = Form::new()
        .part("file", Part::bytes(b"x".to_vec()).file_name("x.txt"))
        .text("attachmentUrl", "https://example.com");
    let r = authed(Method::POST, url(&sb, "Pipelines", REC), &t)
        .multipart(both)
        .send()
        .await
        .expect("send");
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
    let neither = Form::new().text("other", "y");
    let r = authed(Method::POST, url(&sb, "Pipelines", REC), &t)
        .multipart(neither)
        .send()
        .await
        .expect("send");
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_REQUEST").await;
    let no_body = authed(Method::POST, url(&sb, "Pipelines", REC), &t)
        .send()
        .await
        .expect("send");
    assert_error(no_body, StatusCode::BAD_REQUEST, "INVALID_REQUEST").await;
    assert!(sb.attachments(Product::Bigin, "Pipelines", REC).is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn links_upload_as_form_parts_or_query_params() {
    let (sb, t) = sandbox_with_record().await;
    let r = authed(Method::POST, url(&sb, "Pipelines", REC), &t)
        .query(&[
            ("attachmentUrl", "https://www.zohocorp.com"),
            ("title", "Zoho"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let form = Form::new().text("attachmentUrl", "https://example.com/a");
    let r = authed(Method::POST, url(&sb, "Pipelines", REC), &t)
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let atts = sb.attachments(Product::Bigin, "Pipelines", REC);
    assert_eq!(atts.len(), 2);
    // Newest first; the default title is the URL.
    assert_eq!(atts[0].file_name, "https://example.com/a");
    assert_eq!(
        (atts[1].file_name.as_str(), atts[1].link_url.as_deref()),
        ("Zoho", Some("https://www.zohocorp.com"))
    );
    assert!(
        atts.iter()
            .all(|a| a.size == 0 && a.file_id.is_none() && a.content_hash.is_none())
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn oversize_upload_is_a_permanent_400_and_stores_nothing() {
    let sb = sandbox_with(SandboxOptions {
        max_upload_bytes: 1024,
        ..Default::default()
    })
    .await;
    sb.add_record(Product::Bigin, "Pipelines", REC);
    let t = token(&sb).await;
    let r = upload_file(&sb, &t, REC, "big.bin", vec![7; 4096])
        .await
        .expect("reply");
    assert_error(r, StatusCode::BAD_REQUEST, "FILE_SIZE_MORE_THAN_ALLOWED").await;
    let r = upload_file(&sb, &t, REC, "ok.bin", vec![7; 1024])
        .await
        .expect("reply");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sb.attachments(Product::Bigin, "Pipelines", REC).len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn download_of_link_is_not_allowed_and_unknown_id_is_204() {
    let sb = sandbox().await;
    let l = sb.add_link(Product::Bigin, "Pipelines", REC, "t", "https://example.com");
    let t = token(&sb).await;
    let r = authed(Method::GET, attachment_url(&sb, REC, &l), &t)
        .send()
        .await
        .expect("send");
    assert_error(r, StatusCode::BAD_REQUEST, "DOWNLOAD_NOT_ALLOWED").await;
    let r = authed(
        Method::GET,
        attachment_url(&sb, REC, "2034020000000000001"),
        &t,
    )
    .send()
    .await
    .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.expect("body").is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn delete_then_delete_again_says_record_not_deleted() {
    let sb = sandbox().await;
    let id = sb.add_file(Product::Bigin, "Pipelines", REC, "a.txt", b"a".to_vec());
    let t = token(&sb).await;
    let del = || authed(Method::DELETE, attachment_url(&sb, REC, &id), &t).send();
    let r = del().await.expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["data"][0]["code"], "SUCCESS");
    assert_eq!(body["data"][0]["details"]["id"], id.as_str());
    assert_eq!(body["data"][0]["message"], "record deleted");
    assert!(sb.attachments(Product::Bigin, "Pipelines", REC).is_empty());
    let r = del().await.expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["data"][0]["code"], "INVALID_DATA");
    assert_eq!(body["data"][0]["message"], "record not deleted");
    assert_eq!(body["data"][0]["status"], "error");
    assert_eq!(sb.calls(Route::Delete), 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn auth_errors() {
    let sb = sandbox().await;
    sb.add_file(Product::Bigin, "Pipelines", REC, "a.txt", b"a".to_vec());
    let t = token(&sb).await;
    assert_eq!(
        list(&sb, &t, REC, &[("fields", FIELDS)]).await.status(),
        StatusCode::OK
    );
    sb.expire_tokens();
    let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "INVALID_TOKEN").await;
    let r = client()
        .get(url(&sb, "Pipelines", REC))
        .query(&[("fields", FIELDS)])
        .send()
        .await
        .expect("send");
    assert_error(r, StatusCode::UNAUTHORIZED, "AUTHENTICATION_FAILURE").await;
    let t = token(&sb).await;
    let r = client()
        .get(url(&sb, "Pipelines", REC))
        .query(&[("fields", FIELDS)])
        .header("Authorization", format!("Bearer {t}"))
        .send()
        .await
        .expect("send");
    assert_error(r, StatusCode::UNAUTHORIZED, "AUTHENTICATION_FAILURE").await;
    sb.set_scope_mismatch(true);
    let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "OAUTH_SCOPE_MISMATCH").await;
    sb.set_scope_mismatch(false);
    assert_eq!(
        list(&sb, &t, REC, &[("fields", FIELDS)]).await.status(),
        StatusCode::OK
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn token_expires_after_its_ttl() {
    let sb = sandbox_with(SandboxOptions {
        token_ttl: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    sb.add_file(Product::Bigin, "Pipelines", REC, "a.txt", b"a".to_vec());
    let t = token(&sb).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
        if r.status() == StatusCode::UNAUTHORIZED {
            assert_eq!(error_code(r).await.1, "INVALID_TOKEN");
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            tokio::time::Instant::now() < deadline,
            "token never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn modules_records_permissions_and_routing() {
    let sb = sandbox().await;
    sb.add_file(Product::Bigin, "Pipelines", REC, "a.txt", b"a".to_vec());
    let t = token(&sb).await;
    // Deals is a CRM module; Bigin calls it Pipelines.
    let r = authed(Method::GET, url(&sb, "Deals", REC), &t)
        .query(&[("fields", FIELDS)])
        .send()
        .await
        .expect("send");
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_MODULE").await;
    let crm = |module: &str| format!("{}/crm/v8/{module}/42/Attachments", sb.base_url());
    sb.add_file(Product::Crm, "Deals", "42", "d.txt", b"d".to_vec());
    let r = authed(Method::GET, crm("Deals"), &t)
        .query(&[("fields", FIELDS)])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let r = authed(Method::GET, crm("Widgets_Custom"), &t)
        .query(&[("fields", FIELDS)])
        .send()
        .await
        .expect("send");
    assert_eq!(error_code(r).await.1, "INVALID_MODULE");
    sb.add_record(Product::Crm, "Widgets_Custom", "42");
    let r = authed(Method::GET, crm("Widgets_Custom"), &t)
        .query(&[("fields", FIELDS)])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let r = list(&sb, &t, "2034020000000000999", &[("fields", FIELDS)]).await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;

    sb.set_no_permission("Pipelines", true);
    let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    assert_error(r, StatusCode::FORBIDDEN, "NO_PERMISSION").await;
    sb.set_no_permission("Pipelines", false);

    let r = authed(Method::PUT, url(&sb, "Pipelines", REC), &t)
        .send()
        .await
        .expect("send");
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_REQUEST_METHOD").await;
    let r = authed(
        Method::GET,
        format!("{}/bigin/v9/Pipelines/{REC}/Attachments", sb.base_url()),
        &t,
    )
    .send()
    .await
    .expect("send");
    assert_error(r, StatusCode::NOT_FOUND, "INVALID_URL_PATTERN").await;
    // (`/bigin/v2/Pipelines` is the records listing now; a bare product path is not.)
    let r = client()
        .get(format!("{}/bigin/v2", sb.base_url()))
        .send()
        .await
        .expect("send");
    assert_error(r, StatusCode::NOT_FOUND, "INVALID_URL_PATTERN").await;
    sb.shutdown().await;
}

#[tokio::test]
async fn auto_create_records_accepts_unknown_ids() {
    let sb = sandbox_with(SandboxOptions {
        auto_create_records: true,
        ..Default::default()
    })
    .await;
    let t = token(&sb).await;
    let r = upload_file(&sb, &t, "77", "n.txt", b"n".to_vec())
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sb.attachments(Product::Bigin, "Pipelines", "77").len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn dropped_before_handling_stores_nothing() {
    let (sb, t) = sandbox_with_record().await;
    sb.set_faults(Faults {
        drop_before_rate: 1.0,
        ..Default::default()
    });
    let r = upload_file(&sb, &t, REC, "a.txt", b"abc".to_vec()).await;
    assert!(r.is_err(), "expected a connection error, got {r:?}");
    assert!(sb.attachments(Product::Bigin, "Pipelines", REC).is_empty());
    assert_eq!(sb.calls(Route::Upload), 1);
    sb.set_faults(Faults::default());
    assert!(
        upload_file(&sb, &t, REC, "a.txt", b"abc".to_vec())
            .await
            .expect("upload")
            .status()
            .is_success()
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn faults_limited_to_one_route_leave_the_others_healthy() {
    let sb = sandbox().await;
    let id = sb.add_file(Product::Bigin, "Pipelines", REC, "a.txt", b"a".to_vec());
    let t = token(&sb).await;
    sb.set_faults(Faults {
        error_500_rate: 1.0,
        routes: vec![Route::Delete],
        ..Default::default()
    });
    let listed = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    assert_eq!(listed.status(), StatusCode::OK, "lists are not faulted");
    let r = authed(Method::DELETE, attachment_url(&sb, REC, &id), &t)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(sb.attachments(Product::Bigin, "Pipelines", REC).len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn dropped_after_upload_keeps_the_attachment() {
    let (sb, t) = sandbox_with_record().await;
    sb.set_faults(Faults {
        drop_after_upload_rate: 1.0,
        ..Default::default()
    });
    let r = upload_file(&sb, &t, REC, "a.txt", b"abc".to_vec()).await;
    assert!(r.is_err(), "expected a connection error, got {r:?}");
    let atts = sb.attachments(Product::Bigin, "Pipelines", REC);
    assert_eq!(atts.len(), 1);
    assert_eq!(sb.content(&atts[0].id).as_deref(), Some(&b"abc"[..]));
    sb.shutdown().await;
}

#[tokio::test]
async fn truncated_download_fails_mid_body() {
    let sb = sandbox().await;
    let id = sb.add_file(Product::Bigin, "Pipelines", REC, "a.bin", vec![9; 100_000]);
    let t = token(&sb).await;
    sb.set_faults(Faults {
        truncate_download_rate: 1.0,
        ..Default::default()
    });
    let r = authed(Method::GET, attachment_url(&sb, REC, &id), &t)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], "100000");
    assert!(
        r.bytes().await.is_err(),
        "a truncated body must be an error"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn injected_500_429_and_down() {
    let (sb, t) = sandbox_with_record().await;
    sb.set_faults(Faults {
        error_500_rate: 1.0,
        ..Default::default()
    });
    let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    assert_error(r, StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR").await;
    sb.set_faults(Faults {
        error_429_rate: 1.0,
        retry_after_secs: Some(7),
        ..Default::default()
    });
    let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    assert_eq!(r.headers()["retry-after"], "7");
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS").await;
    sb.set_faults(Faults::default());
    sb.set_down(true);
    assert!(
        client()
            .get(url(&sb, "Pipelines", REC))
            .send()
            .await
            .is_err()
    );
    assert!(
        client()
            .post(format!("{}/oauth/v2/token", sb.base_url()))
            .form(&grant_form(&sb))
            .send()
            .await
            .is_err()
    );
    sb.set_down(false);
    assert_eq!(
        list(&sb, &t, REC, &[("fields", FIELDS)]).await.status(),
        StatusCode::NO_CONTENT
    );
    sb.shutdown().await;
}

/// Outcome pattern of 40 lists under a 50% 500-rate: must replay for the same seed.
async fn fault_pattern(seed: u64) -> Vec<bool> {
    let (sb, t) = sandbox_with_record().await;
    sb.set_faults(Faults {
        seed,
        error_500_rate: 0.5,
        ..Default::default()
    });
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(
            list(&sb, &t, REC, &[("fields", FIELDS)])
                .await
                .status()
                .is_server_error(),
        );
    }
    sb.shutdown().await;
    out
}

#[tokio::test]
async fn faults_replay_for_the_same_seed() {
    let a = fault_pattern(11).await;
    assert_eq!(a, fault_pattern(11).await);
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
    assert_ne!(a, fault_pattern(12).await);
}

#[tokio::test]
async fn counters_and_concurrency_high_water_mark() {
    let sb = sandbox().await;
    let id = sb.add_file(Product::Bigin, "Pipelines", REC, "a.txt", b"a".to_vec());
    let t = token(&sb).await;
    sb.set_faults(Faults {
        latency: Duration::from_millis(400),
        ..Default::default()
    });
    let c = client();
    let lists = (0..4).map(|_| {
        c.get(url(&sb, "Pipelines", REC))
            .header("Authorization", auth(&t))
            .query(&[("fields", FIELDS)])
            .send()
    });
    for r in futures_util::future::join_all(lists).await {
        assert_eq!(r.expect("list").status(), StatusCode::OK);
    }
    let r = c
        .get(attachment_url(&sb, REC, &id))
        .header("Authorization", auth(&t))
        .send()
        .await
        .expect("dl");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sb.calls(Route::List), 4);
    assert_eq!(sb.calls(Route::Download), 1);
    assert_eq!(sb.calls(Route::Upload), 0);
    assert_eq!(sb.calls(Route::Token), 1);
    assert_eq!(sb.total_api_calls(), 5);
    assert!(
        sb.max_concurrent_requests() >= 2,
        "{}",
        sb.max_concurrent_requests()
    );
    assert!(sb.max_concurrent_requests() <= 4);
    sb.shutdown().await;
}

#[tokio::test]
async fn admin_api_changes_the_remote_side_without_counting() {
    let sb = sandbox().await;
    let base = sb.base_url();
    let r = client()
        .post(format!("{base}/__sandbox/bigin/Contacts/5/files"))
        .query(&[("name", "n.txt")])
        .body("hello")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(sb.content(&id).as_deref(), Some(&b"hello"[..]));
    let state: Value = client()
        .get(format!("{base}/__sandbox/state"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(state["records"][0]["attachments"][0]["file_name"], "n.txt");
    assert_eq!(state["records"][0]["module"], "Contacts");
    let r = client()
        .delete(format!("{base}/__sandbox/bigin/Contacts/5/{id}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(sb.attachments(Product::Bigin, "Contacts", "5").is_empty());
    assert_eq!(sb.total_api_calls(), 0);
    sb.shutdown().await;
}

/// 70 MiB of deterministic bytes in 1 MiB chunks, never held whole in memory.
fn big_chunk(i: usize) -> bytes::Bytes {
    let mut v = vec![0u8; 1 << 20];
    for (j, b) in v.iter_mut().enumerate() {
        *b = (i.wrapping_mul(31) ^ j.wrapping_mul(7)) as u8;
    }
    bytes::Bytes::from(v)
}

#[tokio::test]
async fn streamed_70_mib_upload_is_stored_whole() {
    const CHUNKS: usize = 70;
    let (sb, t) = sandbox_with_record().await;
    let stream =
        futures_util::stream::iter((0..CHUNKS).map(|i| Ok::<_, std::io::Error>(big_chunk(i))));
    let len = (CHUNKS << 20) as u64;
    let part =
        Part::stream_with_length(reqwest::Body::wrap_stream(stream), len).file_name("big.bin");
    let r = authed(Method::POST, url(&sb, "Pipelines", REC), &t)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    let mut hasher = blake3::Hasher::new();
    for i in 0..CHUNKS {
        hasher.update(&big_chunk(i));
    }
    let expected = ContentHash(*hasher.finalize().as_bytes());
    let atts = sb.attachments(Product::Bigin, "Pipelines", REC);
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].size, len);
    assert_eq!(atts[0].content_hash, Some(expected));
    sb.shutdown().await;
}

#[tokio::test]
async fn crm_upload_matches_seed_002_and_unknown_grant_type_is_refused() {
    let sb = sandbox().await;
    sb.add_record(Product::Crm, "Leads", "1000000231009");
    let t = token(&sb).await;
    let form = Form::new().part(
        "file",
        Part::bytes(b"lead".to_vec()).file_name("attachment1.txt"),
    );
    let r = authed(
        Method::POST,
        format!("{}/crm/v8/Leads/1000000231009/Attachments", sb.base_url()),
        &t,
    )
    .multipart(form)
    .send()
    .await
    .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["data"][0]["message"],
        "attachment uploaded successfully"
    );
    assert_eq!(
        sb.attachments(Product::Crm, "Leads", "1000000231009").len(),
        1
    );
    assert!(
        sb.attachments(Product::Bigin, "Leads", "1000000231009")
            .is_empty()
    );

    let mut form = grant_form(&sb);
    form[0].1 = "password".into();
    let (status, body) = post_token(&sb, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["error"].is_string(), "{body}");
    assert!(body.get("access_token").is_none());
    sb.shutdown().await;
}

// ---- Records API (zoho-api-notes.md, "Records") ----

fn records_url(sb: &Sandbox, product: &str, module: &str) -> String {
    format!("{}/{product}/{module}", sb.base_url())
}

/// A records request (GET `<base>/<path>`) that carries the access token `t`.
fn records_request(sb: &Sandbox, t: &str, path: &str, query: &[(&str, &str)]) -> RequestBuilder {
    authed(Method::GET, format!("{}/{path}", sb.base_url()), t).query(query)
}

async fn get_records(
    sb: &Sandbox,
    t: &str,
    path: &str,
    query: &[(&str, &str)],
) -> reqwest::Response {
    records_request(sb, t, path, query)
        .send()
        .await
        .expect("records request")
}

/// `get_records` with an `If-Modified-Since` header.
async fn get_records_since(
    sb: &Sandbox,
    t: &str,
    path: &str,
    query: &[(&str, &str)],
    since: &str,
) -> reqwest::Response {
    records_request(sb, t, path, query)
        .header("If-Modified-Since", since)
        .send()
        .await
        .expect("records request")
}

fn ids_of(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn records_listing_needs_fields_caps_per_page_and_checks_the_module() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    // No records yet: 204 with no body.
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &[("fields", "Deal_Name")]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty());
    let id = add_deal_at_stage(&sb, "Big", "Won");
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &[]).await;
    assert_error(r, StatusCode::BAD_REQUEST, "REQUIRED_PARAM_MISSING").await;
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Pipelines",
        &[("fields", "Deal_Name"), ("per_page", "201")],
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
    let r = get_records(&sb, &t, "bigin/v2/Leads", &[("fields", "Deal_Name")]).await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_MODULE").await;
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Pipelines",
        &[("fields", "Deal_Name,Nope")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(ids_of(&body), [id.as_str()]);
    let rec = &body["data"][0];
    assert_eq!(rec["Deal_Name"], "Big");
    assert!(rec["Nope"].is_null() && rec.get("Stage").is_none(), "{rec}");
    let info = &body["info"];
    assert_eq!(
        (
            info["count"].as_u64(),
            info["per_page"].as_u64(),
            info["page"].as_u64()
        ),
        (Some(1), Some(200), Some(1))
    );
    assert_eq!(info["more_records"], false);
    // No auth → the same gate as the attachments routes.
    let r = client()
        .get(records_url(&sb, "bigin/v2", "Pipelines"))
        .query(&[("fields", "id")])
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "AUTHENTICATION_FAILURE").await;
    // CRM v8 speaks the same, with its own modules.
    let deal = sb.create_record(Product::Crm, "Deals", serde_json::json!({"Deal_Name": "C"}));
    let r = get_records(&sb, &t, "crm/v8/Deals", &[("fields", "Deal_Name")]).await;
    assert_eq!(ids_of(&r.json().await.unwrap()), [deal]);
    assert_eq!(sb.calls(Route::Records), 7);
}

#[tokio::test]
async fn records_past_2000_need_the_page_token() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    for i in 0..2050 {
        add_deal(&sb, &format!("D{i}"));
    }
    let q = |page: &'static str| {
        [
            ("fields", "Deal_Name"),
            ("sort_order", "asc"),
            ("page", page),
        ]
    };
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &q("11")).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("DISCRETE_PAGINATION_LIMIT_EXCEEDED")
        )
    );
    assert_eq!(body["details"]["limit"], 2000);
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &q("10")).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(ids_of(&body).len(), 200);
    assert_eq!(body["info"]["more_records"], true);
    let token_ = body["info"]["next_page_token"]
        .as_str()
        .expect("next_page_token")
        .to_string();
    // Zoho's page tokens expire after 24 hours; the reply says when.
    let expiry = body["info"]["page_token_expiry"]
        .as_str()
        .expect("page_token_expiry");
    let expiry = chrono::DateTime::parse_from_rfc3339(expiry).expect("an ISO 8601 time");
    let left = expiry.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::hours(23) && left <= chrono::TimeDelta::hours(24),
        "{left}"
    );
    // A token continues the listing it was issued for, and only alone.
    for (path, query) in [
        (
            "bigin/v2/Pipelines",
            vec![
                ("fields", "Deal_Name"),
                ("page_token", &token_),
                ("page", "11"),
            ],
        ),
        (
            "bigin/v2/Contacts",
            vec![("fields", "Deal_Name"), ("page_token", &token_)],
        ),
        (
            "crm/v8/Deals",
            vec![("fields", "Deal_Name"), ("page_token", &token_)],
        ),
        (
            "bigin/v2/Pipelines",
            vec![("fields", "Deal_Name,Stage"), ("page_token", &token_)],
        ),
        (
            "bigin/v2/Pipelines",
            vec![
                ("fields", "Deal_Name"),
                ("sort_order", "desc"),
                ("page_token", &token_),
            ],
        ),
        (
            "bigin/v2/Pipelines",
            vec![
                ("fields", "Deal_Name"),
                ("sort_by", "Modified_Time"),
                ("page_token", &token_),
            ],
        ),
    ] {
        let r = get_records(&sb, &t, path, &query).await;
        assert_eq!(
            error_code(r).await,
            (StatusCode::BAD_REQUEST, "INVALID_DATA".into()),
            "{path} {query:?}"
        );
    }
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Pipelines",
        &[
            ("fields", "Deal_Name"),
            ("sort_by", "id"),
            ("sort_order", "asc"),
            ("page_token", &token_),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "the same listing continues");
    let by_token = [("fields", "Deal_Name"), ("page_token", token_.as_str())];
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &by_token).await;
    let last: Value = r.json().await.unwrap();
    let last_ids = ids_of(&last);
    assert_eq!(last_ids.len(), 50);
    assert_eq!(last["info"]["more_records"], false);
    assert!(last["info"]["next_page_token"].is_null());
    // Ascending ids: page 10 ends just before the token's page starts.
    assert!(
        ids_of(&body)
            .iter()
            .all(|id| (id.len(), id) < (last_ids[0].len(), &last_ids[0]))
    );
    assert!(last["info"]["page_token_expiry"].is_null());
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Pipelines",
        &[("fields", "Deal_Name"), ("page_token", "nope")],
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
    // A day later the token has expired.
    sb.advance_clock(std::time::Duration::from_secs(24 * 3600 + 1));
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &by_token).await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
}

#[tokio::test]
async fn records_sort_by_and_sort_order() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    let a = sb.create_record(
        Product::Bigin,
        "Contacts",
        serde_json::json!({"Last_Name": "A"}),
    );
    sb.advance_clock(Duration::from_secs(2));
    let b = sb.create_record(
        Product::Bigin,
        "Contacts",
        serde_json::json!({"Last_Name": "B"}),
    );
    sb.advance_clock(Duration::from_secs(2));
    assert!(sb.edit_record(
        Product::Bigin,
        "Contacts",
        &a,
        serde_json::json!({"Last_Name": "A2"})
    ));
    let list = |sort_by: &'static str, order: &'static str| {
        let (sb, t) = (&sb, &t);
        async move {
            let r = get_records(
                sb,
                t,
                "bigin/v2/Contacts",
                &[
                    ("fields", "Last_Name"),
                    ("sort_by", sort_by),
                    ("sort_order", order),
                ],
            )
            .await;
            ids_of(&r.json().await.unwrap())
        }
    };
    assert_eq!(list("id", "asc").await, [a.clone(), b.clone()]);
    assert_eq!(list("id", "desc").await, [b.clone(), a.clone()]);
    assert_eq!(list("Created_Time", "desc").await, [b.clone(), a.clone()]);
    assert_eq!(list("Modified_Time", "asc").await, [b.clone(), a.clone()]);
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Contacts",
        &[("fields", "id"), ("sort_by", "Last_Name")],
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Contacts",
        &[("fields", "id"), ("sort_order", "up")],
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
}

#[tokio::test]
async fn records_of_a_custom_view_defined_through_the_admin_api() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    let admin = |path: &str| format!("{}/__sandbox/bigin/Pipelines{path}", sb.base_url());
    let mk = |stage: &str| {
        client()
            .post(admin(""))
            .json(&serde_json::json!({"Deal_Name": stage, "Stage": stage}))
            .send()
    };
    let won: Value = mk("Won").await.unwrap().json().await.unwrap();
    let lost: Value = mk("Lost").await.unwrap().json().await.unwrap();
    let open: Value = mk("Open").await.unwrap().json().await.unwrap();
    let view: Value = client()
        .post(admin("/views"))
        .json(&serde_json::json!({"Stage": ["Won", "Open"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cvid = view["id"].as_str().expect("cvid").to_string();
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Pipelines",
        &[("fields", "Stage"), ("cvid", &cvid), ("sort_order", "asc")],
    )
    .await;
    let ids = ids_of(&r.json().await.unwrap());
    assert_eq!(
        ids,
        [won["id"].as_str().unwrap(), open["id"].as_str().unwrap()]
    );
    assert!(!ids.iter().any(|i| Some(i.as_str()) == lost["id"].as_str()));
    // A record edited out of the view leaves it; one edited in joins it.
    let r = client()
        .patch(admin(&format!("/{}", open["id"].as_str().unwrap())))
        .json(&serde_json::json!({"Stage": "Lost"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Pipelines",
        &[("fields", "Stage"), ("cvid", &cvid)],
    )
    .await;
    assert_eq!(
        ids_of(&r.json().await.unwrap()),
        [won["id"].as_str().unwrap()]
    );
    for bad in ["123", cvid.as_str()] {
        let path = if bad == cvid {
            "bigin/v2/Contacts"
        } else {
            "bigin/v2/Pipelines"
        };
        let r = get_records(&sb, &t, path, &[("fields", "id"), ("cvid", bad)]).await;
        assert_eq!(
            error_code(r).await,
            (StatusCode::BAD_REQUEST, "INVALID_DATA".into()),
            "{path} {bad}"
        );
    }
}

#[tokio::test]
async fn if_modified_since_lists_later_edits_and_304_when_none() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    let a = add_deal(&sb, "A");
    let b = add_deal(&sb, "B");
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Pipelines",
        &[("fields", "Modified_Time")],
    )
    .await;
    let body: Value = r.json().await.unwrap();
    let stamp = body["data"][0]["Modified_Time"]
        .as_str()
        .expect("Modified_Time")
        .to_string();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&stamp).is_ok(),
        "{stamp}"
    );
    let fields = [("fields", "Deal_Name")];
    let r = get_records_since(&sb, &t, "bigin/v2/Pipelines", &fields, &stamp).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    sb.advance_clock(Duration::from_secs(3));
    sb.edit_record(
        Product::Bigin,
        "Pipelines",
        &b,
        serde_json::json!({"Deal_Name": "B2"}),
    );
    let r = get_records_since(&sb, &t, "bigin/v2/Pipelines", &fields, &stamp).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(ids_of(&body), [b.as_str()]);
    assert_eq!(body["data"][0]["Deal_Name"], "B2");
    // The same moment in UTC is understood too.
    let utc = chrono::DateTime::parse_from_rfc3339(&stamp)
        .unwrap()
        .with_timezone(&chrono::Utc)
        .to_rfc3339();
    let r = get_records_since(&sb, &t, "bigin/v2/Pipelines", &fields, &utc).await;
    assert_eq!(ids_of(&r.json().await.unwrap()), [b]);
    let r = get_records_since(&sb, &t, "bigin/v2/Pipelines", &fields, "yesterday").await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
    let _ = a;
}

#[tokio::test]
async fn one_record_then_204_once_deleted_and_its_attachments_invalid() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    let id = add_deal_at_stage(&sb, "Gone soon", "Won");
    sb.add_file(Product::Bigin, "Pipelines", &id, "a.txt", b"a".to_vec());
    let path = format!("bigin/v2/Pipelines/{id}");
    let r = get_records(&sb, &t, &path, &[("fields", "Deal_Name")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"][0]["id"], id.as_str());
    assert_eq!(body["data"][0]["Deal_Name"], "Gone soon");
    assert!(body["data"][0].get("Stage").is_none());
    let r = get_records(&sb, &t, "bigin/v2/Pipelines/2034020000000000001", &[]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // An id that cannot be a record's is refused, not "gone".
    let r = get_records(&sb, &t, "bigin/v2/Pipelines/12ab", &[]).await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
    let r = client()
        .delete(format!("{}/__sandbox/bigin/Pipelines/{id}", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = get_records(&sb, &t, &path, &[("fields", "Deal_Name")]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = list(&sb, &t, &id, &[("fields", FIELDS)]).await;
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
    assert!(sb.record(Product::Bigin, "Pipelines", &id).is_none());
    assert_eq!(sb.calls(Route::Record), 4);
}

async fn times_after_upload(touch: AttachmentTouch) -> (bool, bool) {
    let sb = sandbox_with(SandboxOptions {
        attachment_touch: touch,
        ..SandboxOptions::default()
    })
    .await;
    let t = token(&sb).await;
    let id = add_deal(&sb, "T");
    let times = |sb: &Sandbox| {
        let r = sb.record(Product::Bigin, "Pipelines", &id).expect("record");
        (
            r["Modified_Time"].as_str().unwrap().to_string(),
            r["Last_Activity_Time"].as_str().unwrap().to_string(),
        )
    };
    let before = times(&sb);
    sb.advance_clock(Duration::from_secs(5));
    let r = upload_file(&sb, &t, &id, "x.txt", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after_upload = times(&sb);
    sb.advance_clock(Duration::from_secs(5));
    let att = sb.attachments(Product::Bigin, "Pipelines", &id)[0]
        .id
        .clone();
    let r = authed(Method::DELETE, attachment_url(&sb, &id, &att), &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after_delete = times(&sb);
    let moved = |a: &(String, String), b: &(String, String)| (a.0 != b.0, a.1 != b.1);
    assert_eq!(
        moved(&before, &after_upload),
        moved(&after_upload, &after_delete),
        "{touch:?}"
    );
    moved(&before, &after_upload)
}

#[tokio::test]
async fn attachment_changes_move_last_activity_time_or_what_the_option_says() {
    assert_eq!(
        times_after_upload(AttachmentTouch::LastActivity).await,
        (false, true)
    );
    assert_eq!(
        times_after_upload(AttachmentTouch::Modified).await,
        (true, true)
    );
    assert_eq!(
        times_after_upload(AttachmentTouch::Nothing).await,
        (false, false)
    );
}

#[tokio::test]
async fn records_seeded_through_attachments_exist_and_are_listed() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    sb.add_file(Product::Bigin, "Pipelines", REC, "a.txt", b"a".to_vec());
    let r = list(&sb, &t, REC, &[("fields", FIELDS)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get_records(
        &sb,
        &t,
        "bigin/v2/Pipelines",
        &[("fields", "Deal_Name,Last_Activity_Time")],
    )
    .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(ids_of(&body), [REC]);
    assert!(body["data"][0]["Deal_Name"].is_null());
    assert!(body["data"][0]["Last_Activity_Time"].is_string());
    let r = get_records(&sb, &t, &format!("bigin/v2/Pipelines/{REC}"), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Issue 14: CRM refuses `.exe` attachments; Bigin takes them.
#[tokio::test]
async fn exe_is_refused_on_crm_only() {
    let sb = sandbox().await;
    sb.add_record(Product::Crm, "Leads", REC);
    sb.add_record(Product::Bigin, "Pipelines", REC);
    let t = token(&sb).await;
    let crm = format!("{}/crm/v8/Leads/{REC}/Attachments", sb.base_url());
    let form = Form::new().part("file", Part::bytes(b"MZ".to_vec()).file_name("setup.EXE"));
    let r = authed(Method::POST, &crm, &t)
        .multipart(form)
        .send()
        .await
        .expect("reply");
    assert_error(r, StatusCode::BAD_REQUEST, "INVALID_DATA").await;
    assert!(sb.attachments(Product::Crm, "Leads", REC).is_empty());
    let r = upload_file(&sb, &t, REC, "setup.exe", b"MZ".to_vec())
        .await
        .expect("reply");
    assert_eq!(r.status(), StatusCode::OK);
    sb.shutdown().await;
}

/// Issue 14: a link URL is attached at most once per record.
#[tokio::test]
async fn a_link_url_already_on_the_record_is_duplicate_data() {
    let sb = sandbox().await;
    sb.add_link(
        Product::Bigin,
        "Pipelines",
        REC,
        "site",
        "https://example.com/a",
    );
    sb.add_record(Product::Bigin, "Pipelines", "2034020000000000777");
    let t = token(&sb).await;
    let post = |record: &str| {
        authed(Method::POST, url(&sb, "Pipelines", record), &t)
            .multipart(
                Form::new()
                    .text("attachmentUrl", "https://example.com/a")
                    .text("title", "again"),
            )
            .send()
    };
    let r = post(REC).await.expect("reply");
    assert_error(r, StatusCode::BAD_REQUEST, "DUPLICATE_DATA").await;
    assert_eq!(sb.attachments(Product::Bigin, "Pipelines", REC).len(), 1);
    // Another record may hold the same link.
    let r = post("2034020000000000777").await.expect("reply");
    assert_eq!(r.status(), StatusCode::OK);
    sb.shutdown().await;
}

/// Every API route counts as a call, and what Zoho would charge follows the client's
/// price list (`ApiOp::credits`): 1 a request, 3 for a custom-view listing, nothing for a
/// request turned away before any work (401, 429) or for a token grant.
#[tokio::test]
async fn records_routes_count_as_calls_and_charge_credits() {
    let sb = sandbox().await;
    let t = token(&sb).await;
    let id = add_deal_at_stage(&sb, "A", "Won");
    let cvid = sb.define_view(Product::Bigin, "Pipelines", &[("Stage", &["Won"])]);
    let listing = [("fields", "Deal_Name")];
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &listing).await;
    assert_eq!(r.status(), StatusCode::OK);
    let in_view = [("fields", "Deal_Name"), ("cvid", cvid.as_str())];
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &in_view).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get_records(&sb, &t, &format!("bigin/v2/Pipelines/{id}"), &listing).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = list(&sb, &t, &id, &[("fields", FIELDS)]).await;
    assert!(r.status().is_success());
    // Refused for the request itself (charged), then turned away (not charged).
    let r = get_records(&sb, &t, "bigin/v2/Pipelines", &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = get_records(&sb, "wrong", "bigin/v2/Pipelines", &in_view).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sb.calls(Route::Token), 1);
    assert_eq!(sb.total_api_calls(), 6);
    assert_eq!(sb.credits_charged(), 1 + 3 + 1 + 1 + 1);
    sb.shutdown().await;
}
