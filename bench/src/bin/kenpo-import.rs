//! The statements import, measured (docs/PERFORMANCE.md, "The S3 import"). Each mode runs in its
//! own process, so its peak RSS (VmHWM) is its own:
//!
//! ```sh
//! B=target/release/kenpo-import
//! $B generate 1000000 target/import-1m.csv        # a made-up medical file (UTF-8, CRLF)
//! $B check target/import-1m.csv                   # the streaming check pass, no AWS: lines/s, peak RSS
//! $B embedded target/import-200k.csv              # the whole import into the embedded store (what /dev/import does)
//! $B batches http://127.0.0.1:5124 200            # one BatchWriteItem of 25 items, one BatchGetItem of 100 keys, on moto
//! $B moto http://127.0.0.1:5124 20000 2000 4      # the S3 path end to end on moto: lines, rows a chunk, writers
//! $B moto http://127.0.0.1:5124 1000000 10000 0   # its check pass alone (writers 0), on a 1,000,000-line file
//! ```
//!
//! moto is one Python process on this machine: its per-request times are not DynamoDB's. What
//! carries over to AWS is the count of requests per line (counted on the wire) and the CPU time of
//! our own code; docs/PERFORMANCE.md does the arithmetic for AWS from those.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use import_statements::{ChunkJob, ImportSettings, Importer, Message};
use kenpo_shared::clock::ManualClock;
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_statement_store::StatementStore;
use kenpo_statement_store::dynamodb::DynamoStatements;
use kenpo_statement_store::embedded::EmbeddedStatements;
use kenpo_statements::import::decide;
use kenpo_statements::stream::{EncodingSniffer, parse_reader};
use kenpo_statements::types::RecordId;
use kenpo_tests::counter::CountingInterceptor;
use sha2::{Digest, Sha256};

fn usage() -> ! {
    eprintln!("usage: kenpo-import generate LINES OUT | check FILE | embedded FILE | batches ENDPOINT RUNS | moto ENDPOINT LINES CHUNK_ROWS WRITERS");
    std::process::exit(2)
}

/// Peak resident set of this process (VmHWM), MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time of this process (user + system), seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Line `i` of a made-up medical file: 20,000 members, a household of three, 24 months.
fn line(i: usize) -> String {
    let member = i % 20_000;
    let person = (i / 20_000) % 3;
    let month = 202501 + ((i / 60_000) % 12);
    let self_pay = 300 + (i % 97) * 10;
    let total = self_pay * 10 / 3;
    let relation = ["本人", "配偶者", "子"][person];
    format!(
        "L{i:07},N,M{member:05},{person:02},受診者{member:05}{person},{relation},{month},12,{days},やまだ内科クリニック,{total},{insurer},0,{self_pay},0,20261110\r\n",
        days = 1 + i % 4,
        insurer = total - self_pay,
    )
}

fn header() -> String {
    let mut h = kenpo_statements::file::header(kenpo_statements::types::StatementKind::Medical).join(",");
    h.push_str("\r\n");
    h
}

fn generate(lines: usize) -> Vec<u8> {
    let mut out = header().into_bytes();
    for i in 0..lines {
        out.extend_from_slice(line(i).as_bytes());
    }
    out
}

/// The check pass without AWS: the hash pass and the streaming parse over the file, each batch of
/// 1,000 rows looked up in an (empty) embedded store and decided: what the check pass does, but
/// the store in memory.
async fn check(path: &str) {
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    let mut file = std::fs::File::open(path).expect("the file");
    let mut hasher = Sha256::new();
    let mut sniffer = EncodingSniffer::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        sniffer.update(&buf[..n]);
        size += n as u64;
    }
    let _ = hasher.finalize();
    let encoding = sniffer.finish().expect("an encoding");
    let hashed = started.elapsed();

    let store = EmbeddedStatements::new(Arc::new(EmbeddedStore::new()));
    let runtime = tokio::runtime::Handle::current();
    let file = std::io::BufReader::with_capacity(64 * 1024, std::fs::File::open(path).expect("the file"));
    let mut rows = 0u64;
    let mut changes = 0u64;
    let mut batch = Vec::with_capacity(1_000);
    let answer = tokio::task::block_in_place(|| {
        parse_reader(file, encoding, |row, at| {
            rows += 1;
            batch.push(row);
            if batch.len() == 1_000 {
                let keys: Vec<(RecordId, MemberId)> = batch.iter().map(|r: &kenpo_statements::Row| (r.record_id.clone(), r.member_id.clone())).collect();
                let stored = runtime.block_on(store.stored(at.kind, &keys)).expect("lookup");
                changes += batch.drain(..).filter(|r| matches!(decide(r, stored.get(&r.record_id)), Ok(Some(_)))).count() as u64;
            }
        })
    })
    .expect("read");
    changes += batch.len() as u64;
    let elapsed = started.elapsed();
    let (_, report) = answer.expect("accepted");
    println!(
        "check {path}: {size} bytes, {rows} rows ({changes} changes, {} warnings); hash pass {:.2} s; whole check {:.2} s = {:.0} lines/s; CPU {:.2} s; peak RSS {:.1} MiB",
        report.warning_count,
        hashed.as_secs_f64(),
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        cpu_seconds() - cpu0,
        peak_rss_mib()
    );
}

/// The whole import into the embedded store (`import_file`: the dev server's `/dev/import`).
async fn embedded(path: &str) {
    let bytes = std::fs::read(path).expect("the file");
    let store = EmbeddedStatements::new(Arc::new(EmbeddedStore::new()));
    let started = Instant::now();
    let imported = kenpo_statement_store::import::import_file(&store, &bytes, chrono::Utc::now(), &kenpo_statement_store::import::Quiet).await.expect("import");
    let elapsed = started.elapsed();
    println!(
        "embedded {path}: {} lines applied in {:.2} s = {:.0} lines/s; peak RSS {:.1} MiB (the file and the store in memory)",
        imported.report.applied,
        elapsed.as_secs_f64(),
        imported.report.applied as f64 / elapsed.as_secs_f64(),
        peak_rss_mib()
    );
}

async fn moto_config(endpoint: &str) -> aws_config::SdkConfig {
    kenpo_tests::moto_config_at(endpoint).await
}

/// An attribute value's size as DynamoDB counts it (UTF-8 bytes of strings, about half the digits
/// of a number, 1 for a boolean, 3 plus the members' for a map or list).
fn item_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + item_size(v) + 1).sum::<usize>(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| item_size(v) + 1).sum::<usize>(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        _ => 16,
    }
}

fn median(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[(v.len() * 9 / 10).min(v.len() - 1)]))
}

/// One BatchWriteItem of 25 statement items and one BatchGetItem of 100 keys, as the import sends
/// them (items written by the adapter itself, copied under new keys).
async fn batches(endpoint: &str, runs: usize) {
    let (client, table) = kenpo_tests::moto_table_at(endpoint, "bench-batches", false).await;
    let store = DynamoStatements::new(client.clone(), table.clone());
    // Real items: 13 lines through the adapter (26 items: the records and their owner items).
    let bytes = generate(13);
    kenpo_statement_store::import::import_file(&store, &bytes, chrono::Utc::now(), &kenpo_statement_store::import::Quiet).await.expect("seed");
    let items: Vec<_> = client.scan().table_name(&table).send().await.expect("scan").items().iter().filter(|i| i.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|s| s.starts_with("STMT#") || s == "REC")).cloned().collect();
    let bytes_per_item = items.iter().map(|i| i.iter().map(|(k, v)| k.len() + item_size(v)).sum::<usize>()).sum::<usize>() / items.len().max(1);
    let mut writes = Vec::new();
    let mut reads = Vec::new();
    let mut written_keys = Vec::new();
    for run in 0..runs {
        let requests: Vec<WriteRequest> = (0..25)
            .map(|j| {
                let mut item = items[j % items.len()].clone();
                item.insert("PK".into(), AttributeValue::S(format!("MEMBER#B{run:05}{j:02}")));
                written_keys.push(item.iter().filter(|(k, _)| *k == "PK" || *k == "SK").map(|(k, v)| (k.clone(), v.clone())).collect::<std::collections::HashMap<_, _>>());
                WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().expect("put")).build()
            })
            .collect();
        let t = Instant::now();
        let out = client.batch_write_item().request_items(&table, requests).send().await.expect("BatchWriteItem");
        writes.push(t.elapsed());
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()), "moto never throttles");
        if written_keys.len() >= 100 {
            let keys: Vec<_> = written_keys.iter().rev().take(100).cloned().collect();
            let t = Instant::now();
            let out = client.batch_get_item().request_items(&table, KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().expect("keys")).send().await.expect("BatchGetItem");
            reads.push(t.elapsed());
            assert_eq!(out.responses().and_then(|r| r.get(&table)).map_or(0, Vec::len), 100);
        }
    }
    let (w50, w90) = median(writes);
    let (r50, r90) = median(reads.clone());
    println!("batches on moto ({runs} runs; items of about {bytes_per_item} bytes, as the adapter writes them):");
    println!("  BatchWriteItem, 25 items:  median {w50:.2} ms, p90 {w90:.2} ms");
    println!("  BatchGetItem, 100 keys (consistent): median {r50:.2} ms, p90 {r90:.2} ms ({} runs)", reads.len());
}

/// The S3 path end to end on moto: upload, the check pass (the S3 event), then the chunk messages
/// applied by `writers` tasks at once (0: the check pass alone).
async fn moto(endpoint: &str, lines: usize, chunk_rows: u32, writers: usize) {
    let config = moto_config(endpoint).await;
    let counter = CountingInterceptor::default();
    let (_, table) = kenpo_tests::moto_table_at(endpoint, "bench-import", false).await;
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&config).interceptor(counter.clone()).build());
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let sqs = aws_sdk_sqs::Client::new(&config);
    let suffix = format!("{:08x}", rand::random::<u32>());
    let bucket = format!("bench-imports-{suffix}");
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint(aws_sdk_s3::types::BucketLocationConstraint::ApNortheast1).build())
        .send()
        .await
        .expect("bucket");
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("versioning");
    let chunk_queue = sqs.create_queue().queue_name(format!("bench-chunks-{suffix}")).send().await.expect("queue").queue_url.expect("url");
    let wait_queue = sqs.create_queue().queue_name(format!("bench-wait-{suffix}")).send().await.expect("queue").queue_url.expect("url");
    let importer = Arc::new(Importer {
        store: Arc::new(DynamoStatements::new(dynamodb, table)),
        s3: s3.clone(),
        sqs: sqs.clone(),
        clock: Arc::new(ManualClock::new(chrono::Utc::now())),
        settings: ImportSettings { table_name: String::new(), chunk_queue_url: chunk_queue.clone(), wait_queue_url: wait_queue, chunk_rows, wait_seconds: 0 },
    });
    let path = std::env::temp_dir().join(format!("kenpo-import-{suffix}.csv"));
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("temp file"));
        out.write_all(header().as_bytes()).expect("write");
        for i in 0..lines {
            out.write_all(line(i).as_bytes()).expect("write");
        }
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let put = s3.put_object().bucket(&bucket).key("incoming/bench.csv").body(aws_sdk_s3::primitives::ByteStream::from_path(&path).await.expect("body")).send().await.expect("upload");
    let _ = std::fs::remove_file(&path);
    let rss_before = peak_rss_mib();
    let event = serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "ap-northeast-1", "eventTime": "2026-11-30T00:00:00.000Z",
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:BENCH"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "bench", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
        "object": {"key": "incoming/bench.csv", "size": size, "eTag": put.e_tag(), "versionId": put.version_id()}}
    }]});
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    import_statements::handle(&importer, event).await.expect("the check pass");
    let checked = started.elapsed();
    let check_cpu = cpu_seconds() - cpu0;
    let check_tally = counter.take();
    println!(
        "moto: {lines} lines ({size} bytes), chunks of {chunk_rows}: check pass (hash pass, check, {}) {:.1} s = {:.0} lines/s, CPU {:.1} s; peak RSS {:.1} MiB (before it {:.1} MiB)",
        if lines as u32 <= chunk_rows { "and the writes: one chunk" } else { "chunk messages sent" },
        checked.as_secs_f64(),
        lines as f64 / checked.as_secs_f64(),
        check_cpu,
        peak_rss_mib(),
        rss_before,
    );
    for (op, t) in &check_tally.by_operation {
        println!("  check pass  {op:<16} {:>8} requests  {:.4} per line", t.requests, t.requests as f64 / lines as f64);
    }
    if writers == 0 || lines as u32 <= chunk_rows {
        return;
    }
    // The chunk messages, as Lambda's event source would hand them to `writers` functions.
    let mut jobs: Vec<ChunkJob> = Vec::new();
    loop {
        let out = sqs.receive_message().queue_url(&chunk_queue).max_number_of_messages(10).visibility_timeout(3600).send().await.expect("receive");
        if out.messages().is_empty() {
            break;
        }
        for m in out.messages() {
            if let Ok(Message::Chunk(job)) = serde_json::from_str(m.body().unwrap_or("")) {
                jobs.push(job);
            }
        }
    }
    let chunks = jobs.len();
    let jobs = Arc::new(std::sync::Mutex::new(jobs));
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    let mut tasks = tokio::task::JoinSet::new();
    let per_chunk = Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..writers {
        let (jobs, importer, per_chunk) = (jobs.clone(), importer.clone(), per_chunk.clone());
        tasks.spawn(async move {
            loop {
                let Some(job) = jobs.lock().unwrap().pop() else { return };
                let t = Instant::now();
                import_statements::apply_chunk(&importer, &job).await.expect("chunk");
                per_chunk.lock().unwrap().push(t.elapsed());
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let written = started.elapsed();
    let tally = counter.take();
    let (c50, c90) = median(per_chunk.lock().unwrap().clone());
    println!(
        "moto: {chunks} chunks by {writers} writers: {:.1} s = {:.0} lines/s; per chunk median {:.0} ms, p90 {:.0} ms; CPU {:.1} s ({:.1} µs a line); peak RSS {:.1} MiB",
        written.as_secs_f64(),
        lines as f64 / written.as_secs_f64(),
        c50,
        c90,
        cpu_seconds() - cpu0,
        (cpu_seconds() - cpu0) * 1e6 / lines as f64,
        peak_rss_mib()
    );
    for (op, t) in &tally.by_operation {
        println!("  writers     {op:<16} {:>8} requests  {:.4} per line", t.requests, t.requests as f64 / lines as f64);
    }
    let report = s3.get_object().bucket(&bucket).key("processed/bench.csv.report.json").send().await.expect("the report");
    let report: serde_json::Value = serde_json::from_slice(&report.body.collect().await.expect("body").to_vec()).expect("JSON");
    println!("  report: applied {}, warnings {}", report["applied"], report["warningCount"]);
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    let number = |i: usize| arg(i).parse::<usize>().unwrap_or_else(|_| usage());
    match arg(0).as_str() {
        "generate" => {
            let mut out = std::io::BufWriter::new(std::fs::File::create(arg(2)).expect("the output file"));
            out.write_all(header().as_bytes()).expect("write");
            for i in 0..number(1) {
                out.write_all(line(i).as_bytes()).expect("write");
            }
        }
        "check" => check(&arg(1)).await,
        "embedded" => embedded(&arg(1)).await,
        "batches" => batches(&arg(1), number(2)).await,
        "moto" => moto(&arg(1), number(2), number(3) as u32, number(4)).await,
        _ => usage(),
    }
}
