//! Fixtures: CSV files written column by column, so each test states only what it is about.
#![allow(dead_code)]

use chrono::NaiveDate;
use kenpo_statements::file::header;
use kenpo_statements::{ParsedFile, Report, StatementKind, parse};

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub const MEDICAL_DEFAULTS: [(&str, &str); 16] = [
    ("record_id", "M0001"),
    ("action", "N"),
    ("member_id", "M001"),
    ("person_no", "00"),
    ("person_name", "山田太郎"),
    ("relation", "本人"),
    ("service_month", "202608"),
    ("category", "12"),
    ("days", "2"),
    ("institution_name", "やまだ内科クリニック"),
    ("total_cost", "10000"),
    ("insurer_paid", "7000"),
    ("public_paid", "0"),
    ("self_pay", "3000"),
    ("hidden", "0"),
    ("publish_on", "20261110"),
];

pub const BENEFIT_DEFAULTS: [(&str, &str); 20] = [
    ("record_id", "B0001"),
    ("action", "N"),
    ("member_id", "M001"),
    ("person_no", "00"),
    ("person_name", "山田太郎"),
    ("relation", "本人"),
    ("benefit_code", "KOGAKU"),
    ("benefit_name", "高額療養費"),
    ("service_month", "202607"),
    ("period_from", ""),
    ("period_to", ""),
    ("institution_name", "やまだ病院"),
    ("basis_amount", "120000"),
    ("amount", "35000"),
    ("decided_on", "20261020"),
    ("paid_on", "20261125"),
    ("payment_method", "1"),
    ("remarks", ""),
    ("hidden", "0"),
    ("publish_on", "20261110"),
];

/// One CSV field, quoted when it needs to be (RFC 4180).
pub fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// A data row in the canonical column order, with some columns changed.
pub fn row(kind: StatementKind, changes: &[(&str, &str)]) -> String {
    let defaults: &[(&str, &str)] = match kind {
        StatementKind::Medical => &MEDICAL_DEFAULTS,
        StatementKind::Benefits => &BENEFIT_DEFAULTS,
    };
    header(kind)
        .iter()
        .map(|name| {
            let value = changes
                .iter()
                .find(|(n, _)| n == name)
                .or_else(|| defaults.iter().find(|(n, _)| n == name))
                .map_or("", |(_, v)| *v);
            field(value)
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn medical(changes: &[(&str, &str)]) -> String {
    row(StatementKind::Medical, changes)
}

pub fn benefit(changes: &[(&str, &str)]) -> String {
    row(StatementKind::Benefits, changes)
}

/// A whole file: the canonical header, then the rows, LF-terminated.
pub fn file(kind: StatementKind, rows: &[String]) -> String {
    let mut s = header(kind).join(",");
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

pub fn parse_ok(text: &str) -> ParsedFile {
    match parse(text.as_bytes()) {
        Ok(p) => p,
        Err(report) => panic!("refused: {:#?}", report.errors),
    }
}

pub fn parse_err(text: &str) -> Report {
    match parse(text.as_bytes()) {
        Ok(p) => panic!("accepted: {} rows", p.rows.len()),
        Err(report) => report,
    }
}

/// (line, column) of every error.
pub fn where_(report: &Report) -> Vec<(u64, String)> {
    report.errors.iter().map(|e| (e.line, e.column.clone())).collect()
}
