//! `GET /api/signup`: where the member stands in the onboarding.

use kenpo_shared::contract::StatusReply;
use kenpo_shared::http::{Confirmed, authenticated, ok_json, session_on_record};
use kenpo_shared::session::Session;
use kenpo_shared::signup::{SignupRecord, current_step};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    authenticated(app, &req, |session, confirmed| status(app, session, confirmed)).await
}

async fn status(app: &App, session: Session, confirmed: Confirmed) -> Result<Response<Body>, ApiError> {
    let stored = app.store.get_signup(&session.member_id).await?;
    session_on_record(&session, stored.as_ref())?;
    confirmed.confirm();
    let record = stored.unwrap_or_else(|| SignupRecord::new(session.member_id.clone(), app.clock.now()));
    let step = current_step(&record, &app.policy);
    Ok(ok_json(&StatusReply::of(&record, step, &app.settings.terms_version)))
}
