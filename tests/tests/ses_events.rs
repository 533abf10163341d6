//! Bounces, complaints and rejects from SES (recorded event payloads, as SNS delivers them): the
//! address is marked, never mailed again until the member changes it, and the top page is told.

use aws_lambda_events::event::sns::SnsEvent;
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::EmailProblem;
use kenpo_tests::*;
use serde_json::{Value, json};

/// An SES event-publishing payload (shape as documented by SES, values made up).
fn ses_event(kind: &str, member: &str, recipient: &str, bounce_type: &str) -> Value {
    let mut event = json!({
        "eventType": kind,
        "mail": {
            "timestamp": "2026-11-25T01:00:00.000Z",
            "source": "webmaster@kenpo.example",
            "sourceArn": "arn:aws:ses:ap-northeast-1:123456789012:identity/kenpo.example",
            "sendingAccountId": "123456789012",
            "messageId": "0106018f-example",
            "destination": [recipient],
            "headersTruncated": false,
            "tags": {"ses:configuration-set": ["kenpo-web"], "member": [member]}
        }
    });
    match kind {
        "Bounce" => event["bounce"] = json!({"bounceType": bounce_type, "bounceSubType": "General", "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}], "timestamp": "2026-11-25T01:00:01.000Z", "feedbackId": "f1"}),
        "Complaint" => event["complaint"] = json!({"complainedRecipients": [{"emailAddress": recipient}], "timestamp": "2026-11-25T01:00:01.000Z", "feedbackId": "f2", "complaintFeedbackType": "abuse"}),
        _ => {}
    }
    event
}

fn sns(messages: &[Value]) -> SnsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| json!({
            "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:ap-northeast-1:123456789012:kenpo-ses-events:1",
            "Sns": {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:kenpo-ses-events", "Subject": null,
                    "Message": m.to_string(), "Timestamp": "2026-11-25T01:00:02.000Z", "SignatureVersion": "1", "Signature": "x",
                    "SigningCertUrl": "https://example.invalid/cert.pem", "UnsubscribeUrl": "https://example.invalid/unsub", "MessageAttributes": {}}
        }))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

async fn completed_member(email: &str) -> (TestApp, String) {
    let t = embedded_app().await;
    t.store.put_members(&[member("B1", "06133946", "19810403")]).await.unwrap();
    let cookie = t.login("B1").await;
    t.onboard(&cookie, "06133946", "19810403", Some(email)).await;
    (t, cookie)
}

async fn problem(t: &TestApp) -> Option<EmailProblem> {
    t.store.get_signup(&MemberId::parse("B1").unwrap()).await.unwrap().unwrap().email_problem
}

#[tokio::test]
async fn a_permanent_bounce_marks_the_address_stops_mail_and_tells_the_member() {
    let (t, cookie) = completed_member("taro..yamada@docomo.ne.jp").await;
    ses_events::handle_sns(&t.app, sns(&[ses_event("Bounce", "B1", "\"taro..yamada\"@docomo.ne.jp", "Permanent")])).await.unwrap();
    assert_eq!(problem(&t).await, Some(EmailProblem::Bounced));
    assert_eq!(json_of(&t.call("GET", "/api/signup", None, &cookie).await)["emailProblem"], "bounced");
    // No welcome mail to a marked address.
    let record = t.store.get_signup(&MemberId::parse("B1").unwrap()).await.unwrap().unwrap();
    let outcome = send_welcome_email::handle_change(&t.app, t.mailer.as_ref(), &kenpo_shared::store::SignupChange { old: None, new: record }).await.unwrap();
    assert_eq!(outcome, send_welcome_email::Outcome::Skipped("address_problem"));
    assert_eq!(t.mailer.count(), 0);
    // The member changes (or confirms) the address (a new one with the birth date): the mark is gone.
    let r = t.call("PUT", "/api/signup/preferences", Some(r#"{"email":"hanako@example.jp","notifyMedicalExpenses":true,"birthDate":"19810403"}"#), &cookie).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(&t.call("GET", "/api/signup", None, &cookie).await)["emailProblem"], Value::Null);
}

#[tokio::test]
async fn complaints_and_rejects_mark_transient_bounces_do_not() {
    let (t, _) = completed_member("taro@example.jp").await;
    ses_events::handle_sns(&t.app, sns(&[ses_event("Bounce", "B1", "taro@example.jp", "Transient")])).await.unwrap();
    assert_eq!(problem(&t).await, None, "a full mailbox is not the address's fault");
    ses_events::handle_sns(&t.app, sns(&[ses_event("Complaint", "B1", "taro@example.jp", "")])).await.unwrap();
    assert_eq!(problem(&t).await, Some(EmailProblem::Complained));
    let (t, _) = completed_member("taro@example.jp").await;
    ses_events::handle_sns(&t.app, sns(&[ses_event("Reject", "B1", "taro@example.jp", "")])).await.unwrap();
    assert_eq!(problem(&t).await, Some(EmailProblem::Rejected));
}

#[tokio::test]
async fn a_bounce_for_an_old_address_or_an_unknown_member_changes_nothing() {
    let (t, _) = completed_member("new@example.jp").await;
    let outcome = ses_events::handle_event(&t.app, &serde_json::from_value(ses_event("Bounce", "B1", "old@example.jp", "Permanent")).unwrap()).await.unwrap();
    assert_eq!(outcome, ses_events::Outcome::Ignored("address_changed"));
    ses_events::handle_sns(&t.app, sns(&[ses_event("Bounce", "NOBODY", "new@example.jp", "Permanent"), json!({"not": "ses"})])).await.unwrap();
    assert_eq!(problem(&t).await, None);
    for kind in ["Delivery", "Send", "Open"] {
        ses_events::handle_sns(&t.app, sns(&[ses_event(kind, "B1", "new@example.jp", "")])).await.unwrap();
    }
    assert_eq!(problem(&t).await, None);
}
