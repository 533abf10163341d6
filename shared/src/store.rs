//! The `SignupStore` port: members, the signup state machine's record, consents, used tokens.
//!
//! Every signup write is ONE conditional write: `Expect::Absent` (create) or `Expect::Version(v)`
//! (the record is still the one the caller read, so its state is the expected one). A failed
//! condition is a domain outcome (`WriteError::Conflict`) carrying the current record, so callers
//! tell "already there" (answer 200 again) from "wrong state" (409).

pub mod dynamodb;
pub mod embedded;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{BirthDate, EmailAddress, InsurerNumber, MemberId, Preferences, Step, TermsVersion};

/// A member as loaded by the society (`MEMBER#<id>` / `PROFILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProfile {
    pub member_id: MemberId,
    pub insurer_number: InsurerNumber,
    pub birth_date: BirthDate,
    pub category: Option<String>,
}

/// The signup state machine's record (`MEMBER#<id>` / `SIGNUP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupRecord {
    pub member_id: MemberId,
    pub state: Step,
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
    pub updated_at: DateTime<Utc>,
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

impl SignupRecord {
    /// A member who has not started yet.
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
            updated_at: now,
        }
    }

    pub fn preferences(&self) -> Option<Preferences> {
        self.notify_medical_expenses.and_then(|notify| Preferences::new(self.email.clone(), notify).ok())
    }

    /// The next version of this record, to be written with `Expect::Version(self.version)`.
    pub fn next(&self, now: DateTime<Utc>) -> Self {
        Self { version: self.version + 1, updated_at: now, ..self.clone() }
    }
}

/// One agreement to the terms (`MEMBER#<id>` / `CONSENT#<timestamp>`), append-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub member_id: MemberId,
    pub terms_version: TermsVersion,
    pub agreed_at: DateTime<Utc>,
    pub source_ip: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No signup record exists yet.
    Absent,
    /// The stored record still has this version.
    Version(u64),
}

impl Expect {
    /// What a write of `record` (already `next()`-ed, or new) expects to find.
    pub fn for_write_of(record: &SignupRecord) -> Self {
        match record.version {
            // A record that was never stored has version 0; its first write is version 1.
            0 | 1 => Expect::Absent,
            v => Expect::Version(v - 1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out, or the service failed: the member may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item that cannot be read back into the domain.
    #[error("stored item unreadable: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "store_unavailable",
            StoreError::Corrupt(_) => "store_corrupt",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The condition failed; the record as it is now (None: there is none).
    #[error("conditional write lost")]
    Conflict(Option<Box<SignupRecord>>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A committed change of a signup record, as the table's stream carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupChange {
    pub old: Option<SignupRecord>,
    pub new: SignupRecord,
}

#[async_trait]
pub trait SignupStore: Send + Sync {
    async fn put_members(&self, members: &[MemberProfile]) -> Result<(), StoreError>;
    async fn get_member(&self, id: &MemberId) -> Result<Option<MemberProfile>, StoreError>;

    async fn get_signup(&self, id: &MemberId) -> Result<Option<SignupRecord>, StoreError>;
    /// Write `record` if the stored one matches `expect`.
    async fn put_signup(&self, record: &SignupRecord, expect: Expect) -> Result<(), WriteError>;
    /// Write `record` and append `consent`, both or neither.
    async fn put_signup_with_consent(&self, record: &SignupRecord, expect: Expect, consent: &ConsentRecord) -> Result<(), WriteError>;
    async fn list_consents(&self, id: &MemberId) -> Result<Vec<ConsentRecord>, StoreError>;

    /// Record a hand-off token's `jti` as used. `false`: it was used already (a replay).
    async fn claim_token(&self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// Timestamps as stored: RFC 3339, UTC, microseconds (sortable as text).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}
