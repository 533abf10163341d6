//! The signup state machine, pure: the record, every legal transition, the lockout and the
//! onboarding cutoff, in this one file. No store, no HTTP, no clock: `decide` takes the record as
//! read, a command, the time (UTC) and the society's policy, and says what to write (if anything)
//! and what the outcome is. The one retry loop that reads, writes conditionally and decides again
//! on a lost race is `crate::transition::apply`; handlers map `SignupError` to HTTP in
//! `crate::contract`.
//!
//! Steps (DESIGN.md, "The member's journey"): `Identity -> Consent -> Preferences -> Confirm ->
//! Completed`. A completion before the onboarding cutoff (Japan time, DESIGN.md) counts as not done.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::clock::start_of_japan_day;
use crate::domain::{EmailAddress, MemberId, Preferences, Step, TermsVersion};

/// The signup state machine's record (`MEMBER#<id>` / `SIGNUP`). Times are UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupRecord {
    pub member_id: MemberId,
    /// The step as stored (see `current_step` for the step that counts).
    pub state: Step,
    /// Bumped by every write; the conditional write expects the version that was read.
    pub version: u64,
    pub failed_attempts: u32,
    pub locked_until: Option<DateTime<Utc>>,
    pub email: Option<EmailAddress>,
    /// `None` until the member has saved preferences once.
    pub notify_medical_expenses: Option<bool>,
    pub terms_version: Option<TermsVersion>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The completion (its `completed_at`) the welcome mail was claimed for.
    pub welcome_mail_for: Option<DateTime<Utc>>,
    /// When the welcome mail was claimed (a claim without `welcome_sent_at` is in flight, or its
    /// sender died; after the lease nobody knows whether the mail left).
    pub welcome_claimed_at: Option<DateTime<Utc>>,
    pub welcome_sent_at: Option<DateTime<Utc>>,
    /// Mail to `email` bounced, was complained about, or was refused: not mailed again until the member changes it.
    pub email_problem: Option<EmailProblem>,
    /// Sessions issued before this time (UTC, microseconds) are ended: logout moves it (DESIGN.md
    /// Part 2, "sessions valid from"). `None`: every session the cookie check accepts.
    pub sessions_valid_from: Option<DateTime<Utc>>,
    /// When a completed member last changed the address (after re-verification): the stream then
    /// sends 「メールアドレスが変更されました」 to the previous one (`SignupChange::address_notice`).
    pub address_changed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl SignupRecord {
    /// A member who has not started yet (version 0: never stored).
    pub fn new(member_id: MemberId, now: DateTime<Utc>) -> Self {
        Self {
            member_id,
            state: Step::Identity,
            version: 0,
            failed_attempts: 0,
            locked_until: None,
            email: None,
            notify_medical_expenses: None,
            terms_version: None,
            completed_at: None,
            welcome_mail_for: None,
            welcome_claimed_at: None,
            welcome_sent_at: None,
            email_problem: None,
            sessions_valid_from: None,
            address_changed_at: None,
            updated_at: now,
        }
    }

    /// Whether a session issued at `issued_at` is still valid for this member (not ended by a
    /// logout since; compared to the microsecond).
    pub fn accepts_session(&self, issued_at: DateTime<Utc>) -> bool {
        self.sessions_valid_from.is_none_or(|from| issued_at >= from)
    }

    /// The saved choice (`None` before the member saved any).
    pub fn preferences(&self) -> Option<Preferences> {
        self.notify_medical_expenses.and_then(|notify| Preferences::new(self.email.clone(), notify).ok())
    }
}

/// Why mail to the member's address stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailProblem {
    Bounced,
    Complained,
    Rejected,
}

impl EmailProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailProblem::Bounced => "bounced",
            EmailProblem::Complained => "complained",
            EmailProblem::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [EmailProblem::Bounced, EmailProblem::Complained, EmailProblem::Rejected].into_iter().find(|p| p.as_str() == s)
    }
}

/// One agreement to the terms (`MEMBER#<id>` / `CONSENT#<timestamp>`), append-only, written in the
/// same transaction as the step it moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub member_id: MemberId,
    pub terms_version: TermsVersion,
    pub agreed_at: DateTime<Utc>,
    pub source_ip: Option<String>,
}

/// What the society sets (the settings `TERMS_VERSION`, `ONBOARDING_CUTOFF`, `LOCKOUT_ATTEMPTS`,
/// `LOCKOUT_SECONDS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub terms_version: TermsVersion,
    /// Members whose last completion is before this day (Japan time) onboard again once.
    pub onboarding_cutoff: NaiveDate,
    /// Failed identity checks before the lockout (DESIGN.md: 5).
    pub lockout_attempts: u32,
    /// Length of the lockout in seconds (DESIGN.md: 30 minutes).
    pub lockout_seconds: u64,
}

/// How long a welcome-mail claim protects a send in progress, in seconds (well above the
/// function's 10 s timeout).
pub const CLAIM_LEASE_SECONDS: i64 = 120;

/// What happened to a claimed welcome mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// SES accepted it.
    Sent,
    /// The provider refused the address for good: mark it, never mail it again.
    Rejected,
    /// The send surely failed: give the claim back so a retry sends.
    Released,
}

/// Everything that changes a signup record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// 本人確認: `matches` is whether 保険者番号 and 生年月日 matched the society's record.
    VerifyIdentity { matches: bool },
    /// 同意する: what the member sent (`agreed`, the terms version their screen showed).
    Consent { agreed: bool, terms_version: String, source_ip: Option<String> },
    /// メールアドレス and 医療費通知 (also from 入力確認 via 戻る, and from the top page after
    /// completion). `birth_date_matches`: whether the 生年月日 sent with it matched the profile
    /// (`None`: none was sent); after completion a change of the address needs a match (DESIGN.md
    /// Part 2: re-verification, counted like the identity check).
    SavePreferences { preferences: Preferences, birth_date_matches: Option<bool> },
    /// 実行, of the record version the confirmation screen showed (DESIGN.md Part 2: another tab's
    /// later save is never confirmed unseen).
    Confirm { version: u64 },
    /// The update notice's one-click unsubscribe (RFC 8058): 医療費通知 becomes 不要, at any step,
    /// the address kept. A member who chose 不要 already: nothing written.
    StopNotices,
    /// Claim the welcome mail of the current completion before sending it.
    ClaimWelcome,
    /// Record what became of the welcome mail claimed for the completion at `completed_at`.
    SettleWelcome { completed_at: DateTime<Utc>, settlement: Settlement },
    /// SES reported a bounce, complaint or reject for one of `recipients` (as SES wrote them).
    MarkEmailProblem { problem: EmailProblem, recipients: Vec<String> },
    /// The society's operator ends a lock of the identity check (`kenpo unlock`, after the member
    /// called): the lock and the count of failed attempts go, nothing else changes. A member with
    /// neither: nothing written.
    Unlock,
}

impl Command {
    /// A refusal that does not depend on the record (decided before any read).
    pub fn refuse_early(&self, policy: &Policy) -> Option<SignupError> {
        match self {
            Command::Consent { agreed: false, .. } => Some(SignupError::ConsentRequired),
            Command::Consent { terms_version, .. } if terms_version != policy.terms_version.as_str() => {
                Some(SignupError::TermsOutdated { current: policy.terms_version.clone() })
            }
            _ => None,
        }
    }
}

/// A refusal the member sees (mapped to HTTP once, in `crate::contract`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupError {
    /// The command does not belong to the member's current step.
    WrongStep(Step),
    /// The identity check is locked for `retry_after_seconds` more seconds (at least 1).
    Locked { retry_after_seconds: u64 },
    /// 保険者番号 or 生年月日 did not match; `remaining_attempts` before a lockout of `lockout_minutes`.
    IdentityMismatch { remaining_attempts: u32, lockout_minutes: u64 },
    /// `agreed` was false.
    ConsentRequired,
    /// The member's screen showed older terms than `current`.
    TermsOutdated { current: TermsVersion },
    /// The session was ended by a logout (a copied cookie): 401.
    SessionEnded,
    /// 実行 for a version the record has moved on from (another tab saved since): the current record.
    StaleConfirmation(Box<SignupRecord>),
    /// A completed member's new address needs the 生年月日 again.
    ReverificationRequired,
}

/// The outcome of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The member is on this step now (written, or already there: a repeat answers the same).
    Step(Step),
    /// Refused (the record may still have been written: a failed identity check is counted).
    Refused(SignupError),
    /// A background command with nothing to do; the reason is a stable log code.
    Skipped(&'static str),
    /// Another delivery claimed this welcome mail moments ago and has not settled it: retry later.
    MailInFlight,
    /// A claim older than the lease was never settled: nobody knows whether the mail left.
    MailUnconfirmed,
}

impl Outcome {
    /// Whether deciding this outcome looked at the record's "sessions valid from" for a member's
    /// command (everything but the refusals decided before any read, and the ended session itself).
    pub fn session_checked(&self) -> bool {
        !matches!(self, Outcome::Refused(SignupError::SessionEnded | SignupError::ConsentRequired | SignupError::TermsOutdated { .. }))
    }
}

/// What `decide` wants written: the next record (version and `updated_at` are set by the writer)
/// and, for a consent, the agreement appended in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub record: SignupRecord,
    pub consent: Option<ConsentRecord>,
}

/// A decision: at most one write, and the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub write: Option<Write>,
    pub outcome: Outcome,
}

impl Transition {
    fn stay(outcome: Outcome) -> Self {
        Self { write: None, outcome }
    }

    fn write(record: SignupRecord, outcome: Outcome) -> Self {
        Self { write: Some(Write { record, consent: None }), outcome }
    }
}

/// One field a blind write sets (see `BlindWrite`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Set {
    State(Step),
    FailedAttempts(u32),
    LockedUntil(Option<DateTime<Utc>>),
    TermsVersion(TermsVersion),
    Email(Option<EmailAddress>),
    EmailProblem(Option<EmailProblem>),
    NotifyMedicalExpenses(bool),
    CompletedAt(DateTime<Utc>),
}

impl SignupRecord {
    /// The record with `sets` applied (what a blind write does to whatever is stored).
    pub fn apply(&mut self, sets: &[Set]) {
        for set in sets {
            match set.clone() {
                Set::State(step) => self.state = step,
                Set::FailedAttempts(n) => self.failed_attempts = n,
                Set::LockedUntil(t) => self.locked_until = t,
                Set::TermsVersion(v) => self.terms_version = Some(v),
                Set::Email(e) => self.email = e,
                Set::EmailProblem(p) => self.email_problem = p,
                Set::NotifyMedicalExpenses(b) => self.notify_medical_expenses = Some(b),
                Set::CompletedAt(t) => self.completed_at = Some(t),
            }
        }
    }
}

/// A transition decided without reading the record: one conditional write that applies only
/// where the stored record is in one of `from`. Where the condition fails, nothing is written and
/// the caller takes the ordinary path (read, `decide`, write), which answers repeats and
/// refusals. It saves the read on the member's path: DESIGN.md's "the condition is the expected
/// current state". For every record it applies to, the result equals `decide`'s (a property test
/// holds the two together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlindWrite {
    /// The stored states it applies to.
    pub from: Vec<Step>,
    /// The fields it sets (the version is bumped and `updated_at` set by the store).
    pub sets: Vec<Set>,
    /// Appended in the same transaction (the consent).
    pub consent: Option<ConsentRecord>,
    /// The step the member is on when it applied.
    pub outcome: Step,
    /// The stored version it applies to, where the command names one (実行 names the version its
    /// screen showed).
    pub version: Option<u64>,
    /// The issue time of the session that sent it: it applies only where that session was not
    /// ended since (`SignupRecord::accepts_session`).
    pub session_issued_at: Option<DateTime<Utc>>,
}

/// The blind write of `command`, where one exists: consent, preferences from 個人情報入力 or
/// 入力確認, confirm. The identity check has none (it needs the profile, read in the same Query as
/// the record), nor do refusals (`refuse_early`) and background commands. Every one applies to an
/// existing record only (the identity check creates it).
pub fn decide_blind(member: &MemberId, command: &Command, now: DateTime<Utc>, policy: &Policy) -> Option<BlindWrite> {
    if command.refuse_early(policy).is_some() {
        return None;
    }
    match command {
        Command::Consent { source_ip, .. } => {
            let consent = ConsentRecord { member_id: member.clone(), terms_version: policy.terms_version.clone(), agreed_at: now, source_ip: source_ip.clone() };
            Some(BlindWrite {
                from: vec![Step::Consent],
                sets: vec![Set::State(Step::Preferences), Set::TermsVersion(policy.terms_version.clone())],
                consent: Some(consent),
                outcome: Step::Preferences,
                version: None,
                session_issued_at: None,
            })
        }
        Command::SavePreferences { preferences: p, .. } => Some(BlindWrite {
            from: vec![Step::Preferences, Step::Confirm],
            sets: vec![Set::State(Step::Confirm), Set::Email(p.email().cloned()), Set::EmailProblem(None), Set::NotifyMedicalExpenses(p.notify_medical_expenses())],
            consent: None,
            outcome: Step::Confirm,
            version: None,
            session_issued_at: None,
        }),
        Command::Confirm { version } => Some(BlindWrite {
            from: vec![Step::Confirm],
            sets: vec![Set::State(Step::Completed), Set::CompletedAt(now)],
            consent: None,
            outcome: Step::Completed,
            version: Some(*version),
            session_issued_at: None,
        }),
        _ => None,
    }
}

/// A member's first identity check on its fast path: the record `decide` creates for a first,
/// matching attempt (version 1, at `now`) and the step it answers, for the store to write in one
/// request on the condition that the profile holds what the member typed and no record exists
/// (`SignupStore::create_signup_if_identity`). `None` where no record would be created (the
/// onboarding is closed): the ordinary path answers.
pub fn decide_first_identity(member: &MemberId, now: DateTime<Utc>, policy: &Policy) -> Option<(SignupRecord, Step)> {
    let fresh = SignupRecord::new(member.clone(), now);
    let transition = decide(&fresh, &Command::VerifyIdentity { matches: true }, now, policy);
    let (Some(write), Outcome::Step(step)) = (transition.write, transition.outcome) else { return None };
    if write.consent.is_some() {
        return None;
    }
    let mut record = write.record;
    record.version = fresh.version + 1;
    record.updated_at = now;
    Some((record, step))
}

impl BlindWrite {
    /// Whether the write applies to `stored` (the store's condition, as the embedded store
    /// evaluates it): an existing record in one of `from`.
    pub fn applies_to(&self, stored: Option<&SignupRecord>) -> bool {
        stored.is_some_and(|r| {
            self.from.contains(&r.state) && self.version.is_none_or(|v| r.version == v) && self.session_issued_at.is_none_or(|at| r.accepts_session(at))
        })
    }
}

/// The step a record is on. A completion before the onboarding cutoff counts as not done; a
/// completed member whose last consent is to older terms than `TERMS_VERSION` agrees again first
/// (`Reconsent`, DESIGN.md Part 2).
pub fn current_step(record: &SignupRecord, policy: &Policy) -> Step {
    match (record.state, record.completed_at) {
        (Step::Completed, Some(at)) if at >= start_of_japan_day(policy.onboarding_cutoff) => {
            if record.terms_version.as_ref() == Some(&policy.terms_version) { Step::Completed } else { Step::Reconsent }
        }
        (Step::Completed, _) => Step::Identity,
        (step, _) => step,
    }
}

/// The transition `command` makes from `record` (as read; `SignupRecord::new` if none is stored)
/// at `now`.
pub fn decide(record: &SignupRecord, command: &Command, now: DateTime<Utc>, policy: &Policy) -> Transition {
    if let Some(refusal) = command.refuse_early(policy) {
        return Transition::stay(Outcome::Refused(refusal));
    }
    let step = current_step(record, policy);
    // The next record starts from the step that counts (a stale completion restarts at Identity).
    // (`Reconsent` is never stored: its record stays `Completed`.)
    let mut next = SignupRecord { state: if step == Step::Reconsent { Step::Completed } else { step }, ..record.clone() };
    let wrong = || Transition::stay(Outcome::Refused(SignupError::WrongStep(step)));
    match command {
        Command::VerifyIdentity { matches } => verify_identity(next, step, *matches, now, policy),
        Command::Consent { source_ip, .. } => match step {
            Step::Consent => {
                next.state = Step::Preferences;
                next.terms_version = Some(policy.terms_version.clone());
                let consent = ConsentRecord { member_id: record.member_id.clone(), terms_version: policy.terms_version.clone(), agreed_at: now, source_ip: source_ip.clone() };
                Transition { write: Some(Write { record: next, consent: Some(consent) }), outcome: Outcome::Step(Step::Preferences) }
            }
            // New terms for a completed member: agreed again, still completed (no second
            // completion, so no welcome mail).
            Step::Reconsent => {
                next.state = Step::Completed;
                next.terms_version = Some(policy.terms_version.clone());
                let consent = ConsentRecord { member_id: record.member_id.clone(), terms_version: policy.terms_version.clone(), agreed_at: now, source_ip: source_ip.clone() };
                Transition { write: Some(Write { record: next, consent: Some(consent) }), outcome: Outcome::Step(Step::Completed) }
            }
            // A double click: the first request already moved on.
            Step::Preferences | Step::Completed => Transition::stay(Outcome::Step(step)),
            _ => wrong(),
        },
        Command::SavePreferences { preferences, birth_date_matches } => {
            next.state = match step {
                Step::Preferences | Step::Confirm => Step::Confirm,
                Step::Completed => Step::Completed,
                _ => return wrong(),
            };
            // A new address, or the old one removed (then added again, the notice would reach nobody).
            let new_address = preferences.email() != record.email.as_ref() && (record.email.is_some() || preferences.email().is_some());
            if step == Step::Completed && new_address {
                // Re-verification: a stolen session cannot move the member's mail elsewhere.
                match birth_date_matches {
                    None => return Transition::stay(Outcome::Refused(SignupError::ReverificationRequired)),
                    Some(false) => return verify_identity(next, step, false, now, policy),
                    Some(true) => {
                        if let Some(until) = next.locked_until.filter(|until| *until > now) {
                            let seconds = u64::try_from((until - now).num_seconds()).unwrap_or(0).max(1);
                            return Transition::stay(Outcome::Refused(SignupError::Locked { retry_after_seconds: seconds }));
                        }
                        next.locked_until = None;
                        next.failed_attempts = 0;
                        next.address_changed_at = Some(now);
                    }
                }
            }
            next.email = preferences.email().cloned();
            // The member has looked at the address again: mail may resume.
            next.email_problem = None;
            next.notify_medical_expenses = Some(preferences.notify_medical_expenses());
            let outcome = Outcome::Step(next.state);
            Transition::write(next, outcome)
        }
        Command::Confirm { version } => match step {
            Step::Confirm if *version != record.version => Transition::stay(Outcome::Refused(SignupError::StaleConfirmation(Box::new(record.clone())))),
            Step::Confirm => {
                next.state = Step::Completed;
                next.completed_at = Some(now);
                Transition::write(next, Outcome::Step(Step::Completed))
            }
            // Again after completion: the same answer, no second completion (no second mail).
            Step::Completed => Transition::stay(Outcome::Step(Step::Completed)),
            _ => wrong(),
        },
        Command::StopNotices => {
            if record.notify_medical_expenses != Some(true) {
                return Transition::stay(Outcome::Step(step));
            }
            let mut next = record.clone();
            next.notify_medical_expenses = Some(false);
            Transition::write(next, Outcome::Step(step))
        }
        Command::Unlock => {
            if record.locked_until.is_none() && record.failed_attempts == 0 {
                return Transition::stay(Outcome::Skipped("not_locked"));
            }
            let mut next = record.clone();
            (next.locked_until, next.failed_attempts) = (None, 0);
            Transition::write(next, Outcome::Step(step))
        }
        Command::ClaimWelcome => claim_welcome(record, now),
        Command::SettleWelcome { completed_at, settlement } => {
            if record.welcome_mail_for != Some(*completed_at) {
                return Transition::stay(Outcome::Skipped("claim_gone"));
            }
            let mut next = record.clone();
            match settlement {
                Settlement::Sent => next.welcome_sent_at = Some(now),
                Settlement::Rejected => next.email_problem = Some(EmailProblem::Rejected),
                Settlement::Released => {
                    next.welcome_mail_for = None;
                    next.welcome_claimed_at = None;
                }
            }
            Transition::write(next, Outcome::Step(record.state))
        }
        Command::MarkEmailProblem { problem, recipients } => {
            let Some(email) = record.email.as_ref() else { return Transition::stay(Outcome::Skipped("no_address")) };
            // The member may have changed the address since this mail: only the address it went to is marked.
            if !recipients.iter().any(|r| email.same_as_reported(r)) {
                return Transition::stay(Outcome::Skipped("address_changed"));
            }
            if record.email_problem == Some(*problem) {
                return Transition::stay(Outcome::Step(record.state));
            }
            let mut next = record.clone();
            next.email_problem = Some(*problem);
            Transition::write(next, Outcome::Step(record.state))
        }
    }
}

/// 本人確認 with the lockout: `lockout_attempts` failures lock the check for `lockout_seconds`;
/// the count starts again after a lock ends or on a match.
/// The identity check at any step. At the identity step a match moves on to consent; at a later
/// step (a double click, another tab, a completed member) a match answers the current step and a
/// wrong birth date is a failed attempt all the same, so no step is a free oracle (DESIGN.md Part
/// 2, "Identity attempts count at every step").
fn verify_identity(mut next: SignupRecord, step: Step, matches: bool, now: DateTime<Utc>, policy: &Policy) -> Transition {
    if let Some(until) = next.locked_until.filter(|until| *until > now) {
        let seconds = u64::try_from((until - now).num_seconds()).unwrap_or(0).max(1);
        return Transition::stay(Outcome::Refused(SignupError::Locked { retry_after_seconds: seconds }));
    }
    if next.locked_until.take().is_some() {
        // The lock is over: a fresh count.
        next.failed_attempts = 0;
    }
    if matches && step != Step::Identity {
        return Transition::stay(Outcome::Step(step));
    }
    if matches {
        next.state = Step::Consent;
        next.failed_attempts = 0;
        return Transition::write(next, Outcome::Step(Step::Consent));
    }
    next.failed_attempts += 1;
    let refusal = if next.failed_attempts >= policy.lockout_attempts {
        let seconds = i64::try_from(policy.lockout_seconds).unwrap_or(i64::MAX / 4);
        next.locked_until = Some(now + Duration::seconds(seconds));
        SignupError::Locked { retry_after_seconds: policy.lockout_seconds.max(1) }
    } else {
        SignupError::IdentityMismatch {
            remaining_attempts: policy.lockout_attempts - next.failed_attempts,
            lockout_minutes: policy.lockout_seconds.div_ceil(60),
        }
    };
    Transition::write(next, Outcome::Refused(refusal))
}

/// The welcome mail of the current completion: claimed once (exactly once, or reported).
fn claim_welcome(record: &SignupRecord, now: DateTime<Utc>) -> Transition {
    let Some(completed_at) = record.completed_at.filter(|_| record.state == Step::Completed) else {
        return Transition::stay(Outcome::Skipped("not_completed"));
    };
    if record.email.is_none() {
        return Transition::stay(Outcome::Skipped("no_address"));
    }
    if record.email_problem.is_some() {
        return Transition::stay(Outcome::Skipped("address_problem"));
    }
    if record.welcome_mail_for == Some(completed_at) {
        if record.welcome_sent_at.is_some() {
            return Transition::stay(Outcome::Skipped("already_sent"));
        }
        let fresh = record.welcome_claimed_at.is_some_and(|at| now - at < Duration::seconds(CLAIM_LEASE_SECONDS));
        return Transition::stay(if fresh { Outcome::MailInFlight } else { Outcome::MailUnconfirmed });
    }
    let mut next = record.clone();
    next.welcome_mail_for = Some(completed_at);
    next.welcome_claimed_at = Some(now);
    next.welcome_sent_at = None;
    Transition::write(next, Outcome::Step(Step::Completed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn policy() -> Policy {
        Policy {
            terms_version: TermsVersion::parse("2026-11-01").unwrap(),
            onboarding_cutoff: NaiveDate::from_ymd_opt(2022, 8, 1).unwrap(),
            lockout_attempts: 3,
            lockout_seconds: 1800,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap()
    }

    fn on(step: Step) -> SignupRecord {
        let mut r = SignupRecord::new(MemberId::parse("M1").unwrap(), now());
        r.state = step;
        r.version = 4;
        if step == Step::Completed {
            r.completed_at = Some(now() - Duration::days(1));
            r.terms_version = Some(policy().terms_version);
        }
        r
    }

    /// 実行 from a screen that showed version 4 (`on`'s).
    fn confirm() -> Command {
        Command::Confirm { version: 4 }
    }

    fn run(record: &SignupRecord, command: Command) -> Transition {
        decide(record, &command, now(), &policy())
    }

    fn written(t: &Transition) -> &SignupRecord {
        &t.write.as_ref().expect("a write").record
    }

    fn consent(agreed: bool, version: &str) -> Command {
        Command::Consent { agreed, terms_version: version.into(), source_ip: Some("192.0.2.1".into()) }
    }

    fn prefs(email: Option<&str>, notify: bool) -> Command {
        let email = email.map(|e| EmailAddress::parse_optional(e).unwrap().unwrap());
        Command::SavePreferences { preferences: Preferences::new(email, notify).unwrap(), birth_date_matches: None }
    }

    fn prefs_with_birth_date(email: &str, matches: bool) -> Command {
        let email = EmailAddress::parse_optional(email).unwrap();
        Command::SavePreferences { preferences: Preferences::new(email, true).unwrap(), birth_date_matches: Some(matches) }
    }

    /// DESIGN.md Part 2: 実行 confirms only what its screen showed.
    #[test]
    fn a_confirmation_of_an_older_version_is_stale_and_a_completed_one_answers_whatever_version() {
        let r = on(Step::Confirm);
        assert_eq!(run(&r, Command::Confirm { version: 3 }), Transition::stay(Outcome::Refused(SignupError::StaleConfirmation(Box::new(r.clone())))));
        assert_eq!(run(&r, confirm()).outcome, Outcome::Step(Step::Completed));
        assert_eq!(run(&on(Step::Completed), Command::Confirm { version: 99 }), Transition::stay(Outcome::Step(Step::Completed)));
        let blind = decide_blind(&r.member_id, &Command::Confirm { version: 3 }, now(), &policy()).unwrap();
        assert!(!blind.applies_to(Some(&r)), "the store's condition holds the version too");
        assert!(decide_blind(&r.member_id, &confirm(), now(), &policy()).unwrap().applies_to(Some(&r)));
    }

    /// New terms: a completed member agrees again before anything else, and stays completed.
    #[test]
    fn new_terms_ask_a_completed_member_to_agree_again_without_a_second_completion() {
        let mut r = on(Step::Completed);
        r.terms_version = Some(TermsVersion::parse("2025-04-01").unwrap());
        assert_eq!(current_step(&r, &policy()), Step::Reconsent);
        for command in [prefs(None, false), confirm()] {
            assert_eq!(run(&r, command).outcome, Outcome::Refused(SignupError::WrongStep(Step::Reconsent)));
        }
        assert_eq!(run(&r, consent(true, "2025-04-01")).outcome, Outcome::Refused(SignupError::TermsOutdated { current: policy().terms_version }));
        let t = run(&r, consent(true, "2026-11-01"));
        assert_eq!(t.outcome, Outcome::Step(Step::Completed));
        let agreed = written(&t);
        assert_eq!((agreed.state, agreed.completed_at, agreed.terms_version.clone()), (Step::Completed, r.completed_at, Some(policy().terms_version)));
        assert!(t.write.as_ref().unwrap().consent.is_some(), "the agreement is recorded");
        assert_eq!(current_step(agreed, &policy()), Step::Completed);
        let change = crate::store::SignupChange { old: Some(r.clone()), new: agreed.clone() };
        assert!(!change.is_completion(), "no welcome mail for a reconsent");
        assert_eq!(run(agreed, consent(true, "2026-11-01")), Transition::stay(Outcome::Step(Step::Completed)), "a double click");
    }

    /// A session is accepted from its record's `sessionsValidFrom` on (to the microsecond), and a
    /// blind write from an ended session applies nowhere (the store's condition holds it too).
    #[test]
    fn an_ended_session_is_refused_by_the_record_and_by_the_blind_writes() {
        let mut r = on(Step::Preferences);
        r.sessions_valid_from = Some(now());
        assert!(!r.accepts_session(now() - Duration::microseconds(1)));
        assert!(r.accepts_session(now()));
        let blind = decide_blind(&r.member_id, &prefs(None, false), now(), &policy()).unwrap();
        assert!(!BlindWrite { session_issued_at: Some(now() - Duration::seconds(5)), ..blind.clone() }.applies_to(Some(&r)));
        assert!(BlindWrite { session_issued_at: Some(now()), ..blind }.applies_to(Some(&r)));
    }

    /// The one-click unsubscribe: 必要 becomes 不要 at any step, the address and the step kept; again: nothing.
    #[test]
    fn stopping_the_notices_keeps_everything_else() {
        let mut r = on(Step::Completed);
        r.email = EmailAddress::parse_optional("taro@example.jp").unwrap();
        r.notify_medical_expenses = Some(true);
        let t = run(&r, Command::StopNotices);
        assert_eq!(written(&t), &SignupRecord { notify_medical_expenses: Some(false), ..r.clone() });
        assert_eq!(run(written(&t), Command::StopNotices), Transition::stay(Outcome::Step(Step::Completed)));
    }

    /// DESIGN.md Part 2: a completed member's new address needs the birth date, counted.
    #[test]
    fn a_new_address_after_completion_needs_the_birth_date_and_a_wrong_one_counts() {
        let mut r = on(Step::Completed);
        r.email = EmailAddress::parse_optional("old@example.jp").unwrap();
        assert_eq!(run(&r, prefs(Some("new@example.jp"), true)), Transition::stay(Outcome::Refused(SignupError::ReverificationRequired)));
        // The same address: no birth date needed. Removing it needs one (else a thief would
        // remove it, then add theirs, and the notice would reach nobody).
        assert_eq!(run(&r, prefs(Some("old@example.jp"), false)).outcome, Outcome::Step(Step::Completed));
        assert_eq!(run(&r, prefs(None, false)), Transition::stay(Outcome::Refused(SignupError::ReverificationRequired)));
        let removed = run(&r, Command::SavePreferences { preferences: Preferences::new(None, false).unwrap(), birth_date_matches: Some(true) });
        assert_eq!((written(&removed).email.clone(), written(&removed).address_changed_at), (None, Some(now())), "the old address is told");
        // During the onboarding: none needed either.
        assert_eq!(run(&on(Step::Preferences), prefs(Some("new@example.jp"), true)).outcome, Outcome::Step(Step::Confirm));
        let wrong = run(&r, prefs_with_birth_date("new@example.jp", false));
        assert_eq!(wrong.outcome, Outcome::Refused(SignupError::IdentityMismatch { remaining_attempts: 2, lockout_minutes: 30 }));
        let counted = written(&wrong).clone();
        assert_eq!((counted.failed_attempts, counted.email.clone()), (1, r.email.clone()), "counted, address unchanged");
        let right = run(&counted, prefs_with_birth_date("new@example.jp", true));
        assert_eq!(right.outcome, Outcome::Step(Step::Completed));
        assert_eq!((written(&right).failed_attempts, written(&right).email.as_ref().map(EmailAddress::as_str)), (0, Some("new@example.jp")));
        let mut locked = counted;
        locked.locked_until = Some(now() + Duration::seconds(90));
        assert_eq!(run(&locked, prefs_with_birth_date("new@example.jp", true)).outcome, Outcome::Refused(SignupError::Locked { retry_after_seconds: 90 }));
    }

    #[test]
    fn completion_before_the_cutoff_means_onboarding_again() {
        let mut r = on(Step::Completed);
        r.completed_at = Some(Utc.with_ymd_and_hms(2022, 7, 31, 14, 59, 59).unwrap()); // 23:59:59 JST
        assert_eq!(current_step(&r, &policy()), Step::Identity);
        let t = run(&r, Command::VerifyIdentity { matches: true });
        assert_eq!(t.outcome, Outcome::Step(Step::Consent));
        r.completed_at = Some(Utc.with_ymd_and_hms(2022, 7, 31, 15, 0, 0).unwrap()); // 00:00 JST
        assert_eq!(current_step(&r, &policy()), Step::Completed);
        assert_eq!(run(&r, Command::VerifyIdentity { matches: true }), Transition::stay(Outcome::Step(Step::Completed)));
    }

    #[test]
    fn a_first_identity_check_creates_what_the_loop_would_write() {
        let member = MemberId::parse("M1").unwrap();
        let (record, step) = decide_first_identity(&member, now(), &policy()).expect("a fast path");
        let fresh = SignupRecord::new(member, now());
        let t = run(&fresh, Command::VerifyIdentity { matches: true });
        let mut expected = written(&t).clone();
        expected.version = 1;
        expected.updated_at = now();
        assert_eq!((record, Outcome::Step(step)), (expected, t.outcome));
        assert_eq!(step, Step::Consent);
    }

    #[test]
    fn the_happy_path_walks_every_step_in_order() {
        let mut r = on(Step::Identity);
        for (command, expected) in [
            (Command::VerifyIdentity { matches: true }, Step::Consent),
            (consent(true, "2026-11-01"), Step::Preferences),
            (prefs(Some("taro@example.jp"), true), Step::Confirm),
            (confirm(), Step::Completed),
        ] {
            let t = run(&r, command);
            assert_eq!(t.outcome, Outcome::Step(expected));
            r = written(&t).clone();
            assert_eq!(r.state, expected);
            // The writer sets the version; decide never touches it.
            assert_eq!(r.version, 4);
        }
        assert_eq!(r.completed_at, Some(now()));
        assert_eq!(r.terms_version.as_ref().map(TermsVersion::as_str), Some("2026-11-01"));
    }

    #[test]
    fn repeats_answer_the_same_without_a_write_and_skipping_is_refused() {
        assert_eq!(run(&on(Step::Consent), Command::VerifyIdentity { matches: true }), Transition::stay(Outcome::Step(Step::Consent)));
        assert_eq!(run(&on(Step::Preferences), consent(true, "2026-11-01")), Transition::stay(Outcome::Step(Step::Preferences)));
        assert_eq!(run(&on(Step::Completed), confirm()), Transition::stay(Outcome::Step(Step::Completed)));
        for (step, command) in [
            (Step::Identity, consent(true, "2026-11-01")),
            (Step::Identity, prefs(None, false)),
            (Step::Consent, prefs(None, false)),
            (Step::Preferences, confirm()),
            (Step::Identity, confirm()),
        ] {
            assert_eq!(run(&on(step), command.clone()), Transition::stay(Outcome::Refused(SignupError::WrongStep(step))), "{step:?} {command:?}");
        }
    }

    /// DESIGN.md Part 2: no step is a free oracle for the birth date.
    #[test]
    fn a_wrong_birth_date_counts_at_every_later_step_and_the_right_one_answers_the_step() {
        for step in [Step::Consent, Step::Preferences, Step::Confirm, Step::Completed] {
            let mut r = on(step);
            assert_eq!(run(&r, Command::VerifyIdentity { matches: true }), Transition::stay(Outcome::Step(step)), "{step:?}");
            for remaining in (1..policy().lockout_attempts).rev() {
                let t = run(&r, Command::VerifyIdentity { matches: false });
                assert_eq!(t.outcome, Outcome::Refused(SignupError::IdentityMismatch { remaining_attempts: remaining, lockout_minutes: 30 }), "{step:?}");
                r = written(&t).clone();
                assert_eq!(r.state, step, "a failed attempt never moves the step");
            }
            let t = run(&r, Command::VerifyIdentity { matches: false });
            assert!(matches!(t.outcome, Outcome::Refused(SignupError::Locked { .. })), "{step:?}");
            let locked = written(&t).clone();
            assert!(matches!(run(&locked, Command::VerifyIdentity { matches: true }).outcome, Outcome::Refused(SignupError::Locked { .. })), "the right date is refused while locked");
        }
    }

    #[test]
    fn consent_is_refused_before_the_step_is_looked_at() {
        assert_eq!(run(&on(Step::Identity), consent(false, "2026-11-01")).outcome, Outcome::Refused(SignupError::ConsentRequired));
        let outdated = run(&on(Step::Consent), consent(true, "2026-10-01"));
        assert_eq!(outdated.outcome, Outcome::Refused(SignupError::TermsOutdated { current: policy().terms_version }));
        assert!(outdated.write.is_none());
        let agreed = run(&on(Step::Consent), consent(true, "2026-11-01"));
        let c = agreed.write.unwrap().consent.expect("the agreement is appended");
        assert_eq!((c.agreed_at, c.source_ip.as_deref()), (now(), Some("192.0.2.1")));
    }

    #[test]
    fn preferences_from_confirm_and_after_completion_keep_the_step_and_clear_a_problem() {
        let mut r = on(Step::Completed);
        r.email_problem = Some(EmailProblem::Bounced);
        r.email = EmailAddress::parse_optional("hanako@example.jp").unwrap();
        // The same address looked at again (a new one needs the birth date: see below).
        let t = run(&r, prefs(Some("hanako@example.jp"), false));
        assert_eq!(t.outcome, Outcome::Step(Step::Completed));
        assert_eq!(written(&t).email_problem, None);
        assert_eq!(written(&t).notify_medical_expenses, Some(false));
        assert_eq!(run(&on(Step::Confirm), prefs(None, false)).outcome, Outcome::Step(Step::Confirm));
    }

    #[test]
    fn failures_count_then_lock_and_the_lock_ends() {
        let mut r = on(Step::Identity);
        let first = run(&r, Command::VerifyIdentity { matches: false });
        assert_eq!(first.outcome, Outcome::Refused(SignupError::IdentityMismatch { remaining_attempts: 2, lockout_minutes: 30 }));
        r = written(&first).clone();
        r = written(&run(&r, Command::VerifyIdentity { matches: false })).clone();
        let third = run(&r, Command::VerifyIdentity { matches: false });
        assert_eq!(third.outcome, Outcome::Refused(SignupError::Locked { retry_after_seconds: 1800 }));
        r = written(&third).clone();
        assert_eq!(r.locked_until, Some(now() + Duration::seconds(1800)));
        // Locked: even the right answer is refused, and nothing is written.
        let later = decide(&r, &Command::VerifyIdentity { matches: true }, now() + Duration::seconds(1799) + Duration::milliseconds(500), &policy());
        assert_eq!(later, Transition::stay(Outcome::Refused(SignupError::Locked { retry_after_seconds: 1 })));
        // After the lock: a fresh count.
        let after = decide(&r, &Command::VerifyIdentity { matches: false }, now() + Duration::seconds(1800), &policy());
        assert_eq!(after.outcome, Outcome::Refused(SignupError::IdentityMismatch { remaining_attempts: 2, lockout_minutes: 30 }));
        assert_eq!(written(&after).locked_until, None);
        let ok = decide(&r, &Command::VerifyIdentity { matches: true }, now() + Duration::seconds(1800), &policy());
        assert_eq!(ok.outcome, Outcome::Step(Step::Consent));
        assert_eq!(written(&ok).failed_attempts, 0);
    }

    #[test]
    fn the_welcome_mail_is_claimed_once_per_completion() {
        let mut r = on(Step::Completed);
        assert_eq!(run(&r, Command::ClaimWelcome).outcome, Outcome::Skipped("no_address"));
        r.email = EmailAddress::parse_optional("taro@example.jp").unwrap();
        let claim = run(&r, Command::ClaimWelcome);
        assert_eq!(claim.outcome, Outcome::Step(Step::Completed));
        let claimed = written(&claim).clone();
        assert_eq!(claimed.welcome_mail_for, r.completed_at);
        assert_eq!(run(&claimed, Command::ClaimWelcome).outcome, Outcome::MailInFlight);
        let stale = decide(&claimed, &Command::ClaimWelcome, now() + Duration::seconds(CLAIM_LEASE_SECONDS), &policy());
        assert_eq!(stale.outcome, Outcome::MailUnconfirmed);
        let completed_at = r.completed_at.unwrap();
        let sent = written(&run(&claimed, Command::SettleWelcome { completed_at, settlement: Settlement::Sent })).clone();
        assert_eq!(run(&sent, Command::ClaimWelcome).outcome, Outcome::Skipped("already_sent"));
        let released = written(&run(&claimed, Command::SettleWelcome { completed_at, settlement: Settlement::Released })).clone();
        assert_eq!(run(&released, Command::ClaimWelcome).outcome, Outcome::Step(Step::Completed));
        let rejected = written(&run(&claimed, Command::SettleWelcome { completed_at, settlement: Settlement::Rejected })).clone();
        assert_eq!(run(&rejected, Command::ClaimWelcome).outcome, Outcome::Skipped("address_problem"));
        // A new completion (after the cutoff moved) is a new mail; a settle for an old one changes nothing.
        let old = Command::SettleWelcome { completed_at: completed_at - Duration::days(1), settlement: Settlement::Sent };
        assert_eq!(run(&claimed, old), Transition::stay(Outcome::Skipped("claim_gone")));
        assert_eq!(run(&on(Step::Confirm), Command::ClaimWelcome).outcome, Outcome::Skipped("not_completed"));
    }

    /// Every record a blind write applies to ends exactly as `decide` would leave it.
    #[test]
    fn a_blind_write_equals_the_decision_on_every_record_it_applies_to() {
        let member = MemberId::parse("M1").unwrap();
        let commands = [consent(true, "2026-11-01"), prefs(Some("taro@example.jp"), true), prefs(None, false), confirm()];
        let mut checked = 0;
        for step in Step::ALL {
            for (email, problem, notify, locked, attempts) in [
                (None, None, None, None, 0),
                (EmailAddress::parse_optional("old@example.jp").unwrap(), Some(EmailProblem::Bounced), Some(true), Some(now() - Duration::seconds(1)), 4),
                (EmailAddress::parse_optional("old@example.jp").unwrap(), Some(EmailProblem::Complained), Some(false), Some(now() + Duration::seconds(60)), 5),
            ] {
                let mut r = on(step);
                (r.email, r.email_problem, r.notify_medical_expenses, r.locked_until, r.failed_attempts) = (email, problem, notify, locked, attempts);
                for command in commands.iter() {
                    let blind = decide_blind(&member, command, now(), &policy()).expect("blind");
                    if !blind.applies_to(Some(&r)) {
                        continue;
                    }
                    let decided = run(&r, command.clone());
                    let mut applied = r.clone();
                    applied.apply(&blind.sets);
                    assert_eq!(Some(&applied), decided.write.as_ref().map(|w| &w.record), "{step:?} {command:?}");
                    assert_eq!(decided.write.as_ref().and_then(|w| w.consent.clone()), blind.consent);
                    assert_eq!(decided.outcome, Outcome::Step(blind.outcome));
                    checked += 1;
                }
            }
        }
        assert!(checked >= 12, "{checked}");
        // No record yet: nothing applies. Refusals, the identity check and background commands have no blind write.
        assert!(!decide_blind(&member, &confirm(), now(), &policy()).unwrap().applies_to(None));
        assert!(decide_blind(&member, &consent(false, "2026-11-01"), now(), &policy()).is_none());
        assert!(decide_blind(&member, &Command::VerifyIdentity { matches: true }, now(), &policy()).is_none());
        assert!(decide_blind(&member, &Command::ClaimWelcome, now(), &policy()).is_none());
    }

    #[test]
    fn only_the_address_the_mail_went_to_is_marked() {
        let mut r = on(Step::Completed);
        r.email = EmailAddress::parse_optional("taro..yamada@docomo.ne.jp").unwrap();
        let mark = |recipients: &[&str]| Command::MarkEmailProblem { problem: EmailProblem::Bounced, recipients: recipients.iter().map(|s| s.to_string()).collect() };
        assert_eq!(run(&r, mark(&["hanako@example.jp"])), Transition::stay(Outcome::Skipped("address_changed")));
        let t = run(&r, mark(&["\"taro..yamada\"@Docomo.ne.jp"]));
        assert_eq!(written(&t).email_problem, Some(EmailProblem::Bounced));
        assert!(run(written(&t), mark(&["taro..yamada@docomo.ne.jp"])).write.is_none(), "marked already");
    }

    /// `kenpo unlock`: the lock and the count go, the rest stays; an unlocked member: nothing.
    #[test]
    fn an_operator_unlock_ends_the_lock_and_the_count_only() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 1, 0, 0).unwrap();
        let mut r = SignupRecord::new(MemberId::parse("M1").unwrap(), now);
        (r.failed_attempts, r.locked_until, r.email) = (5, Some(now + Duration::minutes(30)), EmailAddress::from_stored("a@example.jp"));
        let t = decide(&r, &Command::Unlock, now, &policy());
        let written = t.write.as_ref().map(|w| w.record.clone()).unwrap();
        assert_eq!(written, SignupRecord { failed_attempts: 0, locked_until: None, ..r.clone() });
        assert_eq!(decide(&written, &Command::Unlock, now, &policy()), Transition::stay(Outcome::Skipped("not_locked")));
    }

}
