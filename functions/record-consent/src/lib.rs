//! `POST /api/signup/consent`: the member agrees to the current terms; the agreement is appended
//! (terms version, time, source IP) in the same transaction that moves the signup on.

use kenpo_shared::domain::Step;
use kenpo_shared::http::{api_preamble, json_body, ok_json, respond, source_ip};
use kenpo_shared::signup::{Decision, transition};
use kenpo_shared::store::ConsentRecord;
use kenpo_shared::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConsentInput {
    terms_version: String,
    agreed: bool,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    respond(consent(app, &req).await)
}

async fn consent(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let session = api_preamble(app, req)?;
    let input: ConsentInput = json_body(app, req)?;
    if !input.agreed {
        return Err(ApiError::new(422, "consent_required", "ご利用には利用規約等への同意が必要です。「同意する」を選んでください。")
            .with_field("agreed", "「同意する」を選んでください。"));
    }
    let current_terms = &app.settings.terms_version;
    if input.terms_version != current_terms.as_str() {
        return Err(ApiError::new(409, "terms_outdated", "利用規約が更新されました。画面を再読み込みし、最新の利用規約をお読みのうえ同意してください。")
            .with_extra("termsVersion", json!(current_terms.as_str())));
    }
    let ip = source_ip(req);
    let reply = transition(app, &session.member_id, |current| match current.state {
        Step::Consent => {
            let now = app.clock.now();
            let mut next = current.next(now);
            next.state = Step::Preferences;
            next.terms_version = Some(current_terms.clone());
            let consent = ConsentRecord { member_id: current.member_id.clone(), terms_version: current_terms.clone(), agreed_at: now, source_ip: ip.clone() };
            Decision::Write { record: next, consent: Some(consent), reply: Ok(json!({ "step": "preferences" })) }
        }
        Step::Preferences => Decision::Reply(Ok(json!({ "step": "preferences" }))),
        other => Decision::Reply(Err(ApiError::wrong_step(other))),
    })
    .await?;
    Ok(ok_json(&reply))
}
