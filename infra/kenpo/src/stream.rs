//! `kenpo dev --aws`: read the table's DynamoDB stream (as the welcome Lambda's event source
//! mapping does, with its filter) and hand completed signups to the same welcome handler.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use aws_sdk_dynamodb::types::AttributeValue;
use kenpo_shared::App;
use kenpo_shared::store::SignupChange;
use kenpo_shared::store::dynamodb::decode_signup;

fn convert(v: &StreamValue) -> AttributeValue {
    match v {
        StreamValue::S(s) => AttributeValue::S(s.clone()),
        StreamValue::N(n) => AttributeValue::N(n.clone()),
        StreamValue::Bool(b) => AttributeValue::Bool(*b),
        _ => AttributeValue::Null(true),
    }
}

fn record(image: Option<&HashMap<String, StreamValue>>) -> Option<kenpo_shared::store::SignupRecord> {
    let item: HashMap<String, AttributeValue> = image?.iter().map(|(k, v)| (k.clone(), convert(v))).collect();
    let is_signup = item.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "SIGNUP");
    if !is_signup {
        return None;
    }
    decode_signup(&item).inspect_err(|e| tracing::warn!(error = %e, "stream image not readable")).ok()
}

/// Poll every shard from its start; runs until the process ends.
pub async fn follow(app: Arc<App>, config: aws_config::SdkConfig) {
    let tables = aws_sdk_dynamodb::Client::new(&config);
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let table = app.settings.table_name.clone();
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
                        let (Some(new), old) = (record(change.new_image.as_ref()), record(change.old_image.as_ref())) else { continue };
                        // The template's filter: only signups that are COMPLETED.
                        if new.state == kenpo_shared::domain::Step::Completed {
                            crate::dev::deliver_welcome(app.clone(), SignupChange { old, new });
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
