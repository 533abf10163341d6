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
    // New since the last notice before `day`, or since the completion's day.
    let since = input.claims.iter().map(|c| c.day).filter(|d| *d < day).max().or(signup.completed_at.map(japan_date));
    let new = |visible: NaiveDate, hidden: bool, kept: bool| !hidden && kept && visible <= day && since.is_none_or(|s| visible > s);
    let medical = input.medical.iter().filter(|r| new(r.visible_from(), r.record.hidden(), r.record.kept(day))).count();
    let benefits = input.benefits.iter().filter(|r| new(r.visible_from(), r.record.hidden(), r.record.kept(day))).count();
    if medical + benefits == 0 {
        return Decision::Skip("nothing_new");
    }
    Decision::Send { to, medical, benefits }
}
