//! The S3 import (functions/import-statements) against moto's DynamoDB, S3 and SQS: a recorded S3
//! "ObjectCreated:Put" event (tests/fixtures/s3-object-created-put.json, pointed at an object
//! uploaded to moto first) starts the check pass; the chunks it sends are read back from moto's
//! queue and handed to the writers as Lambda's SQS event source would.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use import_statements::{ChunkOutcome, ImportSettings, Importer, Message, Started, apply_chunk};
use kenpo_shared::clock::ManualClock;
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_statement_store::dynamodb::DynamoStatements;
use kenpo_statement_store::embedded::EmbeddedStatements;
use kenpo_statement_store::import::{Quiet, import_file};
use kenpo_statement_store::FileStatus;
use kenpo_statements::import::StoredRecord;
use kenpo_statements::types::{RecordId, StatementKind};
use kenpo_tests::statements::{benefit, cancellation, file, medical};
use kenpo_tests::*;
use serde_json::{Value, json};

struct Aws {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    bucket: String,
    chunk_queue: String,
    wait_queue: String,
}

/// A fresh table, a versioned bucket and the two queues on moto; the importer on them with
/// `chunk_rows` rows a chunk, its clock at `start_time()`.
async fn setup(prefix: &str, chunk_rows: u32) -> (Importer, Aws) {
    let (dynamodb, table) = moto_table(prefix).await;
    let config = moto_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let sqs = aws_sdk_sqs::Client::new(&config);
    let suffix = format!("{:08x}", rand::random::<u32>());
    let bucket = format!("{prefix}-imports-{suffix}");
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint(aws_sdk_s3::types::BucketLocationConstraint::ApNortheast1).build())
        .send()
        .await
        .expect("create bucket");
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("versioning");
    let queue = |name: String| {
        let sqs = sqs.clone();
        async move { sqs.create_queue().queue_name(name).send().await.expect("create queue").queue_url.expect("queue url") }
    };
    let chunk_queue = queue(format!("{prefix}-chunks-{suffix}")).await;
    let wait_queue = queue(format!("{prefix}-wait-{suffix}")).await;
    let settings = ImportSettings { table_name: table.clone(), chunk_queue_url: chunk_queue.clone(), wait_queue_url: wait_queue.clone(), chunk_rows, wait_seconds: 0 };
    let importer = Importer {
        store: Arc::new(DynamoStatements::new(dynamodb.clone(), table.clone())),
        s3: s3.clone(),
        sqs: sqs.clone(),
        clock: Arc::new(ManualClock::new(start_time())),
        settings,
    };
    (importer, Aws { dynamodb, table, s3, sqs, bucket, chunk_queue, wait_queue })
}

impl Aws {
    /// Uploads `bytes` as `key`; the S3 event AWS would deliver for it (the recorded event with this
    /// bucket, key, size, ETag and version).
    async fn upload(&self, key: &str, bytes: &[u8]) -> Value {
        let out = self.s3.put_object().bucket(&self.bucket).key(key).body(bytes.to_vec().into()).send().await.expect("put object");
        let mut event: Value = serde_json::from_str(include_str!("../fixtures/s3-object-created-put.json")).expect("the recorded event");
        let record = &mut event["Records"][0]["s3"];
        record["bucket"]["name"] = json!(self.bucket);
        record["bucket"]["arn"] = json!(format!("arn:aws:s3:::{}", self.bucket));
        // As S3 writes keys in events: URL-encoded, spaces as '+'.
        let encoded: String = key
            .bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        record["object"]["key"] = json!(encoded);
        record["object"]["size"] = json!(bytes.len());
        record["object"]["eTag"] = json!(out.e_tag().unwrap_or_default().trim_matches('"'));
        record["object"]["versionId"] = json!(out.version_id().expect("a versioned bucket names the version"));
        event
    }

    /// The report at `key`, if any.
    async fn report(&self, key: &str) -> Option<Value> {
        let out = self.s3.get_object().bucket(&self.bucket).key(key).send().await.ok()?;
        let bytes = out.body.collect().await.ok()?.to_vec();
        Some(serde_json::from_slice(&bytes).expect("a report is JSON"))
    }

    /// How many times `key` was written (its versions).
    async fn writes(&self, key: &str) -> usize {
        let out = self.s3.list_object_versions().bucket(&self.bucket).prefix(key).send().await.expect("list versions");
        out.versions().iter().filter(|v| v.key() == Some(key)).count()
    }

    /// Every message waiting in `queue`, as Lambda's SQS event source hands them over.
    async fn take_messages(&self, queue: &str) -> Vec<Value> {
        let mut messages = Vec::new();
        loop {
            let out = self.sqs.receive_message().queue_url(queue).max_number_of_messages(10).wait_time_seconds(0).visibility_timeout(600).send().await.expect("receive");
            if out.messages().is_empty() {
                return messages;
            }
            for m in out.messages() {
                let name = queue.rsplit('/').next().unwrap_or_default();
                messages.push(json!({
                    "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                    "attributes": {}, "messageAttributes": {}, "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs", "eventSourceARN": format!("arn:aws:sqs:ap-northeast-1:123456789012:{name}"), "awsRegion": "ap-northeast-1"
                }));
            }
        }
    }

    /// The table's items whose PK starts with `prefix`.
    async fn items(&self, prefix: &str) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self.dynamodb.scan().table_name(&self.table).set_exclusive_start_key(start).send().await.expect("scan");
            items.extend(out.items().iter().filter(|i| i.get("PK").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with(prefix))).cloned());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}

fn sqs_event(messages: &[Value]) -> Value {
    json!({ "Records": messages })
}

fn chunk_of(message: &Value) -> import_statements::ChunkJob {
    match serde_json::from_str(message["body"].as_str().unwrap()).unwrap() {
        Message::Chunk(job) => job,
        other => panic!("not a chunk: {other:?}"),
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

/// A medical file of `n` new lines for members M001–M003.
fn medical_file(prefix: &str, n: usize) -> Vec<u8> {
    let rows: Vec<_> = ids(prefix, n).iter().enumerate().map(|(i, id)| medical(id, "N", &format!("M00{}", i % 3 + 1), "00", "202608", 3000, false, "20261110")).collect();
    file(StatementKind::Medical, &rows)
}

async fn stored(imp: &Importer, kind: StatementKind, ids: &[String], member: &str) -> HashMap<RecordId, StoredRecord> {
    let rows: Vec<(RecordId, MemberId)> = ids.iter().map(|id| (RecordId::parse(id).unwrap(), MemberId::parse(member).unwrap())).collect();
    imp.store.stored(kind, &rows).await.unwrap()
}

/// What `POST /dev/import` (and `kenpo import-statements`) answers for the same bytes on a store in
/// the same state: the in-memory `import_file` on the embedded store after `before`.
async fn dev_import_report(before: &[&[u8]], bytes: &[u8]) -> Value {
    let store = EmbeddedStatements::new(Arc::new(EmbeddedStore::new()));
    for earlier in before {
        import_file(&store, earlier, start_time(), &Quiet).await.unwrap();
    }
    serde_json::to_value(import_file(&store, bytes, start_time(), &Quiet).await.unwrap().report).unwrap()
}

#[tokio::test]
async fn an_accepted_file_lands_in_the_table_and_its_report_in_processed() {
    let (imp, aws) = setup("s3ok", 10_000).await;
    let mut rows: Vec<_> = ids("OK", 5).iter().map(|id| medical(id, "N", "M001", "00", "202608", 3000, false, "20261110")).collect();
    // A line whose amounts do not add up: a warning, not a refusal.
    rows[2].iter_mut().find(|(c, _)| *c == "total_cost").unwrap().1 = "99999".into();
    let bytes = file(StatementKind::Medical, &rows);
    let event = aws.upload("incoming/2026-11/medical 2026-11.csv", &bytes).await;

    assert_eq!(import_statements::handle(&imp, event).await.unwrap(), Value::Null);

    let report = aws.report("processed/2026-11/medical 2026-11.csv.report.json").await.expect("the report beside the file");
    assert_eq!(report, dev_import_report(&[], &bytes).await, "the same JSON as /dev/import");
    assert_eq!((report["kind"].clone(), report["applied"].clone(), report["warningCount"].clone()), (json!("medical"), json!(5), json!(1)));
    assert_eq!(report["warnings"][0]["line"], 4);
    assert!(aws.report("rejected/2026-11/medical 2026-11.csv.report.json").await.is_none());
    let stored = stored(&imp, StatementKind::Medical, &ids("OK", 5), "M001").await;
    assert_eq!(stored.len(), 5);
    assert!(stored.values().all(|s| matches!(s, StoredRecord::Active(_))));
    // Small: written by the check pass itself, no chunk message.
    assert!(aws.take_messages(&aws.chunk_queue).await.is_empty());
    let sha = kenpo_statement_store::import::sha256_hex(&bytes);
    assert_eq!(imp.store.file(&sha).await.unwrap().unwrap().status, FileStatus::Applied);
    assert!(imp.store.lock_imports("another", start_time(), start_time() + Duration::minutes(1)).await.unwrap(), "the lock is released");
}

#[tokio::test]
async fn a_refused_file_writes_its_report_to_rejected_and_nothing_to_the_table() {
    let (imp, aws) = setup("s3no", 10_000).await;
    // Line 3: a bad month; line 4: the same record_id again; line 5: a C for a record never imported.
    let bytes = file(
        StatementKind::Medical,
        &[
            medical("NO0001", "N", "M001", "00", "202608", 3000, false, "20261110"),
            medical("NO0002", "N", "M001", "00", "2026-8", 3000, false, "20261110"),
            medical("NO0001", "N", "M001", "00", "202608", 3000, false, "20261110"),
        ],
    );
    let event = aws.upload("incoming/bad.csv", &bytes).await;
    import_statements::handle(&imp, event).await.unwrap();
    let report = aws.report("rejected/bad.csv.report.json").await.expect("the refusal's report");
    assert_eq!(report, dev_import_report(&[], &bytes).await);
    let lines: Vec<(u64, String)> = report["errors"].as_array().unwrap().iter().map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap().to_owned())).collect();
    assert_eq!(lines, vec![(3, "service_month".to_owned()), (4, "record_id".to_owned())]);
    assert_eq!(report["applied"], 0);
    assert!(aws.report("processed/bad.csv.report.json").await.is_none());
    assert!(aws.items("MEMBER#").await.is_empty() && aws.items("REC#").await.is_empty(), "nothing of a refused file is written");

    // Refused by the stored state (a C for a record never imported): the same, found by the lookups.
    let bytes = file(StatementKind::Medical, &[medical("NO0009", "C", "M001", "00", "202608", 3000, false, "20261110")]);
    import_statements::handle(&imp, aws.upload("incoming/bad2.csv", &bytes).await).await.unwrap();
    let report = aws.report("rejected/bad2.csv.report.json").await.unwrap();
    assert_eq!(report, dev_import_report(&[], &bytes).await);
    assert_eq!((report["errors"][0]["line"].clone(), report["errors"][0]["column"].clone()), (json!(2), json!("record_id")));
    assert!(aws.items("MEMBER#").await.is_empty() && aws.items("REC#").await.is_empty());
    assert!(imp.store.lock_imports("another", start_time(), start_time() + Duration::minutes(1)).await.unwrap(), "the lock is released");
}

#[tokio::test]
async fn a_file_in_several_chunks_applies_completely_and_its_report_is_written_once() {
    let (imp, aws) = setup("s3chunks", 3).await;
    // CP932 with CRLF, as Excel writes it: the chunks' byte ranges are of the original bytes.
    let text = String::from_utf8(medical_file("CH", 10)).unwrap();
    let bytes = encoding_rs::SHIFT_JIS.encode(&text).0.into_owned();
    let event = aws.upload("incoming/chunked.csv", &bytes).await;
    import_statements::handle(&imp, event).await.unwrap();
    assert!(aws.report("processed/chunked.csv.report.json").await.is_none(), "not before the last chunk");

    let messages = aws.take_messages(&aws.chunk_queue).await;
    assert_eq!(messages.len(), 4, "10 rows, 3 a chunk");
    // Lambda may deliver them in any order, and any of them twice.
    let mut order: Vec<Value> = messages.iter().rev().cloned().collect();
    order.insert(2, messages[1].clone());
    for (i, message) in order.iter().enumerate() {
        let answer = import_statements::handle(&imp, sqs_event(std::slice::from_ref(message))).await.unwrap();
        assert_eq!(answer, json!({"batchItemFailures": []}), "delivery {i}");
    }
    let report = aws.report("processed/chunked.csv.report.json").await.expect("written by the last chunk");
    assert_eq!(report, dev_import_report(&[], &bytes).await);
    assert_eq!(report["applied"], 10);
    assert_eq!(aws.writes("processed/chunked.csv.report.json").await, 1, "written once");
    for member in ["M001", "M002", "M003"] {
        let household = imp.store.household(&MemberId::parse(member).unwrap(), kenpo_statement_store::Scope::All).await.unwrap();
        assert!(household.medical.iter().all(|m| m.record.person_name == "受診者00" && m.record.institution_name.as_deref() == Some("テスト内科")), "CP932 decoded");
        assert_eq!(household.medical.len(), if member == "M001" { 4 } else { 3 });
    }
    let sha = kenpo_statement_store::import::sha256_hex(&bytes);
    assert_eq!(imp.store.file(&sha).await.unwrap().unwrap().status, FileStatus::Applied);
    assert!(imp.store.lock_imports("another", start_time(), start_time() + Duration::minutes(1)).await.unwrap(), "the last chunk released the lock");
}

#[tokio::test]
async fn a_chunk_delivered_twice_changes_nothing() {
    let (imp, aws) = setup("s3twice", 2).await;
    let first = medical_file("TW", 4);
    import_statements::handle(&imp, aws.upload("incoming/first.csv", &first).await).await.unwrap();
    for m in aws.take_messages(&aws.chunk_queue).await {
        import_statements::handle(&imp, sqs_event(&[m])).await.unwrap();
    }
    // A second file: corrections, a cancellation, new lines; in chunks of two.
    let mut corrected = medical("TW0000", "C", "M001", "00", "202608", 2000, false, "20261110");
    corrected.iter_mut().find(|(c, _)| *c == "insurer_paid").unwrap().1 = "8000".into();
    let rows = vec![corrected, cancellation("TW0001", "M002"), medical("TW0100", "N", "M001", "00", "202609", 100, false, "20261110"), medical("TW0101", "N", "M002", "00", "202609", 100, false, "20261110")];
    let second = file(StatementKind::Medical, &rows);
    import_statements::handle(&imp, aws.upload("incoming/second.csv", &second).await).await.unwrap();
    let messages = aws.take_messages(&aws.chunk_queue).await;
    assert_eq!(messages.len(), 2);

    let first_chunk = chunk_of(&messages[0]);
    assert!(matches!(apply_chunk(&imp, &first_chunk).await.unwrap(), ChunkOutcome::Applied { changes: 2, finished: false, .. }));
    let before = (aws.items("MEMBER#").await, aws.items("REC#").await);
    // Delivered again: re-planned to no-ops, not counted again, nothing finished.
    assert!(matches!(apply_chunk(&imp, &first_chunk).await.unwrap(), ChunkOutcome::Applied { changes: 0, finished: false, .. }));
    assert_eq!((aws.items("MEMBER#").await, aws.items("REC#").await), before, "the same items");
    assert!(aws.report("processed/second.csv.report.json").await.is_none());

    assert!(matches!(apply_chunk(&imp, &chunk_of(&messages[1])).await.unwrap(), ChunkOutcome::Applied { changes: 2, finished: true, .. }));
    let after = (aws.items("MEMBER#").await, aws.items("REC#").await, aws.items("IMPORT#").await);
    // After the end, both again: nothing.
    for m in &messages {
        assert_eq!(apply_chunk(&imp, &chunk_of(m)).await.unwrap(), ChunkOutcome::AlreadyApplied);
    }
    assert_eq!((aws.items("MEMBER#").await, aws.items("REC#").await, aws.items("IMPORT#").await), after);
    assert_eq!(aws.writes("processed/second.csv.report.json").await, 1);
    assert_eq!(aws.report("processed/second.csv.report.json").await.unwrap(), dev_import_report(&[&first], &second).await);
    let stored = stored(&imp, StatementKind::Medical, &["TW0000".into(), "TW0001".into()], "M001").await;
    assert!(matches!(&stored[&RecordId::parse("TW0000").unwrap()], StoredRecord::Active(s) if matches!(s, kenpo_statements::Statement::Medical(m) if m.self_pay.0 == 2000)));
    assert!(matches!(&stored[&RecordId::parse("TW0001").unwrap()], StoredRecord::Cancelled { .. }));
}

#[tokio::test]
async fn an_s3_event_delivered_again_for_an_applied_file_is_a_no_op() {
    let (imp, aws) = setup("s3again", 2).await;
    let bytes = file(StatementKind::Benefits, &[benefit("AG01", "N", "M001", "00", 35000, "20261020", "20261110"), benefit("AG02", "N", "M001", "01", 1000, "20261021", "20261110"), benefit("AG03", "N", "M002", "00", 2000, "20261022", "20261110")]);
    let event = aws.upload("incoming/benefits.csv", &bytes).await;
    import_statements::handle(&imp, event.clone()).await.unwrap();
    for m in aws.take_messages(&aws.chunk_queue).await {
        import_statements::handle(&imp, sqs_event(&[m])).await.unwrap();
    }
    let report_key = "processed/benefits.csv.report.json";
    assert_eq!(aws.report(report_key).await.unwrap()["applied"], 3);
    let before = (aws.items("MEMBER#").await, aws.items("REC#").await, aws.items("IMPORT#").await);

    assert_eq!(import_statements::handle(&imp, event.clone()).await.unwrap(), Value::Null);
    assert_eq!(import_statements::start_file(&imp, &object_of(&event)).await.unwrap(), Started::SeenBefore);
    assert!(aws.take_messages(&aws.chunk_queue).await.is_empty(), "no chunk sent");
    assert_eq!((aws.items("MEMBER#").await, aws.items("REC#").await, aws.items("IMPORT#").await), before, "the table unchanged");
    assert_eq!(aws.writes(report_key).await, 1, "the report not written again");

    // The same bytes uploaded under another name: nothing applied, and a report says so.
    import_statements::handle(&imp, aws.upload("incoming/benefits-copy.csv", &bytes).await).await.unwrap();
    assert_eq!(aws.report("processed/benefits-copy.csv.report.json").await.unwrap()["applied"], 0);
    assert_eq!((aws.items("MEMBER#").await, aws.items("REC#").await), (before.0, before.1));
}

fn object_of(event: &Value) -> import_statements::ObjectRef {
    let o = &event["Records"][0]["s3"];
    import_statements::ObjectRef {
        bucket: o["bucket"]["name"].as_str().unwrap().to_owned(),
        key: import_statements::object::decode_event_key(o["object"]["key"].as_str().unwrap()).unwrap(),
        version_id: o["object"]["versionId"].as_str().map(str::to_owned),
        etag: o["object"]["eTag"].as_str().map(str::to_owned),
    }
}

#[tokio::test]
async fn a_file_that_comes_while_another_is_applied_waits_then_is_applied() {
    let (imp, aws) = setup("s3wait", 2).await;
    let medical_bytes = medical_file("WA", 4);
    import_statements::handle(&imp, aws.upload("incoming/medical.csv", &medical_bytes).await).await.unwrap();
    let chunks = aws.take_messages(&aws.chunk_queue).await;
    assert_eq!(chunks.len(), 2);

    // The benefits file arrives while the medical file's chunks are being written: it waits.
    let benefits_bytes = file(StatementKind::Benefits, &[benefit("WB01", "N", "M001", "00", 35000, "20261020", "20261110")]);
    import_statements::handle(&imp, aws.upload("incoming/benefits.csv", &benefits_bytes).await).await.unwrap();
    assert!(aws.report("processed/benefits.csv.report.json").await.is_none());
    let waiting = aws.take_messages(&aws.wait_queue).await;
    assert_eq!(waiting.len(), 1, "parked in the wait queue");
    // Tried while still busy: it waits again (a new message; waiting is not a failed delivery).
    let answer = import_statements::handle(&imp, sqs_event(&waiting)).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let waiting = aws.take_messages(&aws.wait_queue).await;
    assert_eq!(waiting.len(), 1, "parked again");
    assert!(aws.report("processed/benefits.csv.report.json").await.is_none());

    for m in chunks {
        import_statements::handle(&imp, sqs_event(&[m])).await.unwrap();
    }
    let answer = import_statements::handle(&imp, sqs_event(&waiting)).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert!(aws.take_messages(&aws.wait_queue).await.is_empty());
    assert_eq!(aws.report("processed/medical.csv.report.json").await.unwrap()["applied"], 4);
    assert_eq!(aws.report("processed/benefits.csv.report.json").await.unwrap()["applied"], 1);
}

#[tokio::test]
async fn an_interrupted_file_checked_again_reaches_the_same_end_state() {
    let (imp, aws) = setup("s3resume", 2).await;
    let bytes = medical_file("RS", 6);
    let event = aws.upload("incoming/resume.csv", &bytes).await;
    import_statements::handle(&imp, event.clone()).await.unwrap();
    let old = aws.take_messages(&aws.chunk_queue).await;
    assert_eq!(old.len(), 3);
    // One chunk written, then the writers stop (say, the chunks went to the dead-letter queue).
    assert!(matches!(apply_chunk(&imp, &chunk_of(&old[0])).await.unwrap(), ChunkOutcome::Applied { finished: false, .. }));

    // The event again (Lambda's retry, or the society uploads the same file again): checked again.
    import_statements::handle(&imp, event).await.unwrap();
    let new = aws.take_messages(&aws.chunk_queue).await;
    assert_eq!(new.len(), 3);
    // The old run's chunks are ignored now.
    assert_eq!(apply_chunk(&imp, &chunk_of(&old[1])).await.unwrap(), ChunkOutcome::Superseded);
    for m in new {
        import_statements::handle(&imp, sqs_event(&[m])).await.unwrap();
    }
    let report = aws.report("processed/resume.csv.report.json").await.unwrap();
    assert_eq!(report["applied"], 4, "the rest: 2 rows were written before");
    let all = stored(&imp, StatementKind::Medical, &ids("RS", 6), "M001").await;
    assert_eq!(all.len(), 6);
    // The same end state as the file applied in one go.
    let (imp2, aws2) = setup("s3resume2", 100).await;
    import_statements::handle(&imp2, aws2.upload("incoming/resume.csv", &bytes).await).await.unwrap();
    let strip = |items: Vec<HashMap<String, AttributeValue>>| {
        let mut items: Vec<String> = items.into_iter().map(|i| format!("{:?}", i.into_iter().collect::<std::collections::BTreeMap<_, _>>())).collect();
        items.sort();
        items
    };
    assert_eq!(strip(aws.items("MEMBER#").await), strip(aws2.items("MEMBER#").await));
    assert_eq!(strip(aws.items("REC#").await), strip(aws2.items("REC#").await));
}

#[tokio::test]
async fn objects_that_are_not_import_files_are_skipped() {
    let (imp, aws) = setup("s3skip", 10).await;
    let bytes = medical_file("SK", 2);
    for key in ["processed/x.csv", "incoming/notes.txt"] {
        let event = aws.upload(key, &bytes).await;
        import_statements::handle(&imp, event).await.unwrap();
    }
    assert!(aws.items("IMPORT#").await.is_empty() && aws.items("MEMBER#").await.is_empty());
    assert!(matches!(import_statements::handle(&imp, json!({"Records": [{"eventSource": "aws:sns"}]})).await, Err(import_statements::ImportError::BadEvent(_))));
}

#[tokio::test]
async fn a_chunk_whose_file_lost_the_lock_fails_and_comes_back() {
    let (imp, aws) = setup("s3lost", 2).await;
    import_statements::handle(&imp, aws.upload("incoming/slow.csv", &medical_file("LO", 4)).await).await.unwrap();
    let chunks = aws.take_messages(&aws.chunk_queue).await;
    assert_eq!(chunks.len(), 2);
    // The writers stalled past the lease; another file took the lock.
    let later = start_time() + Duration::minutes(16);
    assert!(imp.store.lock_imports("another-file", later, later + Duration::minutes(15)).await.unwrap());
    let answer = import_statements::handle(&imp, sqs_event(&chunks[..1])).await.unwrap();
    assert_eq!(answer["batchItemFailures"][0]["itemIdentifier"], chunks[0]["messageId"], "not written while another file holds the lock");
    assert!(aws.items("MEMBER#").await.is_empty());
    // Once it is free again, the chunks (delivered again) finish the file.
    imp.store.unlock_imports("another-file").await.unwrap();
    for m in &chunks {
        assert_eq!(import_statements::handle(&imp, sqs_event(std::slice::from_ref(m))).await.unwrap(), json!({"batchItemFailures": []}));
    }
    assert_eq!(aws.report("processed/slow.csv.report.json").await.unwrap()["applied"], 4);
}
