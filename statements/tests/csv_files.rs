//! The society's files as the parser sees them: encodings, line numbers, header rules, Excel
//! damage, every wrong line reported by line and column and never by value.

mod common;

use common::*;
use kenpo_statements::file::header;
use kenpo_statements::{
    Action, BenefitCode, Category, PaymentMethod, PersonNo, Relation, RowBody, ServiceMonth, StatementKind, Yen, parse,
};

use StatementKind::{Benefits, Medical};

fn pairs(report: &kenpo_statements::Report) -> Vec<(u64, &str)> {
    report.errors.iter().map(|e| (e.line, e.column.as_str())).collect()
}

#[test]
fn a_medical_file_becomes_typed_rows() {
    let text = file(
        Medical,
        &[
            medical(&[]),
            medical(&[
                ("record_id", "M0002"),
                ("person_no", "01"),
                ("person_name", "山田花子"),
                ("relation", "配偶者"),
                ("category", "50"),
                ("institution_name", ""),
                ("public_paid", ""),
                ("hidden", ""),
                ("total_cost", "5000"),
                ("insurer_paid", "3500"),
                ("self_pay", "1500"),
            ]),
        ],
    );
    let parsed = parse_ok(&text);
    assert_eq!(parsed.kind, Medical);
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(parsed.report.warning_count, 0);
    let second = &parsed.rows[1];
    assert_eq!(
        (second.line, second.action, second.record_id.as_str(), second.member_id.as_str()),
        (3, Action::New, "M0002", "M001")
    );
    let RowBody::Medical(line) = &second.body else { panic!("medical body") };
    assert_eq!(line.person_no.to_string(), "01");
    assert_eq!(line.relation, Relation::Spouse);
    assert_eq!(line.category, Category::JudoTherapy);
    assert_eq!(line.institution_name, None, "empty is None, never \"\"");
    assert_eq!(line.public_paid, Yen(0), "empty public_paid is 0");
    assert!(!line.hidden, "empty hidden is 0");
    assert_eq!(line.service_month, ServiceMonth::new(2026, 8).unwrap());
    assert_eq!(line.publish_on, d(2026, 11, 10));
}

#[test]
fn a_benefits_file_becomes_typed_rows() {
    let text = file(
        Benefits,
        &[
            benefit(&[]),
            benefit(&[
                ("record_id", "B0002"),
                ("benefit_code", "shobyo"),
                ("benefit_name", "傷病手当金"),
                ("service_month", ""),
                ("period_from", "20260901"),
                ("period_to", "20260930"),
                ("institution_name", ""),
                ("basis_amount", ""),
                ("paid_on", ""),
                ("payment_method", "2"),
                ("remarks", "9月分\r\n（待期3日を除く）"),
            ]),
        ],
    );
    let parsed = parse_ok(&text);
    assert_eq!(parsed.kind, Benefits);
    let RowBody::Benefit(first) = &parsed.rows[0].body else { panic!("benefit body") };
    assert_eq!(
        (first.code, first.amount, first.payment_method),
        (BenefitCode::Kogaku, Yen(35000), PaymentMethod::WithSalary)
    );
    assert_eq!(first.basis_amount, Some(Yen(120000)));
    let RowBody::Benefit(cash) = &parsed.rows[1].body else { panic!("benefit body") };
    assert_eq!(cash.code, BenefitCode::Shobyo);
    assert_eq!(
        (cash.service_month, cash.basis_amount, cash.paid_on, &cash.institution_name),
        (None, None, None, &None)
    );
    assert_eq!((cash.period_from, cash.period_to), (Some(d(2026, 9, 1)), Some(d(2026, 9, 30))));
    assert_eq!(cash.remarks.as_deref(), Some("9月分\n（待期3日を除く）"), "line breaks kept as LF in remarks");
    assert_eq!(parsed.rows[1].line, 3);
}

#[test]
fn columns_are_matched_by_name_in_any_order_and_case() {
    let mut names = header(Medical);
    names.reverse();
    let values: Vec<&str> = names.iter().map(|n| MEDICAL_DEFAULTS.iter().find(|(k, _)| k == n).unwrap().1).collect();
    let upper: Vec<String> = names.iter().map(|n| n.to_uppercase()).collect();
    let text = format!("{}\n{}\n", upper.join(" , "), values.join(","));
    let parsed = parse_ok(&text);
    let RowBody::Medical(line) = &parsed.rows[0].body else { panic!() };
    assert_eq!(line.self_pay, Yen(3000));
    assert_eq!(line.person_name, "山田太郎");
}

#[test]
fn a_missing_column_refuses_the_file_and_is_named() {
    let names: Vec<&str> = header(Medical).into_iter().filter(|n| *n != "self_pay" && *n != "hidden").collect();
    let report = parse_err(&format!("{}\nM1,N\n", names.join(",")));
    assert_eq!(report.kind, Some(Medical));
    assert_eq!(pairs(&report), vec![(1, "self_pay"), (1, "hidden")]);
    assert!(report.errors[0].message.contains("必須の列"));
}

#[test]
fn an_unknown_column_refuses_the_file_and_is_named() {
    let text = format!("{},note,備考欄\n{},x,y\n", header(Medical).join(","), medical(&[]));
    let report = parse_err(&text);
    assert_eq!(report.kind, Some(Medical));
    // A header cell that is not a plain ASCII name is named by its position (it could hold anything).
    assert_eq!(pairs(&report), vec![(1, "note"), (1, "18列目")]);
    assert!(!report.errors[1].message.contains("備考欄"));
}

/// A header cell that holds a value (an address, a data row glued to the header) is never
/// repeated: only a `snake_case` name is shown as written.
#[test]
fn an_unknown_header_holding_a_value_is_named_by_position() {
    let text = format!("{},d0005@example.jp,YAMADA TARO,1000\n{},x,y,z\n", header(Medical).join(","), medical(&[]));
    let report = parse_err(&text);
    assert_eq!(pairs(&report), vec![(1, "17列目"), (1, "18列目"), (1, "19列目")]);
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("example.jp") && !json.contains("YAMADA") && !json.contains("1000"), "{json}");
}

#[test]
fn a_column_of_the_other_kind_is_unknown() {
    let text = format!("{},amount\n", header(Medical).join(","));
    let report = parse_err(&text);
    assert_eq!(pairs(&report), vec![(1, "amount")]);
    assert!(report.errors[0].message.contains("医療費のファイルにない列"));
}

#[test]
fn an_unrecognised_header_answers_kind_null() {
    let report = parse_err("M001,00,山田太郎,202608\nM002,01,山田花子,202608\n");
    assert_eq!(report.kind, None);
    assert_eq!(pairs(&report), vec![(1, "*")]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["kind"], serde_json::Value::Null);
    assert_eq!(json["errors"][0]["line"], 1);
    assert!(!json.to_string().contains("山田"), "a header-less file's first row is data: never echoed");
}

#[test]
fn tab_separated_and_utf16_files_are_refused_with_their_reason() {
    let tsv = header(Medical).join("\t");
    assert!(parse_err(&format!("{tsv}\n")).errors[0].message.contains("タブ区切り"));
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend("record_id".encode_utf16().flat_map(u16::to_le_bytes));
    let report = parse(&utf16).unwrap_err();
    assert!(report.errors[0].message.contains("UTF-16"));
}

#[test]
fn empty_file_is_refused_and_header_only_is_an_empty_file() {
    assert_eq!(parse_err("").kind, None);
    assert_eq!(parse_err("\u{feff}\r\n\r\n").kind, None);
    let parsed = parse_ok(&file(Benefits, &[]));
    assert_eq!((parsed.kind, parsed.rows.len()), (Benefits, 0));
}

#[test]
fn crlf_counts_one_line_per_break() {
    let text =
        file(Medical, &[medical(&[]), medical(&[("record_id", "M2")]), medical(&[("record_id", "M3"), ("days", "x")])])
            .replace('\n', "\r\n");
    let report = parse_err(&text);
    assert_eq!(pairs(&report), vec![(4, "days")]);
}

#[test]
fn a_quoted_field_spanning_lines_advances_the_line_number() {
    // Line 2 is a row whose institution name holds a line break (lines 2–3); the next row is line 4.
    let text = file(
        Medical,
        &[medical(&[("institution_name", "やまだ\r\n内科")]), medical(&[("record_id", "M2"), ("person_no", "1")])],
    )
    .replace('\n', "\r\n")
    .replace("やまだ\r\r\n内科", "やまだ\r\n内科");
    let report = parse_err(&text);
    assert_eq!(pairs(&report), vec![(2, "institution_name"), (4, "person_no")]);
    assert!(report.errors[0].message.contains("改行"));
}

#[test]
fn lone_cr_and_lf_count_too() {
    let text = file(Medical, &[medical(&[]), medical(&[("record_id", "M2"), ("days", "x")])]).replace('\n', "\r");
    assert_eq!(pairs(&parse_err(&text)), vec![(3, "days")]);
}

#[test]
fn empty_lines_and_empty_rows_are_skipped_but_still_counted() {
    let h = header(Medical).join(",");
    let commas = ",".repeat(15);
    let text = format!(
        "\n{h}\n\n{}\n{commas}\n   \n{}\n\n\n{commas}\n",
        medical(&[]),
        medical(&[("record_id", "M2"), ("days", "-1")])
    );
    let report = parse_err(&text);
    assert_eq!(pairs(&report), vec![(7, "days")]);
    let ok = text.replace("-1", "1");
    let parsed = parse_ok(&ok);
    assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![4, 7]);
}

#[test]
fn cp932_from_excel_is_read() {
    let text =
        file(Medical, &[medical(&[("person_name", "髙橋　①子"), ("institution_name", "ＮＥＣ髙島屋クリニック")])])
            .replace('\n', "\r\n");
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "the fixture really is CP932");
    let parsed = parse(&bytes).unwrap();
    let RowBody::Medical(line) = &parsed.rows[0].body else { panic!() };
    assert_eq!(line.person_name, "髙橋　①子", "names are kept as written (no NFKC)");
    assert_eq!(line.institution_name.as_deref(), Some("ＮＥＣ髙島屋クリニック"));
}

#[test]
fn utf8_with_bom_is_read() {
    let text = format!("\u{feff}{}", file(Benefits, &[benefit(&[])]));
    let parsed = parse_ok(&text);
    assert_eq!(parsed.kind, Benefits);
    assert_eq!(parsed.rows[0].line, 2);
}

#[test]
fn undecodable_bytes_are_named_where_they_land() {
    // 0x81 0x20 is not CP932 and not UTF-8: the file is read as CP932 with a replacement character.
    let text = file(Medical, &[medical(&[("person_name", "AAAA")])]);
    let mut bytes = encoding_rs::SHIFT_JIS.encode(&text).0.into_owned();
    let at = bytes.windows(4).position(|w| w == b"AAAA").unwrap();
    bytes[at] = 0x81;
    bytes[at + 1] = 0x20;
    let report = parse(&bytes).unwrap_err();
    assert_eq!(pairs(&report), vec![(2, "person_name")]);
    assert!(report.errors[0].message.contains("文字化け"));
}

#[test]
fn excel_dropped_leading_zero_of_person_no() {
    let report = parse_err(&file(
        Medical,
        &[medical(&[("person_no", "0")]), medical(&[("record_id", "M2"), ("person_no", "1"), ("relation", "子")])],
    ));
    assert_eq!(pairs(&report), vec![(2, "person_no"), (3, "person_no")]);
    for e in &report.errors {
        assert!(
            e.message.contains("Excel") && e.message.contains("先頭の0") && e.message.contains("文字列"),
            "{}",
            e.message
        );
    }
}

#[test]
fn excel_dates_and_months_get_their_own_messages() {
    let report = parse_err(&file(
        Medical,
        &[
            medical(&[("publish_on", "2026/11/10")]),
            medical(&[("record_id", "M2"), ("publish_on", "46336")]),
            medical(&[("record_id", "M3"), ("service_month", "2026/8")]),
            medical(&[("record_id", "M4"), ("publish_on", "2.03E+07")]),
        ],
    ));
    assert_eq!(pairs(&report), vec![(2, "publish_on"), (3, "publish_on"), (4, "service_month"), (5, "publish_on")]);
    assert!(report.errors[0].message.contains("yyyymmdd"));
    assert!(report.errors[1].message.contains("シリアル値"));
    assert!(report.errors[2].message.contains("yyyymm"));
    assert!(report.errors[3].message.contains("指数"));
}

#[test]
fn amounts_refuse_thousands_separators_and_accept_full_width_digits() {
    let parsed = parse_ok(&file(Medical, &[medical(&[("total_cost", "１００００"), ("self_pay", "３０００")])]));
    let RowBody::Medical(line) = &parsed.rows[0].body else { panic!() };
    assert_eq!((line.total_cost, line.self_pay), (Yen(10000), Yen(3000)));

    // Quoted, as Excel writes a cell formatted "#,##0".
    let report = parse_err(&file(Medical, &[medical(&[("total_cost", "10,000")])]));
    assert_eq!(pairs(&report), vec![(2, "total_cost")]);
    assert!(report.errors[0].message.contains("カンマ"));

    // Unquoted, the comma splits the row: the column count is wrong.
    let text = file(Medical, &[medical(&[])]).replace(",10000,", ",10,000,");
    let report = parse_err(&text);
    assert_eq!(pairs(&report), vec![(2, "*")]);
    assert!(report.errors[0].message.contains("列の数"));
}

#[test]
fn amounts_that_do_not_add_up_are_warnings_not_errors() {
    let parsed = parse_ok(&file(Medical, &[medical(&[]), medical(&[("record_id", "M2"), ("self_pay", "2999")])]));
    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(parsed.report.warning_count, 1);
    let w = &parsed.report.warnings[0];
    assert_eq!((w.line, w.column.as_str()), (3, "total_cost"));
    assert!(!w.message.contains("2999") && !w.message.contains("10000"));
}

/// Dates that cannot be right are flagged for the operator (the line is still imported): a visit
/// after its own publication, a payment before its decision, a decision after its publication.
#[test]
fn impossible_date_orders_are_warnings() {
    let medical_file = parse_ok(&file(Medical, &[medical(&[("service_month", "202801")])]));
    assert_eq!(medical_file.report.warnings.iter().map(|w| (w.line, w.column.as_str())).collect::<Vec<_>>(), vec![(2, "service_month")]);
    let benefits_file = parse_ok(&file(Benefits, &[benefit(&[("paid_on", "20261001"), ("decided_on", "20261120")])]));
    let columns: Vec<&str> = benefits_file.report.warnings.iter().map(|w| w.column.as_str()).collect();
    assert_eq!(columns, vec!["decided_on", "paid_on"], "in the columns' order");
    assert_eq!(benefits_file.rows.len(), 1);
}

/// A UTF-8 file with one damaged byte is read as UTF-8 (not as CP932, which would garble every
/// Japanese field): the report names the damaged line and column only.
#[test]
fn a_damaged_byte_in_a_utf8_file_is_named_where_it_is() {
    let text = file(Benefits, &[benefit(&[]), benefit(&[("record_id", "B2"), ("remarks", "備考XX")]), benefit(&[("record_id", "B3")])]);
    let mut bytes = text.into_bytes();
    let at = bytes.windows(2).position(|w| w == b"XX").unwrap();
    bytes[at] = 0xFF;
    let report = kenpo_statements::parse(&bytes).unwrap_err();
    assert_eq!(pairs(&report), vec![(3, "remarks")]);
}

#[test]
fn a_record_id_twice_names_the_earlier_line() {
    let report =
        parse_err(&file(Medical, &[medical(&[]), medical(&[("record_id", "M2")]), medical(&[("action", "C")])]));
    assert_eq!(pairs(&report), vec![(4, "record_id")]);
    assert!(report.errors[0].message.contains("2行目"), "{}", report.errors[0].message);
}

#[test]
fn a_cancellation_needs_only_its_keys() {
    let mut d_row = vec!["".to_owned(); 16];
    d_row[0] = "M0001".into();
    d_row[1] = "D".into();
    d_row[2] = "M001".into();
    // Other columns empty, or even wrong: a D row does not read them.
    let garbage = medical(&[("action", "D"), ("record_id", "M0002"), ("person_no", "0"), ("publish_on", "x")]);
    let parsed = parse_ok(&file(Medical, &[d_row.join(","), garbage]));
    assert_eq!(parsed.rows.len(), 2);
    assert!(parsed.rows.iter().all(|r| r.action == Action::Cancellation && r.body == RowBody::Cancellation));

    let mut no_member = d_row.clone();
    no_member[2] = String::new();
    assert_eq!(pairs(&parse_err(&file(Medical, &[no_member.join(",")]))), vec![(2, "member_id")]);
}

#[test]
fn every_wrong_line_and_column_is_reported_in_column_order() {
    let report = parse_err(&file(
        Medical,
        &[
            medical(&[("action", "X"), ("member_id", "")]),
            medical(&[("record_id", "M2")]),
            medical(&[("record_id", "M3"), ("category", "13"), ("days", "1.5"), ("hidden", "2"), ("person_name", "")]),
            medical(&[("record_id", "bad id"), ("relation", "配偶者"), ("service_month", "202613")]),
        ],
    ));
    assert_eq!(
        pairs(&report),
        vec![
            (2, "action"),
            (2, "member_id"),
            (4, "person_name"),
            (4, "category"),
            (4, "days"),
            (4, "hidden"),
            (5, "record_id"),
            (5, "relation"),
            (5, "service_month"),
        ]
    );
    assert_eq!(report.error_count, 9);
}

#[test]
fn benefit_rules_amount_period_relation() {
    let report = parse_err(&file(
        Benefits,
        &[
            benefit(&[("amount", "0")]),
            benefit(&[("record_id", "B2"), ("period_from", "20260930"), ("period_to", "20260901")]),
            benefit(&[("record_id", "B3"), ("period_from", "20260901")]),
            benefit(&[("record_id", "B4"), ("person_no", "02"), ("relation", "本人")]),
            benefit(&[
                ("record_id", "B5"),
                ("payment_method", "4"),
                ("benefit_code", "KOGAKU2"),
                ("remarks", &"あ".repeat(201)),
            ]),
        ],
    ));
    assert_eq!(
        pairs(&report),
        vec![
            (2, "amount"),
            (3, "period_to"),
            (4, "period_to"),
            (5, "relation"),
            (6, "benefit_code"),
            (6, "payment_method"),
            (6, "remarks")
        ]
    );
}

#[test]
fn excel_trailing_empty_columns_are_tolerated_unless_they_hold_values() {
    let text = format!("{},,\n{},,\n{},,x\n", header(Medical).join(","), medical(&[]), medical(&[("record_id", "M2")]));
    let report = parse_err(&text);
    assert_eq!(pairs(&report), vec![(3, "18列目")]);
    let ok = text.replace(",,x\n", ",,\n");
    assert_eq!(parse_ok(&ok).rows.len(), 2);
    // Extra empty fields beyond the header (Excel's ragged rows) are tolerated too.
    let ragged = format!("{}\n{},,\n", header(Medical).join(","), medical(&[]));
    assert_eq!(parse_ok(&ragged).rows.len(), 1);
    // A row without the trailing empty columns is complete.
    let shorter = format!("{},,\n{}\n", header(Medical).join(","), medical(&[]));
    assert_eq!(parse_ok(&shorter).rows.len(), 1);
    let short = format!("{}\nM1,N,M001\n", header(Medical).join(","));
    assert_eq!(pairs(&parse_err(&short)), vec![(2, "*")]);
}

#[test]
fn messages_name_line_and_column_but_never_the_value() {
    let distinctive = [
        ("record_id", "ZQXJ WVK"),
        ("member_id", "ZQXJ/WVK"),
        ("person_no", "ZQ7"),
        ("person_name", "ZQXJ\u{7}WVK"),
        ("relation", "ZQXJ妻"),
        ("service_month", "ZQ2026"),
        ("category", "ZQ12"),
        ("days", "ZQ31"),
        ("institution_name", "ZQXJ\tWVK"),
        ("total_cost", "98,765"),
        ("insurer_paid", "98765.4"),
        ("public_paid", "-98765"),
        ("self_pay", "98765円"),
        ("hidden", "ZQ1"),
        ("publish_on", "2026/9/17"),
    ];
    let report = parse_err(&file(
        Medical,
        &[medical(&distinctive), medical(&[("action", "ZQXJWVK"), ("record_id", "ZQXJWVK2")])],
    ));
    assert_eq!(report.error_count as usize, distinctive.len() + 1);
    let json = serde_json::to_string(&report).unwrap();
    for needle in ["ZQ", "WVK", "98765", "98,765", "2026/9/17", "妻"] {
        assert!(!json.contains(needle), "{needle} leaked: {json}");
    }
    for e in &report.errors {
        assert!(e.line >= 2 && !e.column.is_empty());
    }
}

#[test]
fn at_most_a_thousand_errors_are_kept_with_the_total() {
    let rows: Vec<String> = (0..1_200).map(|i| medical(&[("record_id", &format!("M{i}")), ("days", "x")])).collect();
    let report = parse_err(&file(Medical, &rows));
    assert_eq!((report.errors.len(), report.error_count), (1_000, 1_200));
    assert_eq!(report.errors[999].line, 1_001);
}

#[test]
fn parse_each_streams_good_rows_and_stops_at_the_first_wrong_one() {
    let text =
        file(Medical, &[medical(&[]), medical(&[("record_id", "M2"), ("days", "x")]), medical(&[("record_id", "M3")])]);
    let mut seen = Vec::new();
    let report = kenpo_statements::file::parse_each(text.as_bytes(), |row| seen.push(row.line)).unwrap_err();
    assert_eq!(seen, vec![2]);
    assert_eq!(pairs(&report), vec![(3, "days")]);
}

#[test]
fn full_width_codes_and_lower_case_actions_are_accepted() {
    let parsed = parse_ok(&file(
        Medical,
        &[medical(&[
            ("action", "ｎ"),
            ("person_no", "０１"),
            ("relation", "子"),
            ("category", "３０"),
            ("hidden", "１"),
        ])],
    ));
    let RowBody::Medical(line) = &parsed.rows[0].body else { panic!() };
    assert_eq!(
        (line.person_no, line.category, line.hidden),
        (PersonNo::parse("01").unwrap(), Category::Pharmacy, true)
    );
}

#[test]
fn limits_of_days_texts_and_years() {
    let report = parse_err(&file(
        Medical,
        &[
            medical(&[("days", "1000"), ("person_name", &"あ".repeat(41)), ("institution_name", &"い".repeat(81))]),
            medical(&[("record_id", "M2"), ("days", "999"), ("person_name", &"あ".repeat(40)), ("institution_name", &"い".repeat(80))]),
            medical(&[("record_id", "M3"), ("service_month", "199912"), ("publish_on", "21000101"), ("self_pay", "1000000000000")]),
        ],
    ));
    assert_eq!(
        pairs(&report),
        vec![(2, "person_name"), (2, "days"), (2, "institution_name"), (4, "service_month"), (4, "self_pay"), (4, "publish_on")]
    );
    assert!(report.errors[0].message.contains("40文字"));
    let report = parse_err(&file(Benefits, &[benefit(&[("benefit_name", ""), ("decided_on", ""), ("payment_method", "")])]));
    assert_eq!(pairs(&report), vec![(2, "benefit_name"), (2, "decided_on"), (2, "payment_method")]);
    assert!(report.errors.iter().all(|e| e.message.contains("入力してください")));
}
