//! `POST /api/signup/confirm` (実行): completes the onboarding. Idempotent: a repeated or
//! concurrent confirm answers 200 again. The welcome mail goes out from the table's stream, so
//! this step never waits on SES.

use kenpo_shared::domain::Step;
use kenpo_shared::http::{api_preamble, body_bytes, json_body, ok_json, respond};
use kenpo_shared::signup::{Decision, transition};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

/// The body is empty or `{}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmInput {}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    respond(confirm(app, &req).await)
}

async fn confirm(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let session = api_preamble(app, req)?;
    if !body_bytes(req).is_empty() {
        let _: ConfirmInput = json_body(app, req)?;
    }
    let reply = transition(app, &session.member_id, |current| match current.state {
        Step::Confirm => {
            let now = app.clock.now();
            let mut next = current.next(now);
            next.state = Step::Completed;
            next.completed_at = Some(now);
            Decision::Write { record: next, consent: None, reply: Ok(json!({ "step": "completed" })) }
        }
        Step::Completed => Decision::Reply(Ok(json!({ "step": "completed" }))),
        other => Decision::Reply(Err(ApiError::wrong_step(other))),
    })
    .await?;
    tracing::info!(code = "signup_completed", member = %session.member_id, "onboarding completed (or confirmed again)");
    Ok(ok_json(&reply))
}
