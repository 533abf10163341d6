//! `PUT /api/signup/preferences`: メールアドレス（任意） and 医療費通知 必要/不要. Allowed again from the
//! confirmation screen (戻る) and, after completion, from the top page (the step stays completed).

use kenpo_shared::contract::{PreferencesReply, SavedPreferencesReply, member_outcome};
use kenpo_shared::domain::{EmailAddress, Preferences};
use kenpo_shared::http::{api_preamble, json_body, ok_json, respond};
use kenpo_shared::signup::Command;
use kenpo_shared::transition::apply_step;
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PreferencesInput {
    #[serde(default)]
    email: Option<String>,
    notify_medical_expenses: bool,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    respond(save(app, &req).await)
}

fn parse(input: &PreferencesInput) -> Result<Preferences, ApiError> {
    let email = EmailAddress::parse_optional(input.email.as_deref().unwrap_or("")).map_err(|e| ApiError::invalid_field("email", &e))?;
    Preferences::new(email, input.notify_medical_expenses).map_err(|e| ApiError::email_required(&e))
}

async fn save(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let session = api_preamble(app, req)?;
    let input: PreferencesInput = json_body(app, req)?;
    let preferences = parse(&input)?;
    let shown = PreferencesReply::of(&preferences);
    let command = Command::SavePreferences(preferences);
    let outcome = apply_step(app.store.as_ref(), app.clock.as_ref(), &app.policy, &session.member_id, &command).await?;
    let step = member_outcome(outcome)?;
    Ok(ok_json(&SavedPreferencesReply { step: step.as_str(), preferences: shown }))
}
