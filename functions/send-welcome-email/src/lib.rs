//! The welcome mail (ようこそ), fed by the table's stream (filtered to a signup that is COMPLETED).
//! At most one mail per completion even when the stream delivers a record twice: a conditional
//! write claims the completion before sending. The dev server feeds the embedded store's changes
//! to `handle_change`, the same function the Lambda's stream records reach.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use kenpo_shared::App;
use kenpo_shared::domain::Step;
use kenpo_shared::mailer::{MailError, OutgoingMail};
use kenpo_shared::store::dynamodb::decode_signup;
use kenpo_shared::store::{SignupChange, SignupRecord, StoreError, WriteError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Not a completion, no address, or this completion's mail went already.
    Skipped(&'static str),
    /// The provider refused the address for good; logged, not retried.
    Rejected,
}

#[derive(Debug, thiserror::Error)]
pub enum WelcomeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(MailError),
    #[error("lost too many races for the record")]
    Contended,
}

const MAX_TRIES: usize = 5;

/// Lambda entry: every record of the batch; failures are reported per item so only they retry.
pub async fn handle_stream(app: &App, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let id = record.change.sequence_number.clone();
        let result = match change_of(&record.change.old_image, &record.change.new_image) {
            Ok(Some(change)) => handle_change(app, &change).await.map(|_| ()),
            Ok(None) => Ok(()),
            Err(e) => Err(WelcomeError::Store(e)),
        };
        if let Err(e) = result {
            tracing::error!(code = "welcome_failed", error = %e, "welcome mail not sent; the record will be retried");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn to_sdk(v: &serde_dynamo::AttributeValue) -> AttributeValue {
    use serde_dynamo::AttributeValue as A;
    match v {
        A::S(s) => AttributeValue::S(s.clone()),
        A::N(n) => AttributeValue::N(n.clone()),
        A::Bool(b) => AttributeValue::Bool(*b),
        _ => AttributeValue::Null(true),
    }
}

fn to_record(image: &serde_dynamo::Item) -> Result<Option<SignupRecord>, StoreError> {
    if image.is_empty() {
        return Ok(None);
    }
    let item: HashMap<String, AttributeValue> = image.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect();
    if item.get("SK").and_then(|v| v.as_s().ok()).map(String::as_str) != Some("SIGNUP") {
        return Ok(None);
    }
    decode_signup(&item).map(Some)
}

/// A stream record's images as a signup change (None: not a signup item).
pub fn change_of(old: &serde_dynamo::Item, new: &serde_dynamo::Item) -> Result<Option<SignupChange>, StoreError> {
    let Some(new) = to_record(new)? else { return Ok(None) };
    Ok(Some(SignupChange { old: to_record(old)?, new }))
}

/// Send the welcome mail for this change if it is due. Reads the record as it is now, so a
/// duplicate or stale delivery finds the completion already claimed.
pub async fn handle_change(app: &App, change: &SignupChange) -> Result<Outcome, WelcomeError> {
    if change.new.state != Step::Completed {
        return Ok(Outcome::Skipped("not_completed"));
    }
    let member = &change.new.member_id;
    for _ in 0..MAX_TRIES {
        let Some(current) = app.store.get_signup(member).await? else { return Ok(Outcome::Skipped("no_record")) };
        let Some(completed_at) = current.completed_at.filter(|_| current.state == Step::Completed) else {
            return Ok(Outcome::Skipped("not_completed"));
        };
        let Some(to) = current.email.clone() else { return Ok(Outcome::Skipped("no_address")) };
        if current.welcome_mail_for == Some(completed_at) {
            return Ok(Outcome::Skipped("already_sent"));
        }
        let mut claimed = current.next(app.clock.now());
        claimed.welcome_mail_for = Some(completed_at);
        match app.store.put_signup(&claimed, kenpo_shared::store::Expect::Version(current.version)).await {
            Ok(()) => {}
            Err(WriteError::Conflict(_)) => continue,
            Err(WriteError::Store(e)) => return Err(e.into()),
        }
        let mail = welcome_mail(app, to, current.notify_medical_expenses.unwrap_or(false));
        return match app.mailer.send(&mail).await {
            Ok(_) => {
                mark_sent(app, &claimed).await;
                tracing::info!(code = "welcome_sent", member = %member, "welcome mail sent");
                Ok(Outcome::Sent)
            }
            Err(MailError::Rejected(reason)) => {
                tracing::error!(code = "welcome_rejected", member = %member, reason = %reason, "welcome mail rejected by the provider");
                Ok(Outcome::Rejected)
            }
            Err(e) => {
                release(app, &claimed, current.welcome_mail_for).await;
                Err(WelcomeError::Mail(e))
            }
        };
    }
    Err(WelcomeError::Contended)
}

/// Best effort: the claim already prevents a second mail; `welcomeSentAt` is for operators.
async fn mark_sent(app: &App, claimed: &SignupRecord) {
    let mut sent = claimed.next(app.clock.now());
    sent.welcome_sent_at = Some(app.clock.now());
    if let Err(e) = app.store.put_signup(&sent, kenpo_shared::store::Expect::Version(claimed.version)).await {
        tracing::warn!(code = "welcome_mark_skipped", error = %e, "could not record the sending time");
    }
}

/// The send failed in a way worth retrying: give the claim back so the retry can send.
async fn release(app: &App, claimed: &SignupRecord, previous: Option<chrono::DateTime<chrono::Utc>>) {
    let mut released = claimed.next(app.clock.now());
    released.welcome_mail_for = previous;
    if let Err(e) = app.store.put_signup(&released, kenpo_shared::store::Expect::Version(claimed.version)).await {
        tracing::error!(code = "welcome_release_failed", error = %e, "claim not released");
    }
}

/// The mail itself: Japanese, plain text with an HTML part, nothing sensitive (no birth date).
pub fn welcome_mail(app: &App, to: kenpo_shared::domain::EmailAddress, notify: bool) -> OutgoingMail {
    let s = &app.settings;
    let service = "医療費と給付金支給額";
    let subject = format!("「{service}」へようこそ");
    let choice = if notify { "必要（医療費通知等が更新されたときにお知らせします）" } else { "不要" };
    let text = format!(
        "{society}の「{service}」にご登録いただき、ありがとうございます。\n\n\
         医療費通知： {choice}\n\n\
         通知の設定とメールアドレスは、トップページからいつでも変更できます。\n\
         迷惑メール対策をされている場合は「{domain}」からのメールを受信できるよう設定してください。\n\n\
         このメールにお心当たりのない場合は、{society}までご連絡ください。\n\
         このメールは送信専用です。ご返信いただいてもお答えできません。\n\n{society}\n",
        society = s.society_name,
        domain = s.mail_from_domain,
    );
    let html = format!(
        "<!doctype html><html lang=\"ja\"><body><p>{society}の「{service}」にご登録いただき、ありがとうございます。</p>\
         <p>医療費通知：{choice}</p><p>通知の設定とメールアドレスは、トップページからいつでも変更できます。</p>\
         <p>このメールは送信専用です。</p><p>{society}</p></body></html>",
        society = s.society_name,
    );
    OutgoingMail { from: s.sender_address.clone(), to, subject, text, html: Some(html) }
}
