//! `PUT /api/signup/preferences`: メールアドレス（任意） and 医療費通知 必要/不要. Allowed again from the
//! confirmation screen (戻る) and, after completion, from the top page (the step stays completed).

use kenpo_shared::contract::{PreferencesReply, SavedPreferencesReply, member_outcome};
use kenpo_shared::domain::{BirthDate, EmailAddress, Preferences};
use kenpo_shared::http::{Confirmed, authenticated, json_body, ok_json};
use kenpo_shared::session::Session;
use kenpo_shared::signup::{Command, Outcome, SignupError};
use kenpo_shared::transition::{Sender, Start, apply, apply_step};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PreferencesInput {
    #[serde(default)]
    email: Option<String>,
    notify_medical_expenses: bool,
    /// 生年月日, sent by the top page with a new address (re-verification); ignored otherwise.
    #[serde(default)]
    birth_date: Option<String>,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    authenticated(app, &req, |session, confirmed| save(app, &req, session, confirmed)).await
}

fn parse(input: &PreferencesInput) -> Result<Preferences, ApiError> {
    let email = EmailAddress::parse_optional(input.email.as_deref().unwrap_or("")).map_err(|e| ApiError::invalid_field("email", &e))?;
    Preferences::new(email, input.notify_medical_expenses).map_err(|e| ApiError::email_required(&e))
}

async fn save(app: &App, req: &Request, session: Session, confirmed: Confirmed) -> Result<Response<Body>, ApiError> {
    let input: PreferencesInput = json_body(app, req)?;
    let preferences = parse(&input)?;
    let shown = PreferencesReply::of(&preferences);
    let sender = Sender::member(&session);
    let (store, clock, policy, member) = (app.store.as_ref(), app.clock.as_ref(), &app.policy, &session.member_id);
    let outcome = match input.birth_date.as_deref().filter(|b| !b.trim().is_empty()) {
        // No 生年月日: the onboarding's screens (one conditional write), or a completed member's
        // change that needs none (the state machine asks for it when it does).
        None => apply_step(store, clock, policy, member, sender, &Command::SavePreferences { preferences, birth_date_matches: None }).await?,
        // With it: the profile and the record in one Query, then the decision with the match.
        Some(text) => {
            let birth_date = BirthDate::parse(text, app.clock.today_in_japan()).map_err(|e| ApiError::invalid_field("birthDate", &e))?;
            let (profile, signup) = app.store.get_member_and_signup(member).await?;
            let matches = profile.is_some_and(|p| p.birth_date == birth_date);
            let command = Command::SavePreferences { preferences, birth_date_matches: Some(matches) };
            let applied = apply(store, clock, policy, member, sender, Start::Known(signup), &command).await?;
            if applied.wrote && matches!(applied.outcome, Outcome::Refused(SignupError::Locked { .. })) {
                tracing::warn!(code = "identity_locked", "identity check locked at a change of address");
            }
            applied.outcome
        }
    };
    confirmed.confirm_if(outcome.session_checked());
    let step = member_outcome(outcome)?;
    Ok(ok_json(&SavedPreferencesReply { step: step.as_str(), preferences: shown }))
}
