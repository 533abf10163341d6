//! The two records the society loads, as stored and compared: a medical line (one レセプト:
//! person × 診療年月 × 医療機関 × 区分) and a benefit decision (給付金支給決定).
//!
//! Both are plain data, `Serialize`/`Deserialize` (stored as JSON or DynamoDB attributes, field
//! names in snake_case as in the CSV) and `PartialEq`: an `N` row whose record equals the stored one
//! changes nothing. Valid by construction when they come from [`crate::file::parse`].

use chrono::NaiveDate;
use kenpo_shared::domain::MemberId;
use serde::{Deserialize, Serialize};

use crate::read;
use crate::types::{
    BenefitCode, Category, PaymentMethod, PersonNo, RecordId, Relation, ServiceMonth, StatementKind, Yen,
};

/// One medical line (医療費のお知らせ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalLine {
    pub record_id: RecordId,
    /// The insured person (被保険者), the household's key: the portal's `sub`.
    pub member_id: MemberId,
    /// 枝番 of the person treated.
    pub person_no: PersonNo,
    /// 受診者氏名, 1–40 characters.
    pub person_name: String,
    pub relation: Relation,
    /// 診療年月.
    pub service_month: ServiceMonth,
    pub category: Category,
    /// 日数 (回数).
    pub days: u32,
    /// 医療機関等名称, `None` when the file leaves it empty (some 柔道整復 lines).
    pub institution_name: Option<String>,
    /// 医療費総額 (10割).
    pub total_cost: Yen,
    /// 保険者負担額.
    pub insurer_paid: Yen,
    /// 公費負担額 (0 when the file leaves it empty).
    pub public_paid: Yen,
    /// 窓口負担相当額 (自己負担).
    pub self_pay: Yen,
    /// Never shown on the web (an adult dependant's privacy request).
    pub hidden: bool,
    /// The Japan date from which members see the line (unless it is imported later).
    pub publish_on: NaiveDate,
}

impl MedicalLine {
    /// Whether 医療費総額 = 保険者負担額 + 公費負担額 + 自己負担 (a mismatch is a warning, not a refusal).
    pub fn adds_up(&self) -> bool {
        self.total_cost == self.insurer_paid + self.public_paid + self.self_pay
    }
}

/// One decided payment (給付金支給決定).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Benefit {
    pub record_id: RecordId,
    pub member_id: MemberId,
    pub person_no: PersonNo,
    pub person_name: String,
    pub relation: Relation,
    /// 給付の種類.
    pub code: BenefitCode,
    /// The society's own name for it (shown), 1–40 characters.
    pub name: String,
    /// 対象診療年月 (medical benefits).
    pub service_month: Option<ServiceMonth>,
    /// 支給対象期間 (cash benefits): both or neither, `period_from <= period_to`.
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
    pub institution_name: Option<String>,
    /// 算定基礎額 (e.g. the self-pay the benefit was computed from).
    pub basis_amount: Option<Yen>,
    /// 支給額, more than 0.
    pub amount: Yen,
    /// 支給決定日.
    pub decided_on: NaiveDate,
    /// 支払日 (or planned). With [`PaymentMethod::WithSalary`] the day the society pays the employer.
    pub paid_on: Option<NaiveDate>,
    pub payment_method: PaymentMethod,
    /// 備考, up to 200 characters (line breaks kept as `\n`).
    pub remarks: Option<String>,
    pub hidden: bool,
    pub publish_on: NaiveDate,
}

/// Either record, where code handles both (the import plan, the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Statement {
    Medical(MedicalLine),
    #[serde(rename = "benefits")]
    Benefit(Benefit),
}

impl Statement {
    pub fn kind(&self) -> StatementKind {
        match self {
            Statement::Medical(_) => StatementKind::Medical,
            Statement::Benefit(_) => StatementKind::Benefits,
        }
    }

    pub fn record_id(&self) -> &RecordId {
        match self {
            Statement::Medical(m) => &m.record_id,
            Statement::Benefit(b) => &b.record_id,
        }
    }

    pub fn member_id(&self) -> &MemberId {
        match self {
            Statement::Medical(m) => &m.member_id,
            Statement::Benefit(b) => &b.member_id,
        }
    }

    pub fn hidden(&self) -> bool {
        match self {
            Statement::Medical(m) => m.hidden,
            Statement::Benefit(b) => b.hidden,
        }
    }

    pub fn publish_on(&self) -> NaiveDate {
        match self {
            Statement::Medical(m) => m.publish_on,
            Statement::Benefit(b) => b.publish_on,
        }
    }

    /// The first Japan date on which the record is no longer kept (the item's TTL): see
    /// [`read::medical_expires_on`] and [`read::benefit_expires_on`].
    pub fn expires_on(&self) -> NaiveDate {
        match self {
            Statement::Medical(m) => read::medical_expires_on(m.service_month),
            Statement::Benefit(b) => read::benefit_expires_on(b.decided_on),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> MedicalLine {
        MedicalLine {
            record_id: RecordId::parse("M1").unwrap(),
            member_id: MemberId::parse("M001").unwrap(),
            person_no: PersonNo::INSURED,
            person_name: "山田太郎".into(),
            relation: Relation::Insured,
            service_month: ServiceMonth::new(2026, 8).unwrap(),
            category: Category::Pharmacy,
            days: 1,
            institution_name: None,
            total_cost: Yen(1000),
            insurer_paid: Yen(700),
            public_paid: Yen(0),
            self_pay: Yen(300),
            hidden: false,
            publish_on: NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
        }
    }

    #[test]
    fn stored_form_round_trips_with_readable_values() {
        let statement = Statement::Medical(line());
        let json = serde_json::to_value(&statement).unwrap();
        assert_eq!(json["kind"], "medical");
        assert_eq!(json["person_no"], "00");
        assert_eq!(json["service_month"], "2026-08");
        assert_eq!(json["category"], "30");
        assert_eq!(json["relation"], "本人");
        assert_eq!(json["publish_on"], "2026-11-10");
        assert_eq!(json["institution_name"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Statement>(json).unwrap(), statement);
        assert_eq!(statement.expires_on(), NaiveDate::from_ymd_opt(2028, 8, 1).unwrap());
        assert!(line().adds_up());
        assert!(!MedicalLine { self_pay: Yen(301), ..line() }.adds_up());
    }
}
