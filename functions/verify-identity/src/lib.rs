//! `POST /api/signup/identity`: 保険者番号 + 生年月日 against the society's member record, with a
//! lockout after repeated failures that holds across sessions (it lives in the signup record).
//! A member's first, matching attempt is one request (the record created on the profile's
//! condition); anything else reads the profile and the record together, then decides.

use kenpo_shared::contract::{ErrorCode, StepReply, member_outcome};
use kenpo_shared::domain::{BirthDate, InsurerNumber};
use kenpo_shared::http::{Confirmed, authenticated, json_body, ok_json};
use kenpo_shared::session::Session;
use kenpo_shared::signup::{Command, Outcome, SignupError, decide_first_identity};
use kenpo_shared::store::MemberProfile;
use kenpo_shared::transition::{Sender, Start, apply};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IdentityInput {
    insurer_number: String,
    birth_date: String,
}

struct Identity {
    insurer_number: InsurerNumber,
    birth_date: BirthDate,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    authenticated(app, &req, |session, confirmed| verify(app, &req, session, confirmed)).await
}

fn parse(app: &App, input: &IdentityInput) -> Result<Identity, ApiError> {
    let insurer = InsurerNumber::parse(&input.insurer_number).map_err(|e| {
        if e.code == "check_digit" {
            // A typing mistake: which numbers are the society's, and who uses which.
            ApiError::from(ErrorCode::InvalidInput).with_field(
                "insurerNumber",
                format!("保険者番号に誤りがあります。{}健康保険証の左下に記載されている8桁の番号をご確認ください。", app.settings.insurer_numbers_guide()),
            )
        } else {
            ApiError::invalid_field("insurerNumber", &e)
        }
    });
    let birth = BirthDate::parse(&input.birth_date, app.clock.today_in_japan()).map_err(|e| ApiError::invalid_field("birthDate", &e));
    let insurer = insurer.and_then(|n| {
        if app.settings.is_society_insurer(&n) {
            Ok(n)
        } else {
            Err(ApiError::from(ErrorCode::InvalidInput).with_field(
                "insurerNumber",
                format!(
                    "{}健康保険証の左下に記載されている8桁の番号を入力してください（記号・番号や社員番号ではありません）。",
                    app.settings.insurer_numbers_guide()
                ),
            ))
        }
    });
    match (insurer, birth) {
        (Ok(insurer_number), Ok(birth_date)) => Ok(Identity { insurer_number, birth_date }),
        (Err(a), Err(b)) => Err(a.merge_fields(b)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Both compared every time, so a wrong insurer number and a wrong birth date take the same path.
fn matches(profile: Option<&MemberProfile>, identity: &Identity) -> bool {
    profile.is_some_and(|p| (p.insurer_number == identity.insurer_number) & (p.birth_date == identity.birth_date))
}

async fn verify(app: &App, req: &Request, session: Session, confirmed: Confirmed) -> Result<Response<Body>, ApiError> {
    let input: IdentityInput = json_body(app, req)?;
    let identity = parse(app, &input)?;
    // A first attempt that matches: the record created on the profile's condition, one request.
    if let Some((record, step)) = decide_first_identity(&session.member_id, app.clock.now(), &app.policy)
        && app.store.create_signup_if_identity(&record, &identity.insurer_number, &identity.birth_date).await?
    {
        // No record existed: no logout had ended any session.
        confirmed.confirm();
        return Ok(ok_json(&StepReply::new(member_outcome(Outcome::Step(step))?)));
    }
    // Otherwise (a mismatch, a record already there): the profile and the signup record in one
    // request, and the loop decides from there, so a mismatch counts as a failed attempt.
    let (profile, signup) = app.store.get_member_and_signup(&session.member_id).await?;
    let command = Command::VerifyIdentity { matches: matches(profile.as_ref(), &identity) };
    let applied = apply(app.store.as_ref(), app.clock.as_ref(), &app.policy, &session.member_id, Sender::member(&session), Start::Known(signup), &command).await?;
    confirmed.confirm_if(applied.outcome.session_checked());
    if applied.wrote && matches!(applied.outcome, Outcome::Refused(SignupError::Locked { .. })) {
        tracing::warn!(code = "identity_locked", member = %kenpo_shared::pseudonym::of(&session.member_id), "identity check locked");
    }
    Ok(ok_json(&StepReply::new(member_outcome(applied.outcome).map_err(|e| explained(app, e))?)))
}

/// A mismatch as the member reads it: which members use which 保険者番号 (a 特例退職 member who
/// typed the number on most cards learns theirs; said after every mismatch, so it tells nothing
/// about which field was wrong). A lock's message gets whom to ask in `http::authenticated`.
fn explained(app: &App, mut e: ApiError) -> ApiError {
    if e.code == ErrorCode::IdentityMismatch {
        e.message.push_str(&app.settings.insurer_numbers_guide());
    }
    e
}
