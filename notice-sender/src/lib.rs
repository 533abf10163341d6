//! 医療費通知等更新のお知らせ, sent (issue 12): one member's notice of one publication day
//! (`notify_member`: read, decide, claim, send, settle), and a day's run over the publication
//! index (`run_day`, paced to `NOTIFY_SEND_RATE`), which the dev server calls when a file is
//! imported. On AWS the same `notify_member` is the queue's consumer.
//!
//! Exactly once, or reported (as the welcome mail): the notice of `(member, day)` is claimed with a
//! conditional write before sending and settled after; a send that surely failed gives the claim
//! back (the retry sends); one whose outcome is unknown keeps it, and after the lease the retry
//! answers `Unconfirmed` (the dead-letter queue) rather than risk a second mail. A refusal of the
//! recipient marks the address (no more mail to it); the society's own configuration errors
//! (`MailError::Unavailable`) never do.

use std::time::Duration;

use chrono::NaiveDate;
use kenpo_notices::{Decision, UnsubscribeKey, decide, mail::notice_mail};
use kenpo_shared::clock::Clock;
use kenpo_shared::config::Settings;
use kenpo_shared::domain::MemberId;
use kenpo_shared::mailer::{MailError, Mailer, SendWait};
use kenpo_shared::signup::{Command, EmailProblem, Policy};
use kenpo_shared::store::{SignupStore, StoreError};
use kenpo_shared::transition::{Sender, Start, apply};
use kenpo_statement_store::StatementStore;

/// What a notice needs besides the stores: the settings (the society, the sender), the policy, the
/// unsubscribe key and the site's origin for the links (`https://…`, no trailing slash).
pub struct Notifier {
    pub settings: Settings,
    pub policy: Policy,
    pub key: UnsubscribeKey,
    pub site: String,
}

/// What became of one member's notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// No notice (the reason is `kenpo_notices::Decision::Skip`'s, or `claimed_elsewhere`).
    Skipped(&'static str),
    /// The recipient was refused for good: the address is marked, no retry.
    Rejected,
}

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not sent (given back) or unknown (kept): retried by the queue.
    #[error(transparent)]
    Mail(MailError),
    /// Another sender holds the claim and has not settled it: retry later.
    #[error("notice in flight elsewhere")]
    InFlight,
    /// A claim older than the lease was never settled: nobody knows whether the mail left.
    #[error("notice claimed but never confirmed")]
    Unconfirmed,
    /// SES's daily quota paused every sender until this time (UTC): not sent, nothing claimed.
    #[error("sending paused until {0}")]
    Paused(chrono::DateTime<chrono::Utc>),
}

impl From<SendWait> for NoticeError {
    fn from(e: SendWait) -> Self {
        match e {
            SendWait::Paused(until) => NoticeError::Paused(until),
            SendWait::Store(e) => NoticeError::Store(e),
        }
    }
}

/// How long sending pauses when SES's daily quota is reached (hours): SES counts the quota over
/// the last 24 hours, and every send that filled it was before the refusal, so 24 hours after the
/// first refusal the whole quota is free again ("resumes the next day").
pub const QUOTA_PAUSE_HOURS: i64 = 24;

impl NoticeError {
    /// Stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            NoticeError::Store(e) => e.code(),
            NoticeError::Mail(e) => e.code(),
            NoticeError::InFlight => "notice_in_flight",
            NoticeError::Unconfirmed => "notice_unconfirmed",
            NoticeError::Paused(_) => "notice_paused",
        }
    }
}

/// The stores and the mailer a notice goes through.
pub struct Outlets<'a> {
    pub statements: &'a dyn StatementStore,
    pub signups: &'a dyn SignupStore,
    pub mailer: &'a dyn Mailer,
    pub clock: &'a dyn Clock,
}

/// `member`'s notice of the publication day `day` (Japan date), if due; the send waits for `pacer`.
pub async fn notify_member(n: &Notifier, o: &Outlets<'_>, pacer: &Pacer, member: &MemberId, day: NaiveDate) -> Result<Outcome, NoticeError> {
    let input = o.statements.notice_input(member).await?;
    let now = o.clock.now();
    let to = match decide(&input, day, now, &n.policy) {
        Decision::Send { to, .. } => to,
        Decision::Skip(reason) => return Ok(Outcome::Skipped(reason)),
        Decision::InFlight => return Err(NoticeError::InFlight),
        Decision::Unconfirmed => return Err(NoticeError::Unconfirmed),
    };
    // Paced before the claim: a wait never eats into the claim's lease, and a ledger that cannot
    // be reached leaves nothing claimed.
    pacer.wait(o.signups, o.clock).await?;
    if !o.statements.claim_notice(member, day, o.clock.now()).await? {
        return Ok(Outcome::Skipped("claimed_elsewhere"));
    }
    let mail = notice_mail(&n.settings, &n.site, member, to.clone(), &n.key.token(member, &to));
    match o.mailer.send(&mail).await {
        Ok(_) => {
            o.statements.settle_notice(member, day, o.clock.now()).await?;
            tracing::info!(code = "notice_sent", "update notice sent");
            Ok(Outcome::Sent)
        }
        Err(e @ MailError::Rejected(_)) => {
            tracing::warn!(code = "notice_rejected", provider = %e, "update notice refused; address marked");
            let command = Command::MarkEmailProblem { problem: EmailProblem::Rejected, recipients: vec![to.as_str().to_owned()] };
            apply(o.signups, o.clock, &n.policy, member, Sender::System, Start::Read, &command).await.map_err(|e| match e {
                kenpo_shared::transition::ApplyError::Store(e) => NoticeError::Store(e),
                kenpo_shared::transition::ApplyError::Contended => NoticeError::InFlight,
            })?;
            o.statements.settle_notice(member, day, o.clock.now()).await?;
            Ok(Outcome::Rejected)
        }
        Err(MailError::QuotaReached(_)) => {
            o.statements.release_notice(member, day).await?;
            let now = o.clock.now();
            let until = o.signups.pause_sending(now + chrono::Duration::hours(QUOTA_PAUSE_HOURS), now).await?;
            tracing::error!(code = "notice_daily_quota", resumes_at = %until, "SES daily sending quota reached: every sender pauses");
            Err(NoticeError::Paused(until))
        }
        Err(e) if e.not_sent() => {
            o.statements.release_notice(member, day).await?;
            Err(NoticeError::Mail(e))
        }
        Err(e) => Err(NoticeError::Mail(e)),
    }
}

/// Paces one sender's notices (DESIGN.md Part 2, "Pacing"): to its share of the account's rate
/// (`NOTIFY_SEND_RATE` ÷ the senders' maximum concurrency), and then to a slot of the account's
/// shared ledger (`kenpo_shared::mailer::wait_for_send_slot`), which the welcome mails take
/// from as well: no one-second window ever starts more than the account's rate of sends.
pub struct Pacer {
    interval: Duration,
    account_rate: f64,
    next: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Pacer {
    /// `copy_rate`: this sender's sends per second; `account_rate`: every sender's together
    /// (both at least 0.001).
    pub fn new(copy_rate: f64, account_rate: f64) -> Self {
        Self { interval: Duration::from_secs_f64(1.0 / copy_rate.max(0.001)), account_rate, next: tokio::sync::Mutex::new(None) }
    }

    /// Waits until the next send may go: this sender's pace, then the account's slot.
    ///
    /// Errors: `SendWait::Paused` at SES's daily quota; the store's, when the ledger cannot be
    /// reached.
    pub async fn wait(&self, ledger: &dyn SignupStore, clock: &dyn Clock) -> Result<(), SendWait> {
        {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let at = next.filter(|t| *t > now).unwrap_or(now);
            tokio::time::sleep_until(at).await;
            *next = Some(at + self.interval);
        }
        kenpo_shared::mailer::wait_for_send_slot(ledger, clock, self.account_rate).await
    }
}

/// How a day's run went (counts only: no member is named).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub members: usize,
    pub sent: usize,
    pub skipped: usize,
    pub rejected: usize,
    /// Left for a retry (the queue's on AWS; the dev server logs them).
    pub failed: usize,
}

/// Every member with news on `day`: their notices, one after another, paced.
pub async fn run_day(n: &Notifier, o: &Outlets<'_>, pacer: &Pacer, day: NaiveDate) -> Result<RunReport, StoreError> {
    let members = o.statements.published_on(day).await?;
    let mut report = RunReport { members: members.len(), ..RunReport::default() };
    for (i, member) in members.iter().enumerate() {
        match notify_member(n, o, pacer, member, day).await {
            Ok(Outcome::Sent) => report.sent += 1,
            Ok(Outcome::Skipped(_)) => report.skipped += 1,
            Ok(Outcome::Rejected) => report.rejected += 1,
            Err(NoticeError::Paused(until)) => {
                // The daily quota: nobody else is tried (the dev server's next run sends them).
                tracing::warn!(code = "notice_run_paused", resumes_at = %until, "notice run paused at the daily quota");
                report.failed += members.len() - i;
                break;
            }
            Err(e) => {
                tracing::warn!(code = e.code(), "update notice left for a retry");
                report.failed += 1;
            }
        }
    }
    tracing::info!(code = "notice_run", members = report.members, sent = report.sent, skipped = report.skipped, failed = report.failed, "notice run done");
    Ok(report)
}
