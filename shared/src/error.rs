//! The JSON error shape of the HTTP contract, with stable codes and Japanese messages.

use std::collections::BTreeMap;

use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};

use crate::domain::{FieldError, Step};

/// An expected client-visible failure. Always becomes a 4xx/5xx `Response`, never a handler `Err`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub fields: BTreeMap<String, String>,
    /// Extra members of the `error` object (`remainingAttempts`, `retryAfterSeconds`, `step`, …).
    pub extra: Map<String, Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), fields: BTreeMap::new(), extra: Map::new(), retry_after: None }
    }

    pub fn with_field(mut self, field: &str, message: impl Into<String>) -> Self {
        self.fields.insert(field.to_owned(), message.into());
        self
    }

    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub fn unauthenticated() -> Self {
        Self::new(401, "unauthenticated", "ログインの有効期限が切れました。お手数ですが、ポータルからもう一度お入りください。")
    }

    pub fn malformed_request() -> Self {
        Self::new(400, "malformed_request", "リクエストの形式が正しくありません。画面を再読み込みしてもう一度お試しください。")
    }

    pub fn too_large() -> Self {
        Self::new(413, "payload_too_large", "送信された内容が大きすぎます。")
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(415, "unsupported_media_type", "送信形式が正しくありません（JSONで送信してください）。")
    }

    pub fn cross_origin() -> Self {
        Self::new(403, "cross_origin", "このページからの送信は受け付けられません。ポータルからもう一度お入りください。")
    }

    pub fn not_found() -> Self {
        Self::new(404, "not_found", "お探しのページは見つかりません。")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(405, "method_not_allowed", "この操作は受け付けられません。")
    }

    pub fn wrong_step(current: Step) -> Self {
        Self::new(409, "wrong_step", "この手続きは現在の段階では行えません。表示される画面から続けてください。")
            .with_extra("step", json!(current.as_str()))
    }

    pub fn invalid_field(field: &str, error: &FieldError) -> Self {
        Self::new(422, "invalid_input", "入力内容に誤りがあります。").with_field(field, error.message.clone())
    }

    pub fn temporarily_unavailable() -> Self {
        let mut e = Self::new(503, "temporarily_unavailable", "ただいま混み合っています。しばらくしてからもう一度お試しください。");
        e.retry_after = Some(5);
        e
    }

    pub fn internal() -> Self {
        Self::new(500, "internal_error", "システムエラーが発生しました。しばらくしてからもう一度お試しください。")
    }

    /// Merge the field errors of another 422 into this one.
    pub fn merge_fields(mut self, other: ApiError) -> Self {
        self.fields.extend(other.fields);
        self
    }

    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        if !self.fields.is_empty() {
            error.insert("fields".into(), json!(self.fields));
        }
        error.extend(self.extra.clone());
        json!({ "error": error })
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = crate::http::json_response(self.status, &self.body());
        if let Some(secs) = self.retry_after {
            if let Ok(v) = secs.to_string().parse() {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(code = e.code(), error = %e, "store failure");
        match e {
            crate::store::StoreError::Unavailable(_) => Self::temporarily_unavailable(),
            crate::store::StoreError::Corrupt(_) => Self::internal(),
        }
    }
}
