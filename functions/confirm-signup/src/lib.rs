//! `POST /api/signup/confirm` (実行): completes the onboarding. Idempotent: a repeated or
//! concurrent confirm answers 200 again. The welcome mail goes out from the table's stream, so
//! this step never waits on SES.

use kenpo_shared::contract::{StepReply, member_outcome};
use kenpo_shared::http::{Confirmed, authenticated, body_bytes, json_body, ok_json};
use kenpo_shared::session::Session;
use kenpo_shared::signup::Command;
use kenpo_shared::transition::{Sender, apply_step};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

/// `{"version": n}`: the record version `GET /api/signup` returned and the confirmation screen
/// showed (required: DESIGN.md Part 2; missing is 422 `invalid_input`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmInput {
    version: Option<serde_json::Value>,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    authenticated(app, &req, |session, confirmed| confirm(app, &req, session, confirmed)).await
}

async fn confirm(app: &App, req: &Request, session: Session, confirmed: Confirmed) -> Result<Response<Body>, ApiError> {
    // An empty body reads as `{}`: its missing `version` is the 422 the contract names.
    let input: ConfirmInput = if body_bytes(req).is_empty() { ConfirmInput { version: None } } else { json_body(app, req)? };
    let version = input.version.as_ref().and_then(serde_json::Value::as_u64).ok_or_else(|| {
        ApiError::from(kenpo_shared::contract::ErrorCode::InvalidInput).with_field("version", "確認画面を再読み込みしてから、もう一度「実行」を押してください。")
    })?;
    let command = Command::Confirm { version };
    let outcome = apply_step(app.store.as_ref(), app.clock.as_ref(), &app.policy, &session.member_id, Sender::member(&session), &command).await?;
    confirmed.confirm_if(outcome.session_checked());
    let step = member_outcome(outcome)?;
    tracing::info!(code = "signup_completed", member = %kenpo_shared::pseudonym::of(&session.member_id), "onboarding completed (or confirmed again)");
    Ok(ok_json(&StepReply::new(step)))
}
