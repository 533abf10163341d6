//! What a member may see, and the three API answers (DESIGN.md Part 2, "HTTP contract, part 2"
//! and "Reads and visibility"), pure: the store hands over the household's records with the day
//! each was imported; the Lambda passes today's Japan date and the query.
//!
//! - Visible: not hidden, and today (Japan, from 00:00) is on or after `publish_on`, or after the
//!   import day when that is later.
//! - Kept: a medical line while its 診療年月 is within the last [`STATEMENT_MONTHS`] months
//!   including the current one; a benefit while `decided_on` is within [`STATEMENT_MONTHS`] months.
//! - Shown = visible and kept. Everything below counts shown records only.
//! - Access after leaving: until [`access_until`] (the day before `left_on` + 24 months).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, Months, NaiveDate};
use kenpo_shared::domain::FieldError;
use serde::{Deserialize, Serialize};

use crate::records::{Benefit, MedicalLine};
use crate::types::{
    BenefitCode, Category, PaymentMethod, PersonNo, RecordId, Relation, ServiceMonth, Yen, field_error,
};

/// `STATEMENT_MONTHS`: months of 診療年月 (and of `decided_on`) that are kept and shown.
pub const STATEMENT_MONTHS: u32 = 24;

/// `ACCESS_AFTER_LEAVING_MONTHS`: how long a member who left keeps access, after `left_on`.
pub const ACCESS_AFTER_LEAVING_MONTHS: u32 = 24;

/// The day from which a record is visible: its `publish_on`, or its import day when later.
pub fn visible_from(publish_on: NaiveDate, imported_on: NaiveDate) -> NaiveDate {
    publish_on.max(imported_on)
}

/// Not hidden, and `today` (Japan date) on or after `max(publish_on, imported_on)`.
pub fn visible(hidden: bool, publish_on: NaiveDate, imported_on: NaiveDate, today: NaiveDate) -> bool {
    !hidden && today >= visible_from(publish_on, imported_on)
}

/// The first day a medical line of `service_month` is no longer kept: the first of the month
/// [`STATEMENT_MONTHS`] months later (a line of 2024-12 is kept through 2026-11-30).
pub fn medical_expires_on(service_month: ServiceMonth) -> NaiveDate {
    service_month.first_day_after_months(STATEMENT_MONTHS)
}

/// Whether a line of `service_month` is within the last [`STATEMENT_MONTHS`] months including
/// the current one (future months count as kept).
pub fn medical_kept(service_month: ServiceMonth, today: NaiveDate) -> bool {
    today < medical_expires_on(service_month)
}

/// The first day a benefit decided on `decided_on` is no longer kept: `decided_on` +
/// [`STATEMENT_MONTHS`] months (clamped to the month's end: 2024-02-29 → 2026-02-28).
pub fn benefit_expires_on(decided_on: NaiveDate) -> NaiveDate {
    decided_on.checked_add_months(Months::new(STATEMENT_MONTHS)).unwrap_or(NaiveDate::MAX)
}

pub fn benefit_kept(decided_on: NaiveDate, today: NaiveDate) -> bool {
    today < benefit_expires_on(decided_on)
}

/// The last day a member who left on `left_on` may read statements: the day before `left_on` +
/// [`ACCESS_AFTER_LEAVING_MONTHS`] months.
pub fn access_until(left_on: NaiveDate) -> NaiveDate {
    left_on
        .checked_add_months(Months::new(ACCESS_AFTER_LEAVING_MONTHS))
        .and_then(|d| d.checked_sub_days(Days::new(1)))
        .unwrap_or(NaiveDate::MAX)
}

/// `403 access_expired`: the member left and today is after [`access_until`].
pub fn access_expired(left_on: Option<NaiveDate>, today: NaiveDate) -> bool {
    left_on.is_some_and(|left_on| today > access_until(left_on))
}

/// A stored record with the Japan date it was written (an `N`, or the last `C`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported<T> {
    pub record: T,
    pub imported_on: NaiveDate,
}

/// What visibility and the lists need of a record.
pub trait Publishable {
    fn hidden(&self) -> bool;
    fn publish_on(&self) -> NaiveDate;
    fn kept(&self, today: NaiveDate) -> bool;
    fn person_no(&self) -> PersonNo;
    fn person_name(&self) -> &str;
    fn relation(&self) -> Relation;
    fn record_id(&self) -> &RecordId;
}

impl Publishable for MedicalLine {
    fn hidden(&self) -> bool {
        self.hidden
    }
    fn publish_on(&self) -> NaiveDate {
        self.publish_on
    }
    fn kept(&self, today: NaiveDate) -> bool {
        medical_kept(self.service_month, today)
    }
    fn person_no(&self) -> PersonNo {
        self.person_no
    }
    fn person_name(&self) -> &str {
        &self.person_name
    }
    fn relation(&self) -> Relation {
        self.relation
    }
    fn record_id(&self) -> &RecordId {
        &self.record_id
    }
}

impl Publishable for Benefit {
    fn hidden(&self) -> bool {
        self.hidden
    }
    fn publish_on(&self) -> NaiveDate {
        self.publish_on
    }
    fn kept(&self, today: NaiveDate) -> bool {
        benefit_kept(self.decided_on, today)
    }
    fn person_no(&self) -> PersonNo {
        self.person_no
    }
    fn person_name(&self) -> &str {
        &self.person_name
    }
    fn relation(&self) -> Relation {
        self.relation
    }
    fn record_id(&self) -> &RecordId {
        &self.record_id
    }
}

impl<T: Publishable> Imported<T> {
    pub fn visible_from(&self) -> NaiveDate {
        visible_from(self.record.publish_on(), self.imported_on)
    }

    /// Visible and kept: what a member sees today.
    pub fn shown(&self, today: NaiveDate) -> bool {
        visible(self.record.hidden(), self.record.publish_on(), self.imported_on, today) && self.record.kept(today)
    }
}

/// The records shown today, optionally of one person.
fn shown<T: Publishable>(
    records: &[Imported<T>],
    today: NaiveDate,
    person: Option<PersonNo>,
) -> impl Iterator<Item = &Imported<T>> {
    records.iter().filter(move |r| r.shown(today) && person.is_none_or(|p| r.record.person_no() == p))
}

/// The query of `GET /api/medical-expenses` and `GET /api/benefits`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query {
    pub year: Option<i32>,
    pub person: Option<PersonNo>,
}

impl Query {
    /// `year` must be 4 ASCII digits and `person` 2 (else 422 `invalid_input` with these fields,
    /// in this order). An empty parameter (`?person=`, a form's 「全員」) counts as absent.
    pub fn parse(year: Option<&str>, person: Option<&str>) -> Result<Self, Vec<(&'static str, FieldError)>> {
        let mut errors = Vec::new();
        let year = year.filter(|y| !y.is_empty()).and_then(|y| {
            let parsed =
                (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())).then(|| y.parse::<i32>().ok()).flatten();
            if parsed.is_none() {
                errors.push(("year", field_error("format", "年は西暦4桁の半角数字で指定してください。")));
            }
            parsed
        });
        let person = person.filter(|p| !p.is_empty()).and_then(|p| {
            let parsed = PersonNo::parse_strict(p);
            if parsed.is_none() {
                errors.push(("person", field_error("format", "受診者は2桁の番号で指定してください。")));
            }
            parsed
        });
        if errors.is_empty() { Ok(Self { year, person }) } else { Err(errors) }
    }
}

/// `GET /api/statements/summary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The latest day on which something shown became visible (`max(publish_on, imported_on)`).
    pub latest_publication: Option<NaiveDate>,
    pub new_in_latest: NewInLatest,
    /// The current calendar year in Japan.
    pub year: i32,
    /// 自己負担 of the shown lines whose 診療年月 is in `year`.
    pub self_pay_this_year: Yen,
    /// 支給額 of the shown benefits decided in `year`.
    pub benefits_this_year: Yen,
    /// The last day of access for a member who left; `None` while a member.
    pub access_until: Option<NaiveDate>,
}

/// What became visible on the latest publication day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewInLatest {
    pub medical_lines: u64,
    pub benefits: u64,
}

pub fn summary(
    medical: &[Imported<MedicalLine>],
    benefits: &[Imported<Benefit>],
    left_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Summary {
    let year = today.year();
    let medical_from: Vec<NaiveDate> = shown(medical, today, None).map(Imported::visible_from).collect();
    let benefit_from: Vec<NaiveDate> = shown(benefits, today, None).map(Imported::visible_from).collect();
    let latest = medical_from.iter().chain(&benefit_from).max().copied();
    let count_on = |dates: &[NaiveDate]| latest.map_or(0, |l| dates.iter().filter(|d| **d == l).count() as u64);
    Summary {
        latest_publication: latest,
        new_in_latest: NewInLatest { medical_lines: count_on(&medical_from), benefits: count_on(&benefit_from) },
        year,
        self_pay_this_year: shown(medical, today, None)
            .filter(|m| m.record.service_month.year() == year)
            .map(|m| m.record.self_pay)
            .sum(),
        benefits_this_year: shown(benefits, today, None)
            .filter(|b| b.record.decided_on.year() == year)
            .map(|b| b.record.amount)
            .sum(),
        access_until: left_on.map(access_until),
    }
}

/// One person of the household with shown records (`persons` of both lists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub person_no: PersonNo,
    pub name: String,
    pub relation: Relation,
}

/// Everyone with a shown record, by `personNo`; name and relation from their latest record
/// (by `order`, then `record_id`), in case a correction renamed them.
fn persons<'a, T: Publishable + 'a, K: Ord>(
    records: impl Iterator<Item = &'a Imported<T>>,
    order: impl Fn(&T) -> K,
) -> Vec<Person> {
    let mut latest: BTreeMap<PersonNo, &T> = BTreeMap::new();
    for r in records {
        let record = &r.record;
        let newer = |other: &&T| (order(record), record.record_id()) > (order(other), other.record_id());
        match latest.get(&record.person_no()) {
            Some(current) if !newer(current) => {}
            _ => {
                latest.insert(record.person_no(), record);
            }
        }
    }
    latest
        .into_iter()
        .map(|(person_no, r)| Person { person_no, name: r.person_name().to_owned(), relation: r.relation() })
        .collect()
}

/// Years newest first; the chosen year is the query's, else the newest with data, else `today`'s.
fn years_and_year(years: BTreeSet<i32>, query_year: Option<i32>, today: NaiveDate) -> (Vec<i32>, i32) {
    let years: Vec<i32> = years.into_iter().rev().collect();
    let year = query_year.or_else(|| years.first().copied()).unwrap_or_else(|| today.year());
    (years, year)
}

/// `GET /api/medical-expenses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicalExpenses {
    pub year: i32,
    pub years: Vec<i32>,
    pub persons: Vec<Person>,
    /// Newest month first.
    pub months: Vec<MedicalMonth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicalMonth {
    pub month: ServiceMonth,
    /// By (personNo, category, recordId).
    pub lines: Vec<MedicalLineView>,
    pub totals: MonthTotals,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicalLineView {
    pub record_id: RecordId,
    pub person_no: PersonNo,
    pub category: Category,
    pub category_label: &'static str,
    pub days: u32,
    pub institution_name: Option<String>,
    pub total_cost: Yen,
    pub insurer_paid: Yen,
    pub public_paid: Yen,
    pub self_pay: Yen,
}

impl From<&MedicalLine> for MedicalLineView {
    fn from(m: &MedicalLine) -> Self {
        Self {
            record_id: m.record_id.clone(),
            person_no: m.person_no,
            category: m.category,
            category_label: m.category.label(),
            days: m.days,
            institution_name: m.institution_name.clone(),
            total_cost: m.total_cost,
            insurer_paid: m.insurer_paid,
            public_paid: m.public_paid,
            self_pay: m.self_pay,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthTotals {
    pub total_cost: Yen,
    pub self_pay: Yen,
}

/// The shown lines of `year` (of `person` if given), by (診療年月, personNo, category, recordId):
/// what the list, the year's PDF and CSV show.
pub fn medical_lines_of_year(
    records: &[Imported<MedicalLine>],
    today: NaiveDate,
    year: i32,
    person: Option<PersonNo>,
) -> Vec<&MedicalLine> {
    let mut lines: Vec<&MedicalLine> =
        shown(records, today, person).map(|r| &r.record).filter(|m| m.service_month.year() == year).collect();
    lines.sort_by(|a, b| {
        (a.service_month, a.person_no, a.category, &a.record_id).cmp(&(
            b.service_month,
            b.person_no,
            b.category,
            &b.record_id,
        ))
    });
    lines
}

pub fn medical_expenses(
    records: &[Imported<MedicalLine>],
    today: NaiveDate,
    year: Option<i32>,
    person: Option<PersonNo>,
) -> MedicalExpenses {
    let persons = persons(shown(records, today, None), |m: &MedicalLine| m.service_month);
    let (years, year) =
        years_and_year(shown(records, today, person).map(|r| r.record.service_month.year()).collect(), year, today);
    let mut by_month: BTreeMap<ServiceMonth, Vec<&MedicalLine>> = BTreeMap::new();
    for line in medical_lines_of_year(records, today, year, person) {
        by_month.entry(line.service_month).or_default().push(line);
    }
    let months = by_month
        .into_iter()
        .rev()
        .map(|(month, lines)| MedicalMonth {
            month,
            totals: MonthTotals {
                total_cost: lines.iter().map(|l| l.total_cost).sum(),
                self_pay: lines.iter().map(|l| l.self_pay).sum(),
            },
            lines: lines.into_iter().map(MedicalLineView::from).collect(),
        })
        .collect();
    MedicalExpenses { year, years, persons, months }
}

/// One point of the 自己負担 chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthlySelfPay {
    pub month: ServiceMonth,
    pub self_pay: Yen,
}

/// Every month with shown lines (of `person`, else the household), oldest first, with its 自己負担.
pub fn monthly_self_pay(
    records: &[Imported<MedicalLine>],
    today: NaiveDate,
    person: Option<PersonNo>,
) -> Vec<MonthlySelfPay> {
    let mut by_month: BTreeMap<ServiceMonth, Yen> = BTreeMap::new();
    for r in shown(records, today, person) {
        let sum = by_month.entry(r.record.service_month).or_default();
        *sum = *sum + r.record.self_pay;
    }
    by_month.into_iter().map(|(month, self_pay)| MonthlySelfPay { month, self_pay }).collect()
}

/// `GET /api/benefits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Benefits {
    pub year: i32,
    pub years: Vec<i32>,
    pub persons: Vec<Person>,
    /// By `decidedOn` descending, then `recordId`.
    pub benefits: Vec<BenefitView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenefitView {
    pub record_id: RecordId,
    pub person_no: PersonNo,
    pub code: BenefitCode,
    pub name: String,
    pub service_month: Option<ServiceMonth>,
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
    pub institution_name: Option<String>,
    pub basis_amount: Option<Yen>,
    pub amount: Yen,
    pub decided_on: NaiveDate,
    pub paid_on: Option<NaiveDate>,
    pub payment_method: PaymentMethod,
    pub payment_method_label: &'static str,
    pub remarks: Option<String>,
}

impl From<&Benefit> for BenefitView {
    fn from(b: &Benefit) -> Self {
        Self {
            record_id: b.record_id.clone(),
            person_no: b.person_no,
            code: b.code,
            name: b.name.clone(),
            service_month: b.service_month,
            period_from: b.period_from,
            period_to: b.period_to,
            institution_name: b.institution_name.clone(),
            basis_amount: b.basis_amount,
            amount: b.amount,
            decided_on: b.decided_on,
            paid_on: b.paid_on,
            payment_method: b.payment_method,
            payment_method_label: b.payment_method.label(),
            remarks: b.remarks.clone(),
        }
    }
}

pub fn benefits(
    records: &[Imported<Benefit>],
    today: NaiveDate,
    year: Option<i32>,
    person: Option<PersonNo>,
) -> Benefits {
    let persons = persons(shown(records, today, None), |b: &Benefit| b.decided_on);
    let (years, year) =
        years_and_year(shown(records, today, person).map(|r| r.record.decided_on.year()).collect(), year, today);
    let mut list: Vec<&Benefit> =
        shown(records, today, person).map(|r| &r.record).filter(|b| b.decided_on.year() == year).collect();
    list.sort_by(|a, b| b.decided_on.cmp(&a.decided_on).then_with(|| a.record_id.cmp(&b.record_id)));
    Benefits { year, years, persons, benefits: list.into_iter().map(BenefitView::from).collect() }
}

/// The benefit behind `GET /api/documents/benefits/<recordId>.pdf`: `None` (404) unless shown.
pub fn shown_benefit<'a>(
    records: &'a [Imported<Benefit>],
    record_id: &RecordId,
    today: NaiveDate,
) -> Option<&'a Benefit> {
    records.iter().find(|r| &r.record.record_id == record_id && r.shown(today)).map(|r| &r.record)
}
