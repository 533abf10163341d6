//! `POST /api/signup/confirm` (実行): completes the onboarding. Idempotent: a repeated or
//! concurrent confirm answers 200 again. The welcome mail goes out from the table's stream, so
//! this step never waits on SES.

use kenpo_shared::contract::{StepReply, member_outcome};
use kenpo_shared::http::{api_preamble, body_bytes, json_body, ok_json, respond};
use kenpo_shared::signup::Command;
use kenpo_shared::transition::apply_step;
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

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
    let outcome = apply_step(app.store.as_ref(), app.clock.as_ref(), &app.policy, &session.member_id, &Command::Confirm).await?;
    let step = member_outcome(outcome)?;
    tracing::info!(code = "signup_completed", member = %session.member_id, "onboarding completed (or confirmed again)");
    Ok(ok_json(&StepReply::new(step)))
}
