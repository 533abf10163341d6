//! Demo statements for `kenpo dev` (DESIGN.md Part 2, "Local run, part 2"), all made up: 24
//! months of medical lines for a household with dependants (D0005: 本人, 配偶者, two children, one
//! line hidden at an adult child's request), one benefit decision of every kind, a correction and a
//! cancellation, and a few lines for the member who left (D0006). They are written as the society's
//! CSV files and applied through the real import (`kenpo_statement_store::import`), so the demo data
//! obeys the same rules as an uploaded file. Record ids start with `demo-`.

use chrono::{Datelike, Months, NaiveDate};
use kenpo_statement_store::StatementStore;
use kenpo_statement_store::import::{Quiet, import_file};
use kenpo_statements::file::header;
use kenpo_statements::types::StatementKind;

/// A person of a demo household: 枝番, 氏名, 続柄, 自己負担の割合 (percent).
struct Person {
    no: &'static str,
    name: &'static str,
    relation: &'static str,
    share: u64,
}

const HOUSEHOLD: &[Person] = &[
    Person { no: "00", name: "登録 五月", relation: "本人", share: 30 },
    Person { no: "01", name: "登録 六郎", relation: "配偶者", share: 30 },
    Person { no: "02", name: "登録 七海", relation: "子", share: 20 },
    Person { no: "03", name: "登録 八雲", relation: "子", share: 30 },
    // Only in the benefits (家族埋葬料): a parent who was a dependant.
    Person { no: "04", name: "登録 九重", relation: "父母", share: 20 },
];

const CLINICS: &[(&str, &str)] = &[
    ("12", "みなと内科クリニック"),
    ("30", "さくら調剤薬局"),
    ("22", "あおば歯科医院"),
    ("12", "ひかりファミリークリニック"),
    ("11", "中央総合病院"),
    ("50", ""),
    ("60", "みどり鍼灸院"),
    ("40", "ひまわり訪問看護ステーション"),
];

/// A small deterministic generator (the same demo data on every start).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn month_start(today: NaiveDate, back: u32) -> NaiveDate {
    let first = today.with_day(1).unwrap_or(today);
    first.checked_sub_months(Months::new(back)).unwrap_or(first)
}

/// Published on the 25th of the second month after the visit (about three months after it).
fn publish_on(service: NaiveDate) -> NaiveDate {
    let month = service.checked_add_months(Months::new(2)).unwrap_or(service);
    month.with_day(25).unwrap_or(month)
}

fn csv(kind: StatementKind, rows: &[Vec<String>]) -> Vec<u8> {
    let mut text = header(kind).join(",");
    text.push_str("\r\n");
    for row in rows {
        text.push_str(&row.iter().map(|f| if f.contains(',') { format!("\"{f}\"") } else { f.clone() }).collect::<Vec<_>>().join(","));
        text.push_str("\r\n");
    }
    text.into_bytes()
}

/// One medical row in `header(Medical)` order.
#[allow(clippy::too_many_arguments)]
fn medical_row(id: &str, action: &str, member: &str, p: &Person, service: NaiveDate, category: &str, days: u64, clinic: &str, total: u64, hidden: bool) -> Vec<String> {
    let self_pay = total * p.share / 100 / 10 * 10;
    let values: Vec<(&str, String)> = vec![
        ("record_id", id.to_owned()),
        ("action", action.to_owned()),
        ("member_id", member.to_owned()),
        ("person_no", p.no.to_owned()),
        ("person_name", p.name.to_owned()),
        ("relation", p.relation.to_owned()),
        ("service_month", service.format("%Y%m").to_string()),
        ("category", category.to_owned()),
        ("days", days.to_string()),
        ("institution_name", clinic.to_owned()),
        ("total_cost", total.to_string()),
        ("insurer_paid", (total - self_pay).to_string()),
        ("public_paid", "0".to_owned()),
        ("self_pay", self_pay.to_string()),
        ("hidden", if hidden { "1" } else { "0" }.to_owned()),
        ("publish_on", ymd(publish_on(service))),
    ];
    in_header_order(StatementKind::Medical, values)
}

fn in_header_order(kind: StatementKind, values: Vec<(&str, String)>) -> Vec<String> {
    header(kind).iter().map(|column| values.iter().find(|(name, _)| name == column).map(|(_, v)| v.clone()).unwrap_or_default()).collect()
}

/// The demo medical files: the lines (N), then a correction (C) and a cancellation (D).
fn medical_files(today: NaiveDate) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Lcg(20261130);
    let mut rows = Vec::new();
    let mut n = 0;
    // 24 months of visits up to last month (last month's lines are not published yet).
    for back in (1..=23u32).rev() {
        let service = month_start(today, back);
        for p in &HOUSEHOLD[..4] {
            let visits = rng.next(3);
            for _ in 0..visits {
                let (category, clinic) = CLINICS[rng.next(4) as usize];
                let total = 1_500 + rng.next(120) * 100;
                n += 1;
                rows.push(medical_row(&format!("demo-m{n:04}"), "N", "D0005", p, service, category, 1 + rng.next(3), clinic, total, false));
                if category == "12" {
                    // The prescription filled at the pharmacy.
                    n += 1;
                    rows.push(medical_row(&format!("demo-m{n:04}"), "N", "D0005", p, service, "30", 1, "さくら調剤薬局", 800 + rng.next(40) * 100, false));
                }
            }
        }
    }
    // The rarer kinds, each once: a stay in hospital, 柔道整復 (no institution), はり, 訪問看護.
    let special = [(4usize, 14u32, 0usize, 9u64, 486_000u64), (5, 10, 1, 6, 9_800), (6, 8, 1, 4, 12_000), (7, 6, 0, 5, 38_000)];
    for (clinic, back, person, days, total) in special {
        let (category, name) = CLINICS[clinic];
        n += 1;
        rows.push(medical_row(&format!("demo-m{n:04}"), "N", "D0005", &HOUSEHOLD[person], month_start(today, back), category, days, name, total, false));
    }
    // An adult child's line the society hides at their request: never shown on the web.
    rows.push(medical_row("demo-hidden-0001", "N", "D0005", &HOUSEHOLD[3], month_start(today, 5), "12", 2, "こころのクリニック", 14_200, true));
    // To be corrected and cancelled by the second file.
    rows.push(medical_row("demo-fix-0001", "N", "D0005", &HOUSEHOLD[0], month_start(today, 7), "12", 1, "みなと内科クリニック", 4_300, false));
    rows.push(medical_row("demo-cancel-0001", "N", "D0005", &HOUSEHOLD[1], month_start(today, 7), "22", 1, "あおば歯科医院", 6_100, false));
    // The member who left (D0006): a few lines before leaving.
    let leaver = Person { no: "00", name: "退職 六子", relation: "本人", share: 30 };
    for back in [16u32, 15, 14] {
        n += 1;
        rows.push(medical_row(&format!("demo-m{n:04}"), "N", "D0006", &leaver, month_start(today, back), "12", 1, "みなと内科クリニック", 3_200, false));
    }
    let first = csv(StatementKind::Medical, &rows);
    let mut fix = medical_row("demo-fix-0001", "C", "D0005", &HOUSEHOLD[0], month_start(today, 7), "12", 2, "みなと内科クリニック", 8_600, false);
    fix[header(StatementKind::Medical).iter().position(|c| *c == "publish_on").unwrap_or(0)] = ymd(publish_on(month_start(today, 7)));
    let mut cancel = vec![String::new(); header(StatementKind::Medical).len()];
    for (column, value) in [("record_id", "demo-cancel-0001"), ("action", "D"), ("member_id", "D0005")] {
        if let Some(i) = header(StatementKind::Medical).iter().position(|c| *c == column) {
            cancel[i] = value.to_owned();
        }
    }
    (first, csv(StatementKind::Medical, &[fix, cancel]))
}

/// One decision of every kind for the household, over the two years.
fn benefits_file(today: NaiveDate) -> Vec<u8> {
    // (code, name, person, months back of the service month, amount, basis, period days, method, remarks)
    type Row = (&'static str, &'static str, usize, u32, u64, Option<u64>, Option<u64>, &'static str, &'static str);
    let decisions: [Row; 11] = [
        ("KOGAKU", "高額療養費", 0, 14, 62_430, Some(145_800), None, "2", ""),
        ("KOGAKU_GASSAN", "世帯合算高額療養費", 1, 12, 18_760, Some(98_200), None, "2", "世帯で合算した額から計算しています。"),
        ("FUKA_HONNIN", "一部負担還元金", 0, 10, 12_000, Some(45_000), None, "1", "給与と合わせてお支払いします。"),
        ("FUKA_KAZOKU", "家族療養付加金", 2, 9, 8_000, Some(33_000), None, "1", ""),
        ("FUKA_GASSAN", "合算高額療養付加金", 1, 8, 5_000, Some(25_000), None, "2", ""),
        ("RYOYOHI", "療養費（治療用装具）", 2, 7, 21_350, Some(30_500), None, "2", "治療用装具の費用の7割です。"),
        ("SHOBYO", "傷病手当金", 0, 6, 184_520, None, Some(27), "2", ""),
        ("SHUSSAN_TEATE", "出産手当金", 0, 20, 186_400, None, Some(42), "2", "産前の期間の分です。"),
        ("SHUSSAN_IKUJI", "出産育児一時金", 0, 19, 500_000, None, None, "3", "医療機関等への直接支払制度を利用しました。"),
        ("MAISO", "家族埋葬料", 4, 4, 50_000, None, None, "2", "ご家族（被扶養者）が亡くなられたときの給付です。"),
        ("OTHER", "インフルエンザ予防接種補助", 3, 2, 2_000, None, None, "1", "組合独自の補助です。"),
    ];
    let mut rows = Vec::new();
    for (i, (code, name, person, back, amount, basis, period, method, remarks)) in decisions.into_iter().enumerate() {
        let p = &HOUSEHOLD[person];
        let service = month_start(today, back);
        let decided = publish_on(service).checked_sub_days(chrono::Days::new(5)).unwrap_or(service);
        let paid = decided.checked_add_days(chrono::Days::new(20)).unwrap_or(decided);
        let medical = basis.is_some();
        let (from, to) = match period {
            Some(days) => (ymd(service), ymd(service.checked_add_days(chrono::Days::new(days - 1)).unwrap_or(service))),
            None => (String::new(), String::new()),
        };
        let values: Vec<(&str, String)> = vec![
            ("record_id", format!("demo-b{:04}", i + 1)),
            ("action", "N".into()),
            ("member_id", "D0005".into()),
            ("person_no", p.no.into()),
            ("person_name", p.name.into()),
            ("relation", p.relation.into()),
            ("benefit_code", code.into()),
            ("benefit_name", name.into()),
            ("service_month", if medical { service.format("%Y%m").to_string() } else { String::new() }),
            ("period_from", from),
            ("period_to", to),
            ("institution_name", if medical { "中央総合病院".into() } else { String::new() }),
            ("basis_amount", basis.map(|b| b.to_string()).unwrap_or_default()),
            ("amount", amount.to_string()),
            ("decided_on", ymd(decided)),
            ("paid_on", ymd(paid)),
            ("payment_method", method.into()),
            ("remarks", remarks.into()),
            ("hidden", "0".into()),
            ("publish_on", ymd(decided)),
        ];
        rows.push(in_header_order(StatementKind::Benefits, values));
    }
    csv(StatementKind::Benefits, &rows)
}

/// Apply the demo files to `store` for a dev server started at `now`, as if each line had been
/// imported before its `publish_on` (so each becomes visible on its own publication day, as in a
/// society that uploads monthly). Errors: a demo file refused (a bug in this module: the message
/// names the file) or the store failing.
pub async fn seed_statements(store: &dyn StatementStore, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    let today = now.with_timezone(&kenpo_shared::clock::japan()).date_naive();
    let (medical, corrections) = medical_files(today);
    let imported_at = now - chrono::Duration::days(3 * 366);
    for (name, bytes) in [("demo medical", medical), ("demo corrections", corrections), ("demo benefits", benefits_file(today))] {
        let imported = import_file(store, &bytes, imported_at, &Quiet).await.map_err(|e| format!("{name}: {e}"))?;
        if imported.report.is_refused() {
            return Err(format!("{name}: refused: {}", serde_json::to_string(&imported.report).unwrap_or_default()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_files_parse() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let (medical, corrections) = medical_files(today);
        for bytes in [medical, corrections, benefits_file(today)] {
            let parsed = kenpo_statements::parse(&bytes).map_err(|r| serde_json::to_string(&r).unwrap()).unwrap();
            assert!(parsed.report.warnings.is_empty(), "{:?}", parsed.report.warnings);
        }
    }
}
