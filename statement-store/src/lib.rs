//! Where the statements live: the port (`StatementStore`), its embedded adapter (the dev server,
//! tests) and its DynamoDB adapter (feature `dynamodb`), both held to ONE contract suite
//! (`tests/tests/statement_store_contract.rs`), and the import that applies a society's file
//! through the port (`import`). The layout and why: `docs/DATA.md`.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::{MemberProfile, SignupRecord, StoreError};
use kenpo_statements::import::{Change, StoredRecord};
use kenpo_statements::read::Imported;
use kenpo_statements::records::{Benefit, MedicalLine};
use kenpo_statements::report::Report;
use kenpo_statements::types::{RecordId, StatementKind};
use serde::{Deserialize, Serialize};

pub mod access;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod embedded;
pub mod import;

/// What a member's page needs, read together: the profile (for `left_on`), the signup record (the
/// onboarding must be completed) and the household's records (tombstones left out). DynamoDB: one
/// strongly consistent Query of the member's partition from `PROFILE` on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Household {
    pub profile: Option<MemberProfile>,
    pub signup: Option<SignupRecord>,
    /// Empty when the read's `Scope` leaves them out.
    pub medical: Vec<Imported<MedicalLine>>,
    pub benefits: Vec<Imported<Benefit>>,
}

/// Which records a household read brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Medical lines and benefits (the top page, the medical list: its range covers both).
    All,
    /// Benefits only (their sort keys come before the medical lines', so the read stops there).
    Benefits,
}

/// Where an import file stands, by its SHA-256 (a re-delivered file is a no-op).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Checked and accepted; its changes are being written (an interrupted file is re-applied).
    Applying,
    /// Every change written; the report is final.
    Applied,
    /// Refused whole; nothing was written.
    Rejected,
}

/// One import file's record (DynamoDB `IMPORT#<sha256>` / `FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub status: FileStatus,
    /// The report as `/dev/import` answers it (issues capped at 1,000 each).
    pub report: Report,
    /// When the status was written (UTC).
    pub updated_at: DateTime<Utc>,
}

/// One S3 import of a file while its chunks are written (DynamoDB `IMPORT#<sha256>` / `RUN`): the
/// check pass records it before it sends the chunks; each chunk counts itself done
/// (`StatementStore::count_chunk`); the chunk that completes the count writes the report, marks
/// the file applied and releases the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRun {
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// This check pass's id: chunks of an earlier pass of the same file (an interrupted import
    /// checked again) are not counted.
    pub generation: String,
    /// The import lock's holder for this run (the chunks renew its lease; the last releases it).
    pub holder: String,
    /// Where the file came from (the S3 object, as the import function writes it): an S3 event
    /// delivered again for the same object is told from the same bytes uploaded again.
    pub source: String,
    /// Chunks the file was cut into (0 for a file without data rows).
    pub chunks: u32,
    /// Chunks counted done so far (as read; `start_run` writes 0).
    pub done: u32,
    /// When the check pass started (UTC).
    pub started_at: DateTime<Utc>,
}

/// What counting a chunk done came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkCount {
    /// Counted now: `done` of `chunks` are done (`done == chunks`: this chunk completed the file).
    Counted { done: u32, chunks: u32 },
    /// This chunk was counted before (a message delivered twice); `done` of `chunks` are done.
    AlreadyCounted { done: u32, chunks: u32 },
    /// No run of this file has this generation (a later check pass replaced it): not counted.
    Superseded,
}

/// The statements' store.
///
/// Errors: `StoreError::Unavailable` when the store fails (throttled, timed out; retry later),
/// `StoreError::Corrupt` for an item that does not decode.
#[async_trait]
pub trait StatementStore: Send + Sync {
    /// What is stored under each `record_id` of `kind` among `rows` (`record_id`, the row's
    /// `member_id`): the record of the member it was first imported for (even when the row names
    /// another member, so the import rules can refuse the change), or its tombstone. Absent ids are
    /// left out of the map.
    async fn stored(&self, kind: StatementKind, rows: &[(RecordId, MemberId)]) -> Result<HashMap<RecordId, StoredRecord>, StoreError>;

    /// Write `changes` of a file of `kind` (idempotent: writing them again leaves the same state). `imported_on` is the
    /// Japan date of the import: a record is visible from the later of its `publish_on` and this.
    async fn apply(&self, kind: StatementKind, changes: &[Change], imported_on: NaiveDate) -> Result<(), StoreError>;

    /// A member's profile, signup record and household records (see `Household`).
    async fn household(&self, member: &MemberId, scope: Scope) -> Result<Household, StoreError>;

    async fn file(&self, sha256: &str) -> Result<Option<FileRecord>, StoreError>;
    async fn put_file(&self, file: &FileRecord) -> Result<(), StoreError>;

    /// Take the import lock for `holder` (a file's SHA-256) until `until` (UTC): files are applied
    /// one at a time. `false`: another file holds it and its lease has not run out. Taking it again
    /// as the same holder extends the lease.
    async fn lock_imports(&self, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Release the lock if `holder` has it.
    async fn unlock_imports(&self, holder: &str) -> Result<(), StoreError>;

    /// Record a run of the file `run.sha256` with `run.chunks` chunks, none done, replacing any
    /// earlier run of the same file (whose chunks are then `Superseded`).
    async fn start_run(&self, run: &ImportRun) -> Result<(), StoreError>;
    /// The file's current run, if any (strongly consistent).
    async fn run(&self, sha256: &str) -> Result<Option<ImportRun>, StoreError>;
    /// Count chunk `chunk` (0-based) of run `generation` of the file done, once: one conditional
    /// write, so a chunk delivered twice, or two chunks finishing together, count right.
    async fn count_chunk(&self, sha256: &str, generation: &str, chunk: u32) -> Result<ChunkCount, StoreError>;

    /// The members with a record (not hidden) that became visible on `day` (Japan date): the
    /// publication index `apply` keeps (`PUB#<day>` / `MEMBER#<id>`), so the notice run of a day
    /// reads it with one Query, never a Scan (DESIGN.md Part 2). Sorted, each once.
    async fn published_on(&self, day: NaiveDate) -> Result<Vec<MemberId>, StoreError>;

    /// What the update notice's decision reads of `member` (`kenpo_notices::decide`): the notice
    /// claims, the profile, the signup record and the household's records. DynamoDB: one Query
    /// of the member's partition from `NOTICE#` to the medical lines.
    async fn notice_input(&self, member: &MemberId) -> Result<kenpo_notices::NoticeInput, StoreError>;

    /// Claim `member`'s notice of `day` before sending it: `false` when a claim exists already
    /// (another sender, a redelivery). DynamoDB: a conditional UpdateItem creating
    /// `NOTICE#<day>` with `claimedAt`.
    async fn claim_notice(&self, member: &MemberId, day: NaiveDate, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Record that the claimed notice went (`sentAt`).
    async fn settle_notice(&self, member: &MemberId, day: NaiveDate, sent_at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Give a claim back when its mail surely did not leave (the provider was unavailable), so a
    /// retry sends it. DynamoDB: an UpdateItem removing `claimedAt` (never a delete: the sender's
    /// role may delete nothing in a member's partition), conditioned on no `sentAt`.
    async fn release_notice(&self, member: &MemberId, day: NaiveDate) -> Result<(), StoreError>;
}

/// The day a record put by `change` becomes visible for the notices (`max(publish_on, imported_on)`),
/// with its member; `None` for a tombstone or a hidden record (neither is news).
pub fn published(change: &Change, imported_on: NaiveDate) -> Option<(NaiveDate, MemberId)> {
    let Change::Put { statement, .. } = change else { return None };
    (!statement.hidden()).then(|| (kenpo_statements::read::visible_from(statement.publish_on(), imported_on), statement.member_id().clone()))
}
