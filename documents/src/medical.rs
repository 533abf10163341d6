//! 医療費のお知らせ for a calendar year (by 診療年月), as a PDF a member attaches to a tax return.
//!
//! It carries the six items the National Tax Agency lists for a 医療費通知 that shortens the
//! 医療費控除の明細書 (国税庁「医療費控除の明細書の記載要領」, 所得税法施行規則 47 条の 2 第 3 項;
//! see `docs/DESIGN.md`, "Documents"): ① 被保険者等の氏名, ② 療養を受けた年月, ③ 療養を受けた者の
//! 氏名, ④ 療養を受けた病院・診療所・薬局等の名称, ⑤ 被保険者等が支払った医療費の額 (the line's
//! 自己負担相当額), ⑥ 保険者等の名称. Per person, institution and month, with totals per person
//! and in all; the period, the issue date and the lag. Never the 保険者番号 or 記号・番号 (the NTA
//! asks that they be made unreadable on an attached notice: they are simply not printed).

use chrono::{NaiveDate, NaiveDateTime};
use kenpo_statements::records::MedicalLine;
use kenpo_statements::types::{PersonNo, ServiceMonth, Yen};

use crate::layout::{Align, CONTENT_WIDTH, MARGIN, Meta, Pages, ja_date, ja_yen};
use crate::{DocumentError, Issuer};

/// What the year's notice is made of. `lines` are the member's shown lines of `year` (hidden,
/// unpublished and expired lines already left out: `kenpo_statements::read::medical_lines_of_year`).
pub struct MedicalNotice<'a> {
    pub issuer: &'a Issuer,
    /// ① 被保険者等の氏名: the members file's `name`, else the insured person's name on the lines.
    pub insured_name: &'a str,
    /// The calendar year of 診療年月.
    pub year: i32,
    pub lines: &'a [&'a MedicalLine],
    /// Japan local time of issue.
    pub issued_at: NaiveDateTime,
}

/// The columns of the table: ② to ⑤ plus 区分 and 日数 (x offsets and widths, points).
const COLUMNS: [(&str, f32, Align); 6] = [
    ("療養を受けた年月", 72.0, Align::Left),
    ("療養を受けた病院・診療所・薬局等の名称", 182.0, Align::Left),
    ("区分", 60.0, Align::Left),
    ("日数", 34.0, Align::Right),
    ("医療費の総額", 78.0, Align::Right),
    ("支払った医療費の額", 84.2, Align::Right),
];
const BODY: f32 = 8.5;
const ROW: f32 = 13.5;

fn month_label(m: ServiceMonth) -> String {
    format!("{}年{}月", m.year(), m.month())
}

/// The people in the lines, by 受診者番号, each with their lines in (診療年月, 区分, record id) order.
fn by_person<'a>(lines: &[&'a MedicalLine]) -> Vec<(PersonNo, &'a str, &'static str, Vec<&'a MedicalLine>)> {
    let mut people: std::collections::BTreeMap<PersonNo, Vec<&'a MedicalLine>> = std::collections::BTreeMap::new();
    for line in lines {
        people.entry(line.person_no).or_default().push(line);
    }
    people
        .into_iter()
        .map(|(no, mut lines)| {
            lines.sort_by(|a, b| (a.service_month, a.category, &a.record_id).cmp(&(b.service_month, b.category, &b.record_id)));
            // The name on the person's latest line (a correction may have renamed them).
            let latest = lines.iter().max_by_key(|l| (l.service_month, &l.record_id)).copied();
            let name = latest.map_or("", |l| l.person_name.as_str());
            let relation = latest.map_or("", |l| l.relation.label());
            (no, name, relation, lines)
        })
        .collect()
}

/// The PDF, or `None` when the year has no line to show (the download answers 404).
pub fn medical_notice_pdf(notice: &MedicalNotice<'_>, font: &crate::DocumentFont) -> Result<Option<Vec<u8>>, DocumentError> {
    if notice.lines.is_empty() {
        return Ok(None);
    }
    let mut p = Pages::new(font);
    let issued_on: NaiveDate = notice.issued_at.date();
    let title = format!("医療費のお知らせ（{}年診療分）", notice.year);

    // Heading: the title; issue date, issuer and contact on the right; then the insured person
    // (wrapped: a name may be long).
    p.text(MARGIN, CONTENT_WIDTH, p.y, 17.0, &title, Align::Center);
    p.y += 28.0;
    p.text(MARGIN, CONTENT_WIDTH, p.y, 9.5, &format!("発行日 {}", ja_date(issued_on)), Align::Right);
    p.y += 14.0;
    p.text(MARGIN, CONTENT_WIDTH, p.y, 9.5, &format!("保険者等の名称 {}", notice.issuer.society_name), Align::Right);
    if !notice.issuer.society_phone.is_empty() {
        p.y += 13.0;
        p.text_gray(MARGIN, CONTENT_WIDTH, p.y, 8.0, &format!("お問い合わせ {}", notice.issuer.society_phone), Align::Right, 90);
    }
    p.paragraph(MARGIN, CONTENT_WIDTH, 12.0, &format!("{} 様", notice.insured_name), 0);
    p.paragraph(MARGIN, CONTENT_WIDTH, 8.0, "（被保険者等の氏名）", 90);
    p.y += 8.0;

    let first = notice.lines.iter().map(|l| l.service_month).min();
    let last = notice.lines.iter().map(|l| l.service_month).max();
    let total_cost: Yen = notice.lines.iter().map(|l| l.total_cost).sum();
    let self_pay: Yen = notice.lines.iter().map(|l| l.self_pay).sum();
    let period = match (first, last) {
        (Some(a), Some(b)) if a != b => format!("{}～{}診療分", month_label(a), month_label(b)),
        (Some(a), _) => format!("{}診療分", month_label(a)),
        _ => String::new(),
    };
    p.paragraph(
        MARGIN,
        CONTENT_WIDTH,
        9.5,
        &format!(
            "{}年1月から12月までに療養を受けた分のうち、{}までに掲載された分をお知らせします（掲載分：{}）。",
            notice.year,
            ja_date(issued_on),
            period
        ),
        0,
    );
    p.y += 6.0;
    // The year's totals in a shaded band.
    p.shade(MARGIN, p.y, CONTENT_WIDTH, 22.0, 235);
    p.text(MARGIN + 8.0, CONTENT_WIDTH / 2.0, p.y + 15.0, 10.0, &format!("医療費の総額 合計 {}", ja_yen(total_cost)), Align::Left);
    p.text(MARGIN + CONTENT_WIDTH / 2.0, CONTENT_WIDTH / 2.0 - 8.0, p.y + 15.0, 10.0, &format!("支払った医療費の額 合計 {}", ja_yen(self_pay)), Align::Right);
    p.y += 34.0;

    for (_, name, relation, lines) in by_person(notice.lines) {
        person_table(&mut p, name, relation, &lines);
        p.y += 10.0;
    }

    // The household's total.
    p.ensure(ROW * 2.0);
    p.rule(MARGIN, p.y, MARGIN + CONTENT_WIDTH, p.y, 1.0);
    p.y += ROW;
    amounts_row(&mut p, "合計（全員）", total_cost, self_pay, 10.0);
    p.y += 4.0;
    p.rule(MARGIN, p.y, MARGIN + CONTENT_WIDTH, p.y, 1.0);
    p.y += 14.0;

    notes(&mut p, notice.year);
    let meta = Meta { title: title.clone(), author: notice.issuer.society_name.clone(), created: notice.issued_at };
    let society = notice.issuer.society_name.clone();
    let year = notice.year;
    p.finish(&meta, |n, total| format!("{society}　医療費のお知らせ（{year}年診療分）　{n} / {total} ページ")).map(Some)
}

fn column_x(i: usize) -> f32 {
    MARGIN + COLUMNS.iter().take(i).map(|c| c.1).sum::<f32>()
}

/// The header row of a person's table (repeated on a new page).
fn header_row(p: &mut Pages<'_>) {
    let h = 2.0 * ROW;
    p.shade(MARGIN, p.y, CONTENT_WIDTH, h, 225);
    for (i, (label, width, align)) in COLUMNS.iter().enumerate() {
        let lines = p.wrap(label, 7.5, width - 6.0);
        let top = p.y + if lines.len() == 1 { ROW * 0.5 } else { 0.0 };
        for (k, line) in lines.iter().enumerate() {
            p.text(column_x(i) + 3.0, width - 6.0, top + ROW * (k as f32 + 1.0) - 4.0, 7.5, line, *align);
        }
    }
    p.y += h;
}

fn person_heading(p: &mut Pages<'_>, name: &str, relation: &str, continued: bool) {
    p.y += 6.0;
    let suffix = if continued { "（続き）" } else { "" };
    p.paragraph(MARGIN, CONTENT_WIDTH, 10.5, &format!("療養を受けた者の氏名：{name}（{relation}）{suffix}"), 0);
    p.y += 4.0;
    header_row(p);
}

fn person_table(p: &mut Pages<'_>, name: &str, relation: &str, lines: &[&MedicalLine]) {
    p.ensure(20.0 + 2.0 * ROW + 2.0 * ROW);
    person_heading(p, name, relation, false);
    for (i, line) in lines.iter().enumerate() {
        let institution = line.institution_name.clone().unwrap_or_else(|| "—".to_owned());
        let cells = [
            vec![month_label(line.service_month)],
            p.wrap(&institution, BODY, COLUMNS[1].1 - 6.0),
            p.wrap(line.category.label(), BODY, COLUMNS[2].1 - 6.0),
            vec![format!("{}日", line.days)],
            vec![ja_yen(line.total_cost)],
            vec![ja_yen(line.self_pay)],
        ];
        let height = ROW * cells.iter().map(Vec::len).max().unwrap_or(1) as f32;
        // The last line takes the subtotal along: a page never starts with a header and a subtotal only.
        let subtotal = if i + 1 == lines.len() { ROW + 4.0 } else { 0.0 };
        if p.ensure(height + 2.0 + subtotal) {
            person_heading(p, name, relation, true);
        }
        let base = p.y + ROW - 4.0;
        for (i, parts) in cells.iter().enumerate() {
            let (_, width, align) = COLUMNS[i];
            for (k, part) in parts.iter().enumerate() {
                p.text(column_x(i) + 3.0, width - 6.0, base + ROW * k as f32, BODY, part, align);
            }
        }
        p.y += height;
        p.rule(MARGIN, p.y, MARGIN + CONTENT_WIDTH, p.y, 0.3);
    }
    let total_cost: Yen = lines.iter().map(|l| l.total_cost).sum();
    let self_pay: Yen = lines.iter().map(|l| l.self_pay).sum();
    if p.ensure(ROW + 4.0) {
        person_heading(p, name, relation, true);
    }
    p.y += ROW;
    // The subtotal names the person when the name fits beside the amounts.
    let label = format!("小計（{name}）");
    let label = if p.font.width(&label, BODY) <= column_x(4) - MARGIN - 6.0 { label } else { "小計".to_owned() };
    amounts_row(p, &label, total_cost, self_pay, BODY);
    p.y += 4.0;
}

/// A totals row: the label over the first four columns, then the two amounts.
fn amounts_row(p: &mut Pages<'_>, label: &str, total_cost: Yen, self_pay: Yen, size: f32) {
    let base = p.y - 4.0;
    p.text(MARGIN + 3.0, column_x(4) - MARGIN - 6.0, base, size, label, Align::Right);
    p.text(column_x(4) + 3.0, COLUMNS[4].1 - 6.0, base, size, &ja_yen(total_cost), Align::Right);
    p.text(column_x(5) + 3.0, COLUMNS[5].1 - 6.0, base, size, &ja_yen(self_pay), Align::Right);
}

fn notes(p: &mut Pages<'_>, year: i32) {
    p.ensure(60.0);
    p.y += 6.0;
    p.text(MARGIN, CONTENT_WIDTH, p.y, 10.0, "このお知らせについて", Align::Left);
    p.y += 2.0;
    let notes = [
        "・確定申告で医療費控除を受けるときは、このお知らせを添付して、「医療費控除の明細書」の「1 医療費通知に関する事項」欄に記入することができます（国税庁）。".to_owned(),
        "・「支払った医療費の額」は、医療費の総額から健康保険組合と公費が負担した額を除いた額（自己負担相当額）です。医療機関等の窓口で支払った額とは異なる場合があります。".to_owned(),
        format!("・医療費は、受診からおおむね3か月後に掲載されます。{year}年の最近の月に受診した分は、まだ含まれていないことがあります。含まれていない分は、領収書をもとに明細書に記入してください。"),
        "・高額療養費などの給付金を受け取ったときは、医療費控除の計算で「保険金などで補てんされる金額」として差し引きます。給付金支給額の画面でご確認ください。".to_owned(),
        "・このお知らせには、保険者番号および被保険者証等の記号・番号は記載していません。".to_owned(),
    ];
    for note in notes {
        p.paragraph(MARGIN, CONTENT_WIDTH, 8.5, &note, 40);
    }
}
