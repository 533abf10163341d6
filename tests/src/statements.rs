//! The society's statement files as tests write them: one row per call, columns in the order of
//! DESIGN.md's tables (`kenpo_statements::file::header`), CRLF line ends as Excel writes them.

use kenpo_statements::file::header;
use kenpo_statements::types::StatementKind;

/// One medical line (`action` N or C) of `member`'s person `person` (`00` = 本人): 医療費総額
/// 10,000 yen, the given 自己負担, the rest paid by the insurer; `month` `YYYYMM`, `publish_on`
/// `YYYYMMDD`.
#[allow(clippy::too_many_arguments)]
pub fn medical(id: &str, action: &str, member: &str, person: &str, month: &str, self_pay: u64, hidden: bool, publish_on: &str) -> Vec<(&'static str, String)> {
    let relation = if person == "00" { "本人" } else { "子" };
    vec![
        ("record_id", id.into()),
        ("action", action.into()),
        ("member_id", member.into()),
        ("person_no", person.into()),
        ("person_name", format!("受診者{person}")),
        ("relation", relation.into()),
        ("service_month", month.into()),
        ("category", "12".into()),
        ("days", "1".into()),
        ("institution_name", "テスト内科".into()),
        ("total_cost", "10000".into()),
        ("insurer_paid", (10_000 - self_pay).to_string()),
        ("public_paid", "0".into()),
        ("self_pay", self_pay.to_string()),
        ("hidden", if hidden { "1" } else { "0" }.into()),
        ("publish_on", publish_on.into()),
    ]
}

/// A cancellation (`D`): only the keys.
pub fn cancellation(id: &str, member: &str) -> Vec<(&'static str, String)> {
    vec![("record_id", id.into()), ("action", "D".into()), ("member_id", member.into())]
}

/// One benefit decision of `member`'s person `person`: 高額療養費 of `amount` yen decided on
/// `decided_on` (`YYYYMMDD`), paid by bank transfer, published on `publish_on`.
pub fn benefit(id: &str, action: &str, member: &str, person: &str, amount: u64, decided_on: &str, publish_on: &str) -> Vec<(&'static str, String)> {
    let relation = if person == "00" { "本人" } else { "子" };
    vec![
        ("record_id", id.into()),
        ("action", action.into()),
        ("member_id", member.into()),
        ("person_no", person.into()),
        ("person_name", format!("受診者{person}")),
        ("relation", relation.into()),
        ("benefit_code", "KOGAKU".into()),
        ("benefit_name", "高額療養費".into()),
        ("service_month", decided_on[..6].into()),
        ("period_from", String::new()),
        ("period_to", String::new()),
        ("institution_name", "テスト病院".into()),
        ("basis_amount", (amount * 2).to_string()),
        ("amount", amount.to_string()),
        ("decided_on", decided_on.into()),
        ("paid_on", String::new()),
        ("payment_method", "2".into()),
        ("remarks", String::new()),
        ("hidden", "0".into()),
        ("publish_on", publish_on.into()),
    ]
}

/// A file of `kind` with these rows (absent columns empty).
pub fn file(kind: StatementKind, rows: &[Vec<(&'static str, String)>]) -> Vec<u8> {
    let columns = header(kind);
    let mut text = columns.join(",");
    text.push_str("\r\n");
    for row in rows {
        let fields: Vec<String> = columns.iter().map(|c| row.iter().find(|(name, _)| name == c).map(|(_, v)| v.clone()).unwrap_or_default()).collect();
        text.push_str(&fields.join(","));
        text.push_str("\r\n");
    }
    text.into_bytes()
}
