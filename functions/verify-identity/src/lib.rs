//! `POST /api/signup/identity`: 保険者番号 + 生年月日 against the society's member record, with a
//! lockout after repeated failures that holds across sessions (it lives in the signup record).

use chrono::Duration;
use kenpo_shared::domain::{BirthDate, InsurerNumber, Step};
use kenpo_shared::http::{api_preamble, json_body, ok_json, respond};
use kenpo_shared::signup::{Decision, transition};
use kenpo_shared::store::{MemberProfile, SignupRecord};
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

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
    respond(verify(app, &req).await)
}

fn parse(app: &App, input: &IdentityInput) -> Result<Identity, ApiError> {
    let insurer = InsurerNumber::parse(&input.insurer_number).map_err(|e| ApiError::invalid_field("insurerNumber", &e));
    let birth = BirthDate::parse(&input.birth_date, app.clock.today_in_japan()).map_err(|e| ApiError::invalid_field("birthDate", &e));
    let insurer = insurer.and_then(|n| {
        if app.settings.is_society_insurer(&n) {
            Ok(n)
        } else {
            Err(ApiError::new(422, "invalid_input", "入力内容に誤りがあります。").with_field(
                "insurerNumber",
                format!(
                    "当組合の保険者番号は{}です。健康保険証の左下に記載されている8桁の番号を入力してください（記号・番号や社員番号ではありません）。",
                    app.settings.insurer_numbers_hint()
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

fn locked(seconds: i64) -> ApiError {
    let seconds = seconds.max(1);
    let minutes = (seconds + 59) / 60;
    let mut e = ApiError::new(
        429,
        "locked",
        format!("入力の誤りが続いたため、本人確認を一時的に停止しています。約{minutes}分後にもう一度お試しください。"),
    )
    .with_extra("retryAfterSeconds", json!(seconds));
    e.retry_after = Some(seconds as u64);
    e
}

fn mismatch(remaining: u32, lockout_minutes: u64) -> ApiError {
    ApiError::new(
        403,
        "identity_mismatch",
        format!("保険者番号または生年月日が登録内容と一致しません。あと{remaining}回誤ると、{lockout_minutes}分間ご利用いただけなくなります。"),
    )
    .with_extra("remainingAttempts", json!(remaining))
}

async fn verify(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let session = api_preamble(app, req)?;
    let input: IdentityInput = json_body(app, req)?;
    let identity = parse(app, &input)?;
    let profile = app.store.get_member(&session.member_id).await?;
    let is_match = matches(profile.as_ref(), &identity);
    let settings = &app.settings;
    let reply = transition(app, &session.member_id, |current: &SignupRecord| {
        let now = app.clock.now();
        match current.state {
            Step::Identity => {}
            // A double click: the first request already moved on.
            Step::Consent if is_match => return Decision::Reply(Ok(json!({ "step": "consent" }))),
            other => return Decision::Reply(Err(ApiError::wrong_step(other))),
        }
        let lock_over = current.locked_until.is_some_and(|until| until <= now);
        if let Some(until) = current.locked_until.filter(|until| *until > now) {
            return Decision::Reply(Err(locked((until - now).num_seconds())));
        }
        let mut next = current.next(now);
        next.locked_until = None;
        if lock_over {
            next.failed_attempts = 0;
        }
        if is_match {
            next.state = Step::Consent;
            next.failed_attempts = 0;
            return Decision::Write { record: next, consent: None, reply: Ok(json!({ "step": "consent" })) };
        }
        next.failed_attempts += 1;
        let reply = if next.failed_attempts >= settings.lockout_attempts {
            let seconds = i64::try_from(settings.lockout_seconds).unwrap_or(i64::MAX / 4);
            next.locked_until = Some(now + Duration::seconds(seconds));
            tracing::warn!(code = "identity_locked", member = %current.member_id, "identity check locked");
            Err(locked(seconds))
        } else {
            Err(mismatch(settings.lockout_attempts - next.failed_attempts, settings.lockout_seconds.div_ceil(60)))
        };
        Decision::Write { record: next, consent: None, reply }
    })
    .await?;
    Ok(ok_json(&reply))
}
