//! The import rules that need the stored state (DESIGN.md Part 2, "Rules of an import" and the
//! clarifications), pure: given a parsed file and the stored record of each of its `record_id`s,
//! what to write — or the report refusing the whole file.
//!
//! | row | nothing stored | active, same contents | active, other contents | cancelled |
//! |---|---|---|---|---|
//! | `N` | put | no-op | wrong line | wrong line |
//! | `C` | wrong line | no-op | put (same `member_id` only) | wrong line |
//! | `D` | wrong line | tombstone (same `member_id` only) | tombstone (same `member_id` only) | no-op (same `member_id` only) |
//!
//! Medical and benefit `record_id`s are separate namespaces: `existing` holds the records of the
//! file's kind. Because every outcome depends only on the row and the record stored under its
//! `record_id`, and a `record_id` appears once per file, applying a plan and planning the same
//! file again gives only no-ops, and a file interrupted half-way re-plans to exactly the rest.

use std::collections::HashMap;

use chrono::NaiveDate;
use kenpo_shared::domain::MemberId;
use serde::{Deserialize, Serialize};

use crate::file::{ParsedFile, Row, RowBody};
use crate::records::Statement;
use crate::report::{Issue, Report};
use crate::types::{Action, RecordId, StatementKind};

/// What is stored under a `record_id` (of one kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredRecord {
    /// The current contents (from an `N` or the last `C`).
    Active(Statement),
    /// Cancelled by a `D`: the tombstone keeps the `record_id` from being used again.
    Cancelled { member_id: MemberId },
}

impl StoredRecord {
    pub fn member_id(&self) -> &MemberId {
        match self {
            StoredRecord::Active(statement) => statement.member_id(),
            StoredRecord::Cancelled { member_id } => member_id,
        }
    }
}

/// One write of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Store these contents under the record's `record_id` (an `N`, or a `C` replacing the record).
    /// A put of a record that is not hidden is new data for the notices.
    Put { line: u64, action: Action, statement: Statement },
    /// Replace the active record with a tombstone. `expires_on` is the day the cancelled record
    /// would have left retention (the tombstone's TTL).
    Tombstone { line: u64, record_id: RecordId, member_id: MemberId, expires_on: NaiveDate },
}

impl Change {
    pub fn line(&self) -> u64 {
        match self {
            Change::Put { line, .. } | Change::Tombstone { line, .. } => *line,
        }
    }

    pub fn record_id(&self) -> &RecordId {
        match self {
            Change::Put { statement, .. } => statement.record_id(),
            Change::Tombstone { record_id, .. } => record_id,
        }
    }

    pub fn member_id(&self) -> &MemberId {
        match self {
            Change::Put { statement, .. } => statement.member_id(),
            Change::Tombstone { member_id, .. } => member_id,
        }
    }

    /// What is stored after this change.
    pub fn stored(&self) -> StoredRecord {
        match self {
            Change::Put { statement, .. } => StoredRecord::Active(statement.clone()),
            Change::Tombstone { member_id, .. } => StoredRecord::Cancelled { member_id: member_id.clone() },
        }
    }
}

/// The writes of an accepted file, in file order, and its report (`applied` = `changes.len()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: StatementKind,
    pub changes: Vec<Change>,
    /// Rows that changed nothing.
    pub unchanged: u64,
    pub report: Report,
}

impl Plan {
    /// The state after the plan's writes (the dev store, tests).
    pub fn apply_to(&self, state: &mut HashMap<RecordId, StoredRecord>) {
        for change in &self.changes {
            state.insert(change.record_id().clone(), change.stored());
        }
    }
}

/// The plan of a parsed file against the stored records of its kind (at least those of its
/// `record_id`s), or the report naming every wrong line (parse warnings kept).
pub fn plan(parsed: &ParsedFile, existing: &HashMap<RecordId, StoredRecord>) -> Result<Plan, Report> {
    let mut report = parsed.report.clone();
    report.kind = Some(parsed.kind);
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for row in &parsed.rows {
        match decide(row, existing.get(&row.record_id)) {
            Ok(Some(change)) => changes.push(change),
            Ok(None) => unchanged += 1,
            Err(issue) => report.error(issue),
        }
    }
    if report.is_refused() {
        report.applied = 0;
        return Err(report);
    }
    report.applied = changes.len() as u64;
    Ok(Plan { kind: parsed.kind, changes, unchanged, report })
}

const NEVER_IMPORTED: &str =
    "この record_id は登録されていないため、訂正（C）・取消（D）できません。新規は action を N にしてください。";

/// The rule for one row given what is stored under its `record_id`: the change to write, `None`
/// when the row changes nothing (a re-delivered `N`, a `C` with the current contents, a `D` of a
/// cancelled record), or the wrong line.
pub fn decide(row: &Row, stored: Option<&StoredRecord>) -> Result<Option<Change>, Issue> {
    let wrong = |column: &str, message: &str| Err(Issue::new(row.line, column, message));
    if row.action == Action::Cancellation {
        return match stored {
            None => wrong("record_id", NEVER_IMPORTED),
            Some(s) if s.member_id() != &row.member_id => {
                wrong("member_id", "取消（D）の member_id が登録済みの行の member_id と違います。")
            }
            Some(StoredRecord::Cancelled { .. }) => Ok(None),
            Some(StoredRecord::Active(current)) => Ok(Some(Change::Tombstone {
                line: row.line,
                record_id: row.record_id.clone(),
                member_id: row.member_id.clone(),
                expires_on: current.expires_on(),
            })),
        };
    }
    let statement = match &row.body {
        RowBody::Medical(line) => Statement::Medical(line.clone()),
        RowBody::Benefit(benefit) => Statement::Benefit(benefit.clone()),
        RowBody::Cancellation => return wrong("action", "新規（N）・訂正（C）の行に内容がありません。"),
    };
    let put = || Ok(Some(Change::Put { line: row.line, action: row.action, statement: statement.clone() }));
    match (row.action, stored) {
        (_, Some(StoredRecord::Active(current))) if current == &statement => Ok(None),
        (Action::New, None) => put(),
        (Action::New, Some(StoredRecord::Active(_))) => wrong(
            "record_id",
            "この record_id は登録済みで、内容が違います。訂正する場合は action を C にしてください。",
        ),
        (Action::New, Some(StoredRecord::Cancelled { .. })) => {
            wrong("record_id", "この record_id は取消済みです。新しい record_id で登録してください。")
        }
        (_, None) => wrong("record_id", NEVER_IMPORTED),
        (_, Some(StoredRecord::Cancelled { .. })) => {
            wrong("record_id", "この record_id は取消済みのため訂正できません。新しい record_id で登録してください。")
        }
        (_, Some(StoredRecord::Active(current))) if current.member_id() != statement.member_id() => wrong(
            "member_id",
            "訂正（C）で member_id は変えられません。取消（D）して、新しい record_id で登録してください。",
        ),
        (_, Some(StoredRecord::Active(_))) => put(),
    }
}
