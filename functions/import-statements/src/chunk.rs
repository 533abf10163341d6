//! The writers: one chunk of an accepted file per SQS message.
//!
//! The chunk's byte range is read again (Range GETs of the object's version: the header's bytes
//! and the chunk's), parsed with the file's encoding, its rows planned against the store (the
//! import rules are per row, so a chunk is planned alone once the whole file was checked) and
//! written; then the chunk is counted done with one conditional write on the run. The chunk that
//! completes the count writes `processed/<name>.report.json`, marks the file applied and releases
//! the lock.
//!
//! Delivered twice, a chunk re-plans to no-ops (its rows are stored as it would write them) and is
//! not counted again; a chunk of a run that a later check pass replaced is ignored; a chunk of a
//! file already applied is ignored. So an interrupted file, applied again, reaches the same end
//! state, and the report is written once.

use kenpo_shared::domain::MemberId;
use kenpo_statement_store::import::{CHUNK, LOCK_LEASE_SECONDS};
use kenpo_statement_store::{ChunkCount, FileStatus};
use kenpo_statements::file::Row;
use kenpo_statements::import::decide;
use kenpo_statements::stream::parse_reader;
use kenpo_statements::types::RecordId;

use crate::Importer;
use crate::check::{RENEW_EVERY_SECONDS, short};
use crate::error::ImportError;
use crate::message::ChunkJob;
use crate::object::{self, ObjectRef};

/// What a chunk came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// A later check pass of the file replaced this chunk's run: nothing done.
    Superseded,
    /// The file is applied already (a message delivered again after the end): nothing done.
    AlreadyApplied,
    /// Written: `changes` records changed now (0 when delivered again); `finished`: this chunk
    /// completed the file (report written, file applied, lock released).
    Applied { rows: u64, changes: u64, finished: bool },
}

/// Apply one chunk (see the module). `Err(ImportError::Busy)`: another file holds the lock (this
/// file's lease ran out meanwhile); try again later.
pub async fn apply_chunk(imp: &Importer, job: &ChunkJob) -> Result<ChunkOutcome, ImportError> {
    let store = &imp.store;
    if store.run(&job.sha256).await?.is_none_or(|run| run.generation != job.generation) {
        tracing::info!(code = "import_chunk_superseded", sha256 = short(&job.sha256), chunk = job.chunk, "chunk of a replaced run: ignored");
        return Ok(ChunkOutcome::Superseded);
    }
    if store.file(&job.sha256).await?.is_some_and(|f| f.status == FileStatus::Applied) {
        tracing::info!(code = "import_chunk_repeated", sha256 = short(&job.sha256), chunk = job.chunk, "chunk of a file already applied: ignored");
        return Ok(ChunkOutcome::AlreadyApplied);
    }
    renew(imp, &job.holder).await?;

    let rows = read_rows(imp, job).await?;
    let keys: Vec<(RecordId, MemberId)> = rows.iter().map(|r| (r.record_id.clone(), r.member_id.clone())).collect();
    let stored = store.stored(job.kind, &keys).await?;
    let mut changes = Vec::new();
    for row in &rows {
        match decide(row, stored.get(&row.record_id)) {
            Ok(Some(change)) => changes.push(change),
            Ok(None) => {}
            Err(issue) => {
                tracing::error!(code = "chunk_conflict", sha256 = short(&job.sha256), chunk = job.chunk, line = issue.line, column = %issue.column, "a row no longer plans as checked");
                return Err(ImportError::ChunkConflict { line: issue.line });
            }
        }
    }
    // In pieces, renewing the lease while a slow (throttled) chunk is written.
    let mut renewed = std::time::Instant::now();
    for piece in changes.chunks(CHUNK) {
        store.apply(job.kind, piece, job.imported_on).await?;
        if renewed.elapsed().as_secs() >= RENEW_EVERY_SECONDS {
            renew(imp, &job.holder).await?;
            renewed = std::time::Instant::now();
        }
    }

    let finished = match store.count_chunk(&job.sha256, &job.generation, job.chunk).await? {
        ChunkCount::Counted { done, chunks } => done >= chunks,
        // Counted before (delivered twice): finish only if the one that completed the count
        // did not get to the end.
        ChunkCount::AlreadyCounted { done, chunks } => done >= chunks && store.file(&job.sha256).await?.is_none_or(|f| f.status != FileStatus::Applied),
        ChunkCount::Superseded => false,
    };
    tracing::info!(code = "import_chunk_applied", sha256 = short(&job.sha256), chunk = job.chunk, chunks = job.chunks, rows = rows.len(), changes = changes.len(), "chunk written");
    if finished {
        finish(imp, &job.object, &job.sha256, &job.holder).await?;
    }
    Ok(ChunkOutcome::Applied { rows: rows.len() as u64, changes: changes.len() as u64, finished })
}

/// The import lock's lease renewed for `holder` (`Busy` if another file took it).
async fn renew(imp: &Importer, holder: &str) -> Result<(), ImportError> {
    let now = imp.clock.now();
    if imp.store.lock_imports(holder, now, now + chrono::Duration::seconds(LOCK_LEASE_SECONDS)).await? {
        Ok(())
    } else {
        Err(ImportError::Busy)
    }
}

/// The chunk's rows, with the file's line numbers.
async fn read_rows(imp: &Importer, job: &ChunkJob) -> Result<Vec<Row>, ImportError> {
    let bytes = if job.start == job.header_end {
        object::get_range(&imp.s3, &job.object, 0, job.end).await?
    } else {
        let mut bytes = object::get_range(&imp.s3, &job.object, 0, Some(job.header_end)).await?;
        bytes.extend(object::get_range(&imp.s3, &job.object, job.start, job.end).await?);
        bytes
    };
    let mut rows = Vec::new();
    let answer = parse_reader(bytes.as_slice(), job.encoding, |mut row, at| {
        if at.kind == job.kind {
            row.line += job.line_shift;
            rows.push(row);
        }
    })
    .map_err(|e| ImportError::Read(e.to_string()))?;
    // The check accepted these bytes: they parse again unless they are other bytes.
    match answer {
        Ok((kind, _)) if kind == job.kind => Ok(rows),
        _ => Err(ImportError::FileChanged),
    }
}

/// The end of an applied file: its report beside it, the file record `Applied`, the lock
/// released (in this order: a crash before the last step is finished by the chunk delivered
/// again).
pub async fn finish(imp: &Importer, object: &ObjectRef, sha256: &str, holder: &str) -> Result<(), ImportError> {
    let store = &imp.store;
    let Some(mut file) = store.file(sha256).await? else {
        return Err(kenpo_shared::store::StoreError::Corrupt("the import's file record is missing".into()).into());
    };
    object::put_report(&imp.s3, &object.bucket, &object.report_key(false), &file.report).await?;
    file.status = FileStatus::Applied;
    file.updated_at = imp.clock.now();
    store.put_file(&file).await?;
    store.unlock_imports(holder).await?;
    tracing::info!(code = "statements_imported", key = %object.key, sha256 = short(sha256), kind = ?file.report.kind, applied = file.report.applied, warnings = file.report.warning_count, "file applied");
    Ok(())
}
