//! `POST /api/signup/consent`: the member agrees to the current terms; the agreement is appended
//! (terms version, time, source IP) in the same transaction that moves the signup on.

use kenpo_shared::contract::{StepReply, member_outcome};
use kenpo_shared::http::{Confirmed, authenticated, json_body, ok_json, source_ip};
use kenpo_shared::session::Session;
use kenpo_shared::signup::Command;
use kenpo_shared::transition::{Sender, apply_step};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConsentInput {
    terms_version: String,
    agreed: bool,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    authenticated(app, &req, |session, confirmed| consent(app, &req, session, confirmed)).await
}

async fn consent(app: &App, req: &Request, session: Session, confirmed: Confirmed) -> Result<Response<Body>, ApiError> {
    let input: ConsentInput = json_body(app, req)?;
    let command = Command::Consent { agreed: input.agreed, terms_version: input.terms_version, source_ip: source_ip(req) };
    let outcome = apply_step(app.store.as_ref(), app.clock.as_ref(), &app.policy, &session.member_id, Sender::member(&session), &command).await?;
    confirmed.confirm_if(outcome.session_checked());
    Ok(ok_json(&StepReply::new(member_outcome(outcome)?)))
}
