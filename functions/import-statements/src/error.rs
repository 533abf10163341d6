//! Why an import step did not finish, with stable codes (logs, the alarms' metric filters). A file
//! refused by its report is not an error: its report is written to `rejected/`.

use kenpo_shared::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Another file holds the import lock: this one waits (`import_busy`).
    #[error("another file is being imported")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// S3 failed (throttled, timed out, denied, the object is gone): `s3_unavailable`. Never the
    /// object's contents.
    #[error("S3 {operation}: {detail}")]
    S3 { operation: &'static str, detail: String },
    /// SQS failed: `sqs_unavailable`.
    #[error("SQS {operation}: {detail}")]
    Sqs { operation: &'static str, detail: String },
    /// Reading the object's body failed part-way (`object_read_failed`).
    #[error("reading the object failed: {0}")]
    Read(String),
    /// The bytes read are not the bytes checked (another SHA-256, or a chunk that no longer
    /// parses): `file_changed`. The GETs name the object's version, so this means a bucket
    /// without versioning whose object was replaced.
    #[error("the object's bytes changed since the check")]
    FileChanged,
    /// A chunk's rows no longer plan as they did in the check (a record changed in between, which
    /// the lock is there to prevent): `chunk_conflict`. The chunk fails and, after its retries,
    /// goes to the dead-letter queue.
    #[error("a chunk's rows no longer plan as checked (line {line})")]
    ChunkConflict { line: u64 },
    /// An event or message this function does not take (`bad_event`).
    #[error("not an event of the import: {0}")]
    BadEvent(String),
}

impl ImportError {
    /// The stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Busy => "import_busy",
            ImportError::Store(e) => e.code(),
            ImportError::S3 { .. } => "s3_unavailable",
            ImportError::Sqs { .. } => "sqs_unavailable",
            ImportError::Read(_) => "object_read_failed",
            ImportError::FileChanged => "file_changed",
            ImportError::ChunkConflict { .. } => "chunk_conflict",
            ImportError::BadEvent(_) => "bad_event",
        }
    }

    pub(crate) fn s3<E: std::error::Error + 'static, R: std::fmt::Debug>(operation: &'static str, e: &aws_sdk_s3::error::SdkError<E, R>) -> Self {
        ImportError::S3 { operation, detail: aws_sdk_s3::error::DisplayErrorContext(e).to_string() }
    }

    pub(crate) fn sqs<E: std::error::Error + 'static, R: std::fmt::Debug>(operation: &'static str, e: &aws_sdk_sqs::error::SdkError<E, R>) -> Self {
        ImportError::Sqs { operation, detail: aws_sdk_sqs::error::DisplayErrorContext(e).to_string() }
    }
}
