//! `DELETE …/Attachments/{id}`: success is
//! `{"data":[{"code":"SUCCESS","details":{"id":"…"},"message":"record deleted","status":"success"}]}`;
//! an id that is already gone answers 400 `INVALID_DATA` "record not deleted", reported as
//! an error whose [`ZohoError::is_missing_attachment`] is true (the caller counts it as done).

use reqwest::Method;
use serde_json::Value;

use super::client::ZohoClient;
use super::error::{Op, ZohoError, api_error};
use super::request::{Call, Payload};
use super::transfer::read_reply;

impl ZohoClient {
    /// Deletes one attachment of a record.
    pub async fn delete(
        &self,
        module: &str,
        record_id: &str,
        attachment_id: &str,
    ) -> Result<(), ZohoError> {
        let call = Call {
            op: Op::Delete,
            method: Method::DELETE,
            url: self.attachments_url(module, record_id, Some(attachment_id))?,
            query: Vec::new(),
            headers: Vec::new(),
            payload: Payload::Empty,
        };
        let reply = self.send(&call).await?;
        let status = reply.resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self.read_error(Op::Delete, reply.resp).await);
        }
        let body = read_reply(reply.resp, Op::Delete, self.inner.cfg.timeout).await?;
        check_delete_reply(status, &body, self.product())
    }
}

/// Accepts `data[0].code == "SUCCESS"`; anything else is Zoho's error or a bad reply.
pub(crate) fn check_delete_reply(
    status: u16,
    body: &[u8],
    product: crate::model::Product,
) -> Result<(), ZohoError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ZohoError::InvalidResponse {
        op: Op::Delete,
        message: format!("body is not JSON: {e}"),
    })?;
    match v.get("data").and_then(|d| d.get(0)) {
        Some(first) if first.get("code").and_then(Value::as_str) == Some("SUCCESS") => Ok(()),
        Some(_) => Err(api_error(Op::Delete, product, status, None, body)),
        None => Err(ZohoError::InvalidResponse {
            op: Op::Delete,
            message: "no data[0] in delete reply".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Product;

    #[test]
    fn replies() {
        check_delete_reply(
            200,
            br#"{"data":[{"code":"SUCCESS","details":{"id":"2883756000000261017"},"message":"record deleted","status":"success"}]}"#,
            Product::Bigin,
        )
        .unwrap();
        let e = check_delete_reply(
            200,
            br#"{"data":[{"code":"INVALID_DATA","details":{"id":"1"},"message":"record not deleted","status":"error"}]}"#,
            Product::Bigin,
        )
        .unwrap_err();
        assert!(e.is_missing_attachment());
        assert!(matches!(
            check_delete_reply(200, b"{}", Product::Bigin),
            Err(ZohoError::InvalidResponse { .. })
        ));
    }
}
