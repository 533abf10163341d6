//! The SQS messages of the import (JSON bodies): a file waiting for the lock (the wait queue, read
//! by the check pass) and a chunk to write (the chunk queue, read by the writers). They name the
//! object and byte offsets, never a row's contents.

use chrono::NaiveDate;
use kenpo_statements::stream::Encoding;
use kenpo_statements::types::StatementKind;
use serde::{Deserialize, Serialize};

use crate::object::ObjectRef;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Message {
    /// A file whose S3 event came while another file held the lock: checked when it is free.
    File { object: ObjectRef },
    Chunk(ChunkJob),
}

/// One chunk of an accepted file: the rows in bytes `start..end` of the object, parsed after the
/// header's bytes (`0..header_end`) with the file's encoding, planned and written alone (the
/// import rules are per row and a `record_id` is in one row of a file, so a chunk's plan does not
/// depend on the others').
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkJob {
    pub object: ObjectRef,
    /// The file's SHA-256 (its `FILE` and `RUN` items).
    pub sha256: String,
    /// The check pass that cut it (`ImportRun::generation`): an older one's chunks are ignored.
    pub generation: String,
    /// The import lock's holder (renewed before writing; the last chunk releases it).
    pub holder: String,
    pub kind: StatementKind,
    pub encoding: Encoding,
    /// Where the first data row starts: bytes `0..header_end` hold the header (and any line
    /// before it).
    pub header_end: u64,
    /// The chunk's first byte (a row's first line).
    pub start: u64,
    /// The first byte after the chunk (the next chunk's start), or `None`: to the end.
    pub end: Option<u64>,
    /// Lines between the first data row and this chunk's first row: added to the line numbers
    /// the chunk parses to, they are the file's.
    pub line_shift: u64,
    /// 0-based.
    pub chunk: u32,
    pub chunks: u32,
    /// The Japan date of the import (the check pass's): a record is visible from the later of its
    /// `publish_on` and this, whenever its chunk is written.
    pub imported_on: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_message_is_small_json_without_row_contents() {
        let job = ChunkJob {
            object: ObjectRef { bucket: "b".into(), key: "incoming/m.csv".into(), version_id: Some("v".into()), etag: Some("\"e\"".into()) },
            sha256: "ab".repeat(32),
            generation: "g".into(),
            holder: "h".into(),
            kind: StatementKind::Medical,
            encoding: Encoding::Cp932,
            header_end: 120,
            start: 120,
            end: Some(9_000_000),
            line_shift: 0,
            chunk: 0,
            chunks: 100,
            imported_on: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        };
        let json = serde_json::to_string(&Message::Chunk(job.clone())).unwrap();
        assert!(json.len() < 600, "{json}");
        assert!(json.contains(r#""type":"chunk""#) && json.contains(r#""encoding":"cp932""#) && json.contains(r#""kind":"medical""#), "{json}");
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), Message::Chunk(job));
    }
}
