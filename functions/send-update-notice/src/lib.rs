//! The update notices' queue consumer (issue 12): each SQS message names one member and one
//! publication day (`{"member": "…", "day": "YYYY-MM-DD"}`, put by notify-publication);
//! `kenpo_notice_sender::notify_member` decides, claims, sends (paced) and settles. A message that
//! fails (an outage: the claim was given back; a claim in flight; an unknown outcome) is reported
//! as a batch item failure: SQS delivers it again after the queue's visibility timeout, and after
//! `maxReceiveCount` it goes to the dead-letter queue (alarm).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::NaiveDate;
use kenpo_notice_sender::{Notifier, Outlets, Pacer, notify_member};
use kenpo_shared::domain::MemberId;
use serde::{Deserialize, Serialize};

/// One notice to consider: the queue message's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeJob {
    pub member: String,
    /// The publication day (Japan date), `YYYY-MM-DD`.
    pub day: NaiveDate,
}

/// Every message of the batch; the failed ones are reported so only they are delivered again.
pub async fn handle(n: &Notifier, o: &Outlets<'_>, pacer: &Pacer, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let job = message.body.as_deref().and_then(|b| serde_json::from_str::<NoticeJob>(b).ok()).and_then(|j| MemberId::parse(&j.member).ok().map(|m| (m, j.day)));
        let Some((member, day)) = job else {
            // Not ours to retry: a malformed message would fail forever.
            tracing::error!(code = "notice_job_malformed", "a malformed notice message was dropped");
            continue;
        };
        if let Err(e) = notify_member(n, o, pacer, &member, day).await {
            tracing::warn!(code = e.code(), "update notice not settled; the message is retried");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
