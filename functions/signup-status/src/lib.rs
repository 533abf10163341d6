//! `GET /api/signup`: where the member stands in the onboarding.

use kenpo_shared::contract::StatusReply;
use kenpo_shared::http::{ok_json, respond, session};
use kenpo_shared::signup::{SignupRecord, current_step};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    respond(status(app, &req).await)
}

async fn status(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let session = session(app, req)?;
    let stored = app.store.get_signup(&session.member_id).await?;
    let record = stored.unwrap_or_else(|| SignupRecord::new(session.member_id.clone(), app.clock.now()));
    let step = current_step(&record, &app.policy);
    Ok(ok_json(&StatusReply::of(&record, step, &app.settings.terms_version)))
}
