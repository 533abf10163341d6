//! The documents as a member and a tax office read them: text extracted with poppler's
//! `pdftotext` (what "select and copy" gives), a page rendered with `pdftoppm`, the CSV read back
//! with the `csv` crate. Needs Debian's `fonts-ipaexfont-gothic` and `poppler-utils` (the test
//! command installs both).

use std::path::Path;
use std::process::Command;

use chrono::{NaiveDate, NaiveDateTime};
use kenpo_documents::benefit::{BenefitNotice, benefit_notice_pdf};
use kenpo_documents::csv::medical_csv;
use kenpo_documents::font::DEBIAN_FONT_PATH;
use kenpo_documents::medical::{MedicalNotice, medical_notice_pdf};
use kenpo_documents::{DocumentFont, Issuer};
use kenpo_shared::domain::MemberId;
use kenpo_statements::read::{Imported, medical_lines_of_year};
use kenpo_statements::records::{Benefit, MedicalLine};
use kenpo_statements::types::{BenefitCode, Category, PaymentMethod, PersonNo, RecordId, Relation, ServiceMonth, Yen};

fn font() -> DocumentFont {
    DocumentFont::load(Path::new(DEBIAN_FONT_PATH), 0).expect("fonts-ipaexfont-gothic is installed (the test command installs it)")
}

fn issuer() -> Issuer {
    Issuer { society_name: "みどり製作所健康保険組合".into(), society_phone: "03-0000-0000".into() }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a test date")
}

#[allow(clippy::too_many_arguments)]
fn line(id: &str, person: &str, name: &str, relation: Relation, month: (i32, u32), category: Category, institution: &str, total: u64, self_pay: u64, hidden: bool) -> Imported<MedicalLine> {
    Imported {
        record: MedicalLine {
            record_id: RecordId::parse(id).expect("id"),
            member_id: MemberId::parse("M0001").expect("member"),
            person_no: PersonNo::parse(person).expect("person"),
            person_name: name.into(),
            relation,
            service_month: ServiceMonth::new(month.0, month.1).expect("month"),
            category,
            days: 2,
            institution_name: Some(institution.into()),
            total_cost: Yen(total),
            insurer_paid: Yen(total - self_pay),
            public_paid: Yen(0),
            self_pay: Yen(self_pay),
            hidden,
            publish_on: day("2026-03-01"),
        },
        imported_on: day("2026-03-01"),
    }
}

/// A household of three: the insured, a spouse, and an adult child whose line is hidden.
fn household() -> Vec<Imported<MedicalLine>> {
    vec![
        line("t-1", "00", "山田 太郎", Relation::Insured, (2026, 1), Category::MedicalOutpatient, "さくら内科クリニック", 12_340, 3_702, false),
        line("t-2", "00", "山田 太郎", Relation::Insured, (2026, 1), Category::Pharmacy, "あおば薬局 駅前店", 4_560, 1_368, false),
        line("t-3", "01", "山田 花子", Relation::Spouse, (2026, 2), Category::DentalOutpatient, "ひまわり歯科医院", 8_000, 2_400, false),
        line("t-4", "02", "山田 次郎", Relation::Child, (2026, 2), Category::MedicalOutpatient, "ひみつ心療内科", 9_990, 2_997, true),
        line("t-5", "00", "山田 太郎", Relation::Insured, (2025, 12), Category::MedicalOutpatient, "去年のクリニック", 5_000, 1_500, false),
        line("t-6", "01", "山田 花子", Relation::Spouse, (2026, 3), Category::AcupunctureMassage, "とても長い名前の医療法人社団はりきゅうマッサージ治療院 中央駅前本院 分院", 30_000, 9_000, false),
    ]
}

fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempdir();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = Command::new("pdftotext").args(["-layout", "-enc", "UTF-8"]).arg(&path).arg("-").output().expect("pdftotext (poppler-utils) is installed");
    assert!(out.status.success(), "pdftotext refused the PDF: {}", String::from_utf8_lossy(&out.stderr));
    // Runs of spaces (the layout's columns, U+3000) as one space, so items read as printed.
    let text = String::from_utf8(out.stdout).expect("utf-8");
    text.lines().map(|l| l.split([' ', '\u{3000}']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
}

/// A scratch folder, removed when dropped.
struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> TempDir {
    let dir = std::env::temp_dir().join(format!("kenpo-documents-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn issued() -> NaiveDateTime {
    day("2026-11-30").and_hms_opt(10, 15, 0).expect("time")
}

#[test]
fn the_year_notice_carries_the_six_items_and_nothing_hidden_or_of_another_year() {
    let records = household();
    let lines = medical_lines_of_year(&records, day("2026-11-30"), 2026, None);
    let issuer = issuer();
    let notice = MedicalNotice { issuer: &issuer, insured_name: "山田 太郎", year: 2026, lines: &lines, issued_at: issued() };
    let pdf = medical_notice_pdf(&notice, &font()).expect("pdf").expect("the year has lines");
    let text = pdftotext(&pdf);
    // ① 被保険者等の氏名, ⑥ 保険者等の名称, the issue date and the period.
    for item in ["山田 太郎 様", "みどり製作所健康保険組合", "発行日 2026年11月30日", "2026年1月～2026年3月診療分", "医療費のお知らせ（2026年診療分）"] {
        assert!(text.contains(item), "missing {item:?} in:\n{text}");
    }
    // ② 療養を受けた年月, ③ 療養を受けた者の氏名, ④ the institutions, ⑤ the amounts paid.
    for item in ["2026年1月", "2026年2月", "2026年3月", "療養を受けた者の氏名：山田 太郎（本人）", "療養を受けた者の氏名：山田 花子（配偶者）", "さくら内科クリニック", "あおば薬局 駅前店", "ひまわり歯科医院", "3,702円", "1,368円", "2,400円", "9,000円"] {
        assert!(text.contains(item), "missing {item:?} in:\n{text}");
    }
    // A long institution name is wrapped, not cut: every character is in the text.
    let long: String = text.lines().filter(|l| l.contains("とても長い") || l.contains("分院") || l.contains("中央駅前")).collect::<Vec<_>>().join("");
    for part in ["とても長い名前の", "治療院", "分院"] {
        assert!(long.contains(part), "the long name lost {part:?}: {long}");
    }
    // Totals per person and in all: 3,702 + 1,368 = 5,070 (太郎), 2,400 + 9,000 = 11,400 (花子), 16,470.
    for item in ["小計（山田 太郎）", "5,070円", "小計（山田 花子）", "11,400円", "合計（全員）", "16,470円"] {
        assert!(text.contains(item), "missing {item:?} in:\n{text}");
    }
    // The lag, how to use it, and no insurer number or 記号・番号 (only the sentence saying so).
    assert!(text.contains("おおむね3か月後"), "{text}");
    assert!(text.contains("医療費通知に関する事項"), "{text}");
    assert!(!text.contains("保険者番号：") && !text.contains("記号："), "{text}");
    // Nothing hidden, nothing of another year.
    for absent in ["山田 次郎", "ひみつ心療内科", "2,997", "去年のクリニック", "2025年12月"] {
        assert!(!text.contains(absent), "{absent:?} must not be in the notice:\n{text}");
    }
}

#[test]
fn the_font_is_embedded_as_a_subset_and_the_pdf_is_small() {
    let records = household();
    let lines = medical_lines_of_year(&records, day("2026-11-30"), 2026, None);
    let issuer = issuer();
    let font = font();
    let notice = MedicalNotice { issuer: &issuer, insured_name: "山田 太郎", year: 2026, lines: &lines, issued_at: issued() };
    let pdf = medical_notice_pdf(&notice, &font).expect("pdf").expect("lines");
    // The whole face is about 6 MB; a subset of the few hundred glyphs used is a small part of it.
    assert!(pdf.len() < font.file_size() / 10, "{} bytes: the font was not subset", pdf.len());
    let dir = tempdir();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let fonts = Command::new("pdffonts").arg(&path).output().expect("pdffonts");
    let listing = String::from_utf8_lossy(&fonts.stdout);
    // pdffonts: "emb sub uni" all yes: embedded, subset, with a ToUnicode map (selectable text).
    let row = listing.lines().find(|l| l.contains("IPAexGothic")).unwrap_or_else(|| panic!("no IPAexGothic in:\n{listing}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert!(cols.len() >= 5, "{row}");
    let tail = &cols[cols.len() - 5..cols.len() - 2];
    assert_eq!(tail, ["yes", "yes", "yes"], "emb sub uni in {row}");
}

#[test]
fn a_rendered_page_is_a4_portrait_with_ink_on_it() {
    let records = household();
    let lines = medical_lines_of_year(&records, day("2026-11-30"), 2026, None);
    let issuer = issuer();
    let notice = MedicalNotice { issuer: &issuer, insured_name: "山田 太郎", year: 2026, lines: &lines, issued_at: issued() };
    let pdf = medical_notice_pdf(&notice, &font()).expect("pdf").expect("lines");
    let dir = tempdir();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, &pdf).expect("write");
    // 72 dpi: one pixel per point, a grey image (P5 PGM).
    let out = Command::new("pdftoppm").args(["-r", "72", "-gray", "-f", "1", "-l", "1", "-singlefile"]).arg(&path).arg(dir.join("page")).output().expect("pdftoppm");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let image = std::fs::read(dir.join("page.pgm")).expect("page.pgm");
    let (width, height, pixels) = pgm(&image);
    assert!((595..=596).contains(&width) && height == 842, "A4 portrait at 72 dpi: {width} × {height}");
    // The title's band (top 80 points) and the table hold dark pixels; the margins are white.
    let dark = |x0: usize, y0: usize, x1: usize, y1: usize| (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| pixels[y * width + x] < 128).count();
    assert!(dark(150, 30, 445, 80) > 200, "the title is drawn");
    assert!(dark(42, 150, 553, 500) > 2_000, "the table is drawn");
    assert_eq!(dark(0, 0, 30, 842), 0, "the left margin is blank");
    assert_eq!(dark(565, 0, 595, 842), 0, "the right margin is blank");
}

/// Width, height and pixels of a binary PGM (P5, maxval 255).
fn pgm(bytes: &[u8]) -> (usize, usize, &[u8]) {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let w: usize = fields[1].parse().expect("width");
    let h: usize = fields[2].parse().expect("height");
    (w, h, &bytes[i + 1..])
}

#[test]
fn a_household_of_five_with_twelve_months_pages_well_and_stays_small() {
    let names = [("00", "山田 太郎", Relation::Insured), ("01", "山田 花子", Relation::Spouse), ("02", "山田 一郎", Relation::Child), ("03", "山田 二郎", Relation::Child), ("04", "山田 三子", Relation::Child)];
    let mut records = Vec::new();
    for (p, name, relation) in names {
        for month in 1..=12 {
            for (k, category) in [Category::MedicalOutpatient, Category::Pharmacy].into_iter().enumerate() {
                let id = format!("big-{p}-{month}-{k}");
                records.push(line(&id, p, name, relation, (2026, month), category, "けやき総合病院 附属診療所", 10_000 + u64::from(month), 3_000, false));
            }
        }
    }
    let lines = medical_lines_of_year(&records, day("2026-12-31"), 2026, None);
    assert_eq!(lines.len(), 120);
    let issuer = issuer();
    let notice = MedicalNotice { issuer: &issuer, insured_name: "山田 太郎", year: 2026, lines: &lines, issued_at: issued() };
    let pdf = medical_notice_pdf(&notice, &font()).expect("pdf").expect("lines");
    let text = pdftotext(&pdf);
    // Every person's subtotal (24 lines × 3,000 yen) and the total (120 × 3,000).
    for (_, name, _) in names {
        assert!(text.contains(&format!("小計（{name}）")), "{name}");
    }
    assert!(text.contains("360,000円"), "the total");
    // Several pages, each numbered; a table cut by a page says so.
    let pages = text.matches(" ページ").count();
    assert!(pages >= 3, "{pages} pages");
    assert!(text.contains(&format!("1 / {pages} ページ")) && text.contains(&format!("{pages} / {pages} ページ")));
    assert!(text.contains("（続き）"));
    // Far below API Gateway's and Lambda's 6 MB (base64 adds a third).
    assert!(pdf.len() * 4 / 3 < 1_000_000, "{} bytes", pdf.len());
}

#[test]
fn a_year_without_lines_has_no_notice() {
    let records = household();
    let lines = medical_lines_of_year(&records, day("2026-11-30"), 2024, None);
    let issuer = issuer();
    let notice = MedicalNotice { issuer: &issuer, insured_name: "山田 太郎", year: 2024, lines: &lines, issued_at: issued() };
    assert!(medical_notice_pdf(&notice, &font()).expect("no error").is_none());
}

fn benefit() -> Benefit {
    Benefit {
        record_id: RecordId::parse("b-1").expect("id"),
        member_id: MemberId::parse("M0001").expect("member"),
        person_no: PersonNo::parse("01").expect("person"),
        person_name: "山田 花子".into(),
        relation: Relation::Spouse,
        code: BenefitCode::Kogaku,
        name: "高額療養費".into(),
        service_month: ServiceMonth::new(2026, 5),
        period_from: None,
        period_to: None,
        institution_name: Some("けやき総合病院".into()),
        basis_amount: Some(Yen(210_000)),
        amount: Yen(123_456),
        decided_on: day("2026-08-20"),
        paid_on: Some(day("2026-09-25")),
        payment_method: PaymentMethod::WithSalary,
        remarks: Some("限度額適用認定証の提示がなかったため。\n次回からは提示してください。".into()),
        hidden: false,
        publish_on: day("2026-09-01"),
    }
}

#[test]
fn the_benefit_notice_says_what_the_screen_says() {
    let b = benefit();
    let issuer = issuer();
    let pdf = benefit_notice_pdf(&BenefitNotice { issuer: &issuer, insured_name: "山田 太郎", benefit: &b, issued_at: issued() }, &font()).expect("pdf");
    let text = pdftotext(&pdf);
    for item in [
        "給付金支給決定通知書",
        "山田 太郎 様",
        "みどり製作所健康保険組合",
        "山田 花子（配偶者）",
        "高額療養費",
        "2026年5月診療分",
        "けやき総合病院",
        "210,000円",
        "123,456円",
        "2026年8月20日",
        "2026年9月25日",
        "給与と合わせて（事業主経由）",
        "限度額適用認定証の提示がなかったため。",
        "次回からは提示してください。",
        "1 / 1 ページ",
    ] {
        assert!(text.contains(item), "missing {item:?} in:\n{text}");
    }
}

#[test]
fn the_csv_opens_with_a_bom_and_its_columns_sum_to_the_lines() {
    let mut records = household();
    // A name a spreadsheet would run as a formula.
    records.push(line("t-7", "00", "山田 太郎", Relation::Insured, (2026, 4), Category::Other, "=HYPERLINK(\"http://x\")", 1_000, 300, false));
    let lines = medical_lines_of_year(&records, day("2026-11-30"), 2026, None);
    let bytes = medical_csv(&lines).expect("csv");
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "UTF-8 BOM for Excel");
    let text = std::str::from_utf8(&bytes).expect("utf-8");
    assert!(text.contains("\r\n"), "CRLF line ends");
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    assert_eq!(header[0], "診療年月");
    assert_eq!(header[9], "自己負担相当額（円）");
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), lines.len());
    let sum = |col: usize| rows.iter().map(|r| r[col].parse::<u64>().expect("an integer")).sum::<u64>();
    assert_eq!(sum(9), lines.iter().map(|l| l.self_pay.amount()).sum::<u64>());
    assert_eq!(sum(6), lines.iter().map(|l| l.total_cost.amount()).sum::<u64>());
    assert!(rows.iter().all(|r| &r[1] != "山田 次郎"), "nothing hidden");
    assert!(rows.iter().any(|r| &r[4] == "'=HYPERLINK(\"http://x\")"), "a formula-like name is quoted as text");
}

#[test]
fn a_font_without_japanese_is_refused_with_its_code() {
    let err = DocumentFont::from_bytes(vec![0, 1, 0, 0], 0).expect_err("not a font");
    assert_eq!(err.code(), "font_invalid");
    if Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists() {
        let err = DocumentFont::load(Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), 0).expect_err("no Japanese");
        assert_eq!(err.code(), "font_lacks_japanese");
    }
    let err = DocumentFont::load(Path::new("/nonexistent/font.ttf"), 0).expect_err("missing");
    assert_eq!(err.code(), "font_unreadable");
}

#[test]
fn a_long_remark_continues_on_the_next_page_and_loses_no_line() {
    let mut b = benefit();
    b.remarks = Some((0..53).map(|i| format!("備考の行{i}")).collect::<Vec<_>>().join("\n"));
    let issuer = issuer();
    let pdf = benefit_notice_pdf(&BenefitNotice { issuer: &issuer, insured_name: "山田 太郎", benefit: &b, issued_at: issued() }, &font()).expect("pdf");
    let text = pdftotext(&pdf);
    for i in 0..53 {
        assert!(text.contains(&format!("備考の行{i}\n")) || text.ends_with(&format!("備考の行{i}")), "line {i} of the remark is missing:\n{text}");
    }
    assert!(text.contains("備考（続き）"), "the row says it continues");
    assert!(text.contains("2 / 2 ページ") || text.contains("2 / 3 ページ"), "{text}");
}

#[test]
fn characters_the_font_lacks_print_as_geta_and_the_footer_says_so() {
    let mut records = household();
    records.push(line("t-8", "00", "山田 太郎", Relation::Insured, (2026, 5), Category::MedicalOutpatient, "𠮷田クリニック🏥", 1_000, 300, false));
    let lines = medical_lines_of_year(&records, day("2026-11-30"), 2026, None);
    let issuer = issuer();
    let notice = MedicalNotice { issuer: &issuer, insured_name: "山田 太郎", year: 2026, lines: &lines, issued_at: issued() };
    let text = pdftotext(&medical_notice_pdf(&notice, &font()).expect("pdf").expect("lines"));
    assert!(text.contains("〓田クリニック〓"), "a visible mark that copies as one:\n{text}");
    assert!(text.contains("〓：この書類の字体にない文字"), "{text}");
    // A notice without such characters has no such remark.
    let plain = household();
    let lines = medical_lines_of_year(&plain, day("2026-11-30"), 2026, None);
    let notice = MedicalNotice { issuer: &issuer, insured_name: "山田 太郎", year: 2026, lines: &lines, issued_at: issued() };
    assert!(!pdftotext(&medical_notice_pdf(&notice, &font()).expect("pdf").expect("lines")).contains("〓"));
}

#[test]
fn long_names_wrap_inside_the_page() {
    let long_insured = "長".repeat(40);
    let long_person = "永".repeat(40);
    let records = vec![line("t-9", "02", &long_person, Relation::Child, (2026, 4), Category::MedicalOutpatient, "さくら内科クリニック", 2_000, 600, false)];
    let lines = medical_lines_of_year(&records, day("2026-11-30"), 2026, None);
    let issuer = issuer();
    let notice = MedicalNotice { issuer: &issuer, insured_name: &long_insured, year: 2026, lines: &lines, issued_at: issued() };
    let pdf = medical_notice_pdf(&notice, &font()).expect("pdf").expect("lines");
    let text = pdftotext(&pdf);
    let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(flat.contains(&format!("{long_insured}様")), "the whole name, wrapped:\n{text}");
    assert!(flat.contains(&format!("療養を受けた者の氏名：{long_person}（子）")), "{text}");
    assert!(!text.lines().any(|l| l.contains("発行日") && l.contains("長")), "the name does not run into the issue date");
    // Nothing drawn outside the page: the rendered margins stay blank.
    let dir = tempdir();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let out = Command::new("pdftoppm").args(["-r", "72", "-gray", "-f", "1", "-l", "1", "-singlefile"]).arg(&path).arg(dir.join("page")).output().expect("pdftoppm");
    assert!(out.status.success());
    let image = std::fs::read(dir.join("page.pgm")).expect("page.pgm");
    let (width, _, pixels) = pgm(&image);
    let right_margin_ink = (0..842).flat_map(|y| (565..width).map(move |x| (x, y))).filter(|&(x, y)| pixels[y * width + x] < 128).count();
    assert_eq!(right_margin_ink, 0, "nothing runs past the right margin");
}

#[test]
fn full_width_formula_signs_are_quoted_too() {
    let records = vec![line("t-10", "00", "＝１＋１", Relation::Insured, (2026, 4), Category::Other, "＠clinic", 1_000, 300, false)];
    let lines = medical_lines_of_year(&records, day("2026-11-30"), 2026, None);
    let text = String::from_utf8(medical_csv(&lines).expect("csv")).expect("utf-8");
    assert!(text.contains("'＝１＋１") && text.contains("'＠clinic"), "{text}");
}

#[test]
fn a_payment_still_to_come_says_so_and_only_medical_benefits_mention_the_deduction() {
    let issuer = issuer();
    let mut b = benefit();
    b.paid_on = Some(day("2026-12-10"));
    let text = pdftotext(&benefit_notice_pdf(&BenefitNotice { issuer: &issuer, insured_name: "山田 太郎", benefit: &b, issued_at: issued() }, &font()).expect("pdf"));
    assert!(text.contains("2026年12月10日（予定）"), "{text}");
    assert!(text.contains("保険金などで補てんされる金額"), "高額療養費 is deducted from the medical costs");
    b.code = BenefitCode::Shobyo;
    b.name = "傷病手当金".into();
    let text = pdftotext(&benefit_notice_pdf(&BenefitNotice { issuer: &issuer, insured_name: "山田 太郎", benefit: &b, issued_at: issued() }, &font()).expect("pdf"));
    assert!(!text.contains("補てん"), "傷病手当金 replaces income: not deducted (NTA No.1120):\n{text}");
}
