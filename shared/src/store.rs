//! The `SignupStore` port: members, the signup state machine's record, consents, used tokens.
//!
//! Every signup write is ONE conditional write: `put_signup` with `Expect::Absent` (create) or
//! `Expect::Version(v)` (the record is still the one the caller read), whose failed condition is a
//! domain outcome (`WriteError::Conflict`) carrying the current record, so callers tell "already
//! there" (answer 200 again) from "wrong state" (409); or `put_signup_blind`, conditioned on the
//! expected stored state without a read, answering `false` when that condition fails.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod embedded;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{BirthDate, InsurerNumber, MemberId};

/// A member as loaded by the society (`MEMBER#<id>` / `PROFILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProfile {
    pub member_id: MemberId,
    pub insurer_number: InsurerNumber,
    pub birth_date: BirthDate,
    pub category: Option<String>,
    /// 被保険者氏名 (1–40 characters), for the documents; `None` when the file has none.
    pub name: Option<String>,
    /// 資格喪失日 (Japan date); `None` while a member. Statements stay readable for 24 months after
    /// it (DESIGN.md Part 2, `ACCESS_AFTER_LEAVING_MONTHS`).
    pub left_on: Option<chrono::NaiveDate>,
}

pub use crate::signup::{BlindWrite, ConsentRecord, EmailProblem, SignupRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No signup record exists yet.
    Absent,
    /// The stored record still has this version.
    Version(u64),
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

impl SignupChange {
    /// The one change the welcome mail follows: a transition INTO `Completed` (the old image
    /// absent or not completed). The welcome mail's own claim and "sent" writes, and later
    /// preference saves of a completed member, are not completions and never re-trigger it.
    /// The template's stream `FilterCriteria` say the same (a test holds the two together).
    /// The previous address of a completed member who changed it (`SignupRecord::address_changed_at`
    /// moved): it gets 「メールアドレスが変更されました」. `None` for any other change, for a member
    /// who had no address, or one whose previous address bounced or complained.
    pub fn address_notice(&self) -> Option<crate::domain::EmailAddress> {
        use crate::domain::Step;
        let old = self.old.as_ref()?;
        let moved = self.new.address_changed_at.is_some() && self.new.address_changed_at != old.address_changed_at;
        let completed = old.state == Step::Completed && self.new.state == Step::Completed;
        let previous = old.email.clone().filter(|a| self.new.email.as_ref() != Some(a) && old.email_problem.is_none())?;
        (moved && completed).then_some(previous)
    }

    /// Whether the mail function has something to do with this change (a welcome mail or an
    /// address notice); the dev server's feed and the template's filter let through these.
    pub fn calls_for_mail(&self) -> bool {
        self.is_completion() || self.address_notice().is_some()
    }

    pub fn is_completion(&self) -> bool {
        use crate::domain::Step;
        self.new.state == Step::Completed && self.old.as_ref().is_none_or(|old| old.state != Step::Completed)
    }
}

#[async_trait]
pub trait SignupStore: Send + Sync {
    async fn put_members(&self, members: &[MemberProfile]) -> Result<(), StoreError>;
    async fn get_member(&self, id: &MemberId) -> Result<Option<MemberProfile>, StoreError>;

    async fn get_signup(&self, id: &MemberId) -> Result<Option<SignupRecord>, StoreError>;
    /// The member's profile and signup record together (DynamoDB: one Query of the member's
    /// partition from `PROFILE` on, strongly consistent), for the steps that need both.
    async fn get_member_and_signup(&self, id: &MemberId) -> Result<(Option<MemberProfile>, Option<SignupRecord>), StoreError> {
        Ok((self.get_member(id).await?, self.get_signup(id).await?))
    }
    /// Write `record` if the stored one matches `expect`.
    async fn put_signup(&self, record: &SignupRecord, expect: Expect) -> Result<(), WriteError>;
    /// Write `record` and append `consent`, both or neither.
    async fn put_signup_with_consent(&self, record: &SignupRecord, expect: Expect, consent: &ConsentRecord) -> Result<(), WriteError>;
    /// Apply `write` to `member`'s existing signup record in one conditional request, without
    /// reading it, if its condition holds (`BlindWrite::applies_to`). The version is bumped and
    /// `updated_at` set to `now`. `Ok(false)`: the condition failed and nothing was written (the
    /// caller then takes the ordinary path).
    async fn put_signup_blind(&self, member: &MemberId, write: &BlindWrite, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Create `member`'s first signup record in one conditional request, without reading: only if
    /// the member's profile holds exactly `insurer_number` and `birth_date` and no signup record
    /// exists yet (DynamoDB: one TransactWriteItems, a ConditionCheck on `PROFILE` and a Put of
    /// `SIGNUP` with `attribute_not_exists`). `Ok(false)`: a condition failed (no such member, a
    /// different identity, a record already there) and nothing was written; the caller then reads
    /// and decides as usual, so a mismatch still counts as a failed attempt.
    async fn create_signup_if_identity(&self, record: &SignupRecord, insurer_number: &InsurerNumber, birth_date: &BirthDate) -> Result<bool, StoreError>;
    async fn list_consents(&self, id: &MemberId) -> Result<Vec<ConsentRecord>, StoreError>;

    /// ログアウト: sessions of `member` issued before `at` (UTC, µs) end, on every device. One
    /// request that sets only `sessionsValidFrom` (and bumps the version and `updatedAt`) on the
    /// existing record, or, for a member who has none yet, creates it at the identity step with
    /// only that (DynamoDB: an UpdateItem of those attributes, so the logout's role may write no
    /// other). Never moves the time back.
    async fn end_sessions(&self, member: &MemberId, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Record a hand-off token's `jti` as used. `false`: it was used already (a replay).
    async fn claim_token(&self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// The account's next mail send slot, shared by every sender of every kind (the welcome mail,
    /// the address notice, the update notices; DESIGN.md Part 2, "Pacing": `NOTIFY_SEND_RATE`
    /// "in any sliding one-second window, welcome mails included"): the start of a slot
    /// `interval` long (UTC, whole milliseconds, never before `now`), no other caller's; a caller
    /// sends no earlier than its slot's start, so slots `interval` apart hold the account's rate.
    /// Never a slot more than `SEND_SLOT_MAX_AHEAD_SECONDS` ahead: a ledger that far ahead (a
    /// burst of senders) gives `Full` and moves nothing (the caller waits and asks again, so a
    /// burst drains at the rate and no slot is taken and left unused). A ledger more than
    /// `SEND_SLOT_HORIZON_SECONDS` ahead of `now` (a clock that jumped, an item written by hand)
    /// starts again at `now`. While sending is paused (`pause_sending`): the pause's end, no slot.
    ///
    /// DynamoDB: the `SENDRATE` item; one UpdateItem when the ledger is busy, a second when it was
    /// idle (1 WRU each), a GetItem of the pause when both conditions fail.
    async fn reserve_send_slot(&self, now: DateTime<Utc>, interval: chrono::Duration) -> Result<SendSlot, StoreError>;

    /// Pauses every sender until `until` (UTC): SES's daily quota was reached (a rolling 24 hours).
    /// A pause already in force is kept (a second sender hitting the quota moments later does not
    /// push the end out). Returns the pause in force.
    async fn pause_sending(&self, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError>;
}

/// How far ahead of now the send-rate ledger may plausibly be (seconds): a few senders' slots.
pub const SEND_SLOT_HORIZON_SECONDS: i64 = 60;

/// How far ahead of now a slot may be (seconds): a sender never waits longer than this for one.
pub const SEND_SLOT_MAX_AHEAD_SECONDS: i64 = 15;

/// What the send-rate ledger gives a sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendSlot {
    /// Send no earlier than this (UTC).
    At(DateTime<Utc>),
    /// Every slot within `SEND_SLOT_MAX_AHEAD_SECONDS` is taken: ask again in a moment.
    Full,
    /// Sending is paused (SES's daily quota) until this (UTC): send nothing.
    PausedUntil(DateTime<Utc>),
}

/// `t` rounded up to the millisecond (the ledger's resolution: a slot is never before `t`).
pub fn ceil_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    let millis = t.timestamp_millis() + i64::from(t.timestamp_subsec_nanos() % 1_000_000 != 0);
    DateTime::from_timestamp_millis(millis).unwrap_or(t)
}

/// Timestamps as stored: RFC 3339, UTC, microseconds (sortable as text).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}
