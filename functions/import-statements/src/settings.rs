//! The import's settings, from the environment (the SAM template sets them). It needs none of the
//! onboarding's (no session key, no origins): only where to write and how to cut files.

use kenpo_shared::config::ConfigError;

/// Rows per chunk by default: a chunk is planned and written by one writer invocation. 10,000
/// rows are 20,000 item writes (the record and its owner item), 800 BatchWriteItem and 200
/// BatchGetItem requests: about 10–30 s of a writer at DynamoDB's on-demand rates, far below
/// the writer's timeout (docs/PERFORMANCE.md, "The S3 import").
pub const DEFAULT_CHUNK_ROWS: u32 = 10_000;

/// How long a file waits before it is tried again while another file is applied (seconds).
pub const DEFAULT_WAIT_SECONDS: u32 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSettings {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// Where the check pass sends a file's chunks (`IMPORT_CHUNK_QUEUE_URL`).
    pub chunk_queue_url: String,
    /// Where a file waits while another is applied (`IMPORT_WAIT_QUEUE_URL`).
    pub wait_queue_url: String,
    /// Data rows per chunk (`IMPORT_CHUNK_ROWS`, 1–1,000,000). A file of at most this many rows
    /// is written by the check pass itself, without SQS.
    pub chunk_rows: u32,
    /// Seconds a parked file waits before it is tried again (`IMPORT_WAIT_SECONDS`, 0–900: SQS's
    /// limits for a delay and a visibility change we use it for).
    pub wait_seconds: u32,
}

impl ImportSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Every setting is required but the two numbers, whose defaults are above.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| ConfigError { name, reason: "is required".into() })
        };
        let number = |name: &'static str, default: u32, range: std::ops::RangeInclusive<u32>| -> Result<u32, ConfigError> {
            match get(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| ConfigError { name, reason: format!("must be a whole number from {} to {}", range.start(), range.end()) }),
            }
        };
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            chunk_queue_url: required("IMPORT_CHUNK_QUEUE_URL")?,
            wait_queue_url: required("IMPORT_WAIT_QUEUE_URL")?,
            chunk_rows: number("IMPORT_CHUNK_ROWS", DEFAULT_CHUNK_ROWS, 1..=1_000_000)?,
            wait_seconds: number("IMPORT_WAIT_SECONDS", DEFAULT_WAIT_SECONDS, 0..=900)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn queues_and_table_are_required_and_numbers_checked() {
        let all = [("TABLE_NAME", "t"), ("IMPORT_CHUNK_QUEUE_URL", "https://q/c"), ("IMPORT_WAIT_QUEUE_URL", "https://q/w")];
        let s = ImportSettings::from_lookup(lookup(&all)).unwrap();
        assert_eq!((s.chunk_rows, s.wait_seconds), (DEFAULT_CHUNK_ROWS, DEFAULT_WAIT_SECONDS));
        let e = ImportSettings::from_lookup(lookup(&[("TABLE_NAME", "t")])).unwrap_err();
        assert_eq!((e.name, e.code()), ("IMPORT_CHUNK_QUEUE_URL", "config_invalid"));
        let bad = [("TABLE_NAME", "t"), ("IMPORT_CHUNK_QUEUE_URL", "c"), ("IMPORT_WAIT_QUEUE_URL", "w"), ("IMPORT_CHUNK_ROWS", "0")];
        assert_eq!(ImportSettings::from_lookup(lookup(&bad)).unwrap_err().name, "IMPORT_CHUNK_ROWS");
    }
}
