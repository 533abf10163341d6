//! Demo members for `kenpo dev` (made up; printed at start so a developer can log in as them).

use chrono::{TimeZone, Utc};
use kenpo_shared::domain::{BirthDate, EmailAddress, InsurerNumber, MemberId, Step};
use kenpo_shared::store::{Expect, MemberProfile, SignupRecord, SignupStore, StoreError, WriteError};

pub struct Demo {
    pub id: &'static str,
    pub insurer: &'static str,
    pub birth: &'static str,
    pub category: &'static str,
    /// 被保険者氏名 (made up).
    pub name: &'static str,
    /// 資格喪失日 (year, month, day), for a member who has left.
    pub left_on: Option<(i32, u32, u32)>,
    pub note: &'static str,
    /// A completion already on record (year, month, day).
    pub completed: Option<(i32, u32, u32)>,
    /// The terms agreed to at that completion, when older than the dev server's `TERMS_VERSION`
    /// (the member agrees again first: `/signup/terms`); `None`: the current terms.
    pub agreed_terms: Option<&'static str>,
}

pub const DEMO_MEMBERS: &[Demo] = &[
    Demo { id: "D0001", name: "健保 一郎", left_on: None, insurer: "06133946", birth: "19810403", category: "一般", note: "初めてのログイン", completed: None, agreed_terms: None },
    Demo { id: "D0002", name: "任継 花子", left_on: None, insurer: "06133946", birth: "19790822", category: "任意継続", note: "初めてのログイン", completed: None, agreed_terms: None },
    Demo { id: "D0003", name: "特退 三郎", left_on: None, insurer: "63133946", birth: "19480115", category: "特例退職", note: "初めてのログイン（特例退職）", completed: None, agreed_terms: None },
    Demo { id: "D0004", name: "再登 四郎", left_on: None, insurer: "06133946", birth: "19650710", category: "一般", note: "令和4年7月以前に登録（もう一度手続き）", completed: Some((2022, 6, 1)), agreed_terms: None },
    Demo { id: "D0005", name: "登録 五月", left_on: None, insurer: "06133946", birth: "19920229", category: "一般", note: "登録済み（トップページへ）", completed: Some((2025, 4, 1)), agreed_terms: None },
    Demo { id: "D0006", name: "退職 六子", left_on: Some((2025, 9, 30)), insurer: "06133946", birth: "19700512", category: "一般", note: "登録済み・資格喪失済み（閲覧期間内）", completed: Some((2024, 5, 1)), agreed_terms: None },
    Demo { id: "D0007", name: "規約 七海", left_on: None, insurer: "06133946", birth: "19881107", category: "一般", note: "登録済み・利用規約の更新に未同意（同意してからトップページへ）", completed: Some((2024, 10, 1)), agreed_terms: Some("2024-04-01") },
];

pub fn demo_profiles() -> Vec<MemberProfile> {
    DEMO_MEMBERS
        .iter()
        .filter_map(|d| {
            Some(MemberProfile {
                member_id: MemberId::parse(d.id).ok()?,
                insurer_number: InsurerNumber::parse(d.insurer).ok()?,
                birth_date: BirthDate::from_compact(d.birth)?,
                category: Some(d.category.to_owned()),
                name: Some(d.name.to_owned()),
                left_on: d.left_on.and_then(|(y, m, day)| chrono::NaiveDate::from_ymd_opt(y, m, day)),
            })
        })
        .collect()
}

/// The demo members and the signup records of those who completed (agreed to `terms_version`, the
/// dev server's `TERMS_VERSION`, so they land on the top page).
pub async fn seed(store: &dyn SignupStore, terms_version: &kenpo_shared::domain::TermsVersion) -> Result<(), StoreError> {
    store.put_members(&demo_profiles()).await?;
    for d in DEMO_MEMBERS {
        let (Some((y, m, day)), Ok(id)) = (d.completed, MemberId::parse(d.id)) else { continue };
        let at = Utc.with_ymd_and_hms(y, m, day, 1, 0, 0).single().unwrap_or_else(Utc::now);
        let mut record = SignupRecord::new(id, at);
        record.version = 1;
        record.state = Step::Completed;
        record.completed_at = Some(at);
        // Welcomed back then: the mail of that completion went out (no claim left open).
        record.welcome_mail_for = Some(at);
        record.welcome_claimed_at = Some(at);
        record.welcome_sent_at = Some(at);
        record.email = EmailAddress::from_stored(&format!("{}@example.jp", d.id.to_ascii_lowercase()));
        record.notify_medical_expenses = Some(true);
        record.terms_version = Some(d.agreed_terms.and_then(|v| kenpo_shared::domain::TermsVersion::parse(v).ok()).unwrap_or_else(|| terms_version.clone()));
        match store.put_signup(&record, Expect::Absent).await {
            Ok(()) | Err(WriteError::Conflict(_)) => {}
            Err(WriteError::Store(e)) => return Err(e),
        }
    }
    Ok(())
}
