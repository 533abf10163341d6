//! 医療費のお知らせ and 給付金支給額 (DESIGN.md Part 2), pure: the society's CSV files
//! ([`file`]), the import rules against the stored records ([`import`]), the report both answer
//! with ([`report`]), visibility, retention and the API answers ([`read`]); the same checks over a
//! stream, for files too large to hold ([`stream`]).
//!
//! No AWS, no HTTP, no store, no clock: whatever depends on the date takes `today` (the Japan
//! date) as an argument. Errors are values with stable codes and Japanese messages that never
//! carry the value they refuse.

pub mod file;
pub mod import;
pub mod read;
pub mod records;
pub mod report;
pub mod stream;
pub mod types;

pub use file::{ParsedFile, Row, RowBody, parse};
pub use import::{Change, Plan, StoredRecord, plan};
pub use records::{Benefit, MedicalLine, Statement};
pub use report::{Issue, Report};
pub use types::{
    Action, BenefitCode, Category, PaymentMethod, PersonNo, RecordId, Relation, ServiceMonth, StatementKind, Yen,
};
