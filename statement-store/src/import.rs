//! Applying one society file (medical lines or benefit decisions) through a `StatementStore`, as
//! the S3 import function, `kenpo import-statements`, `kenpo dev --statements` and `POST
//! /dev/import` all do (DESIGN.md Part 2, "Rules of an import" and the clarifications):
//!
//! 1. the file's SHA-256: a file already applied is a no-op whenever it comes again;
//! 2. the import lock: files are applied one at a time;
//! 3. the whole file checked (`kenpo_statements::parse`, then `plan` against what is stored) before
//!    anything is written; any wrong line refuses the whole file;
//! 4. the changes written in chunks, the file marked `Applying` first and `Applied` last, so an
//!    interrupted file is re-applied to the same end state when it comes again.

use chrono::{DateTime, Duration, Utc};
use kenpo_shared::clock::japan;
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::StoreError;
use kenpo_statements::report::Report;
use kenpo_statements::types::RecordId;
use sha2::{Digest, Sha256};

use crate::{FileRecord, FileStatus, StatementStore};

/// Changes written per `StatementStore::apply` call (progress is reported after each).
pub const CHUNK: usize = 500;

/// How long an import holds the lock before another may take it over (a crashed import's lease
/// runs out; a live one renews it with every chunk). Seconds.
pub const LOCK_LEASE_SECONDS: i64 = 900;

/// What an import came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub sha256: String,
    pub status: FileStatus,
    /// The report (`applied` = lines that changed something; 0 for a file seen before).
    pub report: Report,
    /// The same file (same SHA-256) was applied before: nothing was done now.
    pub seen_before: bool,
}

/// Why an import did not run to the end. A report refusing the file is not an error: it is an
/// `Imported` with `FileStatus::Rejected`.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Another file is being applied (stable code `import_busy`); try again after it.
    #[error("another file is being imported")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// Stable code for logs and the operator's command.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Busy => "import_busy",
            ImportError::Store(e) => e.code(),
        }
    }
}

/// Progress of the write phase, for a terminal's progress bar.
pub trait Progress: Send + Sync {
    /// The file's lines are checked: `lines` data rows, `changes` to write.
    fn checked(&self, _lines: u64, _changes: u64) {}
    /// `written` of the changes are written.
    fn written(&self, _written: u64) {}
}

/// No progress reporting.
pub struct Quiet;
impl Progress for Quiet {}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Apply `bytes` (a medical or benefits CSV) at `now` (UTC; its Japan date is the import date).
///
/// Errors: `ImportError::Busy` when another file holds the lock; `ImportError::Store` when the
/// store fails (nothing is lost: the same file applied again continues to the same end state).
pub async fn import_file(store: &dyn StatementStore, bytes: &[u8], now: DateTime<Utc>, progress: &dyn Progress) -> Result<Imported, ImportError> {
    let sha256 = sha256_hex(bytes);
    let previous = store.file(&sha256).await?;
    // Only an applied file is final: a refused one is checked again (the order of files, or a
    // fixed members file, may have changed the verdict); an interrupted one is re-applied.
    if let Some(file) = &previous
        && file.status == FileStatus::Applied
    {
        let mut report = file.report.clone();
        report.applied = 0;
        return Ok(Imported { sha256, status: file.status, report, seen_before: true });
    }
    let lease = |now: DateTime<Utc>| now + Duration::seconds(LOCK_LEASE_SECONDS);
    if !store.lock_imports(&sha256, now, lease(now)).await? {
        return Err(ImportError::Busy);
    }
    let result = check_and_apply(store, bytes, &sha256, now, progress).await;
    // Released whatever happened; a crash leaves it to its lease.
    let released = store.unlock_imports(&sha256).await;
    let imported = result?;
    released?;
    Ok(imported)
}

async fn check_and_apply(store: &dyn StatementStore, bytes: &[u8], sha256: &str, now: DateTime<Utc>, progress: &dyn Progress) -> Result<Imported, ImportError> {
    let record = |status: FileStatus, report: &Report| FileRecord { sha256: sha256.to_owned(), status, report: report.clone(), updated_at: now };
    let parsed = match kenpo_statements::parse(bytes) {
        Ok(parsed) => parsed,
        Err(report) => return rejected(store, record(FileStatus::Rejected, &report), report).await,
    };
    let keys: Vec<(RecordId, MemberId)> = parsed.rows.iter().map(|r| (r.record_id.clone(), r.member_id.clone())).collect();
    let existing = store.stored(parsed.kind, &keys).await?;
    let plan = match kenpo_statements::plan(&parsed, &existing) {
        Ok(plan) => plan,
        Err(report) => return rejected(store, record(FileStatus::Rejected, &report), report).await,
    };
    progress.checked(parsed.rows.len() as u64, plan.changes.len() as u64);
    store.put_file(&record(FileStatus::Applying, &plan.report)).await?;
    let imported_on = now.with_timezone(&japan()).date_naive();
    let mut written = 0;
    for chunk in plan.changes.chunks(CHUNK) {
        store.apply(plan.kind, chunk, imported_on).await?;
        written += chunk.len() as u64;
        progress.written(written);
        store.lock_imports(sha256, now, Utc::now().max(now) + Duration::seconds(LOCK_LEASE_SECONDS)).await?;
    }
    store.put_file(&record(FileStatus::Applied, &plan.report)).await?;
    tracing::info!(code = "statements_imported", kind = ?plan.kind, applied = plan.report.applied, warnings = plan.report.warning_count, "file applied");
    Ok(Imported { sha256: sha256.to_owned(), status: FileStatus::Applied, report: plan.report, seen_before: false })
}

async fn rejected(store: &dyn StatementStore, file: FileRecord, report: Report) -> Result<Imported, ImportError> {
    store.put_file(&file).await?;
    tracing::warn!(code = "statements_rejected", kind = ?report.kind, errors = report.error_count, "file refused");
    Ok(Imported { sha256: file.sha256, status: FileStatus::Rejected, report, seen_before: false })
}
