//! `PUT /api/signup/preferences`: メールアドレス（任意） and 医療費通知 必要/不要. Allowed again from the
//! confirmation screen (戻る) and, after completion, from the top page (the step stays completed).

use kenpo_shared::domain::{EmailAddress, Preferences, Step};
use kenpo_shared::http::{api_preamble, json_body, ok_json, respond};
use kenpo_shared::signup::{Decision, transition};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

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
    Preferences::new(email, input.notify_medical_expenses)
        .map_err(|e| ApiError::new(422, "email_required_for_notifications", e.message.clone()).with_field("email", e.message))
}

async fn save(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let session = api_preamble(app, req)?;
    let input: PreferencesInput = json_body(app, req)?;
    let preferences = parse(&input)?;
    let shown = json!({
        "email": preferences.email().map(|e| e.as_str()),
        "notifyMedicalExpenses": preferences.notify_medical_expenses(),
    });
    let reply = transition(app, &session.member_id, |current| {
        let next_step = match current.state {
            Step::Preferences | Step::Confirm => Step::Confirm,
            Step::Completed => Step::Completed,
            other => return Decision::Reply(Err(ApiError::wrong_step(other))),
        };
        let mut next = current.next(app.clock.now());
        next.state = next_step;
        next.email = preferences.email().cloned();
        // The member has looked at the address again: mail may resume.
        next.email_problem = None;
        next.notify_medical_expenses = Some(preferences.notify_medical_expenses());
        Decision::Write { record: next, consent: None, reply: Ok(json!({ "step": next_step.as_str(), "preferences": shown })) }
    })
    .await?;
    Ok(ok_json(&reply))
}
