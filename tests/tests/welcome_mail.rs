//! The welcome mail: sent once per completion, only with an address, never twice for a duplicate
//! or concurrent stream delivery, retried (and the claim given back) when the provider is down.

use aws_lambda_events::event::dynamodb::Event;
use kenpo_shared::clock::Clock;
use kenpo_shared::domain::MemberId;
use kenpo_shared::mailer::MailError;
use kenpo_shared::store::SignupChange;
use kenpo_tests::*;
use send_welcome_email::{CLAIM_LEASE_SECONDS, Outcome, WelcomeError, handle_change, handle_stream};

async fn completed(email: Option<&str>) -> (TestApp, SignupChange) {
    let t = embedded_app().await;
    t.store.put_members(&[member("M1", "06133946", "19810403")]).await.unwrap();
    let cookie = t.login("M1").await;
    t.onboard(&cookie, "06133946", "19810403", email).await;
    let new = t.store.get_signup(&MemberId::parse("M1").unwrap()).await.unwrap().unwrap();
    (t, SignupChange { old: None, new })
}

#[tokio::test]
async fn one_japanese_mail_without_the_birth_date() {
    let (t, change) = completed(Some("taro..yamada@docomo.ne.jp")).await;
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Sent);
    let sent = t.mailer.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let mail = &sent[0];
    assert!(mail.subject.contains("ようこそ"), "{}", mail.subject);
    assert_eq!(mail.to.as_str(), "taro..yamada@docomo.ne.jp");
    assert_eq!(mail.from, t.app.settings.sender_address);
    for body in [mail.text.as_str(), mail.html.as_deref().unwrap_or("")] {
        assert!(!body.contains("19810403") && !body.contains("1981"), "no birth date in the mail");
        assert!(body.contains("医療費通知"));
    }
    let stored = t.store.get_signup(&change.new.member_id).await.unwrap().unwrap();
    assert!(stored.welcome_sent_at.is_some());
}

#[tokio::test]
async fn duplicate_and_concurrent_deliveries_send_once() {
    let (t, change) = completed(Some("taro@example.jp")).await;
    let outcomes = join_all((0..6).map(|_| handle_change(&t.app, t.mailer.as_ref(), &change))).await;
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Ok(Outcome::Sent))).count(), 1);
    // The others either saw it sent, or saw it in flight and ask to be retried.
    assert!(outcomes.iter().all(|o| matches!(o, Ok(Outcome::Sent | Outcome::Skipped("already_sent")) | Err(WelcomeError::InFlight))));
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Skipped("already_sent"));
    assert_eq!(t.mailer.count(), 1);
}

#[tokio::test]
async fn no_address_no_mail() {
    let (t, change) = completed(None).await;
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Skipped("no_address"));
    assert_eq!(t.mailer.count(), 0);
}

#[tokio::test]
async fn a_provider_outage_is_retried_and_then_sends_once() {
    let (t, change) = completed(Some("taro@example.jp")).await;
    *t.mailer.fail_with.lock().unwrap() = Some(|| MailError::Unavailable("throttled".into()));
    assert!(handle_change(&t.app, t.mailer.as_ref(), &change).await.is_err(), "the stream must retry");
    *t.mailer.fail_with.lock().unwrap() = None;
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Sent);
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Skipped("already_sent"));
    assert_eq!(t.mailer.count(), 1);
}

/// SES's daily quota met by a welcome mail: the claim is given back (the stream's retry after the
/// pause sends it), and every sender pauses for 24 hours, the update notices included.
#[tokio::test]
async fn the_daily_quota_pauses_every_sender() {
    let (t, change) = completed(Some("taro@example.jp")).await;
    *t.mailer.fail_with.lock().unwrap() = Some(|| MailError::QuotaReached("TooManyRequestsException (HTTP 429)".into()));
    let now = t.clock.now();
    match handle_change(&t.app, t.mailer.as_ref(), &change).await {
        Err(WelcomeError::Paused(until)) => assert_eq!(until, now + chrono::Duration::hours(24)),
        other => panic!("{other:?}"),
    }
    let slot = t.store.reserve_send_slot(now + chrono::Duration::hours(1), chrono::Duration::milliseconds(72)).await.unwrap();
    assert_eq!(slot, kenpo_shared::store::SendSlot::PausedUntil(now + chrono::Duration::hours(24)), "the notices wait too");
    *t.mailer.fail_with.lock().unwrap() = None;
    assert!(matches!(handle_change(&t.app, t.mailer.as_ref(), &change).await, Err(WelcomeError::Paused(_))), "nothing is tried during the pause");
    t.clock.advance(chrono::Duration::hours(24));
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Sent);
    assert_eq!(t.mailer.count(), 1);
}

/// A DynamoDB stream event as Lambda delivers it (recorded shape), through `handle_stream`.
fn stream_event(member: &str, sequence: &str) -> Event {
    serde_json::from_value(serde_json::json!({
        "Records": [{
            "eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "ap-northeast-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1795650000,
                "Keys": {"PK": {"S": format!("MEMBER#{member}")}, "SK": {"S": "SIGNUP"}},
                "NewImage": {
                    "PK": {"S": format!("MEMBER#{member}")}, "SK": {"S": "SIGNUP"}, "state": {"S": "COMPLETED"},
                    "version": {"N": "5"}, "failedAttempts": {"N": "0"}, "updatedAt": {"S": "2026-11-25T01:00:00.000000Z"},
                    "completedAt": {"S": "2026-11-25T01:00:00.000000Z"}, "email": {"S": "taro@example.jp"},
                    "notifyMedicalExpenses": {"BOOL": true}
                },
                "OldImage": {
                    "PK": {"S": format!("MEMBER#{member}")}, "SK": {"S": "SIGNUP"}, "state": {"S": "CONFIRM"},
                    "version": {"N": "4"}, "failedAttempts": {"N": "0"}, "updatedAt": {"S": "2026-11-25T00:59:00.000000Z"}
                },
                "SequenceNumber": sequence, "SizeBytes": 300, "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:ap-northeast-1:123456789012:table/kenpo/stream/2026-11-25T00:00:00.000"
        }]
    }))
    .unwrap()
}

#[tokio::test]
async fn stream_records_reach_the_same_handler_and_failures_are_reported_per_item() {
    let (t, _) = completed(Some("taro@example.jp")).await;
    *t.mailer.fail_with.lock().unwrap() = Some(|| MailError::Unavailable("timeout".into()));
    let response = handle_stream(&t.app, t.mailer.as_ref(), stream_event("M1", "111")).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier.as_deref(), Some("111"));
    *t.mailer.fail_with.lock().unwrap() = None;
    let response = handle_stream(&t.app, t.mailer.as_ref(), stream_event("M1", "111")).await;
    assert!(response.batch_item_failures.is_empty());
    let response = handle_stream(&t.app, t.mailer.as_ref(), stream_event("M1", "111")).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(t.mailer.count(), 1, "delivered three times, mailed once");
}

#[tokio::test]
async fn an_unknown_outcome_is_never_resent_and_ends_reported() {
    let (t, change) = completed(Some("taro@example.jp")).await;
    *t.mailer.fail_with.lock().unwrap() = Some(|| MailError::Ambiguous("timeout after sending".into()));
    assert!(matches!(handle_change(&t.app, t.mailer.as_ref(), &change).await, Err(WelcomeError::Mail(MailError::Ambiguous(_)))));
    *t.mailer.fail_with.lock().unwrap() = None;
    // A retry within the lease waits; after it, the claim is reported (dead-letter), not resent.
    assert!(matches!(handle_change(&t.app, t.mailer.as_ref(), &change).await, Err(WelcomeError::InFlight)));
    t.clock.advance(chrono::Duration::seconds(CLAIM_LEASE_SECONDS + 1));
    assert!(matches!(handle_change(&t.app, t.mailer.as_ref(), &change).await, Err(WelcomeError::Unconfirmed)));
    assert_eq!(t.mailer.count(), 0, "never a possible second mail");
}

#[tokio::test]
async fn a_refused_address_is_marked_and_not_mailed_again() {
    let (t, change) = completed(Some("taro@example.jp")).await;
    *t.mailer.fail_with.lock().unwrap() = Some(|| MailError::Rejected("MessageRejected".into()));
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Rejected);
    *t.mailer.fail_with.lock().unwrap() = None;
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Skipped("address_problem"));
    let stored = t.store.get_signup(&change.new.member_id).await.unwrap().unwrap();
    assert_eq!(stored.email_problem, Some(kenpo_shared::store::EmailProblem::Rejected));
    assert_eq!(t.mailer.count(), 0);
}

/// Issue 11: a completed member's new address (re-verified with the birth date) sends
/// 「メールアドレスが変更されました」 to the previous address, without the new one; other changes
/// (the choice alone, a logout) send nothing.
#[tokio::test]
async fn a_changed_address_is_told_to_the_previous_one_without_the_new_one() {
    let (t, _) = completed(Some("old.address@example.jp")).await;
    let member = MemberId::parse("M1").unwrap();
    let cookie = t.login("M1").await;
    let before = t.store.get_signup(&member).await.unwrap().unwrap();
    let body = serde_json::json!({"email": "new.address@example.jp", "notifyMedicalExpenses": true, "birthDate": "19810403"}).to_string();
    assert_eq!(t.call("PUT", "/api/signup/preferences", Some(&body), &cookie).await.status(), 200);
    let after = t.store.get_signup(&member).await.unwrap().unwrap();
    let change = SignupChange { old: Some(before), new: after.clone() };
    assert_eq!(change.address_notice().map(|a| a.as_str().to_owned()).as_deref(), Some("old.address@example.jp"));
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Sent);
    let sent = t.mailer.sent.lock().unwrap().clone();
    let notice = sent.last().unwrap();
    assert_eq!(notice.to.as_str(), "old.address@example.jp");
    assert!(notice.subject.contains("メールアドレスが変更されました"), "{}", notice.subject);
    for body in [notice.text.as_str(), notice.html.as_deref().unwrap_or("")] {
        assert!(!body.contains("new.address"), "never the new address: {body}");
        assert!(body.contains("お心当たりのない場合"));
    }
    // The choice alone afterwards: a change, but no notice.
    let body = serde_json::json!({"email": "new.address@example.jp", "notifyMedicalExpenses": false}).to_string();
    assert_eq!(t.call("PUT", "/api/signup/preferences", Some(&body), &cookie).await.status(), 200);
    let later = t.store.get_signup(&member).await.unwrap().unwrap();
    let change = SignupChange { old: Some(after), new: later };
    assert_eq!(change.address_notice(), None);
    assert_eq!(handle_change(&t.app, t.mailer.as_ref(), &change).await.unwrap(), Outcome::Skipped("not_a_completion"));
}

/// Issue 13: the text and HTML parts say the same sentences (the HTML's paragraphs, unescaped,
/// are the text's), the HTML has a viewport and escapes the society's name, `From` carries the
/// name, and whom to ask is in both; the same for the notice to a previous address.
#[test]
fn both_parts_say_the_same_and_the_html_is_escaped_for_a_phone() {
    let mut settings = kenpo_shared::config::Settings::development();
    settings.society_name = "A&B<健康保険組合>".into();
    let member = MemberId::parse("M1").unwrap();
    let to = kenpo_shared::domain::EmailAddress::from_stored("taro@example.jp").unwrap();
    for mail in [send_welcome_email::welcome_mail(&settings, &member, to.clone(), true), send_welcome_email::address_changed_mail(&settings, &member, to.clone())] {
        assert_eq!(mail.from_name.as_deref(), Some("A&B<健康保険組合>"));
        let html = mail.html.clone().unwrap();
        assert!(html.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#), "{html}");
        assert!(!html.contains("A&B<健康") && html.contains("A&amp;B&lt;健康保険組合&gt;"), "escaped: {html}");
        let unescape = |s: &str| s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&");
        let html_paragraphs: Vec<String> = html.split("<p>").skip(1).map(|p| unescape(p.split("</p>").next().unwrap())).collect();
        let text_paragraphs: Vec<String> = mail.text.trim_end().split("\n\n").map(str::to_owned).collect();
        assert_eq!(html_paragraphs, text_paragraphs, "the same sentences in both parts");
        assert!(mail.text.contains("03-0000-0000") && mail.text.contains("平日 9:00〜17:00"), "whom to ask: {}", mail.text);
    }
}
