//! 給付金支給決定通知書: one benefit decision, laid out as a notice (what the benefit screen shows:
//! DESIGN.md Part 2, 給付金支給額). Members hand it to a municipality (子ども医療費助成 and the
//! like) or keep it with the 医療費控除 papers (a benefit reduces the deductible amount).
//! Never the 保険者番号 or 記号・番号.

use chrono::{NaiveDate, NaiveDateTime};
use kenpo_statements::records::Benefit;
use kenpo_statements::types::BenefitCode;

use crate::layout::{Align, CONTENT_WIDTH, MARGIN, Meta, Pages, ja_date, ja_yen};
use crate::{DocumentError, Issuer};

/// What the notice is made of: a benefit the member is shown today
/// (`kenpo_statements::read::shown_benefit`).
pub struct BenefitNotice<'a> {
    pub issuer: &'a Issuer,
    /// 被保険者等の氏名 (the addressee).
    pub insured_name: &'a str,
    pub benefit: &'a Benefit,
    /// Japan local time of issue.
    pub issued_at: NaiveDateTime,
}

/// 対象: the 診療年月, or the period (傷病手当金 and the like), or "—".
pub fn target_of(b: &Benefit) -> String {
    let month = b.service_month.map(|m| format!("{}年{}月診療分", m.year(), m.month()));
    let period = match (b.period_from, b.period_to) {
        (Some(from), Some(to)) => Some(format!("{}～{}", ja_date(from), ja_date(to))),
        (Some(from), None) => Some(format!("{}～", ja_date(from))),
        (None, Some(to)) => Some(format!("～{}", ja_date(to))),
        (None, None) => None,
    };
    match (month, period) {
        (Some(m), Some(p)) => format!("{m}（{p}）"),
        (Some(m), None) => m,
        (None, Some(p)) => p,
        (None, None) => "—".to_owned(),
    }
}

/// The rows of the notice: (label, value), in the screen's order; a 支払日 after `today` (Japan)
/// says （予定）, as the screen does.
pub fn rows(b: &Benefit, today: NaiveDate) -> Vec<(&'static str, String)> {
    let or_dash = |s: Option<String>| s.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "—".to_owned());
    vec![
        ("受診者（対象者）", format!("{}（{}）", b.person_name, b.relation.label())),
        ("給付の種類", b.name.clone()),
        ("対象", target_of(b)),
        ("医療機関等", or_dash(b.institution_name.clone())),
        ("算定基礎額", b.basis_amount.map(ja_yen).unwrap_or_else(|| "—".to_owned())),
        ("支給額", ja_yen(b.amount)),
        ("支給決定日", ja_date(b.decided_on)),
        ("支払日", b.paid_on.map(|d| if d > today { format!("{}（予定）", ja_date(d)) } else { ja_date(d) }).unwrap_or_else(|| "未定（決まりしだい掲載します）".to_owned())),
        ("支払方法", b.payment_method.label().to_owned()),
        ("備考", or_dash(b.remarks.clone())),
    ]
}

/// Whether a benefit makes up for medical costs, so that the 医療費控除 deducts it as
/// 「保険金などで補てんされる金額」 (NTA, タックスアンサー No.1120: 高額療養費, 家族療養費 and 付加給付,
/// 出産育児一時金 are; 傷病手当金 and 出産手当金 replace income and are not; 埋葬料 is no medical
/// cost). `Other` is left to the member (no sentence).
pub fn compensates_medical_costs(code: BenefitCode) -> bool {
    matches!(
        code,
        BenefitCode::Kogaku | BenefitCode::KogakuGassan | BenefitCode::FukaHonnin | BenefitCode::FukaKazoku | BenefitCode::FukaGassan | BenefitCode::Ryoyohi | BenefitCode::ShussanIkuji
    )
}

const LABEL_WIDTH: f32 = 120.0;
const SIZE: f32 = 10.5;
const LEADING: f32 = 17.0;

/// The PDF (one A4 page; a very long 備考 continues on the next, its label repeated).
pub fn benefit_notice_pdf(notice: &BenefitNotice<'_>, font: &crate::DocumentFont) -> Result<Vec<u8>, DocumentError> {
    let b = notice.benefit;
    let mut p = Pages::new(font);
    let issued_on: NaiveDate = notice.issued_at.date();
    p.text(MARGIN, CONTENT_WIDTH, p.y, 9.5, &format!("発行日 {}", ja_date(issued_on)), Align::Right);
    p.y += 8.0;
    p.paragraph(MARGIN, CONTENT_WIDTH, 13.0, &format!("{} 様", notice.insured_name), 0);
    p.y += 6.0;
    p.y += 4.0;
    p.text(MARGIN, CONTENT_WIDTH, p.y, 10.0, &notice.issuer.society_name, Align::Right);
    p.y += 30.0;
    p.text(MARGIN, CONTENT_WIDTH, p.y, 18.0, "給付金支給決定通知書", Align::Center);
    p.y += 20.0;
    p.paragraph(MARGIN, CONTENT_WIDTH, 10.5, "次のとおり給付金の支給を決定しましたので、お知らせします。", 0);
    p.y += 14.0;
    p.rule(MARGIN, p.y, MARGIN + CONTENT_WIDTH, p.y, 0.8);
    for (label, value) in rows(b, issued_on) {
        let size = if label == "支給額" { 13.0 } else { SIZE };
        let parts = p.wrap(&value, size, CONTENT_WIDTH - LABEL_WIDTH - 12.0);
        // A row taller than what is left (a long 備考) continues on the next page, its label again.
        let mut rest: &[String] = &parts;
        while !rest.is_empty() {
            let fits = (((p.room() - 8.0) / LEADING).floor().max(0.0) as usize).min(rest.len());
            if fits == 0 {
                p.new_page();
                p.rule(MARGIN, p.y, MARGIN + CONTENT_WIDTH, p.y, 0.8);
                continue;
            }
            let (now, later) = rest.split_at(fits);
            let top = p.y;
            let height = LEADING * now.len() as f32 + 8.0;
            p.shade(MARGIN, top, LABEL_WIDTH, height, 238);
            let shown_label = if rest.len() == parts.len() { label.to_owned() } else { format!("{label}（続き）") };
            p.text(MARGIN + 8.0, LABEL_WIDTH - 16.0, top + LEADING, SIZE, &shown_label, Align::Left);
            for (k, part) in now.iter().enumerate() {
                p.text(MARGIN + LABEL_WIDTH + 10.0, CONTENT_WIDTH - LABEL_WIDTH - 12.0, top + LEADING * (k as f32 + 1.0), size, part, Align::Left);
            }
            p.y = top + height;
            p.rule(MARGIN, p.y, MARGIN + CONTENT_WIDTH, p.y, 0.5);
            rest = later;
        }
    }
    p.y += 20.0;
    let mut notes = vec!["・この通知書は、Webサービス「医療費と給付金支給額」から発行したものです。市区町村の医療費助成などの申請に使えるかどうかは、申請先にご確認ください。".to_owned()];
    if compensates_medical_costs(b.code) {
        notes.push("・医療費控除を受けるときは、この給付金を「保険金などで補てんされる金額」として、対象の医療費から差し引きます。".to_owned());
    }
    notes.push("・この通知書には、保険者番号および被保険者証等の記号・番号は記載していません。".to_owned());
    if !notice.issuer.society_phone.is_empty() {
        notes.push(format!("・お問い合わせ：{} {}", notice.issuer.society_name, notice.issuer.society_phone));
    }
    for note in notes {
        p.paragraph(MARGIN, CONTENT_WIDTH, 8.5, &note, 40);
    }
    let title = format!("給付金支給決定通知書（{}・{}）", b.name, ja_date(b.decided_on));
    let meta = Meta { title, author: notice.issuer.society_name.clone(), created: notice.issued_at };
    let society = notice.issuer.society_name.clone();
    p.finish(&meta, |n, total| format!("{society}　給付金支給決定通知書　{n} / {total} ページ"))
}
