//! `GET /api/signup`: where the member stands in the onboarding.

use kenpo_shared::http::{ok_json, respond, session};
use kenpo_shared::store::SignupRecord;
use kenpo_shared::{ApiError, App, signup};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    respond(status(app, &req).await)
}

async fn status(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let session = session(app, req)?;
    let record = signup::load(app, &session.member_id).await?;
    Ok(ok_json(&json!({
        "step": record.state.as_str(),
        "termsVersion": app.settings.terms_version.as_str(),
        "preferences": preferences_json(&record),
        // Mail to the address bounced, was reported as spam, or was refused (null: fine).
        "emailProblem": record.email_problem.map(|p| p.as_str()),
    })))
}

/// `{"email", "notifyMedicalExpenses"}` or null before the member saved any.
pub fn preferences_json(record: &SignupRecord) -> Value {
    match record.preferences() {
        Some(p) => json!({ "email": p.email().map(|e| e.as_str()), "notifyMedicalExpenses": p.notify_medical_expenses() }),
        None => Value::Null,
    }
}
