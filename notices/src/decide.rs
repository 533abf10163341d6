//! Who gets the update notice of a publication day.
//!
//! The rule (DESIGN.md Part 2, "Mail, part 2" and its clarifications): a member gets exactly one
//! notice for a Japan date `day` when, at the run,
//! - the onboarding is completed (`signup::current_step` is `Completed`; a member who must agree to
//!   new terms first is not),
//! - they chose 医療費通知 必要, have an address, and no bounce, complaint or refusal is on it,
//! - their period of use has not ended (24 months after 資格喪失日, `read::access_expired`),
//! - and new data became visible for the household since their last notice: an `N` or `C` line or
//!   benefit, not hidden, still kept, whose visible day (`max(publish_on, import day)`) is after the
//!   last notice's day (or, before any notice, after the completion's day) and not after `day`. A
//!   cancellation (`D`) leaves no record, so it never triggers one.
//!
//! A day's notice that waited (SES's daily quota) until a later day's was claimed is not sent: the
//! later one covered it.
//!
//! The claim of `(member, day)` makes it once: a claim already sent skips, one in flight waits, one
//! whose sender died answers "unknown" (never a second mail: the dead-letter queue, as for the
//! welcome mail).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kenpo_shared::clock::japan_date;
use kenpo_shared::domain::{EmailAddress, Step};
use kenpo_shared::signup::{Policy, SignupRecord, current_step};
use kenpo_shared::store::MemberProfile;
use kenpo_statements::read::{Imported, Publishable, access_expired};
use kenpo_statements::{Benefit, MedicalLine};

/// How long a claim protects a send in progress before nobody knows whether the mail left
/// (seconds; well above the sender's timeout), as for the welcome mail.
pub const CLAIM_LEASE_SECONDS: i64 = 120;

/// The claim of one member's notice for one day (`MEMBER#<id>` / `NOTICE#<day>`). Times UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeClaim {
    /// The publication day (Japan date) the notice is for.
    pub day: NaiveDate,
    pub claimed_at: DateTime<Utc>,
    /// Set once SES accepted the mail.
    pub sent_at: Option<DateTime<Utc>>,
}

/// What the decision reads: one Query of the member's partition (the notice claims, the profile,
/// the signup record, the household's records).
#[derive(Debug, Clone, Default)]
pub struct NoticeInput {
    pub profile: Option<MemberProfile>,
    pub signup: Option<SignupRecord>,
    pub medical: Vec<Imported<MedicalLine>>,
    pub benefits: Vec<Imported<Benefit>>,
    /// Every notice claim on record (any day).
    pub claims: Vec<NoticeClaim>,
}

/// The decision for one member and one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Claim `(member, day)`, then send to `to`: `medical` lines and `benefits` became visible.
    Send { to: EmailAddress, medical: usize, benefits: usize },
    /// No notice; the reason is a stable code for the logs and the run's counts.
    Skip(&'static str),
    /// Another sender claimed this notice moments ago and has not settled it: retry later.
    InFlight,
    /// A claim older than the lease was never settled: nobody knows whether the mail left.
    Unconfirmed,
}

/// The decision for the member of `input`, for the publication day `day` (Japan date), at `now`.
pub fn decide(input: &NoticeInput, day: NaiveDate, now: DateTime<Utc>, policy: &Policy) -> Decision {
    if let Some(claim) = input.claims.iter().find(|c| c.day == day) {
        return match claim.sent_at {
            Some(_) => Decision::Skip("already_sent"),
            None if now - claim.claimed_at < Duration::seconds(CLAIM_LEASE_SECONDS) => Decision::InFlight,
            None => Decision::Unconfirmed,
        };
    }
    // Another day's notice being sent right now: what it says decides what this one says; wait.
    // (One whose sender died is past its lease: it counts as sent below, the safe side.)
    let settled = |c: &NoticeClaim| c.sent_at.is_some() || now - c.claimed_at >= Duration::seconds(CLAIM_LEASE_SECONDS);
    if input.claims.iter().any(|c| c.day != day && !settled(c)) {
        return Decision::InFlight;
    }
    // A later day's notice went out already (this one waited, at SES's daily quota): it covered
    // what this one would have said.
    if input.claims.iter().any(|c| c.day > day) {
        return Decision::Skip("superseded");
    }
    let Some(signup) = input.signup.as_ref() else { return Decision::Skip("not_signed_up") };
    if current_step(signup, policy) != Step::Completed {
        return Decision::Skip("not_completed");
    }
    if signup.notify_medical_expenses != Some(true) {
        return Decision::Skip("not_wanted");
    }
    let Some(to) = signup.email.clone() else { return Decision::Skip("no_address") };
    if signup.email_problem.is_some() {
        return Decision::Skip("address_problem");
    }
    if access_expired(input.profile.as_ref().and_then(|p| p.left_on), day) {
        return Decision::Skip("access_expired");
    }
    // New since the last notice before `day` (after its day), or, before any notice, since the
    // completion (from its day on: a day has no time, and a line published the day a member signs
    // up must not go unnoticed).
    let last_notice = input.claims.iter().map(|c| c.day).filter(|d| *d < day).max();
    let completed_on = signup.completed_at.map(japan_date);
    let after_baseline = |visible: NaiveDate| match (last_notice, completed_on) {
        (Some(last), _) => visible > last,
        (None, Some(completed)) => visible >= completed,
        (None, None) => true,
    };
    let new = |visible: NaiveDate, hidden: bool, kept: bool| !hidden && kept && visible <= day && after_baseline(visible);
    let medical = input.medical.iter().filter(|r| new(r.visible_from(), r.record.hidden(), r.record.kept(day))).count();
    let benefits = input.benefits.iter().filter(|r| new(r.visible_from(), r.record.hidden(), r.record.kept(day))).count();
    if medical + benefits == 0 {
        return Decision::Skip("nothing_new");
    }
    Decision::Send { to, medical, benefits }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use kenpo_shared::domain::{MemberId, TermsVersion};
    use kenpo_statements::types::{Category, PersonNo, Relation, RecordId, ServiceMonth, Yen};

    fn policy() -> Policy {
        Policy { terms_version: TermsVersion::parse("2026-11-01").unwrap(), onboarding_cutoff: NaiveDate::from_ymd_opt(2022, 8, 1).unwrap(), lockout_attempts: 5, lockout_seconds: 1800 }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    /// 10:00 Japan time on `day(d)`.
    fn at(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, 1, 0, 0).unwrap()
    }

    fn line(id: &str, publish_on: NaiveDate, imported_on: NaiveDate, hidden: bool) -> Imported<MedicalLine> {
        let record = MedicalLine {
            record_id: RecordId::parse(id).unwrap(),
            member_id: MemberId::parse("M1").unwrap(),
            person_no: PersonNo::INSURED,
            person_name: "健保 一郎".into(),
            relation: Relation::Insured,
            service_month: ServiceMonth::new(2026, 9).unwrap(),
            category: Category::Pharmacy,
            days: 1,
            institution_name: None,
            total_cost: Yen(1000),
            insurer_paid: Yen(700),
            public_paid: Yen(0),
            self_pay: Yen(300),
            hidden,
            publish_on,
        };
        Imported { record, imported_on }
    }

    /// A member who completed on 2026-11-20 with 必要 and an address, and one line published on `day(1)`.
    fn member() -> NoticeInput {
        let mut signup = SignupRecord::new(MemberId::parse("M1").unwrap(), at(1));
        signup.state = Step::Completed;
        signup.completed_at = Some(Utc.with_ymd_and_hms(2026, 11, 20, 1, 0, 0).unwrap());
        signup.terms_version = Some(policy().terms_version);
        signup.notify_medical_expenses = Some(true);
        signup.email = EmailAddress::from_stored("taro@example.jp");
        NoticeInput { signup: Some(signup), medical: vec![line("L1", day(1), day(1), false)], ..NoticeInput::default() }
    }

    fn run(input: &NoticeInput, d: u32) -> Decision {
        decide(input, day(d), at(d), &policy())
    }

    #[test]
    fn a_member_who_chose_it_gets_the_notice_of_the_day_something_became_visible() {
        assert_eq!(run(&member(), 1), Decision::Send { to: EmailAddress::from_stored("taro@example.jp").unwrap(), medical: 1, benefits: 0 });
    }

    #[test]
    fn who_gets_none() {
        let cases: Vec<(&str, Box<dyn Fn(&mut NoticeInput)>)> = vec![
            ("not_wanted", Box::new(|i| i.signup.as_mut().unwrap().notify_medical_expenses = Some(false))),
            ("no_address", Box::new(|i| i.signup.as_mut().unwrap().email = None)),
            ("address_problem", Box::new(|i| i.signup.as_mut().unwrap().email_problem = Some(kenpo_shared::signup::EmailProblem::Bounced))),
            ("not_completed", Box::new(|i| i.signup.as_mut().unwrap().state = Step::Confirm)),
            ("not_completed", Box::new(|i| i.signup.as_mut().unwrap().terms_version = TermsVersion::parse("2025-01-01").ok())),
            ("not_signed_up", Box::new(|i| i.signup = None)),
            ("nothing_new", Box::new(|i| i.medical[0].record.hidden = true)),
            ("nothing_new", Box::new(|i| i.medical[0].record.publish_on = day(2))),
            ("nothing_new", Box::new(|i| i.medical.clear())),
        ];
        for (reason, change) in cases {
            let mut input = member();
            change(&mut input);
            assert_eq!(run(&input, 1), Decision::Skip(reason), "{reason}");
        }
        // Left the society: notices while the period of use lasts, none after it.
        let mut left = member();
        left.profile = Some(kenpo_shared::store::MemberProfile {
            member_id: MemberId::parse("M1").unwrap(),
            insurer_number: kenpo_shared::domain::InsurerNumber::parse("06133946").unwrap(),
            birth_date: kenpo_shared::domain::BirthDate::from_compact("19810403").unwrap(),
            category: None,
            name: None,
            left_on: NaiveDate::from_ymd_opt(2024, 12, 1),
        });
        assert_eq!(run(&left, 1), Decision::Skip("access_expired"));
    }

    #[test]
    fn only_what_is_new_since_the_last_notice_counts_and_each_day_once() {
        let mut input = member();
        input.claims.push(NoticeClaim { day: day(1), claimed_at: at(1), sent_at: Some(at(1)) });
        assert_eq!(run(&input, 1), Decision::Skip("already_sent"));
        assert_eq!(run(&input, 2), Decision::Skip("nothing_new"), "the day-1 line was in the day-1 notice");
        // A correction (C) imported on day 3 makes the line new again; a new line on day 3 too.
        input.medical[0].imported_on = day(3);
        input.medical.push(line("L2", day(3), day(2), false));
        assert_eq!(run(&input, 3), Decision::Send { to: EmailAddress::from_stored("taro@example.jp").unwrap(), medical: 2, benefits: 0 });
        // Data visible on the completion's day is news (a day has no time); before it, not.
        let mut same_day = member();
        same_day.signup.as_mut().unwrap().completed_at = Some(at(1) + Duration::hours(2));
        assert!(matches!(run(&same_day, 1), Decision::Send { .. }));
        let mut late = member();
        late.medical[0].record.publish_on = day(1);
        late.signup.as_mut().unwrap().completed_at = Some(at(2));
        assert_eq!(run(&late, 2), Decision::Skip("nothing_new"), "visible the day before the completion");
    }

    /// A notice that waited past the next day's (the daily quota) is not sent after it: the later
    /// one counted everything since the last notice.
    #[test]
    fn a_notice_overtaken_by_a_later_days_is_not_sent() {
        let mut input = member();
        input.claims.push(NoticeClaim { day: day(2), claimed_at: at(2), sent_at: Some(at(2)) });
        assert_eq!(run(&input, 1), Decision::Skip("superseded"));
    }

    #[test]
    fn a_claim_in_flight_waits_and_an_unsettled_old_one_is_unknown() {
        let mut input = member();
        input.claims.push(NoticeClaim { day: day(1), claimed_at: at(1), sent_at: None });
        assert_eq!(decide(&input, day(1), at(1) + Duration::seconds(10), &policy()), Decision::InFlight);
        assert_eq!(decide(&input, day(1), at(1) + Duration::seconds(CLAIM_LEASE_SECONDS), &policy()), Decision::Unconfirmed);
    }
}
