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
use kenpo_shared::store::{EmailProblem, Expect, SignupChange, SignupRecord, StoreError, WriteError};

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
    /// Another delivery claimed this completion moments ago and has not confirmed yet: retry later.
    #[error("welcome mail in flight elsewhere")]
    InFlight,
    /// A claim older than the lease was never confirmed: nobody knows whether the mail left.
    /// Not retried into a possible second mail: the record goes to the dead-letter queue.
    #[error("welcome mail claimed but never confirmed")]
    Unconfirmed,
}

impl WelcomeError {
    pub fn code(&self) -> &'static str {
        match self {
            WelcomeError::Store(e) => e.code(),
            WelcomeError::Mail(e) => e.code(),
            WelcomeError::Contended => "welcome_contended",
            WelcomeError::InFlight => "welcome_in_flight",
            WelcomeError::Unconfirmed => "welcome_unconfirmed",
        }
    }
}

/// How long a claim protects a send in progress (well above the function's timeout).
pub const CLAIM_LEASE_SECONDS: i64 = 120;

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
            tracing::error!(code = e.code(), error = %e, "welcome mail not settled; the record is retried, then dead-lettered");
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
///
/// Exactly once, or reported: the completion is claimed (conditional write) before sending and
/// confirmed after. A send that surely failed gives the claim back (the retry sends); a send
/// whose outcome is unknown keeps it, and the record ends in the dead-letter queue rather than
/// risk a second mail; a refused address is marked on the member and not mailed again.
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
        if current.email_problem.is_some() {
            return Ok(Outcome::Skipped("address_problem"));
        }
        let now = app.clock.now();
        if current.welcome_mail_for == Some(completed_at) {
            if current.welcome_sent_at.is_some() {
                return Ok(Outcome::Skipped("already_sent"));
            }
            let fresh = current.welcome_claimed_at.is_some_and(|at| now - at < chrono::Duration::seconds(CLAIM_LEASE_SECONDS));
            return Err(if fresh { WelcomeError::InFlight } else { WelcomeError::Unconfirmed });
        }
        let mut claimed = current.next(now);
        claimed.welcome_mail_for = Some(completed_at);
        claimed.welcome_claimed_at = Some(now);
        claimed.welcome_sent_at = None;
        match app.store.put_signup(&claimed, Expect::Version(current.version)).await {
            Ok(()) => {}
            Err(WriteError::Conflict(_)) => continue,
            Err(WriteError::Store(e)) => return Err(e.into()),
        }
        let mail = welcome_mail(app, member, to, current.notify_medical_expenses.unwrap_or(false));
        return match app.mailer.send(&mail).await {
            Ok(_) => {
                settle(app, member, completed_at, |r, now| r.welcome_sent_at = Some(now)).await;
                tracing::info!(code = "welcome_sent", member = %member, "welcome mail sent");
                Ok(Outcome::Sent)
            }
            Err(MailError::Rejected(reason)) => {
                tracing::error!(code = "welcome_rejected", member = %member, reason = %reason, "welcome mail refused; address marked");
                settle(app, member, completed_at, |r, _| r.email_problem = Some(EmailProblem::Rejected)).await;
                Ok(Outcome::Rejected)
            }
            Err(e @ MailError::Unavailable(_)) => {
                settle(app, member, completed_at, |r, _| {
                    r.welcome_mail_for = current.welcome_mail_for;
                    r.welcome_claimed_at = None;
                })
                .await;
                Err(WelcomeError::Mail(e))
            }
            Err(e @ MailError::Ambiguous(_)) => Err(WelcomeError::Mail(e)),
        };
    }
    Err(WelcomeError::Contended)
}

/// Update the claimed record (re-read on a lost race, as the member may change preferences meanwhile).
async fn settle(app: &App, member: &kenpo_shared::domain::MemberId, completed_at: chrono::DateTime<chrono::Utc>, change: impl Fn(&mut SignupRecord, chrono::DateTime<chrono::Utc>)) {
    for _ in 0..MAX_TRIES {
        let current = match app.store.get_signup(member).await {
            Ok(Some(r)) if r.welcome_mail_for == Some(completed_at) => r,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(code = e.code(), "could not settle the welcome claim");
                return;
            }
        };
        let mut next = current.next(app.clock.now());
        change(&mut next, app.clock.now());
        match app.store.put_signup(&next, Expect::Version(current.version)).await {
            Ok(()) => return,
            Err(WriteError::Conflict(_)) => continue,
            Err(WriteError::Store(e)) => {
                tracing::warn!(code = e.code(), "could not settle the welcome claim");
                return;
            }
        }
    }
}

/// The mail itself: Japanese, plain text with an HTML part, nothing sensitive (no birth date).
pub fn welcome_mail(app: &App, member: &kenpo_shared::domain::MemberId, to: kenpo_shared::domain::EmailAddress, notify: bool) -> OutgoingMail {
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
    OutgoingMail { member_id: Some(member.clone()), from: s.sender_address.clone(), to, subject, text, html: Some(html) }
}
