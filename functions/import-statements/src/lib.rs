//! The S3 import of the society's statement files (DESIGN.md Part 2, "Architecture, part 2" and
//! the import clarifications): the society uploads a medical or benefits CSV under `incoming/` of
//! the import bucket; the report lands beside it, `processed/<name>.report.json` or
//! `rejected/<name>.report.json`, with the JSON `POST /dev/import` answers.
//!
//! ```text
//! S3 ObjectCreated incoming/*.csv ──> check pass (ImportStatementsFunction) ──> rejected/<name>.report.json
//!        wait queue (busy lock) ──┘        │  small file: written here
//!                                          └─ one SQS message per chunk ──> writers (ApplyStatementsFunction)
//!                                                                             └─ the last: processed/<name>.report.json
//! ```
//!
//! - [`check`]: the hash pass (SHA-256: a file already applied is a no-op), the lock (files one
//!   at a time; a file that finds it busy waits in the wait queue), one streaming check pass
//!   (`kenpo_statements::stream::parse_reader` over the S3 body, the stored state looked up in
//!   batches), the file cut into chunks of whole rows at byte offsets.
//! - [`chunk`]: a writer re-reads its byte range, re-plans its rows, writes them, counts the chunk
//!   done (`StatementStore::count_chunk`, one conditional write); the last one writes the report.
//!
//! One binary, two functions: the check pass (S3 events and the wait queue; up to 15 minutes, the
//! memory for a large file's `record_id`s) and the writers (the chunk queue; short, small, several
//! at once). They share every line of this crate and differ in their triggers, limits and grants
//! (only the check pass may send to the queues), so the template deploys this binary twice
//! rather than building a second one. Each invocation's event says which it is.

pub mod check;
pub mod chunk;
pub mod error;
pub mod message;
pub mod object;
pub mod settings;

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use kenpo_shared::clock::Clock;
use kenpo_statement_store::StatementStore;
use serde_json::Value;

pub use check::{Started, start_file};
pub use chunk::{ChunkOutcome, apply_chunk};
pub use error::ImportError;
pub use message::{ChunkJob, Message};
pub use object::ObjectRef;
pub use settings::ImportSettings;

/// What both functions hold: the store, the clients, the clock, the settings.
pub struct Importer {
    pub store: Arc<dyn StatementStore>,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub clock: Arc<dyn Clock>,
    pub settings: ImportSettings,
}

/// One invocation: an S3 event (the check pass; answers `null`) or an SQS batch (a waiting file or
/// chunks; answers the failed messages, `{"batchItemFailures": [...]}`).
///
/// Errors: an S3 event whose check failed (the store, S3, SQS): the invocation fails, Lambda
/// retries it, then sends it to the dead-letter queue. An event of another kind: `bad_event`.
pub async fn handle(imp: &Importer, event: Value) -> Result<Value, ImportError> {
    let source = event.get("Records").and_then(|r| r.get(0)).and_then(|r| r.get("eventSource")).and_then(Value::as_str).unwrap_or("").to_owned();
    match source.as_str() {
        "aws:s3" => {
            let event: S3Event = serde_json::from_value(event).map_err(|e| ImportError::BadEvent(format!("S3 event: {e}")))?;
            handle_s3(imp, event).await?;
            Ok(Value::Null)
        }
        "aws:sqs" => {
            let event: SqsEvent = serde_json::from_value(event).map_err(|e| ImportError::BadEvent(format!("SQS event: {e}")))?;
            serde_json::to_value(handle_sqs(imp, event).await).map_err(|e| ImportError::BadEvent(e.to_string()))
        }
        _ => {
            tracing::error!(code = "bad_event", "not an S3 or SQS event");
            Err(ImportError::BadEvent("not an S3 or SQS event".into()))
        }
    }
}

/// The check pass for each object of an S3 event; a file that finds the lock busy waits in the
/// wait queue.
pub async fn handle_s3(imp: &Importer, event: S3Event) -> Result<(), ImportError> {
    for record in event.records {
        let object = &record.s3.object;
        let key = object::decode_event_key(object.key.as_deref().unwrap_or(""))?;
        let object = ObjectRef { bucket: record.s3.bucket.name.clone().unwrap_or_default(), key, version_id: object.version_id.clone(), etag: object.e_tag.clone() };
        match start_file(imp, &object).await {
            Ok(_) => {}
            Err(ImportError::Busy) => park(imp, &object).await?,
            Err(e) => {
                tracing::error!(code = e.code(), key = %object.key, error = %e, "check pass failed");
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Sends the file to the wait queue, to be checked after `wait_seconds`.
async fn park(imp: &Importer, object: &ObjectRef) -> Result<(), ImportError> {
    let body = serde_json::to_string(&Message::File { object: object.clone() }).map_err(|e| ImportError::BadEvent(e.to_string()))?;
    imp.sqs
        .send_message()
        .queue_url(&imp.settings.wait_queue_url)
        .message_body(body)
        .delay_seconds(imp.settings.wait_seconds as i32)
        .send()
        .await
        .map_err(|e| ImportError::sqs("SendMessage", &e))?;
    tracing::info!(code = "import_waiting", key = %object.key, "another file is being imported: this one waits");
    Ok(())
}

/// Each message of an SQS batch (a waiting file, or a chunk); the failed ones are answered, so
/// SQS delivers them again after their visibility timeout, until the queue's redrive sends them
/// to the dead-letter queue. A waiting file that meets the lock busy again waits again (a new
/// message: waiting is not failing); a chunk that meets it busy (its file's lease ran out and
/// another file took the lock) comes back after `wait_seconds` and counts as a failed delivery.
pub async fn handle_sqs(imp: &Importer, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        if let Err(e) = handle_message(imp, &message).await {
            if matches!(e, ImportError::Busy) {
                tracing::info!(code = e.code(), "another file is being imported: the chunk waits");
                wait_again(imp, &message).await;
            } else {
                tracing::error!(code = e.code(), error = %e, "message failed: it will be delivered again");
            }
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn handle_message(imp: &Importer, message: &SqsMessage) -> Result<(), ImportError> {
    let body = message.body.as_deref().unwrap_or("");
    match serde_json::from_str::<Message>(body).map_err(|e| ImportError::BadEvent(format!("message body: {e}")))? {
        Message::File { object } => match start_file(imp, &object).await {
            Err(ImportError::Busy) => park(imp, &object).await,
            other => other.map(|_| ()),
        },
        Message::Chunk(job) => apply_chunk(imp, &job).await.map(|_| ()),
    }
}

/// A chunk that met a busy lock comes back after `wait_seconds` instead of its queue's
/// visibility timeout (best effort: without it, it comes back later).
async fn wait_again(imp: &Importer, message: &SqsMessage) {
    let Some(receipt) = &message.receipt_handle else { return };
    let queue_url = match &message.event_source_arn {
        Some(arn) if arn.ends_with(&format!(":{}", queue_name(&imp.settings.wait_queue_url))) => &imp.settings.wait_queue_url,
        _ => &imp.settings.chunk_queue_url,
    };
    let result = imp.sqs.change_message_visibility().queue_url(queue_url).receipt_handle(receipt).visibility_timeout(imp.settings.wait_seconds as i32).send().await;
    if let Err(e) = result {
        let e = ImportError::sqs("ChangeMessageVisibility", &e);
        tracing::warn!(code = e.code(), error = %e, "the message comes back after its visibility timeout");
    }
}

/// The queue's name: the last part of its URL.
fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}
