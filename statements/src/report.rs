//! The report of an import (DESIGN.md Part 2, "Local run, part 2" and the clarifications): what
//! `POST /dev/import` answers and what the S3 import writes as `<key>.report.json`.
//!
//! ```json
//! {"kind": "medical", "applied": 12, "warnings": [{"line": 3, "column": "total_cost", "message": "…"}],
//!  "warningCount": 1, "errors": [], "errorCount": 0}
//! ```
//!
//! An issue names a physical line of the file and a column, never a value. At most
//! [`MAX_ISSUES`] warnings and as many errors are kept; the counts are the totals.

use serde::{Deserialize, Serialize};

use crate::types::StatementKind;

/// Issues of each sort kept in a report (the totals are counted beyond it).
pub const MAX_ISSUES: usize = 1_000;

/// The column of an issue about a whole line or the whole file rather than one column.
pub const WHOLE_LINE: &str = "*";

/// One wrong or doubtful line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Issue {
    /// Physical line number in the file, 1-based (a CRLF is one line break; a row whose quoted
    /// field spans lines is named by the line it starts on).
    pub line: u64,
    /// The column's header name (`total_cost`), `"3列目"` for a column without a usable name, or
    /// [`WHOLE_LINE`].
    pub column: String,
    /// Japanese, for the society's operator; never the value.
    pub message: String,
}

impl Issue {
    pub fn new(line: u64, column: impl Into<String>, message: impl Into<String>) -> Self {
        Self { line, column: column.into(), message: message.into() }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}行目 {}: {}", self.line, self.column, self.message)
    }
}

/// The outcome of checking (and, if it has no errors, applying) one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `None` when the header row was not recognised.
    pub kind: Option<StatementKind>,
    /// Lines that changed something (`N` new, `C` different, `D` of an active record). 0 when refused.
    pub applied: u64,
    /// The first [`MAX_ISSUES`] warnings, in line order.
    pub warnings: Vec<Issue>,
    pub warning_count: u64,
    /// The first [`MAX_ISSUES`] errors, in line order. Any error refuses the whole file.
    pub errors: Vec<Issue>,
    pub error_count: u64,
}

impl Report {
    pub fn new(kind: Option<StatementKind>) -> Self {
        Self { kind, ..Self::default() }
    }

    /// A report refusing the file with one error.
    pub fn refused(kind: Option<StatementKind>, issue: Issue) -> Self {
        let mut report = Self::new(kind);
        report.error(issue);
        report
    }

    pub fn error(&mut self, issue: Issue) {
        self.error_count += 1;
        if self.errors.len() < MAX_ISSUES {
            self.errors.push(issue);
        }
    }

    pub fn warning(&mut self, issue: Issue) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_ISSUES {
            self.warnings.push(issue);
        }
    }

    /// Whether the file is refused (nothing of it may be written).
    pub fn is_refused(&self) -> bool {
        self.error_count > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_the_dev_import_answer() {
        let mut report = Report::new(Some(StatementKind::Medical));
        report.warning(Issue::new(3, "total_cost", "合いません"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "medical", "applied": 0, "warnings": [{"line": 3, "column": "total_cost", "message": "合いません"}],
                "warningCount": 1, "errors": [], "errorCount": 0})
        );
        assert_eq!(serde_json::to_value(Report::new(None)).unwrap()["kind"], serde_json::Value::Null);
    }

    #[test]
    fn keeps_at_most_a_thousand_of_each_and_counts_all() {
        let mut report = Report::new(None);
        for line in 0..1_500 {
            report.error(Issue::new(line, "*", "x"));
            report.warning(Issue::new(line, "*", "y"));
        }
        assert_eq!((report.errors.len(), report.error_count), (1_000, 1_500));
        assert_eq!((report.warnings.len(), report.warning_count), (1_000, 1_500));
        assert_eq!(report.errors.last().unwrap().line, 999, "the first ones are kept");
        assert!(report.is_refused());
    }
}
