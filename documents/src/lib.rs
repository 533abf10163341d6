//! The members' downloads (DESIGN.md Part 2, "downloads"), pure: no store, no HTTP, no clock.
//! The caller passes what the member is shown today and the Japan time of issue.
//!
//! - [`medical::medical_notice_pdf`]: 医療費のお知らせ for a calendar year (the NTA's six items).
//! - [`benefit::benefit_notice_pdf`]: 給付金支給決定通知書 for one decision.
//! - [`csv::medical_csv`]: a year's lines for a spreadsheet.
//!
//! PDFs are A4 portrait, text set in one Japanese font ([`font::DocumentFont`]) embedded as a
//! subset of the glyphs used, with a ToUnicode map so text can be selected and copied.

pub mod benefit;
pub mod csv;
pub mod font;
pub mod layout;
pub mod medical;

pub use font::{DocumentFont, FontError};

/// Who issues the documents (the society's settings: `SOCIETY_NAME`, `SOCIETY_PHONE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// ⑥ 保険者等の名称.
    pub society_name: String,
    /// Printed as the contact; may be empty.
    pub society_phone: String,
}

/// Why a document could not be made. Stable codes: `document_layout`, `document_pdf`,
/// `document_csv` (none is the member's fault: the download answers 500).
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("document_layout: the page size was refused")]
    Layout,
    #[error("document_pdf: {0}")]
    Pdf(String),
    #[error("document_csv: {0}")]
    Csv(String),
}

impl DocumentError {
    pub fn code(&self) -> &'static str {
        match self {
            DocumentError::Layout => "document_layout",
            DocumentError::Pdf(_) => "document_pdf",
            DocumentError::Csv(_) => "document_csv",
        }
    }
}
