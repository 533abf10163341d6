//! `POST /sso`: the portal's hand-off. A signed token (form field `token`) becomes a fresh session
//! cookie and a 303 to the member's current page. Every refusal is a 401 page leading back to the portal.
//! `POST /logout` ends the member's sessions on every device (the record's "sessions valid from"
//! moves to now, so even a copy of the cookie is refused), clears the cookie and leads back to the
//! portal.

use kenpo_shared::handoff::{HandoffError, HandoffVerifier};
use kenpo_shared::http::{body_bytes, html_response, see_other};
use kenpo_shared::App;
use kenpo_shared::domain::Step;
use kenpo_shared::signup::current_step;
use lambda_http::{Body, Request, Response};

/// `handoff` verifies the portal's tokens (only this function holds the portal's key).
pub async fn handle(app: &App, handoff: &HandoffVerifier, req: Request) -> Response<Body> {
    if kenpo_shared::http::route_path(&req) == "/logout" {
        return logout(app, &req).await;
    }
    match enter(app, handoff, &req).await {
        Ok(response) => response,
        Err(Refusal::Handoff(e, jti)) => {
            // The reason and, once the token was read, a hash of its jti; never the token.
            tracing::warn!(code = "handoff_refused", reason = e.code(), jti = jti.as_deref().unwrap_or("-"), "hand-off refused");
            refusal_page(app, e)
        }
        Err(Refusal::Unavailable) => html_response(503, page(app, "ただいま混み合っています", "しばらくしてから、ポータルからもう一度お入りください。")),
    }
}

enum Refusal {
    /// Why, and the hash of the token's `jti` when it was read (`handoff::jti_hash`).
    Handoff(HandoffError, Option<String>),
    Unavailable,
}

impl From<HandoffError> for Refusal {
    fn from(e: HandoffError) -> Self {
        Refusal::Handoff(e, None)
    }
}

impl From<kenpo_shared::store::StoreError> for Refusal {
    fn from(e: kenpo_shared::store::StoreError) -> Self {
        tracing::error!(code = e.code(), error = %e, "store failure at hand-off");
        Refusal::Unavailable
    }
}

/// The `token` field of an `application/x-www-form-urlencoded` body.
fn token_of(req: &Request) -> Result<String, HandoffError> {
    let body = body_bytes(req);
    if body.len() > kenpo_shared::handoff::MAX_TOKEN_BYTES + 64 {
        return Err(HandoffError::TooLong);
    }
    let text = std::str::from_utf8(body).map_err(|_| HandoffError::Malformed)?;
    let token = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v.to_owned())
        .ok_or(HandoffError::Missing)?;
    // A JWT is base64url and dots: percent-encoding never appears in a valid one.
    Ok(token)
}

/// Exactly one `Origin`, one of the portal's (DESIGN.md Part 2: browsers always send one with a
/// form POST, so a missing one is refused too).
fn check_portal_origin(app: &App, req: &Request) -> Result<(), HandoffError> {
    if kenpo_shared::http::origin_in(req, &app.settings.portal_origins()) { Ok(()) } else { Err(HandoffError::CrossOrigin) }
}

/// The re-post rule (DESIGN.md Part 2): a used or expired token of the portal's, posted again by
/// a browser whose valid session is already that token's member (the Back button, a reload),
/// continues to the member's page instead of stranding them on a refusal. `None`: not that case.
async fn already_in(app: &App, verifier: &HandoffVerifier, req: &Request, token: &str) -> Result<Option<Response<Body>>, Refusal> {
    let Some(session) = app.sessions.read(req.headers(), app.clock.now()) else { return Ok(None) };
    if verifier.signed_member(token).as_ref() != Some(&session.member_id) {
        return Ok(None);
    }
    // The same Query as the hand-off's (the function may Query the member's partition).
    let (_, signup) = app.store.get_member_and_signup(&session.member_id).await?;
    if signup.as_ref().is_some_and(|r| !r.accepts_session(session.issued_at())) {
        // Ended by a logout: the re-post rule is for a valid session only.
        return Ok(None);
    }
    let step = signup.map_or(Step::Identity, |record| current_step(&record, &app.policy));
    Ok(Some(see_other(step.page(), None)))
}

async fn enter(app: &App, verifier: &HandoffVerifier, req: &Request) -> Result<Response<Body>, Refusal> {
    check_portal_origin(app, req)?;
    let now = app.clock.now();
    let token = token_of(req)?;
    let handoff = match verifier.verify(&token, now.timestamp()) {
        Ok(h) => h,
        Err(HandoffError::Expired) => return already_in(app, verifier, req, &token).await?.ok_or(Refusal::from(HandoffError::Expired)),
        Err(e) => return Err(e.into()),
    };
    let jti = Some(kenpo_shared::handoff::jti_hash(&handoff.jti));
    // The profile and the signup record in one request.
    let (profile, signup) = app.store.get_member_and_signup(&handoff.member_id).await?;
    if profile.is_none() {
        // Support finds the member by the pseudonym (`kenpo pseudonym <id>`): not in the table yet.
        tracing::warn!(code = "unknown_member", member = %kenpo_shared::pseudonym::of(&handoff.member_id), "hand-off of a member the table does not hold");
        return Err(Refusal::Handoff(HandoffError::UnknownMember, jti));
    }
    // The `jti` stays claimed until the last moment the token could be accepted (its `exp` plus
    // the clock leeway), so a used token is never accepted again.
    let accepted_until = handoff.expires_at.saturating_add(verifier.skew_seconds());
    let expires = chrono::DateTime::from_timestamp(accepted_until, 0).unwrap_or(now);
    if !app.store.claim_token(&handoff.jti, expires, now).await? {
        tracing::info!(code = "handoff_replayed", member = %kenpo_shared::pseudonym::of(&handoff.member_id), "a used hand-off token again");
        return already_in(app, verifier, req, &token).await?.ok_or(Refusal::Handoff(HandoffError::Replayed, jti));
    }
    let step = signup.map_or(Step::Identity, |record| current_step(&record, &app.policy));
    let (_, cookie) = app.sessions.issue(handoff.member_id, now);
    Ok(see_other(step.page(), Some(&cookie)))
}

/// `POST /logout`: the member's sessions end on every device (`SignupStore::end_sessions`, after
/// one read to see that this session was not ended already), the cookie is cleared and the member
/// goes back to the portal. An idle cookie still ends the member's sessions (the other devices'
/// too); an ended or foreign one only clears this browser's. A logout the store could not record
/// is said so on a page (the member must not believe a shared computer is logged out).
async fn logout(app: &App, req: &Request) -> Response<Body> {
    if kenpo_shared::http::check_origin(app, req).is_err() {
        return html_response(403, page(app, "ログアウトできませんでした", "このページからはログアウトできません。サービスの画面右上の「ログアウト」を押してください。"));
    }
    let now = app.clock.now();
    if let Some(session) = app.sessions.read_for_logout(req.headers(), now) {
        let ended = async {
            let record = app.store.get_signup(&session.member_id).await?;
            if record.is_none_or(|r| r.accepts_session(session.issued_at())) {
                app.store.end_sessions(&session.member_id, now).await?;
            }
            Ok::<_, kenpo_shared::store::StoreError>(())
        };
        if let Err(e) = ended.await {
            tracing::error!(code = e.code(), "logout not recorded");
            return html_response(503, page(app, "ログアウトできませんでした", "ただいま混み合っています。しばらくしてからもう一度「ログアウト」を押してください。"));
        }
    }
    see_other(kenpo_shared::http::safe_href(&app.settings.portal_url), Some(&app.sessions.clear()))
}

fn refusal_page(app: &App, e: HandoffError) -> Response<Body> {
    let (title, detail) = match e {
        HandoffError::CrossOrigin => {
            return html_response(403, page(app, "ログインできませんでした", "このページからはログインできません。ポータルのメニューから「医療費と給付金支給額」を選んでお入りください。"));
        }
        HandoffError::Expired => ("ログインの有効期限が切れました", "お手数ですが、ポータルのメニューから「医療費と給付金支給額」をもう一度選んでください。".to_owned()),
        HandoffError::Replayed => ("このログインは使用済みです", "画面の再読み込みや「戻る」でこのページが開かれた可能性があります。ポータルのメニューからもう一度お入りください。".to_owned()),
        HandoffError::UnknownMember => (
            "ご利用の登録が見つかりません",
            format!(
                "「医療費と給付金支給額」の対象者として、まだ登録されていません。加入後まもない方は、登録まで日数がかかることがあります。{}にお問い合わせください。",
                app.settings.contact_line()
            ),
        ),
        _ => (
            "ログインできませんでした",
            format!("ポータルのメニューから「医療費と給付金支給額」を選んでお入りください。解決しない場合は、{}にお問い合わせください。", app.settings.contact_line()),
        ),
    };
    html_response(401, page(app, title, &detail))
}


/// A refusal or notice page in the site's frame (the header, whom to ask in the footer): what
/// happened, what to do, the way back to the portal.
fn page(app: &App, title: &str, detail: &str) -> String {
    kenpo_shared::http::framed_page(&app.settings, "/assets/app.css", title, detail, &[(kenpo_shared::http::safe_href(&app.settings.portal_url), "ポータルに戻る")])
}
