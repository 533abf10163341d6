//! `kenpo dev --aws`: read the table's DynamoDB stream (as the welcome Lambda's event source
//! mapping does, with its filter) and hand completed signups to the same welcome handler.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use kenpo_shared::store::SignupChange;
use kenpo_shared::store::dynamodb::decode_signup_change;

use crate::Dev;

/// A record's images, decoded by the DynamoDB adapter (`None`: not a signup item, or unreadable).
fn change(old: Option<HashMap<String, StreamValue>>, new: Option<HashMap<String, StreamValue>>) -> Option<SignupChange> {
    let image = |i: Option<HashMap<String, StreamValue>>| serde_dynamo::Item::from(i.unwrap_or_default());
    decode_signup_change(&image(old), &image(new)).inspect_err(|e| tracing::warn!(error = %e, "stream image not readable")).ok().flatten()
}

/// Poll every shard from its start; runs until the process ends.
pub async fn follow(dev: Arc<Dev>, config: aws_config::SdkConfig) {
    let tables = aws_sdk_dynamodb::Client::new(&config);
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let table = dev.app.settings.table_name.clone();
    let arn = match tables.describe_table().table_name(&table).send().await {
        Ok(out) => out.table.and_then(|t| t.latest_stream_arn),
        Err(e) => {
            tracing::error!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "cannot describe the table; no welcome mails");
            return;
        }
    };
    let Some(arn) = arn else {
        tracing::error!("the table has no stream; no welcome mails");
        return;
    };
    // Per shard: the iterator to read next, and the last sequence number handed on. An iterator
    // can run out (moto ends an empty shard's); it is then taken again after the last record.
    let mut shards: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    tracing::info!(table = %table, "following the table's stream for welcome mails");
    loop {
        let described = streams.describe_stream().stream_arn(&arn).send().await;
        if let Err(e) = &described {
            tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(e), "cannot describe the stream; retrying");
        }
        if let Ok(out) = described {
            for shard in out.stream_description.and_then(|d| d.shards).unwrap_or_default() {
                if let Some(id) = shard.shard_id {
                    shards.entry(id).or_insert((None, None));
                }
            }
        }
        let mut idle = true;
        for (id, (iterator, last_sequence)) in shards.iter_mut() {
            if iterator.is_none() {
                let request = streams.get_shard_iterator().stream_arn(&arn).shard_id(id.as_str());
                let request = match last_sequence.as_deref() {
                    Some(seq) => request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(seq),
                    None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
                };
                match request.send().await {
                    Ok(out) => *iterator = out.shard_iterator,
                    Err(e) => tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e), "no shard iterator yet; retrying"),
                }
            }
            let Some(current) = iterator.clone() else { continue };
            match streams.get_records().shard_iterator(&current).send().await {
                Ok(out) => {
                    let records = out.records.unwrap_or_default();
                    // At the end of what is there, take the iterator again after the last record
                    // next time: moto's iterators were seen to miss records written meanwhile.
                    let at_end = records.is_empty();
                    for r in records {
                        idle = false;
                        let Some(change) = r.dynamodb else { continue };
                        if change.sequence_number.is_some() {
                            last_sequence.clone_from(&change.sequence_number);
                        }
                        let Some(signup) = self::change(change.old_image, change.new_image) else { continue };
                        // The template's filter, in code: a completion or an address change.
                        if signup.calls_for_mail() {
                            crate::welcome::deliver(dev.clone(), signup);
                        }
                    }
                    *iterator = if at_end { None } else { out.next_shard_iterator };
                }
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e), "stream read failed; retrying");
                    *iterator = None;
                }
            }
        }
        if idle {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
