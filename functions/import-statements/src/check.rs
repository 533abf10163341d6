//! The check pass: what an S3 event (or a file that waited) starts.
//!
//! 1. The hash pass: the object streamed once for its SHA-256 and its encoding (no table access).
//!    A file already applied is a no-op (an event delivered again changes nothing; the same bytes
//!    uploaded under another name get a report saying nothing was applied).
//! 2. The import lock (files one at a time); busy: the caller parks the file.
//! 3. The check: the object streamed again through the streaming parse (`parse_reader`, on a
//!    blocking thread), its rows looked up in the store in batches while the parse goes on, each
//!    row decided by the import rules (`decide`, per row), the report collected, the file cut
//!    into chunks of whole rows at their byte offsets. Memory: the parse's `record_id`s (the
//!    check for duplicates) and a few batches of rows.
//! 4. Refused: `rejected/<name>.report.json`, the file record `Rejected`, the lock released.
//!    Accepted: the file record `Applying` with the report, the run (chunks to count), then the
//!    chunks: written here when there is one, else one SQS message each.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use kenpo_shared::clock::japan;
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::StoreError;
use kenpo_statement_store::import::LOCK_LEASE_SECONDS;
use kenpo_statement_store::{FileRecord, FileStatus, ImportRun, StatementStore};
use kenpo_statements::file::Row;
use kenpo_statements::import::{StoredRecord, decide};
use kenpo_statements::report::Report;
use kenpo_statements::stream::{Encoding, EncodingSniffer, parse_reader};
use kenpo_statements::types::{RecordId, StatementKind};
use sha2::{Digest, Sha256};

use crate::Importer;
use crate::chunk;
use crate::error::ImportError;
use crate::message::{ChunkJob, Message};
use crate::object::{self, ObjectRef};

/// Rows looked up per `StatementStore::stored` call (10 BatchGetItem of owners, 10 of records).
pub const LOOKUP_ROWS: usize = 1_000;
/// Lookups in flight at once while the parse goes on.
pub const LOOKUPS_IN_FLIGHT: usize = 8;
/// How often the check pass and a writer renew the import lock's lease (seconds of wall time;
/// the lease is `LOCK_LEASE_SECONDS`, 900).
pub const RENEW_EVERY_SECONDS: u64 = 60;

/// What the check pass came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Not a file to import (another prefix, another suffix).
    Skipped,
    /// The same bytes were applied before: nothing written to the table.
    SeenBefore,
    /// Refused whole: the report is in `rejected/`.
    Rejected(Report),
    /// Accepted: `chunks` chunks (written here, or sent to the writers: `sent`).
    Accepted { report: Report, rows: u64, chunks: u32, sent: bool },
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first 12 hex digits of a SHA-256, for logs.
pub(crate) fn short(sha256: &str) -> &str {
    &sha256[..sha256.len().min(12)]
}

/// The object's SHA-256 and encoding (or the report refusing it: UTF-16), streamed once.
pub async fn hash_pass(imp: &Importer, object: &ObjectRef) -> Result<(String, u64, Result<Encoding, Report>), ImportError> {
    let mut body = object::get(&imp.s3, object, None).await?;
    let mut hasher = Sha256::new();
    let mut sniffer = EncodingSniffer::new();
    let mut size = 0u64;
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| ImportError::Read(e.to_string()))?;
        hasher.update(&piece);
        sniffer.update(&piece);
        size += piece.len() as u64;
    }
    Ok((hex(&hasher.finalize()), size, sniffer.finish()))
}

/// Check `object` and start applying it (see the module's steps). `Err(ImportError::Busy)`: another
/// file holds the lock; nothing was done.
pub async fn start_file(imp: &Importer, object: &ObjectRef) -> Result<Started, ImportError> {
    if !object.is_import_file() {
        tracing::info!(code = "import_skipped", key = %object.key, "not a file to import (incoming/*.csv)");
        return Ok(Started::Skipped);
    }
    let now = imp.clock.now();
    let (sha256, size, encoding) = hash_pass(imp, object).await?;
    if let Some(seen) = seen_before(imp, object, &sha256).await? {
        return Ok(seen);
    }
    let holder = object.holder(&sha256);
    if !imp.store.lock_imports(&holder, now, lease(now)).await? {
        return Err(ImportError::Busy);
    }
    tracing::info!(code = "import_checking", key = %object.key, sha256 = short(&sha256), bytes = size, "checking the file");
    let result = check_and_start(imp, object, &sha256, &holder, encoding, now).await;
    if result.is_err() {
        // Released on failure (as `import_file` does); a crash leaves it to its lease.
        let _ = imp.store.unlock_imports(&holder).await;
    }
    result
}

fn lease(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::seconds(LOCK_LEASE_SECONDS)
}

/// A file already applied: nothing to do if this is the object it came from (an event delivered
/// again); else a report for this object saying nothing was applied.
async fn seen_before(imp: &Importer, object: &ObjectRef, sha256: &str) -> Result<Option<Started>, ImportError> {
    let Some(file) = imp.store.file(sha256).await? else { return Ok(None) };
    if file.status != FileStatus::Applied {
        return Ok(None);
    }
    let same_object = imp.store.run(sha256).await?.is_some_and(|run| run.source == object.source());
    if !same_object {
        let mut report = file.report.clone();
        report.applied = 0;
        object::put_report(&imp.s3, &object.bucket, &object.report_key(false), &report).await?;
    }
    tracing::info!(code = "statements_seen_before", key = %object.key, sha256 = short(sha256), same_object, "file applied before: nothing to do");
    Ok(Some(Started::SeenBefore))
}

/// The outcome of the streaming check.
struct Checked {
    sha256: String,
    /// `Err`: refused (the report names every wrong line).
    answer: Result<(StatementKind, Report), Report>,
    rows: u64,
    /// (byte offset, line) of each chunk's first row.
    chunk_starts: Vec<(u64, u64)>,
}

async fn check_and_start(imp: &Importer, object: &ObjectRef, sha256: &str, holder: &str, encoding: Result<Encoding, Report>, now: DateTime<Utc>) -> Result<Started, ImportError> {
    let record = |status, report: &Report| FileRecord { sha256: sha256.to_owned(), status, report: report.clone(), updated_at: now };
    let encoding = match encoding {
        Ok(encoding) => encoding,
        Err(report) => {
            reject(imp, object, record(FileStatus::Rejected, &report), holder).await?;
            return Ok(Started::Rejected(report));
        }
    };
    let checked = check(imp, object, encoding, holder).await?;
    if checked.sha256 != sha256 {
        return Err(ImportError::FileChanged);
    }
    let (kind, report) = match checked.answer {
        Ok(accepted) => accepted,
        Err(report) => {
            reject(imp, object, record(FileStatus::Rejected, &report), holder).await?;
            return Ok(Started::Rejected(report));
        }
    };
    // A copy of this very event that ran meanwhile may have finished the file.
    if imp.store.file(sha256).await?.is_some_and(|f| f.status == FileStatus::Applied) {
        imp.store.unlock_imports(holder).await?;
        return Ok(Started::SeenBefore);
    }
    imp.store.put_file(&record(FileStatus::Applying, &report)).await?;
    let chunks = checked.chunk_starts.len() as u32;
    let generation: String = hex(&rand::random::<[u8; 8]>());
    imp.store
        .start_run(&ImportRun { sha256: sha256.to_owned(), generation: generation.clone(), holder: holder.to_owned(), source: object.source(), chunks, done: 0, started_at: now })
        .await?;
    tracing::info!(code = "statements_accepted", key = %object.key, sha256 = short(sha256), kind = ?kind, rows = checked.rows, applied = report.applied, warnings = report.warning_count, chunks, "file accepted");
    let imported_on = now.with_timezone(&japan()).date_naive();
    let header_end = checked.chunk_starts.first().map_or(0, |(offset, _)| *offset);
    let first_line = checked.chunk_starts.first().map_or(0, |(_, line)| *line);
    let jobs: Vec<ChunkJob> = checked
        .chunk_starts
        .iter()
        .enumerate()
        .map(|(i, &(start, line))| ChunkJob {
            object: object.clone(),
            sha256: sha256.to_owned(),
            generation: generation.clone(),
            holder: holder.to_owned(),
            kind,
            encoding,
            header_end,
            start,
            end: checked.chunk_starts.get(i + 1).map(|(next, _)| *next),
            line_shift: line - first_line,
            chunk: i as u32,
            chunks,
            imported_on,
        })
        .collect();
    let sent = match jobs.as_slice() {
        // A file without data rows: nothing to write.
        [] => {
            chunk::finish(imp, object, sha256, holder).await?;
            false
        }
        // A small file: written here, without SQS.
        [only] => {
            chunk::apply_chunk(imp, only).await?;
            false
        }
        many => {
            send_chunks(imp, many).await?;
            true
        }
    };
    Ok(Started::Accepted { report, rows: checked.rows, chunks, sent })
}

async fn reject(imp: &Importer, object: &ObjectRef, file: FileRecord, holder: &str) -> Result<(), ImportError> {
    imp.store.put_file(&file).await?;
    object::put_report(&imp.s3, &object.bucket, &object.report_key(true), &file.report).await?;
    imp.store.unlock_imports(holder).await?;
    // The rejections alarm counts this line (its `code`); the report has the lines.
    tracing::warn!(code = "statements_rejected", key = %object.key, sha256 = short(&file.sha256), kind = ?file.report.kind, errors = file.report.error_count, "file refused");
    Ok(())
}

/// One SQS message per chunk, ten to a SendMessageBatch (failed entries sent again).
async fn send_chunks(imp: &Importer, jobs: &[ChunkJob]) -> Result<(), ImportError> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    for batch in jobs.chunks(10) {
        let mut entries = batch
            .iter()
            .map(|job| {
                let body = serde_json::to_string(&Message::Chunk(job.clone())).map_err(|e| ImportError::BadEvent(e.to_string()))?;
                SendMessageBatchRequestEntry::builder().id(job.chunk.to_string()).message_body(body).build().map_err(|e| ImportError::Sqs { operation: "SendMessageBatch", detail: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for attempt in 0..5 {
            let out = imp.sqs.send_message_batch().queue_url(&imp.settings.chunk_queue_url).set_entries(Some(entries.clone())).send().await.map_err(|e| ImportError::sqs("SendMessageBatch", &e))?;
            let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
            if failed.is_empty() {
                break;
            }
            if attempt == 4 {
                return Err(ImportError::Sqs { operation: "SendMessageBatch", detail: format!("{} entries failed", failed.len()) });
            }
            entries.retain(|e| failed.contains(&e.id()));
            tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
        }
    }
    tracing::info!(code = "import_chunks_sent", chunks = jobs.len(), "chunks sent to the writers");
    Ok(())
}

/// A reader that hashes what passes through it, and fails once `stop` is set (the async side
/// gave up: the parse stops instead of reading the rest of the object).
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    stop: Arc<AtomicBool>,
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("check pass stopped"));
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

type Batch = (StatementKind, Vec<Row>);
type Looked = Result<(Vec<Row>, HashMap<RecordId, StoredRecord>), StoreError>;

/// The streaming check: the parse on a blocking thread, the lookups here, in order.
async fn check(imp: &Importer, object: &ObjectRef, encoding: Encoding, holder: &str) -> Result<Checked, ImportError> {
    let body = object::get(&imp.s3, object, None).await?;
    let (reader, pump) = object::bridge(body);
    let pump = tokio::spawn(pump);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(LOOKUPS_IN_FLIGHT);
    let stop = Arc::new(AtomicBool::new(false));
    let chunk_rows = u64::from(imp.settings.chunk_rows);
    let parse_stop = stop.clone();
    let parse = tokio::task::spawn_blocking(move || {
        let mut source = Hashing { inner: reader, hasher: Sha256::new(), stop: parse_stop.clone() };
        let mut rows = 0u64;
        let mut chunk_starts = Vec::new();
        let mut batch: Vec<Row> = Vec::with_capacity(LOOKUP_ROWS);
        let mut kind = None;
        let answer = parse_reader(&mut source, encoding, |row, at| {
            if rows.is_multiple_of(chunk_rows) {
                chunk_starts.push((at.offset, row.line));
            }
            rows += 1;
            kind = Some(at.kind);
            batch.push(row);
            if batch.len() == LOOKUP_ROWS && tx.blocking_send((at.kind, std::mem::take(&mut batch))).is_err() {
                parse_stop.store(true, Ordering::Relaxed);
            }
        });
        if let (Some(kind), false) = (kind, batch.is_empty()) {
            let _ = tx.blocking_send((kind, batch));
        }
        (answer, hex(&source.hasher.finalize()), rows, chunk_starts)
    });

    let mut in_flight: VecDeque<tokio::task::JoinHandle<Looked>> = VecDeque::new();
    let mut planned = Report::new(None);
    let mut changes = 0u64;
    let mut renewed = std::time::Instant::now();
    let outcome: Result<(), ImportError> = async {
        while let Some((kind, rows)) = rx.recv().await {
            if in_flight.len() >= LOOKUPS_IN_FLIGHT
                && let Some(done) = in_flight.pop_front()
            {
                decide_all(join(done).await?, &mut planned, &mut changes);
            }
            let store: Arc<dyn StatementStore> = imp.store.clone();
            in_flight.push_back(tokio::spawn(async move {
                let keys: Vec<(RecordId, MemberId)> = rows.iter().map(|r| (r.record_id.clone(), r.member_id.clone())).collect();
                let stored = store.stored(kind, &keys).await?;
                Ok((rows, stored))
            }));
            if renewed.elapsed().as_secs() >= RENEW_EVERY_SECONDS {
                let now = imp.clock.now();
                imp.store.lock_imports(holder, now, lease(now)).await?;
                renewed = std::time::Instant::now();
            }
        }
        while let Some(done) = in_flight.pop_front() {
            decide_all(join(done).await?, &mut planned, &mut changes);
        }
        Ok(())
    }
    .await;
    if outcome.is_err() {
        stop.store(true, Ordering::Relaxed);
        drop(rx);
    }
    let (answer, sha256, rows, chunk_starts) = parse.await.map_err(|e| ImportError::Read(format!("parse task: {e}")))?;
    pump.abort();
    outcome?;
    let answer = answer.map_err(|e| ImportError::Read(e.to_string()))?;
    let answer = answer.and_then(|(kind, mut report)| {
        // As `kenpo_statements::plan` answers: the parse's warnings, then the rules' errors.
        report.kind = Some(kind);
        if planned.is_refused() {
            report.errors = planned.errors;
            report.error_count = planned.error_count;
            report.applied = 0;
            Err(report)
        } else {
            report.applied = changes;
            Ok((kind, report))
        }
    });
    Ok(Checked { sha256, answer, rows, chunk_starts })
}

async fn join(handle: tokio::task::JoinHandle<Looked>) -> Result<(Vec<Row>, HashMap<RecordId, StoredRecord>), ImportError> {
    Ok(handle.await.map_err(|e| StoreError::Unavailable(format!("lookup task: {e}")))??)
}

/// The import rules for a batch of rows against what is stored: changes counted, wrong lines
/// reported (in file order: batches are decided in order).
fn decide_all((rows, stored): (Vec<Row>, HashMap<RecordId, StoredRecord>), planned: &mut Report, changes: &mut u64) {
    for row in &rows {
        match decide(row, stored.get(&row.record_id)) {
            Ok(Some(_)) => *changes += 1,
            Ok(None) => {}
            Err(issue) => planned.error(issue),
        }
    }
}
