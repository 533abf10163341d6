//! The update notices' run of a day (issue 12): started by the daily schedule at 09:00 Japan time
//! and at the end of every import (the report written under `processed/`). It reads who has news
//! today (`StatementStore::published_on`: one Query of the publication index, never a Scan) and
//! puts one message per member on the notice queue, for send-update-notice. Before 09:00 an
//! import's run does nothing: the schedule's run sends that day's notices from 09:00 (DESIGN.md
//! Part 2). Running twice is harmless: the notices are claimed per member and day.

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use kenpo_shared::clock::japan;
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::StoreError;
use kenpo_statement_store::StatementStore;

/// The hour (Japan time) from which a day's notices go out.
pub const SEND_FROM_HOUR: u32 = 9;

/// Where the run's messages go (SQS on AWS; a list in tests).
#[async_trait::async_trait]
pub trait NoticeQueue: Send + Sync {
    /// Put one message per member for `day`. Errors: the queue refused some (`QueueError`).
    async fn put(&self, day: NaiveDate, members: &[MemberId]) -> Result<(), QueueError>;
}

#[derive(Debug, thiserror::Error)]
#[error("notice queue: {0}")]
pub struct QueueError(pub String);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// How a run went: the day and how many members were queued (`None`: before 09:00, nothing done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub day: NaiveDate,
    pub queued: Option<usize>,
}

/// The run at `now`: today's (Japan date) members with news, queued, from 09:00 Japan time on.
pub async fn run(statements: &dyn StatementStore, queue: &dyn NoticeQueue, now: DateTime<Utc>) -> Result<Run, RunError> {
    let local = now.with_timezone(&japan());
    let day = local.date_naive();
    if local.hour() < SEND_FROM_HOUR {
        tracing::info!(code = "notice_run_early", "before 09:00 Japan time: the schedule sends today's notices");
        return Ok(Run { day, queued: None });
    }
    let members = statements.published_on(day).await?;
    queue.put(day, &members).await?;
    tracing::info!(code = "notice_run", queued = members.len(), "notices queued");
    Ok(Run { day, queued: Some(members.len()) })
}

/// The notice queue on SQS: SendMessageBatch of 10, the failed entries retried once, then an error
/// (the schedule or the import's next run queues them again; the claims keep it to one mail).
pub struct SqsQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

#[async_trait::async_trait]
impl NoticeQueue for SqsQueue {
    async fn put(&self, day: NaiveDate, members: &[MemberId]) -> Result<(), QueueError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        for chunk in members.chunks(10) {
            let mut entries: Vec<SendMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let body = serde_json::json!({"member": m.as_str(), "day": day.format("%Y-%m-%d").to_string()}).to_string();
                    SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(body).build().map_err(|e| QueueError(e.to_string()))
                })
                .collect::<Result<_, _>>()?;
            for attempt in 0..2 {
                let out = self.client.send_message_batch().queue_url(&self.url).set_entries(Some(entries.clone())).send().await.map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
                let failed: Vec<String> = out.failed().iter().map(|f| f.id().to_owned()).collect();
                if failed.is_empty() {
                    break;
                }
                if attempt == 1 {
                    return Err(QueueError(format!("{} messages refused", failed.len())));
                }
                entries.retain(|e| failed.iter().any(|f| f == e.id()));
            }
        }
        Ok(())
    }
}
