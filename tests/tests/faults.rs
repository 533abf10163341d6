//! Faults injected at the ports at every step: the member gets a retryable Japanese 503
//! (`temporarily_unavailable`), never a half-applied step, and a retry completes the step.

use std::sync::Arc;

use kenpo_shared::domain::{MemberId, Step};
use kenpo_shared::mailer::MailError;
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_tests::faults::{Fault, FaultyStore, Op};
use kenpo_tests::*;
use serde_json::json;

struct Rig {
    t: TestApp,
    faults: Arc<FaultyStore>,
}

async fn rig() -> Rig {
    let faults = Arc::new(FaultyStore::new(Arc::new(EmbeddedStore::new())));
    let t = app_on(faults.clone(), test_settings()).await;
    t.store.put_members(&[member("F1", "06133946", "19810403")]).await.unwrap();
    Rig { t, faults }
}

fn steps() -> Vec<(&'static str, &'static str, Option<String>, Op, &'static str)> {
    vec![
        ("POST", "/api/signup/identity", Some(json!({"insurerNumber": "06133946", "birthDate": "19810403"}).to_string()), Op::CreateSignup, "consent"),
        ("POST", "/api/signup/consent", Some(json!({"termsVersion": "2026-11-01", "agreed": true}).to_string()), Op::PutSignupBlind, "preferences"),
        ("PUT", "/api/signup/preferences", Some(json!({"email": "taro@example.jp", "notifyMedicalExpenses": true}).to_string()), Op::PutSignupBlind, "confirm"),
        // Version 3: the identity check, the consent and the preferences each wrote once.
        ("POST", "/api/signup/confirm", Some(json!({"version": 3}).to_string()), Op::PutSignupBlind, "completed"),
    ]
}

fn assert_retryable(r: &lambda_http::Response<lambda_http::Body>, what: &str) {
    assert_eq!((r.status().as_u16(), error_code(r)), (503, "temporarily_unavailable".to_string()), "{what}");
    assert!(r.headers().contains_key("retry-after"), "{what}");
    let message = json_of(r)["error"]["message"].as_str().unwrap_or("").to_owned();
    assert!(message.contains("しばらくしてから"), "{what}: a Japanese retry message, got {message}");
}

/// Every step × every fault (before the step's write, after it; before the read of a repeated
/// step): 503, then a retry succeeds.
#[tokio::test]
async fn every_step_survives_every_store_fault() {
    let mut injected = 0;
    for fault in [Fault::Throttle, Fault::Timeout, Fault::ServerError, Fault::AfterWrite] {
        for (i, (_, _, _, write_op, _)) in steps().into_iter().enumerate() {
            for op in [Op::GetSignup, write_op] {
                // No read to fail after; and a repeated preferences save is itself a blind write.
                if op == Op::GetSignup && (fault == Fault::AfterWrite || i == 2) {
                    continue;
                }
                // Every step's first try writes without a read (the identity check creates the
                // record on the profile's condition): a read fails on a repeat.
                let repeat = op == Op::GetSignup;
                let r = rig().await;
                let cookie = r.t.login("F1").await;
                for (method, path, body, _, expected) in steps().into_iter().take(i) {
                    let resp = r.t.call(method, path, body.as_deref(), &cookie).await;
                    assert_eq!(json_of(&resp)["step"], expected);
                }
                let (method, path, body, _, expected) = steps().into_iter().nth(i).unwrap();
                if repeat {
                    // The step went through; its repeat (a double click) takes the read path.
                    let first = r.t.call(method, path, body.as_deref(), &cookie).await;
                    assert_eq!(json_of(&first)["step"], expected);
                }
                let before = r.t.store.get_signup(&MemberId::parse("F1").unwrap()).await.unwrap();
                r.faults.fail_next(op, fault);
                let failed = r.t.call(method, path, body.as_deref(), &cookie).await;
                let what = format!("{path} with {fault:?} at {op:?}");
                assert_retryable(&failed, &what);
                let after = r.t.store.get_signup(&MemberId::parse("F1").unwrap()).await.unwrap();
                if fault != Fault::AfterWrite {
                    assert_eq!(before, after, "{what}: nothing applied");
                }
                let retried = r.t.call(method, path, body.as_deref(), &cookie).await;
                assert_eq!((retried.status().as_u16(), json_of(&retried)["step"].as_str().unwrap_or("").to_owned()), (200, expected.to_owned()), "{what}: the retry completes the step");
                // And the rest of the flow still completes, with exactly one consent.
                for (method, path, body, _, _) in steps().into_iter().skip(i + 1) {
                    // 実行 with the version the screen shows now (a retried write bumped it).
                    let answer = if path == "/api/signup/confirm" { r.t.confirm(&cookie).await } else { r.t.call(method, path, body.as_deref(), &cookie).await };
                    assert_eq!(answer.status(), 200, "{what}");
                }
                assert_eq!(r.t.step(&cookie).await, "completed", "{what}");
                assert_eq!(r.t.store.list_consents(&MemberId::parse("F1").unwrap()).await.unwrap().len(), 1, "{what}");
                injected += *r.faults.injected.lock().unwrap();
            }
        }
    }
    assert_eq!(injected, 25, "every planned fault was injected");
}

#[tokio::test]
async fn a_hand_off_fault_asks_to_come_back_and_a_new_token_works() {
    for (op, fault) in [(Op::GetMember, Fault::Throttle), (Op::ClaimToken, Fault::Timeout), (Op::ClaimToken, Fault::AfterWrite), (Op::GetSignup, Fault::ServerError)] {
        let r = rig().await;
        r.faults.fail_next(op, fault);
        let token = kenpo_shared::handoff::sign_hs256(&r.t.app.settings.sso_jwt_secret, "F1", kenpo_shared::clock::Clock::now(r.t.clock.as_ref()).timestamp(), 60);
        let resp = r.t.route(sso_request(&token)).await;
        assert_eq!(resp.status(), 503, "{op:?} {fault:?}");
        assert!(resp.headers().get("set-cookie").is_none());
        r.t.login("F1").await; // a new hand-off from the portal
    }
}

#[tokio::test]
async fn the_welcome_mail_survives_store_and_mail_faults_and_goes_once() {
    let r = rig().await;
    let cookie = r.t.login("F1").await;
    for (method, path, body, _, _) in steps() {
        r.t.call(method, path, body.as_deref(), &cookie).await;
    }
    let id = MemberId::parse("F1").unwrap();
    let record = r.t.store.get_signup(&id).await.unwrap().unwrap();
    assert_eq!(record.state, Step::Completed);
    let change = kenpo_shared::store::SignupChange { old: None, new: record };
    // The claim starts from the stream's image (no read): store throttled on the claim, then a
    // server error on the claim; then SES throttled; then all well.
    r.faults.fail_next(Op::PutSignup, Fault::Throttle);
    assert!(send_welcome_email::handle_change(&r.t.app, r.t.mailer.as_ref(), &change).await.is_err());
    r.faults.fail_next(Op::PutSignup, Fault::ServerError);
    assert!(send_welcome_email::handle_change(&r.t.app, r.t.mailer.as_ref(), &change).await.is_err());
    *r.t.mailer.fail_with.lock().unwrap() = Some(|| MailError::Unavailable("Throttling".into()));
    assert!(send_welcome_email::handle_change(&r.t.app, r.t.mailer.as_ref(), &change).await.is_err());
    *r.t.mailer.fail_with.lock().unwrap() = None;
    assert_eq!(send_welcome_email::handle_change(&r.t.app, r.t.mailer.as_ref(), &change).await.unwrap(), send_welcome_email::Outcome::Sent);
    // Delivered twice more (the stream's at-least-once): still one mail.
    for _ in 0..2 {
        send_welcome_email::handle_change(&r.t.app, r.t.mailer.as_ref(), &change).await.unwrap();
    }
    assert_eq!(r.t.mailer.count(), 1);
}
