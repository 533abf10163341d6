//! The import bucket: which objects are files to import, where their reports go, and reading an
//! object as a stream (never whole: a 1,000,000-line file is about 200 MB).
//!
//! Every GET names the object's version (the bucket is versioned; without a version, its ETag as
//! `If-Match`), so the hash pass, the check pass and every chunk read the same bytes even if the
//! society uploads the same key again meanwhile.

use std::io::{self, Read};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use kenpo_statements::report::Report;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ImportError;

/// Where the society uploads files.
pub const INCOMING: &str = "incoming/";
/// Where the report of an applied file goes (`processed/<name>.report.json`).
pub const PROCESSED: &str = "processed/";
/// Where the report of a refused file goes (`rejected/<name>.report.json`).
pub const REJECTED: &str = "rejected/";

/// One uploaded object (one version of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub bucket: String,
    /// The key, decoded (`incoming/...`).
    pub key: String,
    /// The version the event names (a versioned bucket), else `None`.
    pub version_id: Option<String>,
    /// The ETag the event names (used as `If-Match` when there is no version).
    pub etag: Option<String>,
}

impl ObjectRef {
    /// Whether the key is a file to import: under `incoming/`, ending `.csv` (the S3
    /// notification's filter, which is case-sensitive: `.CSV` starts nothing).
    pub fn is_import_file(&self) -> bool {
        self.key.starts_with(INCOMING) && self.key.len() > INCOMING.len() + 4 && self.key.ends_with(".csv")
    }

    /// The name under `incoming/` (`2026-12/medical.csv`).
    pub fn name(&self) -> &str {
        self.key.strip_prefix(INCOMING).unwrap_or(&self.key)
    }

    /// The report's key beside the file: `processed/<name>.report.json` or `rejected/<name>.report.json`.
    pub fn report_key(&self, refused: bool) -> String {
        format!("{}{}.report.json", if refused { REJECTED } else { PROCESSED }, self.name())
    }

    /// This object version as the run records it (`s3://bucket/key#version`).
    pub fn source(&self) -> String {
        format!("s3://{}/{}#{}", self.bucket, self.key, self.version_id.as_deref().or(self.etag.as_deref()).unwrap_or(""))
    }

    /// The import lock's holder for a file of `sha256` from this object version: the same event
    /// delivered again takes the lock again; the same bytes uploaded as another object wait.
    pub fn holder(&self, sha256: &str) -> String {
        let tag: String = Sha256::digest(self.source().as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("{sha256}@{tag}")
    }
}

/// An S3 event key as S3 writes it in the event: URL-encoded, spaces as `+`.
pub fn decode_event_key(key: &str) -> Result<String, ImportError> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(hex.ok_or_else(|| ImportError::BadEvent("an object key with a bad %-escape".into()))?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ImportError::BadEvent("an object key that is not UTF-8".into()))
}

/// GET of the object (pinned to its version), the whole body or `range` (`bytes=a-b`).
pub async fn get(s3: &Client, object: &ObjectRef, range: Option<String>) -> Result<ByteStream, ImportError> {
    let mut request = s3.get_object().bucket(&object.bucket).key(&object.key).set_range(range);
    request = match (&object.version_id, &object.etag) {
        (Some(version), _) => request.version_id(version),
        (None, Some(etag)) => request.if_match(etag),
        (None, None) => request,
    };
    Ok(request.send().await.map_err(|e| ImportError::s3("GetObject", &e))?.body)
}

/// Bytes `start..end` (`end` exclusive; `None`: to the end) of the object, in memory (a chunk, a
/// few MB).
pub async fn get_range(s3: &Client, object: &ObjectRef, start: u64, end: Option<u64>) -> Result<Vec<u8>, ImportError> {
    if end == Some(start) {
        return Ok(Vec::new());
    }
    let range = match end {
        Some(end) => format!("bytes={start}-{}", end - 1),
        None => format!("bytes={start}-"),
    };
    let body = get(s3, object, Some(range)).await?;
    Ok(body.collect().await.map_err(|e| ImportError::Read(e.to_string()))?.to_vec())
}

/// Writes a report (the `/dev/import` JSON) to `key`.
pub async fn put_report(s3: &Client, bucket: &str, key: &str, report: &Report) -> Result<(), ImportError> {
    let mut body = serde_json::to_vec_pretty(report).map_err(|e| ImportError::Read(e.to_string()))?;
    body.push(b'\n');
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json; charset=utf-8")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| ImportError::s3("PutObject", &e))?;
    Ok(())
}

/// Pieces of an object's body in flight between the task reading it and the parse (at most 4,
/// each what S3 sends at a time: tens of KB).
const PIECES_IN_FLIGHT: usize = 4;

/// Hands `body` to a blocking reader: the returned `BodyReader` yields its bytes on another
/// thread while the future returned beside it reads them from S3. Memory: a few pieces.
pub fn bridge(mut body: ByteStream) -> (BodyReader, impl std::future::Future<Output = ()>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Vec<u8>>>(PIECES_IN_FLIGHT);
    let pump = async move {
        while let Some(piece) = body.next().await {
            let piece = piece.map(|b| b.to_vec()).map_err(|e| io::Error::other(e.to_string()));
            let failed = piece.is_err();
            // The parse stopped (it has its answer, or failed): stop reading.
            if tx.send(piece).await.is_err() || failed {
                return;
            }
        }
    };
    (BodyReader { rx, piece: Vec::new(), at: 0 }, pump)
}

/// The blocking end of [`bridge`] (read it on a blocking thread: `spawn_blocking`).
pub struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.piece.len() {
            match self.rx.blocking_recv() {
                Some(piece) => {
                    self.piece = piece?;
                    self.at = 0;
                }
                // The pump ended: the body is complete.
                None => return Ok(0),
            }
        }
        let n = (self.piece.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str) -> ObjectRef {
        ObjectRef { bucket: "b".into(), key: key.into(), version_id: Some("v1".into()), etag: None }
    }

    #[test]
    fn keys_and_report_names() {
        assert_eq!(decode_event_key("incoming/2026-12/%E5%8C%BB%E7%99%82+%E8%B2%BB.csv").unwrap(), "incoming/2026-12/医療 費.csv");
        assert!(decode_event_key("incoming/%E5%8C.csv").is_err());
        assert!(decode_event_key("incoming/%zz.csv").is_err());
        let o = object("incoming/2026-12/medical.csv");
        assert!(o.is_import_file());
        assert_eq!(o.report_key(false), "processed/2026-12/medical.csv.report.json");
        assert_eq!(o.report_key(true), "rejected/2026-12/medical.csv.report.json");
        assert!(!object("incoming/2026-12/medical.CSV").is_import_file());
        assert!(!object("processed/x.csv").is_import_file());
        assert!(!object("incoming/x.txt").is_import_file());
        assert!(!object("incoming/.csv").is_import_file());
        assert_ne!(o.holder("abc"), object("incoming/other.csv").holder("abc"));
        assert!(o.holder("abc").starts_with("abc@"));
    }

    #[tokio::test]
    async fn the_bridge_gives_the_body_to_a_blocking_reader() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (mut reader, pump) = bridge(ByteStream::from(bytes.clone()));
        let pump = tokio::spawn(pump);
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        })
        .await
        .unwrap()
        .unwrap();
        pump.await.unwrap();
        assert_eq!(read, bytes);
    }
}
