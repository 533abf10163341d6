//! The one retry loop every signup writer uses (the steps, the welcome mail, the bounce handler):
//! start from the record already read (or read it once), decide (`crate::signup::decide`), write
//! conditionally on the version that was read, and on a lost race decide again on the record that
//! won. DESIGN.md: "Every transition is one conditional write".

use crate::clock::Clock;
use crate::domain::MemberId;
use crate::signup::{Command, Outcome, Policy, SignupRecord, decide, decide_blind};
use crate::store::{Expect, SignupStore, StoreError, WriteError};

/// How often a command re-decides after losing a race before giving up (`Contended`).
pub const MAX_TRIES: usize = 5;

/// Where the loop starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// Read the record first (one strongly consistent read).
    Read,
    /// The record as already read (`None`: there is none yet), e.g. from the query that also
    /// fetched the member's profile, or from a stream image. Where `decide` writes, a stale one
    /// only costs a lost race (then the loop reads); where it decides not to write, it answers
    /// from this record as given.
    Known(Option<SignupRecord>),
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The record as it stands now: the one written, or the one read when nothing was written.
    pub record: SignupRecord,
    pub outcome: Outcome,
    /// Whether this call wrote the record.
    pub wrote: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Lost `MAX_TRIES` races in a row.
    #[error("lost too many races for the signup record")]
    Contended,
}

impl ApplyError {
    /// Stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            ApplyError::Store(e) => e.code(),
            ApplyError::Contended => "transition_contended",
        }
    }
}

/// Who sends a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The member, with a session issued at this time (UTC): refused with
    /// `SignupError::SessionEnded` where the record says that session was ended (logout), before
    /// anything is decided.
    Member { session_issued_at: chrono::DateTime<chrono::Utc> },
    /// The system (the welcome mail, the bounce handler, the operator).
    System,
}

impl Sender {
    /// The member of `session`.
    pub fn member(session: &crate::session::Session) -> Self {
        Sender::Member { session_issued_at: session.issued_at() }
    }
}

/// Apply `command` from `sender` to `member`'s signup record.
///
/// Errors: `ApplyError::Store` when the store fails (throttled, timed out, unreadable item);
/// `ApplyError::Contended` after `MAX_TRIES` lost races.
pub async fn apply(store: &dyn SignupStore, clock: &dyn Clock, policy: &Policy, member: &MemberId, sender: Sender, start: Start, command: &Command) -> Result<Applied, ApplyError> {
    if let Some(refusal) = command.refuse_early(policy) {
        // Decided without a read: the record is not needed to refuse.
        let record = match start {
            Start::Known(Some(r)) => r,
            _ => SignupRecord::new(member.clone(), clock.now()),
        };
        return Ok(Applied { record, outcome: Outcome::Refused(refusal), wrote: false });
    }
    let mut known = match start {
        Start::Read => None,
        Start::Known(record) => Some(record),
    };
    for _ in 0..MAX_TRIES {
        let stored = match known.take() {
            Some(record) => record,
            None => store.get_signup(member).await?,
        };
        let now = clock.now();
        let (current, expect) = match stored {
            Some(record) => {
                let expect = Expect::Version(record.version);
                (record, expect)
            }
            None => (SignupRecord::new(member.clone(), now), Expect::Absent),
        };
        if let Sender::Member { session_issued_at } = sender
            && !current.accepts_session(session_issued_at)
        {
            return Ok(Applied { record: current, outcome: Outcome::Refused(crate::signup::SignupError::SessionEnded), wrote: false });
        }
        let transition = decide(&current, command, now, policy);
        let Some(write) = transition.write else {
            return Ok(Applied { record: current, outcome: transition.outcome, wrote: false });
        };
        let mut record = write.record;
        record.version = current.version + 1;
        record.updated_at = now;
        let written = match &write.consent {
            Some(consent) => store.put_signup_with_consent(&record, expect, consent).await,
            None => store.put_signup(&record, expect).await,
        };
        match written {
            Ok(()) => return Ok(Applied { record, outcome: transition.outcome, wrote: true }),
            Err(WriteError::Conflict(now_stored)) => known = Some(now_stored.map(|b| *b)),
            Err(WriteError::Store(e)) => return Err(e.into()),
        }
    }
    tracing::warn!(code = "transition_contended", "gave up after repeated lost races");
    Err(ApplyError::Contended)
}

/// A member's step on its fast path: the command's blind write (`crate::signup::decide_blind`:
/// one conditional request, no read) where it has one; where its condition fails (a repeat, a
/// wrong step, another tab), the ordinary loop from one read decides and answers.
///
/// Errors: as `apply`.
pub async fn apply_step(store: &dyn SignupStore, clock: &dyn Clock, policy: &Policy, member: &MemberId, sender: Sender, command: &Command) -> Result<Outcome, ApplyError> {
    let now = clock.now();
    if let Some(mut blind) = decide_blind(member, command, now, policy) {
        if let Sender::Member { session_issued_at } = sender {
            blind.session_issued_at = Some(session_issued_at);
        }
        if store.put_signup_blind(member, &blind, now).await? {
            return Ok(Outcome::Step(blind.outcome));
        }
    }
    Ok(apply(store, clock, policy, member, sender, Start::Read, command).await?.outcome)
}
