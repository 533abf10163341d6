//! Every row of DESIGN.md's HTTP contract, through the real handlers on the embedded store.

use chrono::{Duration, TimeZone, Utc};
use kenpo_shared::clock::Clock;
use kenpo_shared::domain::{EmailAddress, MemberId, Step};
use kenpo_shared::handoff::{HandoffClaims, sign_hs256};
use kenpo_shared::store::{Expect, SignupRecord};
use kenpo_tests::*;
use lambda_http::Body;
use serde_json::json;

const BIRTH: &str = "19810403";
const INSURER: &str = "06133946";

async fn app_with_member() -> TestApp {
    let t = embedded_app().await;
    t.store.put_members(&[member("M1", INSURER, BIRTH), member("M2", "63133946", "19480115")]).await.unwrap();
    t
}

fn identity(insurer: &str, birth: &str) -> String {
    json!({ "insurerNumber": insurer, "birthDate": birth }).to_string()
}

#[tokio::test]
async fn sso_sets_a_fresh_secure_session_and_sends_the_member_to_their_step() {
    let t = app_with_member().await;
    let token = sign_hs256(&t.app.settings.sso_jwt_secret, "M1", t.clock.now().timestamp(), 60);
    let r = portal_entry::handle(&t.app, &t.dev.handoff, sso_request(&token)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/signup/identity");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    for flag in ["__Host-kenpo_session=", "HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Max-Age") && !cookie.contains("Expires"), "ends with the browser: {cookie}");
    // The same token again is a replay.
    let again = portal_entry::handle(&t.app, &t.dev.handoff, sso_request(&token)).await;
    assert_eq!(again.status(), 401);
    let page = match again.body() { Body::Text(t) => t.clone(), _ => String::new() };
    assert!(page.contains("ポータルに戻る") && page.contains("使用済み"), "{page}");
}

#[tokio::test]
async fn sso_refuses_bad_tokens_with_a_401_page() {
    let t = app_with_member().await;
    let now = t.clock.now().timestamp();
    let secret = t.app.settings.sso_jwt_secret.clone();
    let none_alg = {
        use base64_like::encode;
        format!("{}.{}.", encode(r#"{"alg":"none","typ":"JWT"}"#), encode(&format!(r#"{{"sub":"M1","iat":{now},"exp":{},"jti":"abcdefgh12345678"}}"#, now + 60)))
    };
    let cases = [
        ("wrong signature", sign_hs256(b"some-other-secret-some-other-secret", "M1", now, 60)),
        ("expired", sign_hs256(&secret, "M1", now - 3600, 60)),
        ("unknown member", sign_hs256(&secret, "NOBODY", now, 60)),
        ("alg none", none_alg),
        ("overlong", "a".repeat(10_000)),
        ("garbage", "not-a-token".into()),
        ("missing", String::new()),
    ];
    for (what, token) in cases {
        let r = portal_entry::handle(&t.app, &t.dev.handoff, sso_request(&token)).await;
        assert_eq!(r.status(), 401, "{what}");
        assert!(r.headers().get("set-cookie").is_none(), "{what} must not log in");
    }
    let not_yet = jsonwebtoken_free_nbf(&secret, now);
    assert_eq!(portal_entry::handle(&t.app, &t.dev.handoff, sso_request(&not_yet)).await.status(), 401, "not yet valid");
}

/// Login CSRF (DESIGN.md Part 2): a page on another origin auto-submitting a valid token for
/// another member, or a post without `Origin`, is refused and leaves the victim's session as it was.
#[tokio::test]
async fn sso_accepts_a_hand_off_only_from_the_portals_origin() {
    let t = app_with_member().await;
    t.store.put_members(&[member("ATTACKER", INSURER, "19700101")]).await.unwrap();
    let victim = t.login("M1").await;
    let token = sign_hs256(&t.app.settings.sso_jwt_secret, "ATTACKER", t.clock.now().timestamp(), 60);
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let mut req = sso_request(&token);
        req.headers_mut().remove("origin");
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        let r = t.route(req).await;
        assert_eq!(r.status(), 403, "{origin:?}");
        assert!(r.headers().get("set-cookie").is_none(), "{origin:?}: nothing set");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "a page, not JSON");
    }
    assert_eq!(t.step(&victim).await, "identity", "the victim is still logged in as themselves");
    // The token was not used up by the refused posts: the real portal's post still works.
    assert_eq!(t.route(sso_request(&token)).await.status(), 303);
}

/// A used token is refused for as long as it could be accepted at all: until its `exp` plus the
/// clock leeway (issue 11: one token made 15 sessions in the 30 s after `exp`).
#[tokio::test]
async fn a_used_token_stays_used_through_the_leeway_after_exp() {
    let t = app_with_member().await;
    let token = sign_hs256(&t.app.settings.sso_jwt_secret, "M1", t.clock.now().timestamp(), 60);
    assert_eq!(t.route(sso_request(&token)).await.status(), 303);
    t.clock.advance(chrono::Duration::seconds(60 + kenpo_shared::handoff::LEEWAY_SECONDS as i64 - 2));
    let again = t.route(sso_request(&token)).await;
    assert_eq!(again.status(), 401, "within the leeway after exp: still a replay");
    assert!(again.headers().get("set-cookie").is_none());
}

/// The re-post rule (DESIGN.md Part 2): the Back button re-posts a used token; a browser whose
/// session is already that member's continues to the member's page, anyone else is refused.
#[tokio::test]
async fn a_used_token_re_posted_by_its_members_browser_continues() {
    let t = app_with_member().await;
    t.store.put_members(&[member("M2", INSURER, "19700101")]).await.unwrap();
    let token = sign_hs256(&t.app.settings.sso_jwt_secret, "M1", t.clock.now().timestamp(), 60);
    let first = t.route(sso_request(&token)).await;
    let cookie = first.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let with_cookie = |c: &str| {
        let mut r = sso_request(&token);
        r.headers_mut().insert("cookie", c.parse().unwrap());
        r
    };
    let again = t.route(with_cookie(&cookie)).await;
    assert_eq!((again.status().as_u16(), again.headers()["location"].to_str().unwrap()), (303, "/signup/identity"));
    assert!(again.headers().get("set-cookie").is_none(), "the session stays as it is");
    assert_eq!(t.route(sso_request(&token)).await.status(), 401, "without that session: a replay");
    let other = t.login("M2").await;
    assert_eq!(t.route(with_cookie(&other)).await.status(), 401, "another member's session: a replay");
    // Long after it expired, still the member's own browser: continues.
    t.clock.advance(chrono::Duration::minutes(10));
    let cookie = t.login("M1").await;
    assert_eq!(t.route(with_cookie(&cookie)).await.status(), 303);
}

/// A token whose `nbf` lies in the future, signed with the real secret.
fn jsonwebtoken_free_nbf(secret: &[u8], now: i64) -> String {
    let claims = HandoffClaims { sub: "M1".into(), iat: now, exp: now + 600, jti: "nbf-test-0123456789".into(), nbf: Some(now + 300) };
    kenpo_shared::handoff::sign_claims_hs256(secret, &claims)
}

mod base64_like {
    pub fn encode(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }
}

#[tokio::test]
async fn status_needs_a_session_and_reports_the_step() {
    let t = app_with_member().await;
    let r = t.route(request("GET", "/api/signup", None, None)).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (401, "unauthenticated".into()));
    let r = t.route(request("GET", "/api/signup", None, Some("__Host-kenpo_session=forged"))).await;
    assert_eq!(r.status(), 401);
    let cookie = t.login("M1").await;
    let r = t.call("GET", "/api/signup", None, &cookie).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(&r), json!({"step": "identity", "version": 0, "termsVersion": "2026-11-01", "preferences": null, "emailProblem": null}));
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json; charset=utf-8"));
}

/// The `name=value` of the `Set-Cookie` a response carries, if any.
fn reissued(r: &lambda_http::Response<Body>) -> Option<String> {
    r.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
}

#[tokio::test]
async fn the_session_ends_after_thirty_idle_minutes_and_lives_on_while_used() {
    let t = app_with_member().await;
    let cookie = t.login("M1").await;
    t.clock.advance(Duration::seconds(1801));
    let r = t.call("GET", "/api/signup", None, &cookie).await;
    assert_eq!(r.status(), 401);
    assert!(reissued(&r).is_none(), "a 401 re-issues nothing");
    // Used every 20 minutes through the answers' re-issued cookie: it outlives 30 minutes.
    let mut cookie = t.login("M1").await;
    for _ in 0..3 {
        t.clock.advance(Duration::seconds(1200));
        let r = t.call("GET", "/api/signup", None, &cookie).await;
        assert_eq!(r.status(), 200);
        let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set.starts_with("__Host-kenpo_session=") && !set.contains("Max-Age") && set.contains("Secure"), "{set}");
        cookie = reissued(&r).unwrap();
    }
    // A refusal that is not a 401 re-issues it too (the member is active).
    let r = t.call("POST", "/api/signup/confirm", Some(r#"{"version":0}"#), &cookie).await;
    assert_eq!((r.status().as_u16(), reissued(&r).is_some()), (409, true));
}

/// DESIGN.md Part 2 (ASVS 3.3.1): after ログアウト, a copy of the cookie is refused by every API, on
/// every device, at no extra request on the reads; a new hand-off works.
#[tokio::test]
async fn logout_ends_every_copy_of_the_session_on_the_server() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    t.onboard(&c, INSURER, BIRTH, None).await;
    let other_device = t.login("M1").await;
    t.clock.advance(Duration::seconds(1));
    let copied = c.clone();
    assert_eq!(t.call("POST", "/logout", None, &c).await.status(), 303);
    for (method, path, body) in [
        ("GET", "/api/signup", None),
        ("GET", "/api/statements/summary", None),
        ("GET", "/api/medical-expenses", None),
        ("PUT", "/api/signup/preferences", Some(r#"{"email":null,"notifyMedicalExpenses":false}"#)),
        ("POST", "/api/signup/identity", Some(identity(INSURER, BIRTH).as_str())),
        ("POST", "/api/signup/confirm", Some(r#"{"version":5}"#)),
    ] {
        for cookie in [&copied, &other_device] {
            let r = t.call(method, path, body, cookie).await;
            assert_eq!((r.status().as_u16(), error_code(&r)), (401, "unauthenticated".into()), "{method} {path}");
        }
    }
    t.clock.advance(Duration::seconds(1));
    let fresh = t.login("M1").await;
    assert_eq!(t.step(&fresh).await, "completed", "a new hand-off after the logout works");
}

/// A copy of an ended cookie is not kept alive by answers given before the record's check (a
/// malformed body), cannot end the member's new sessions by posting ログアウト, and a member who
/// presses ログアウト after 30 idle minutes still ends the sessions on the other devices.
#[tokio::test]
async fn an_ended_cookie_gets_nothing_and_an_idle_logout_still_ends_the_other_devices() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    t.onboard(&c, INSURER, BIRTH, None).await;
    let copied = c.clone();
    t.clock.advance(Duration::seconds(1));
    assert_eq!(t.call("POST", "/logout", None, &c).await.status(), 303);
    for (method, path, body) in [("POST", "/api/signup/confirm", "{not json"), ("POST", "/api/signup/confirm", "{}"), ("PUT", "/api/signup/preferences", r#"{"email":"not-an-email","notifyMedicalExpenses":true}"#)] {
        let r = t.call(method, path, Some(body), &copied).await;
        assert_eq!((r.status().as_u16(), reissued(&r).is_none()), (401, true), "{path} {body}: an ended cookie gets 401 whatever the body");
    }
    t.clock.advance(Duration::seconds(1));
    let fresh = t.login("M1").await;
    t.clock.advance(Duration::seconds(1));
    assert_eq!(t.call("POST", "/logout", None, &copied).await.status(), 303, "the copy's browser is cleared");
    assert_eq!(t.step(&fresh).await, "completed", "but the member's new session lives on");
    // An idle session's ログアウト (31 minutes later) ends the other device's session too.
    let other_device = t.login("M1").await;
    t.clock.advance(Duration::seconds(1));
    let idle = t.login("M1").await;
    t.clock.advance(Duration::seconds(1860));
    assert_eq!(t.call("POST", "/logout", None, &idle).await.status(), 303);
    t.clock.advance(Duration::seconds(1));
    let still = t.login("M1").await;
    assert_eq!(t.step(&still).await, "completed", "a new hand-off works");
    // The other device's cookie was idle as long: refused anyway; what counts is the record.
    let stored = t.store.get_signup(&MemberId::parse("M1").unwrap()).await.unwrap().unwrap();
    let ended_at = stored.sessions_valid_from.unwrap();
    assert!(ended_at > start_time() + Duration::seconds(1800), "the idle logout moved the time: {ended_at}");
    let _ = other_device;
}

/// Two tabs (DESIGN.md Part 2): 実行 in one never confirms what the other saved unseen.
#[tokio::test]
async fn confirm_of_what_another_tab_changed_is_stale_with_the_current_preferences() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    for (method, path, body) in [
        ("POST", "/api/signup/identity", identity(INSURER, BIRTH)),
        ("POST", "/api/signup/consent", json!({"termsVersion": "2026-11-01", "agreed": true}).to_string()),
        ("PUT", "/api/signup/preferences", json!({"email": "taro@example.jp", "notifyMedicalExpenses": true}).to_string()),
    ] {
        assert_eq!(t.call(method, path, Some(&body), &c).await.status(), 200);
    }
    let shown = json_of(&t.call("GET", "/api/signup", None, &c).await)["version"].as_u64().unwrap();
    // The other tab saves something else.
    t.call("PUT", "/api/signup/preferences", Some(&json!({"email": null, "notifyMedicalExpenses": false}).to_string()), &c).await;
    let r = t.call("POST", "/api/signup/confirm", Some(&format!(r#"{{"version":{shown}}}"#)), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (409, "stale_confirmation".into()));
    let error = &json_of(&r)["error"];
    assert_eq!(error["preferences"], json!({"email": null, "notifyMedicalExpenses": false}));
    assert_eq!(error["version"], shown + 1);
    assert_eq!(t.step(&c).await, "confirm", "nothing was confirmed");
    let r = t.call("POST", "/api/signup/confirm", Some(r#"{}"#), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (422, "invalid_input".into()), "a missing version");
    let r = t.call("POST", "/api/signup/confirm", Some(&format!(r#"{{"version":{}}}"#, shown + 1)), &c).await;
    assert_eq!(json_of(&r), json!({"step": "completed"}));
}

/// A new TERMS_VERSION: a completed member agrees again on /signup/terms before anything else.
#[tokio::test]
async fn new_terms_ask_completed_members_to_agree_again_without_a_second_welcome_mail() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    t.onboard(&c, INSURER, BIRTH, None).await;
    let mut settings = t.app.settings.clone();
    settings.terms_version = kenpo_shared::domain::TermsVersion::parse("2027-04-01").unwrap();
    let t2 = app_on(t.store.clone(), settings).await;
    t2.clock.advance(Duration::days(1));
    let c2 = t2.login("M1").await;
    let status = json_of(&t2.call("GET", "/api/signup", None, &c2).await);
    assert_eq!((status["step"].as_str(), status["termsVersion"].as_str()), (Some("reconsent"), Some("2027-04-01")));
    let r = t2.call("GET", "/api/statements/summary", None, &c2).await;
    assert_eq!((r.status().as_u16(), json_of(&r)["error"]["step"].as_str()), (409, Some("reconsent")));
    let r = t2.route(sso_request(&sign_hs256(&t2.app.settings.sso_jwt_secret, "M1", t2.clock.now().timestamp(), 120))).await;
    assert_eq!(r.headers()["location"], "/signup/terms");
    let r = t2.call("POST", "/api/signup/consent", Some(&json!({"termsVersion": "2027-04-01", "agreed": true}).to_string()), &c2).await;
    assert_eq!(json_of(&r), json!({"step": "completed"}));
    assert_eq!(t2.store.list_consents(&MemberId::parse("M1").unwrap()).await.unwrap().len(), 2, "both agreements kept");
    assert_eq!(t2.call("GET", "/api/statements/summary", None, &c2).await.status(), 200);
}

/// A completed member's new address needs the birth date (counted like the identity check).
#[tokio::test]
async fn a_new_address_after_completion_needs_the_birth_date() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    t.onboard(&c, INSURER, BIRTH, Some("taro@example.jp")).await;
    let change = |birth: Option<&str>| json!({"email": "thief@example.jp", "notifyMedicalExpenses": true, "birthDate": birth}).to_string();
    let r = t.call("PUT", "/api/signup/preferences", Some(&change(None)), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (422, "reverification_required".into()));
    assert!(json_of(&r)["error"]["fields"]["birthDate"].is_string());
    let r = t.call("PUT", "/api/signup/preferences", Some(&change(Some("19800101"))), &c).await;
    assert_eq!((r.status().as_u16(), json_of(&r)["error"]["remainingAttempts"].as_u64()), (403, Some(4)));
    let stored = t.store.get_signup(&MemberId::parse("M1").unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.email.as_ref().map(EmailAddress::as_str), Some("taro@example.jp"), "unchanged");
    let r = t.call("PUT", "/api/signup/preferences", Some(&change(Some(BIRTH))), &c).await;
    assert_eq!((r.status().as_u16(), json_of(&r)["preferences"]["email"].as_str()), (200, Some("thief@example.jp")));
    // The choice alone, or the same address: no birth date needed (and one sent is ignored).
    let r = t.call("PUT", "/api/signup/preferences", Some(&json!({"email": "thief@example.jp", "notifyMedicalExpenses": false}).to_string()), &c).await;
    assert_eq!(r.status(), 200);
    // Removing the address needs it too (else removing, then adding one, would tell nobody).
    let r = t.call("PUT", "/api/signup/preferences", Some(&json!({"email": null, "notifyMedicalExpenses": false}).to_string()), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (422, "reverification_required".into()));
}

#[tokio::test]
async fn identity_format_errors_are_422_on_the_field_and_not_counted() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    let r = t.call("POST", "/api/signup/identity", Some(&identity("0613", "1981-02-30")), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (422, "invalid_input".into()));
    let body = json_of(&r);
    assert!(body["error"]["fields"]["insurerNumber"].is_string() && body["error"]["fields"]["birthDate"].is_string(), "{body}");
    // A check-digit typo, and a valid number that is not the society's (with the hint).
    let r = t.call("POST", "/api/signup/identity", Some(&identity("06133947", BIRTH)), &c).await;
    assert_eq!(r.status(), 422);
    let r = t.call("POST", "/api/signup/identity", Some(&identity("12345674", BIRTH)), &c).await;
    assert_eq!(r.status(), 422);
    let hint = json_of(&r)["error"]["fields"]["insurerNumber"].as_str().unwrap().to_owned();
    assert!(hint.contains("「06133946」") && hint.contains("「63133946」"), "{hint}");
    // None of those counted: the first real mismatch still leaves 4.
    let r = t.call("POST", "/api/signup/identity", Some(&identity(INSURER, "19810404")), &c).await;
    assert_eq!((r.status().as_u16(), json_of(&r)["error"]["remainingAttempts"].as_u64()), (403, Some(4)));
}

#[tokio::test]
async fn full_width_input_is_accepted() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    let r = t.call("POST", "/api/signup/identity", Some(&identity("０６１３３９４６", "１９８１／０４／０３")), &c).await;
    assert_eq!((r.status().as_u16(), json_of(&r)), (200, json!({"step": "consent"})));
}

#[tokio::test]
async fn five_mismatches_lock_for_thirty_minutes_across_sessions() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    for remaining in (1..=4).rev() {
        // Wrong insurer number (the other society number) and wrong birth date look the same.
        let wrong = if remaining % 2 == 0 { identity("63133946", BIRTH) } else { identity(INSURER, "19800101") };
        let r = t.call("POST", "/api/signup/identity", Some(&wrong), &c).await;
        assert_eq!(r.status(), 403);
        let e = json_of(&r)["error"].clone();
        assert_eq!(e["code"], "identity_mismatch");
        assert_eq!(e["remainingAttempts"], remaining);
    }
    let r = t.call("POST", "/api/signup/identity", Some(&identity(INSURER, "19800101")), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (429, "locked".into()));
    assert_eq!(r.headers()["retry-after"], "1800");
    assert_eq!(json_of(&r)["error"]["retryAfterSeconds"], 1800);
    // A new session does not reset it, and even the right answer waits.
    let c2 = t.login("M1").await;
    t.clock.advance(Duration::minutes(10));
    let r = t.call("POST", "/api/signup/identity", Some(&identity(INSURER, BIRTH)), &c2).await;
    assert_eq!(r.status(), 429);
    assert_eq!(json_of(&r)["error"]["retryAfterSeconds"], 1200);
    t.clock.advance(Duration::minutes(20));
    let c3 = t.login("M1").await;
    let r = t.call("POST", "/api/signup/identity", Some(&identity(INSURER, "19800101")), &c3).await;
    assert_eq!(json_of(&r)["error"]["remainingAttempts"], 4, "the count starts again after the lock");
    let r = t.call("POST", "/api/signup/identity", Some(&identity(INSURER, BIRTH)), &c3).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn errors_never_echo_the_birth_date() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    for birth in ["19810499", "19810404", "2199-01-01"] {
        let r = t.call("POST", "/api/signup/identity", Some(&identity(INSURER, birth)), &c).await;
        let text = json_of(&r).to_string();
        assert!(!text.contains(birth) && !text.contains("1981"), "{text}");
    }
}

#[tokio::test]
async fn consent_rules() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    // Before identity: wrong step, with the current step.
    let ok_consent = json!({"termsVersion": "2026-11-01", "agreed": true}).to_string();
    let r = t.call("POST", "/api/signup/consent", Some(&ok_consent), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (409, "wrong_step".into()));
    assert_eq!(json_of(&r)["error"]["step"], "identity");
    t.call("POST", "/api/signup/identity", Some(&identity(INSURER, BIRTH)), &c).await;
    let r = t.call("POST", "/api/signup/consent", Some(&json!({"termsVersion": "2026-11-01", "agreed": false}).to_string()), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (422, "consent_required".into()));
    let r = t.call("POST", "/api/signup/consent", Some(&json!({"termsVersion": "2020-01-01", "agreed": true}).to_string()), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (409, "terms_outdated".into()));
    assert_eq!(json_of(&r)["error"]["termsVersion"], "2026-11-01");
    let r = t.call("POST", "/api/signup/consent", Some(&ok_consent), &c).await;
    assert_eq!((r.status().as_u16(), json_of(&r)), (200, json!({"step": "preferences"})));
    // A double click answers the same.
    let r = t.call("POST", "/api/signup/consent", Some(&ok_consent), &c).await;
    assert_eq!((r.status().as_u16(), json_of(&r)), (200, json!({"step": "preferences"})));
    let consents = t.store.list_consents(&MemberId::parse("M1").unwrap()).await.unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].terms_version.as_str(), "2026-11-01");
}

#[tokio::test]
async fn preferences_rules_and_back_from_confirm() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    let prefs = |email: Option<&str>, notify: bool| json!({"email": email, "notifyMedicalExpenses": notify}).to_string();
    let r = t.call("PUT", "/api/signup/preferences", Some(&prefs(None, false)), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (409, "wrong_step".into()));
    t.call("POST", "/api/signup/identity", Some(&identity(INSURER, BIRTH)), &c).await;
    t.call("POST", "/api/signup/consent", Some(&json!({"termsVersion": "2026-11-01", "agreed": true}).to_string()), &c).await;
    let r = t.call("PUT", "/api/signup/preferences", Some(&prefs(Some("not-an-address"), true)), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (422, "invalid_input".into()));
    assert!(json_of(&r)["error"]["fields"]["email"].is_string());
    let r = t.call("PUT", "/api/signup/preferences", Some(&prefs(Some("  "), true)), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (422, "email_required_for_notifications".into()));
    let r = t.call("PUT", "/api/signup/preferences", Some(&prefs(Some(" Taro..Yamada@DOCOMO.ne.jp "), true)), &c).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(&r), json!({"step": "confirm", "preferences": {"email": "Taro..Yamada@docomo.ne.jp", "notifyMedicalExpenses": true}}));
    // 戻る: editing again from confirm is allowed, and status shows what is stored.
    let r = t.call("PUT", "/api/signup/preferences", Some(&prefs(None, false)), &c).await;
    assert_eq!(json_of(&r)["step"], "confirm");
    let status = json_of(&t.call("GET", "/api/signup", None, &c).await);
    assert_eq!(status["preferences"], json!({"email": null, "notifyMedicalExpenses": false}));
}

#[tokio::test]
async fn confirm_is_idempotent_and_completed_members_can_change_preferences() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    let r = t.call("POST", "/api/signup/confirm", Some(r#"{"version":0}"#), &c).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (409, "wrong_step".into()));
    t.onboard(&c, INSURER, BIRTH, Some("taro@example.jp")).await;
    let again = t.call("POST", "/api/signup/confirm", Some(r#"{"version":1}"#), &c).await;
    assert_eq!((again.status().as_u16(), json_of(&again)), (200, json!({"step": "completed"})));
    assert_eq!(t.step(&c).await, "completed");
    let r = t.call("PUT", "/api/signup/preferences", Some(&json!({"email": "hanako@example.jp", "notifyMedicalExpenses": false, "birthDate": BIRTH}).to_string()), &c).await;
    assert_eq!(json_of(&r)["step"], "completed");
    // Identity after completion (DESIGN.md Part 2): the right birth date answers the step, a wrong
    // one is a failed attempt like any other (no free oracle), counted towards the lockout.
    let r = t.call("POST", "/api/signup/identity", Some(&identity(INSURER, BIRTH)), &c).await;
    assert_eq!((r.status().as_u16(), json_of(&r)), (200, json!({"step": "completed"})));
    let wrong = t.call("POST", "/api/signup/identity", Some(&identity(INSURER, "19800101")), &c).await;
    assert_eq!((wrong.status().as_u16(), error_code(&wrong)), (403, "identity_mismatch".into()));
    assert_eq!(json_of(&wrong)["error"]["remainingAttempts"], 4);
    assert_eq!(t.step(&c).await, "completed", "a failed attempt never moves the step");
}

#[tokio::test]
async fn concurrent_requests_never_skip_or_lose_a_step() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    let body = identity(INSURER, BIRTH);
    let results = join_all((0..8).map(|_| t.call("POST", "/api/signup/identity", Some(&body), &c))).await;
    assert!(results.iter().all(|r| r.status() == 200), "double clicks all answer 200");
    let consent = json!({"termsVersion": "2026-11-01", "agreed": true}).to_string();
    let results = join_all((0..8).map(|_| t.call("POST", "/api/signup/consent", Some(&consent), &c))).await;
    assert!(results.iter().all(|r| r.status() == 200));
    assert_eq!(t.store.list_consents(&MemberId::parse("M1").unwrap()).await.unwrap().len(), 1, "one consent record");
    t.call("PUT", "/api/signup/preferences", Some(r#"{"email":null,"notifyMedicalExpenses":false}"#), &c).await;
    let results = join_all((0..8).map(|_| t.confirm(&c))).await;
    assert!(results.iter().all(|r| r.status() == 200));
}

#[tokio::test]
async fn members_who_completed_before_the_cutoff_onboard_again() {
    let t = app_with_member().await;
    for (id, completed, expected) in [("M1", (2022, 7, 1), "identity"), ("M2", (2022, 8, 2), "completed")] {
        let at = Utc.with_ymd_and_hms(completed.0, completed.1, completed.2, 3, 0, 0).unwrap();
        let mut r = SignupRecord::new(MemberId::parse(id).unwrap(), at);
        r.version = 1;
        r.state = Step::Completed;
        r.completed_at = Some(at);
        r.terms_version = Some(t.app.settings.terms_version.clone());
        r.email = EmailAddress::from_stored("old@example.jp");
        r.notify_medical_expenses = Some(true);
        t.store.put_signup(&r, Expect::Absent).await.unwrap();
        let c = t.login(id).await;
        assert_eq!(t.step(&c).await, expected, "{id}");
    }
    // The returning member's old address is offered again.
    let c = t.login("M1").await;
    let status = json_of(&t.call("GET", "/api/signup", None, &c).await);
    assert_eq!(status["preferences"]["email"], "old@example.jp");
    t.onboard(&c, INSURER, BIRTH, Some("old@example.jp")).await;
    assert_eq!(t.step(&c).await, "completed");
}

#[tokio::test]
async fn malformed_oversized_wrong_type_and_foreign_requests() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    let cases: Vec<(lambda_http::Request, u16, &str)> = vec![
        (request("POST", "/api/signup/identity", Some("{not json"), Some(&c)), 400, "malformed_request"),
        (request("POST", "/api/signup/identity", Some(r#"{"insurerNumber":"06133946","birthDate":"19810403","admin":true}"#), Some(&c)), 400, "malformed_request"),
        (request("POST", "/api/signup/identity", Some(r#"{"insurerNumber":6133946,"birthDate":"19810403"}"#), Some(&c)), 400, "malformed_request"),
        (request("POST", "/api/signup/identity", Some(&format!(r#"{{"insurerNumber":"{}","birthDate":"1"}}"#, "0".repeat(20_000))), Some(&c)), 413, "payload_too_large"),
        (request("POST", "/api/signup/confirm", Some(r#"{"extra":1}"#), Some(&c)), 400, "malformed_request"),
    ];
    for (req, status, code) in cases {
        let r = t.route(req).await;
        assert_eq!((r.status().as_u16(), error_code(&r)), (status, code.to_string()));
    }
    let mut wrong_type = request("POST", "/api/signup/identity", Some(&identity(INSURER, BIRTH)), Some(&c));
    wrong_type.headers_mut().insert("content-type", "text/plain".parse().unwrap());
    let r = t.route(wrong_type).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (415, "unsupported_media_type".into()));
    let mut foreign = request("POST", "/api/signup/identity", Some(&identity(INSURER, BIRTH)), Some(&c));
    foreign.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    let r = t.route(foreign).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (403, "cross_origin".into()));
    let mut twice = request("POST", "/api/signup/identity", Some(&identity(INSURER, BIRTH)), Some(&c));
    twice.headers_mut().append("origin", "https://evil.example".parse().unwrap());
    assert_eq!(error_code(&t.route(twice).await), "cross_origin", "ours and another: not ours");
    let mut missing = request("PUT", "/api/signup/preferences", Some("{}"), Some(&c));
    missing.headers_mut().remove("origin");
    assert_eq!(error_code(&t.route(missing).await), "cross_origin");
    // Nothing of that moved the member.
    assert_eq!(t.step(&c).await, "identity");
}

#[tokio::test]
async fn logout_clears_the_session_and_leads_back_to_the_portal() {
    let t = app_with_member().await;
    let c = t.login("M1").await;
    let r = t.call("POST", "/logout", None, &c).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], t.app.settings.portal_url.as_str());
    let cleared = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("__Host-kenpo_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let c = t.login("M1").await;
    let mut foreign = request("POST", "/logout", None, Some(&c));
    foreign.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    let r = t.route(foreign).await;
    assert_eq!(r.status(), 403, "no logout from another site");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "a page, never raw JSON");
    assert_eq!(t.step(&c).await, "identity", "the session lives on");
}
