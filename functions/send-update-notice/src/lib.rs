//! The update notices' queue consumer (issue 12): each SQS message names one member and one
//! publication day (`{"member": "…", "day": "YYYY-MM-DD"}`, put by notify-publication);
//! `kenpo_notice_sender::notify_member` decides, claims, sends (paced) and settles. A message that
//! fails (an outage: the claim was given back; a claim in flight; an unknown outcome) is reported
//! as a batch item failure: SQS delivers it again after the queue's visibility timeout, and after
//! `maxReceiveCount` it goes to the dead-letter queue (alarm).
//!
//! SES's sending limits (DESIGN.md Part 2, "Pacing"): a throttled message is postponed by its own
//! visibility timeout, growing with its deliveries (`throttle_backoff_seconds`); at the daily quota
//! every sender pauses for 24 hours (the ledger's pause, `SignupStore::pause_sending`; SES counts
//! the quota over the last 24 hours) and this copy remembers it (`Pause`): the message and every
//! later one wait, without a call to SES or the ledger, until then.

use std::sync::Mutex;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, NaiveDate, Utc};
use kenpo_notice_sender::{NoticeError, Notifier, Outlets, Pacer, notify_member};
use kenpo_shared::domain::MemberId;
use kenpo_shared::mailer::MailError;
use serde::{Deserialize, Serialize};

/// One notice to consider: the queue message's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeJob {
    pub member: String,
    /// The publication day (Japan date), `YYYY-MM-DD`.
    pub day: NaiveDate,
}

/// Sets when a message is delivered again (SQS `ChangeMessageVisibility`: `seconds` from now, at
/// most 12 hours after its receipt).
#[async_trait::async_trait]
pub trait Postpone: Send + Sync {
    /// Errors: the queue's, as text without the message (the message then returns after the
    /// queue's own visibility timeout).
    async fn postpone(&self, receipt_handle: &str, seconds: i32) -> Result<(), String>;
}

/// SQS's longest visibility timeout (seconds), less a margin for the time since the receipt.
pub const MAX_POSTPONE_SECONDS: i32 = 12 * 3600 - 600;

/// This copy's pause at SES's daily quota (UTC): until then it tries no send.
#[derive(Debug, Default)]
pub struct Pause(Mutex<Option<DateTime<Utc>>>);

impl Pause {
    fn until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).filter(|until| *until > now)
    }

    fn set(&self, until: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
    }
}

/// When a throttled message is tried again: 30 s after its first delivery, doubling with each
/// delivery (`ApproximateReceiveCount`), at most 15 minutes (seconds).
pub fn throttle_backoff_seconds(receives: u32) -> i32 {
    (30_i32 << receives.saturating_sub(1).min(5)).min(900)
}

/// What the consumer needs besides the notice's outlets.
pub struct Consumer<'a> {
    pub pacer: &'a Pacer,
    pub postpone: &'a dyn Postpone,
    pub pause: &'a Pause,
}

/// Every message of the batch; the failed ones are reported so only they are delivered again.
pub async fn handle(n: &Notifier, o: &Outlets<'_>, c: &Consumer<'_>, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let job = message.body.as_deref().and_then(|b| serde_json::from_str::<NoticeJob>(b).ok()).and_then(|j| MemberId::parse(&j.member).ok().map(|m| (m, j.day)));
        let Some((member, day)) = job else {
            // Not ours to retry: a malformed message would fail forever.
            tracing::error!(code = "notice_job_malformed", "a malformed notice message was dropped");
            continue;
        };
        let now = o.clock.now();
        let retry_in = if let Some(until) = c.pause.until(now) {
            Some(seconds_until(now, until))
        } else {
            match notify_member(n, o, c.pacer, &member, day).await {
                Ok(_) => continue,
                Err(NoticeError::Paused(until)) => {
                    // SES's daily quota (this sender's refusal, or another's: the ledger says): this
                    // copy tries nothing more until then.
                    c.pause.set(until);
                    Some(seconds_until(o.clock.now(), until))
                }
                Err(NoticeError::Mail(e @ MailError::Throttled(_))) => {
                    tracing::warn!(code = e.code(), "update notice throttled; postponed");
                    Some(throttle_backoff_seconds(receives(&message)))
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), "update notice not settled; the message is retried");
                    None
                }
            }
        };
        if let (Some(seconds), Some(handle)) = (retry_in, message.receipt_handle.as_deref()) {
            if let Err(e) = c.postpone.postpone(handle, seconds).await {
                tracing::warn!(code = "notice_postpone_failed", error = %e, "the message returns after the queue's visibility timeout");
            }
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = message.message_id.clone().unwrap_or_default();
        response.batch_item_failures.push(failure);
    }
    response
}

/// Whole seconds from `now` to `until`, rounded up (a message never returns before the pause ends),
/// from 1 to SQS's limit.
fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> i32 {
    let millis = (until - now).num_milliseconds();
    i32::try_from(millis.div_euclid(1000) + i64::from(millis.rem_euclid(1000) != 0)).unwrap_or(i32::MAX).clamp(1, MAX_POSTPONE_SECONDS)
}

/// The message's deliveries so far (`ApproximateReceiveCount`; 1 when absent).
fn receives(message: &SqsMessage) -> u32 {
    message.attributes.get("ApproximateReceiveCount").and_then(|v| v.parse().ok()).unwrap_or(1)
}

/// `Postpone` on SQS: `ChangeMessageVisibility` of the notice queue (`NOTICE_QUEUE_URL`).
pub struct SqsPostpone {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

#[async_trait::async_trait]
impl Postpone for SqsPostpone {
    async fn postpone(&self, receipt_handle: &str, seconds: i32) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
    }
}
