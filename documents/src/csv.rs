//! The year's lines as CSV for a spreadsheet: UTF-8 with a BOM (Excel reads a BOM-less file as
//! Shift_JIS), CRLF line ends, one header row in Japanese, RFC 4180 quoting (the `csv` crate).
//! Amounts are plain integers in yen, so a column sums as the API's figures do.
//! Text cells that a spreadsheet would take for a formula (starting with `=`, `+`, `-`, `@`, tab
//! or CR: OWASP "CSV Injection"; or their full-width forms) are prefixed with `'`.

use kenpo_statements::records::MedicalLine;

use crate::DocumentError;

/// The header row.
pub const HEADER: [&str; 10] = [
    "診療年月",
    "受診者氏名",
    "続柄",
    "区分",
    "医療機関等の名称",
    "日数",
    "医療費総額（円）",
    "保険者負担額（円）",
    "公費負担額（円）",
    "自己負担相当額（円）",
];

/// UTF-8's byte order mark.
pub const BOM: &str = "\u{feff}";

fn text_cell(s: &str) -> String {
    // Full-width ＝＋－＠ too: Japanese Excel may read them as the ASCII signs.
    if s.starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠']) { format!("'{s}") } else { s.to_owned() }
}

/// The CSV of `lines` (already the member's shown lines of one year, in the list's order).
pub fn medical_csv(lines: &[&MedicalLine]) -> Result<Vec<u8>, DocumentError> {
    let mut out = BOM.as_bytes().to_vec();
    {
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(&mut out);
        writer.write_record(HEADER).map_err(|e| DocumentError::Csv(e.to_string()))?;
        for l in lines {
            writer
                .write_record([
                    format!("{}年{}月", l.service_month.year(), l.service_month.month()),
                    text_cell(&l.person_name),
                    l.relation.label().to_owned(),
                    l.category.label().to_owned(),
                    text_cell(l.institution_name.as_deref().unwrap_or("")),
                    l.days.to_string(),
                    l.total_cost.amount().to_string(),
                    l.insurer_paid.amount().to_string(),
                    l.public_paid.amount().to_string(),
                    l.self_pay.amount().to_string(),
                ])
                .map_err(|e| DocumentError::Csv(e.to_string()))?;
        }
        writer.flush().map_err(|e| DocumentError::Csv(e.to_string()))?;
    }
    Ok(out)
}
