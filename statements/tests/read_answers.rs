//! Visibility, retention, access after leaving, and the three answers as JSON.

mod common;

use common::*;
use kenpo_statements::read::{
    Imported, Query, access_expired, access_until, benefit_kept, benefits, medical_expenses, medical_kept,
    monthly_self_pay, shown_benefit, summary, visible,
};
use kenpo_statements::{Benefit, MedicalLine, PersonNo, RecordId, RowBody, ServiceMonth, StatementKind};
use serde_json::json;

fn medical_records(rows: &[String], imported_on: chrono::NaiveDate) -> Vec<Imported<MedicalLine>> {
    parse_ok(&file(StatementKind::Medical, rows))
        .rows
        .into_iter()
        .map(|r| match r.body {
            RowBody::Medical(record) => Imported { record, imported_on },
            _ => panic!("medical rows"),
        })
        .collect()
}

fn benefit_records(rows: &[String], imported_on: chrono::NaiveDate) -> Vec<Imported<Benefit>> {
    parse_ok(&file(StatementKind::Benefits, rows))
        .rows
        .into_iter()
        .map(|r| match r.body {
            RowBody::Benefit(record) => Imported { record, imported_on },
            _ => panic!("benefit rows"),
        })
        .collect()
}

fn month(s: &str) -> ServiceMonth {
    ServiceMonth::parse(s).unwrap()
}

fn person(s: &str) -> PersonNo {
    PersonNo::parse(s).unwrap()
}

#[test]
fn visible_from_publish_day_or_import_day_never_when_hidden() {
    let publish = d(2026, 11, 10);
    assert!(!visible(false, publish, d(2026, 11, 1), d(2026, 11, 9)), "the day before publish_on");
    assert!(visible(false, publish, d(2026, 11, 1), d(2026, 11, 10)), "from 00:00 of publish_on");
    assert!(!visible(false, publish, d(2026, 11, 12), d(2026, 11, 11)), "imported after publish_on: from the import");
    assert!(visible(false, publish, d(2026, 11, 12), d(2026, 11, 12)));
    assert!(!visible(true, publish, d(2026, 11, 1), d(2030, 1, 1)), "hidden: never");
}

#[test]
fn retention_24_months_including_the_current_one() {
    let today = d(2026, 11, 30);
    assert!(medical_kept(month("202412"), today), "24th month back, counting November 2026 as the first");
    assert!(!medical_kept(month("202411"), today));
    assert!(!medical_kept(month("202412"), d(2026, 12, 1)));
    assert!(medical_kept(month("202701"), today), "a future month is kept");
    assert!(benefit_kept(d(2024, 12, 1), d(2026, 11, 30)));
    assert!(!benefit_kept(d(2024, 12, 1), d(2026, 12, 1)));
    assert!(!benefit_kept(d(2024, 2, 29), d(2026, 2, 28)), "leap day: 24 months later is 2026-02-28");
    assert!(benefit_kept(d(2024, 2, 29), d(2026, 2, 27)));
}

#[test]
fn access_until_the_day_before_left_on_plus_24_months() {
    assert_eq!(access_until(d(2026, 3, 31)), d(2028, 3, 30));
    assert_eq!(access_until(d(2026, 4, 1)), d(2028, 3, 31));
    assert!(!access_expired(None, d(2099, 1, 1)));
    assert!(!access_expired(Some(d(2026, 4, 1)), d(2028, 3, 31)));
    assert!(access_expired(Some(d(2026, 4, 1)), d(2028, 4, 1)));
}

fn household() -> Vec<Imported<MedicalLine>> {
    let mut records = medical_records(
        &[
            // 本人: two months of 2026 and one of 2025.
            medical(&[
                ("record_id", "M3"),
                ("category", "30"),
                ("institution_name", ""),
                ("total_cost", "2000"),
                ("insurer_paid", "1400"),
                ("self_pay", "600"),
            ]),
            medical(&[("record_id", "M1")]),
            medical(&[("record_id", "M2"), ("service_month", "202609"), ("days", "1")]),
            medical(&[("record_id", "M0"), ("service_month", "202512")]),
            // 配偶者, same month, sorted after 本人.
            medical(&[("record_id", "A1"), ("person_no", "01"), ("relation", "配偶者"), ("person_name", "山田花子")]),
            // 子: only a hidden line, so not among the persons.
            medical(&[
                ("record_id", "H1"),
                ("person_no", "02"),
                ("relation", "子"),
                ("person_name", "山田一郎"),
                ("hidden", "1"),
            ]),
            // Not yet published.
            medical(&[("record_id", "F1"), ("service_month", "202610"), ("publish_on", "20261210")]),
            // Out of retention.
            medical(&[("record_id", "OLD"), ("service_month", "202410")]),
        ],
        d(2026, 11, 5),
    );
    // A correction imported later than its publish day: visible from the import.
    records[2].imported_on = d(2026, 11, 20);
    records
}

#[test]
fn medical_expenses_answer_is_the_contract() {
    let answer = medical_expenses(&household(), d(2026, 11, 25), None, None);
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        json!({
            "year": 2026,
            "years": [2026, 2025],
            "persons": [
                {"personNo": "00", "name": "山田太郎", "relation": "本人"},
                {"personNo": "01", "name": "山田花子", "relation": "配偶者"}
            ],
            "months": [
                {"month": "2026-09", "lines": [
                    {"recordId": "M2", "personNo": "00", "category": "12", "categoryLabel": "医科外来", "days": 1,
                     "institutionName": "やまだ内科クリニック", "totalCost": 10000, "insurerPaid": 7000, "publicPaid": 0, "selfPay": 3000}
                 ], "totals": {"totalCost": 10000, "selfPay": 3000}},
                {"month": "2026-08", "lines": [
                    {"recordId": "M1", "personNo": "00", "category": "12", "categoryLabel": "医科外来", "days": 2,
                     "institutionName": "やまだ内科クリニック", "totalCost": 10000, "insurerPaid": 7000, "publicPaid": 0, "selfPay": 3000},
                    {"recordId": "M3", "personNo": "00", "category": "30", "categoryLabel": "調剤", "days": 2,
                     "institutionName": null, "totalCost": 2000, "insurerPaid": 1400, "publicPaid": 0, "selfPay": 600},
                    {"recordId": "A1", "personNo": "01", "category": "12", "categoryLabel": "医科外来", "days": 2,
                     "institutionName": "やまだ内科クリニック", "totalCost": 10000, "insurerPaid": 7000, "publicPaid": 0, "selfPay": 3000}
                 ], "totals": {"totalCost": 22000, "selfPay": 6600}}
            ]
        })
    );
}

#[test]
fn a_line_imported_after_its_publish_day_waits_for_the_import_day() {
    let answer = medical_expenses(&household(), d(2026, 11, 19), None, None);
    assert_eq!(answer.months.iter().map(|m| m.month.to_string()).collect::<Vec<_>>(), vec!["2026-08"]);
}

#[test]
fn with_a_person_years_months_and_totals_are_theirs_only() {
    let answer = medical_expenses(&household(), d(2026, 11, 25), None, Some(person("01")));
    assert_eq!(answer.years, vec![2026]);
    assert_eq!(answer.persons.len(), 2, "persons still lists the household (the filter's choices)");
    assert_eq!(answer.months.len(), 1);
    assert_eq!(answer.months[0].lines.len(), 1);
    assert_eq!(serde_json::to_value(answer.months[0].totals).unwrap(), json!({"totalCost": 10000, "selfPay": 3000}));
    // A person with nothing shown: 200 with empty lists, the current year.
    let nobody = medical_expenses(&household(), d(2026, 11, 25), None, Some(person("02")));
    assert_eq!((nobody.year, nobody.years.len(), nobody.months.len()), (2026, 0, 0));
}

#[test]
fn an_explicit_year_and_the_default_year() {
    let y2025 = medical_expenses(&household(), d(2026, 11, 25), Some(2025), None);
    assert_eq!(y2025.year, 2025);
    assert_eq!(y2025.months.iter().map(|m| m.month.to_string()).collect::<Vec<_>>(), vec!["2025-12"]);
    // Early in January the latest year with data is last year's.
    let january = medical_records(&[medical(&[])], d(2026, 11, 5));
    assert_eq!(medical_expenses(&january, d(2027, 1, 5), None, None).year, 2026);
    // No data at all: the current year, empty lists.
    let empty = medical_expenses(&[], d(2027, 1, 5), None, None);
    assert_eq!(serde_json::to_value(&empty).unwrap(), json!({"year": 2027, "years": [], "persons": [], "months": []}));
}

#[test]
fn the_self_pay_series_covers_every_shown_month() {
    let series = monthly_self_pay(&household(), d(2026, 11, 25), None);
    assert_eq!(
        serde_json::to_value(&series).unwrap(),
        json!([{"month": "2025-12", "selfPay": 3000}, {"month": "2026-08", "selfPay": 6600}, {"month": "2026-09", "selfPay": 3000}])
    );
}

fn benefit_household() -> Vec<Imported<Benefit>> {
    benefit_records(
        &[
            benefit(&[("record_id", "B2")]),
            benefit(&[("record_id", "B1")]),
            benefit(&[
                ("record_id", "B3"),
                ("person_no", "01"),
                ("relation", "配偶者"),
                ("person_name", "山田花子"),
                ("benefit_code", "SHUSSAN_IKUJI"),
                ("benefit_name", "出産育児一時金"),
                ("service_month", ""),
                ("institution_name", ""),
                ("basis_amount", ""),
                ("amount", "500000"),
                ("decided_on", "20261101"),
                ("paid_on", ""),
                ("payment_method", "3"),
                ("remarks", "直接支払制度"),
            ]),
            benefit(&[("record_id", "B0"), ("decided_on", "20251215")]),
            benefit(&[("record_id", "BH"), ("hidden", "1")]),
        ],
        d(2026, 11, 5),
    )
}

#[test]
fn benefits_answer_is_the_contract() {
    let answer = benefits(&benefit_household(), d(2026, 11, 25), None, None);
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(json["year"], 2026);
    assert_eq!(json["years"], json!([2026, 2025]));
    assert_eq!(
        json["benefits"].as_array().unwrap().iter().map(|b| b["recordId"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["B3", "B1", "B2"]
    );
    assert_eq!(
        json["benefits"][0],
        json!({"recordId": "B3", "personNo": "01", "code": "SHUSSAN_IKUJI", "name": "出産育児一時金", "serviceMonth": null,
               "periodFrom": null, "periodTo": null, "institutionName": null, "basisAmount": null, "amount": 500000,
               "decidedOn": "2026-11-01", "paidOn": null, "paymentMethod": "3", "paymentMethodLabel": "医療機関等へ直接",
               "remarks": "直接支払制度"})
    );
    assert_eq!(
        json["benefits"][1],
        json!({"recordId": "B1", "personNo": "00", "code": "KOGAKU", "name": "高額療養費", "serviceMonth": "2026-07",
               "periodFrom": null, "periodTo": null, "institutionName": "やまだ病院", "basisAmount": 120000, "amount": 35000,
               "decidedOn": "2026-10-20", "paidOn": "2026-11-25", "paymentMethod": "1", "paymentMethodLabel": "給与と合わせて（事業主経由）",
               "remarks": null})
    );
    assert_eq!(
        json["persons"],
        json!([{"personNo": "00", "name": "山田太郎", "relation": "本人"}, {"personNo": "01", "name": "山田花子", "relation": "配偶者"}])
    );
    let theirs = benefits(&benefit_household(), d(2026, 11, 25), None, Some(person("00")));
    assert_eq!(theirs.benefits.len(), 2);
}

#[test]
fn summary_answer_is_the_contract() {
    let mut medical = household();
    // Two lines published later than the others: the latest publication.
    medical[0].record.publish_on = d(2026, 11, 24);
    medical[4].record.publish_on = d(2026, 11, 24);
    let benefits = benefit_household();
    let answer = summary(&medical, &benefits, Some(d(2026, 3, 31)), d(2026, 11, 25));
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        json!({
            "latestPublication": "2026-11-24",
            "newInLatest": {"medicalLines": 2, "benefits": 0},
            "year": 2026,
            "selfPayThisYear": 600 + 3000 + 3000 + 3000,
            "benefitsThisYear": 35000 + 35000 + 500000,
            "accessUntil": "2028-03-30"
        })
    );
    let nothing = summary(&[], &[], None, d(2026, 11, 25));
    assert_eq!(
        serde_json::to_value(&nothing).unwrap(),
        json!({"latestPublication": null, "newInLatest": {"medicalLines": 0, "benefits": 0}, "year": 2026,
               "selfPayThisYear": 0, "benefitsThisYear": 0, "accessUntil": null})
    );
}

#[test]
fn a_benefit_document_exists_only_while_shown() {
    let records = benefit_household();
    let id = |s: &str| RecordId::parse(s).unwrap();
    assert!(shown_benefit(&records, &id("B1"), d(2026, 11, 25)).is_some());
    assert!(shown_benefit(&records, &id("BH"), d(2026, 11, 25)).is_none(), "hidden");
    assert!(shown_benefit(&records, &id("B1"), d(2026, 11, 9)).is_none(), "not yet published");
    assert!(shown_benefit(&records, &id("B0"), d(2027, 12, 15)).is_none(), "out of retention");
    assert!(shown_benefit(&records, &id("XX"), d(2026, 11, 25)).is_none());
}

#[test]
fn query_parameters_four_and_two_digits() {
    assert_eq!(Query::parse(Some("2026"), Some("01")).unwrap(), Query { year: Some(2026), person: Some(person("01")) });
    assert_eq!(Query::parse(None, Some("")).unwrap(), Query::default());
    let errors = Query::parse(Some("26"), Some("1")).unwrap_err();
    assert_eq!(errors.iter().map(|(f, _)| *f).collect::<Vec<_>>(), vec!["year", "person"]);
    assert!(Query::parse(Some("２０２６"), None).is_err());
    assert!(Query::parse(None, Some("001")).is_err());
}
