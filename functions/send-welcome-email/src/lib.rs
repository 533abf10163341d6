//! The welcome mail (ようこそ), fed by the table's stream (filtered to a signup that became
//! COMPLETED: `SignupChange::is_completion`, the same rule as the template's `FilterCriteria`).
//! At most one mail per completion even when the stream delivers a record twice: a conditional
//! write claims the completion, from the stream's image, before sending. The dev server feeds
//! the embedded store's changes to `handle_change`, the same function the Lambda's stream records reach.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use kenpo_shared::App;
use kenpo_shared::config::Settings;
use kenpo_shared::mailer::{MailError, Mailer, OutgoingMail, SendWait, wait_for_send_slot};
use kenpo_shared::signup::{Command, Outcome as Decided, Settlement, SignupRecord};
use kenpo_shared::store::dynamodb::decode_signup_change;
use kenpo_shared::store::{SignupChange, StoreError};
use kenpo_shared::transition::{ApplyError, Sender, Start, apply};

pub use kenpo_shared::signup::CLAIM_LEASE_SECONDS;

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
    /// SES's daily quota paused every sender until this time (UTC): not sent, nothing claimed.
    #[error("sending paused until {0}")]
    Paused(chrono::DateTime<chrono::Utc>),
}

impl From<SendWait> for WelcomeError {
    fn from(e: SendWait) -> Self {
        match e {
            SendWait::Paused(until) => WelcomeError::Paused(until),
            SendWait::Store(e) => WelcomeError::Store(e),
        }
    }
}

impl From<ApplyError> for WelcomeError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Store(e) => WelcomeError::Store(e),
            ApplyError::Contended => WelcomeError::Contended,
        }
    }
}

impl WelcomeError {
    pub fn code(&self) -> &'static str {
        match self {
            WelcomeError::Store(e) => e.code(),
            WelcomeError::Mail(e) => e.code(),
            WelcomeError::Contended => "welcome_contended",
            WelcomeError::InFlight => "welcome_in_flight",
            WelcomeError::Unconfirmed => "welcome_unconfirmed",
            WelcomeError::Paused(_) => "welcome_paused",
        }
    }
}

/// Lambda entry: every record of the batch; failures are reported per item so only they retry.
pub async fn handle_stream(app: &App, mailer: &dyn Mailer, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let id = record.change.sequence_number.clone();
        let result = match decode_signup_change(&record.change.old_image, &record.change.new_image) {
            Ok(Some(change)) => handle_change(app, mailer, &change).await.map(|_| ()),
            Ok(None) => Ok(()),
            Err(e) => Err(WelcomeError::Store(e)),
        };
        if let Err(e) = result {
            // The code, and the provider's code and request id (`SesMailer` keeps no SES text,
            // which can name the recipient).
            tracing::error!(code = e.code(), error = %e, "welcome mail not settled; the record is retried, then dead-lettered");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Send the welcome mail for this change if it is due: a transition into `Completed`
/// (`SignupChange::is_completion`) whose image has an address. The claim starts from the change's
/// new image (no read); a duplicate or stale delivery loses the conditional write, reads the record
/// and finds the completion already claimed. The image decides alone when it calls for no mail (no
/// address at completion: a member who adds one later gets no welcome mail).
///
/// Exactly once, or reported: the completion is claimed (conditional write) before sending and
/// settled after. A send that surely failed gives the claim back (the retry sends); a send
/// whose outcome is unknown keeps it, and the record ends in the dead-letter queue rather than
/// risk a second mail; a refused address is marked on the member and not mailed again.
pub async fn handle_change(app: &App, mailer: &dyn Mailer, change: &SignupChange) -> Result<Outcome, WelcomeError> {
    if let Some(old_address) = change.address_notice() {
        return address_notice(app, mailer, change, old_address).await;
    }
    if !change.is_completion() {
        return Ok(Outcome::Skipped("not_a_completion"));
    }
    let member = &change.new.member_id;
    let start = Start::Known(Some(change.new.clone()));
    let claim = apply(app.store.as_ref(), app.clock.as_ref(), &app.policy, member, Sender::System, start, &Command::ClaimWelcome).await?;
    match claim.outcome {
        Decided::Step(_) => {}
        Decided::Skipped(reason) => return Ok(Outcome::Skipped(reason)),
        Decided::MailInFlight => return Err(WelcomeError::InFlight),
        Decided::MailUnconfirmed => return Err(WelcomeError::Unconfirmed),
        Decided::Refused(_) => return Ok(Outcome::Skipped("refused")),
    }
    let claimed = claim.record;
    let (Some(completed_at), Some(to)) = (claimed.welcome_mail_for, claimed.email.clone()) else {
        return Ok(Outcome::Skipped("no_address"));
    };
    // The account's rate holds for welcome mails too (a slot only for a mail that goes: a repeat
    // or a member without an address costs no ledger request). A wait that fails gives the claim
    // back, so the retry sends.
    if let Err(e) = wait_for_send_slot(app.store.as_ref(), app.clock.as_ref(), app.settings.send_rate).await {
        settle(app, claimed, completed_at, Settlement::Released).await;
        return Err(e.into());
    }
    let mail = welcome_mail(&app.settings, member, to, claimed.notify_medical_expenses.unwrap_or(false));
    match mailer.send(&mail).await {
        Ok(_) => {
            settle(app, claimed, completed_at, Settlement::Sent).await;
            tracing::info!(code = "welcome_sent", member = %kenpo_shared::pseudonym::of(member), "welcome mail sent");
            Ok(Outcome::Sent)
        }
        Err(e @ MailError::Rejected(_)) => {
            // The provider's code and request id only (`SesMailer` never keeps SES's text, which
            // names the refused address).
            tracing::error!(code = "welcome_rejected", member = %kenpo_shared::pseudonym::of(member), provider = %e, "welcome mail refused; address marked");
            settle(app, claimed, completed_at, Settlement::Rejected).await;
            Ok(Outcome::Rejected)
        }
        Err(e @ MailError::QuotaReached(_)) => {
            settle(app, claimed, completed_at, Settlement::Released).await;
            Err(pause_every_sender(app, &e).await)
        }
        Err(e) if e.not_sent() => {
            settle(app, claimed, completed_at, Settlement::Released).await;
            Err(WelcomeError::Mail(e))
        }
        Err(e) => Err(WelcomeError::Mail(e)),
    }
}

/// 「メールアドレスが変更されました」 to the address a completed member had before a change
/// (DESIGN.md Part 2: re-verification and a notice to the old address, without the new one), so a
/// change made with a stolen session does not go unnoticed. At least once: a send that failed is
/// retried with the stream record (a lost answer may then send it twice, which is the safe side
/// for a security notice); a refused old address is only logged (it is no longer the member's).
async fn address_notice(app: &App, mailer: &dyn Mailer, change: &SignupChange, to: kenpo_shared::domain::EmailAddress) -> Result<Outcome, WelcomeError> {
    let member = &change.new.member_id;
    wait_for_send_slot(app.store.as_ref(), app.clock.as_ref(), app.settings.send_rate).await?;
    match mailer.send(&address_changed_mail(&app.settings, member, to)).await {
        Ok(_) => {
            tracing::info!(code = "address_notice_sent", member = %kenpo_shared::pseudonym::of(member), "notice sent to the previous address");
            Ok(Outcome::Sent)
        }
        Err(e @ MailError::Rejected(_)) => {
            tracing::warn!(code = "address_notice_rejected", member = %kenpo_shared::pseudonym::of(member), provider = %e, "the previous address refused the notice");
            Ok(Outcome::Rejected)
        }
        Err(e @ MailError::QuotaReached(_)) => Err(pause_every_sender(app, &e).await),
        Err(e) => Err(WelcomeError::Mail(e)),
    }
}

/// SES's daily quota: every sender pauses for 24 hours (the update notices too; the ledger's
/// pause), and this record is retried by the stream.
async fn pause_every_sender(app: &App, e: &MailError) -> WelcomeError {
    let now = app.clock.now();
    match app.store.pause_sending(now + chrono::Duration::hours(24), now).await {
        Ok(until) => {
            tracing::error!(code = "welcome_daily_quota", resumes_at = %until, provider = %e, "SES daily sending quota reached: every sender pauses");
            WelcomeError::Paused(until)
        }
        Err(store) => WelcomeError::Store(store),
    }
}

/// The notice to the previous address: that the address was changed and what to do if the member
/// did not change it; never the new address.
pub fn address_changed_mail(s: &Settings, member: &kenpo_shared::domain::MemberId, to: kenpo_shared::domain::EmailAddress) -> OutgoingMail {
    let service = kenpo_shared::http::SYSTEM_NAME;
    let subject = format!("【{service}】メールアドレスが変更されました");
    let paragraphs = [
        format!("{}の「{service}」で、お知らせの送り先のメールアドレスが変更されました。", s.society_name),
        "今後のお知らせは、このメールアドレスには届きません。".to_owned(),
        "ご自身で変更された場合は、このメールへの対応は不要です。".to_owned(),
        format!("お心当たりのない場合は、ポータルから「{service}」に入り、トップページでメールアドレスをご確認のうえ、{}にご連絡ください。", s.contact_line()),
        "このメールは送信専用です。ご返信いただいてもお答えできません。".to_owned(),
        s.society_name.clone(),
    ];
    let (text, html) = mail_parts(&paragraphs);
    OutgoingMail { member_id: Some(member.clone()), from: s.sender_address.clone(), to, subject, text, html: Some(html), from_name: Some(s.society_name.clone()), headers: Vec::new() }
}

/// Record what became of the claimed mail, starting from the record as claimed (a member who
/// changed preferences meanwhile costs one lost race). A failure is logged: the claim then
/// stays, and a retry reports it instead of sending again.
async fn settle(app: &App, claimed: SignupRecord, completed_at: chrono::DateTime<chrono::Utc>, settlement: Settlement) {
    let member = claimed.member_id.clone();
    let command = Command::SettleWelcome { completed_at, settlement };
    if let Err(e) = apply(app.store.as_ref(), app.clock.as_ref(), &app.policy, &member, Sender::System, Start::Known(Some(claimed)), &command).await {
        tracing::warn!(code = e.code(), "could not settle the welcome claim");
    }
}

/// The mail itself: Japanese, nothing sensitive (no birth date); the same sentences in the text
/// part and the HTML part (one list of paragraphs, each escaped for HTML; a viewport for phones);
/// `From` with the society's name; whom to ask at the end.
pub fn welcome_mail(s: &Settings, member: &kenpo_shared::domain::MemberId, to: kenpo_shared::domain::EmailAddress, notify: bool) -> OutgoingMail {
    let service = kenpo_shared::http::SYSTEM_NAME;
    let subject = format!("「{service}」へようこそ");
    let choice = if notify { "必要（医療費通知等が更新されたときにお知らせします）" } else { "不要" };
    let paragraphs = [
        format!("{}の「{service}」にご登録いただき、ありがとうございます。", s.society_name),
        format!("医療費通知：{choice}"),
        "通知の設定とメールアドレスは、トップページからいつでも変更できます。".to_owned(),
        format!("迷惑メール対策をされている場合は「{}」からのメールを受信できるよう設定してください。", s.mail_from_domain),
        format!("このメールにお心当たりのない場合は、{}にお問い合わせください。", s.contact_line()),
        "このメールは送信専用です。ご返信いただいてもお答えできません。".to_owned(),
        s.society_name.clone(),
    ];
    let (text, html) = mail_parts(&paragraphs);
    OutgoingMail { member_id: Some(member.clone()), from: s.sender_address.clone(), to, subject, text, html: Some(html), from_name: Some(s.society_name.clone()), headers: Vec::new() }
}

/// The text part (paragraphs separated by a blank line) and the HTML part (the same paragraphs,
/// escaped, in a page with a viewport) of a mail.
pub fn mail_parts(paragraphs: &[String]) -> (String, String) {
    let text = paragraphs.join("\n\n") + "\n";
    let body: String = paragraphs.iter().map(|p| format!("<p>{}</p>", kenpo_shared::http::escape_html(p))).collect();
    let html = format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head><body>{body}</body></html>"
    );
    (text, html)
}
