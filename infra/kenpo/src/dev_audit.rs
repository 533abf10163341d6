//! `POST /dev/audit` (dev server only): for the member ids in the body, what the store holds —
//! the load test's check that nothing was lost.

use kenpo_shared::domain::MemberId;
use kenpo_shared::http::{body_bytes, ok_json};
use kenpo_shared::{ApiError, signup};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::Dev;

pub async fn handle(dev: &Dev, req: &Request, path: &str) -> Option<Response<Body>> {
    if path != "/dev/audit" || req.method() != Method::POST {
        return None;
    }
    let Ok(ids) = serde_json::from_slice::<Vec<String>>(body_bytes(req)) else {
        return Some(ApiError::malformed_request().into_response());
    };
    let mut members = Vec::with_capacity(ids.len());
    for id in ids {
        let Ok(member) = MemberId::parse(&id) else { return Some(ApiError::malformed_request().into_response()) };
        let record = match dev.app.store.get_signup(&member).await {
            Ok(r) => r,
            Err(e) => return Some(ApiError::from(e).into_response()),
        };
        let consents = match dev.app.store.list_consents(&member).await {
            Ok(c) => c.len(),
            Err(e) => return Some(ApiError::from(e).into_response()),
        };
        let step = record.as_ref().map(|r| signup::current_step(r, &dev.app.policy).as_str());
        members.push(json!({
            "id": id,
            "step": step,
            "consents": consents,
            "email": record.as_ref().and_then(|r| r.email.as_ref()).map(|e| e.as_str()),
            "welcomeSent": record.as_ref().is_some_and(|r| r.welcome_sent_at.is_some()),
        }));
    }
    Some(ok_json(&json!({ "members": members })))
}
