//! Fault injection at the ports: wrappers around a real adapter that fail chosen calls.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kenpo_shared::domain::{BirthDate, InsurerNumber, MemberId};
use kenpo_shared::store::{BlindWrite, ConsentRecord, Expect, MemberProfile, SignupRecord, SignupStore, StoreError, WriteError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    GetMember,
    GetSignup,
    PutSignup,
    PutSignupWithConsent,
    /// A step's one conditional write without a read (`put_signup_blind`).
    PutSignupBlind,
    /// A member's first identity check: the record created on the profile's condition.
    CreateSignup,
    ClaimToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB's ProvisionedThroughputExceeded / ThrottlingException, after the SDK's own retries.
    Throttle,
    /// No answer in time (the call is slow, then fails).
    Timeout,
    /// HTTP 500 from the service.
    ServerError,
    /// The write is applied, then the answer is lost (the caller sees an error).
    AfterWrite,
}

impl Fault {
    pub const BEFORE: [Fault; 3] = [Fault::Throttle, Fault::Timeout, Fault::ServerError];

    fn error(self) -> StoreError {
        StoreError::Unavailable(format!("injected {self:?}"))
    }
}

/// A `SignupStore` that fails the next call of a chosen operation with a chosen fault.
pub struct FaultyStore {
    inner: Arc<dyn SignupStore>,
    plan: Mutex<VecDeque<(Op, Fault)>>,
    pub injected: Mutex<usize>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn SignupStore>) -> Self {
        Self { inner, plan: Mutex::new(VecDeque::new()), injected: Mutex::new(0) }
    }

    pub fn fail_next(&self, op: Op, fault: Fault) {
        self.plan.lock().unwrap().push_back((op, fault));
    }

    fn take(&self, op: Op) -> Option<Fault> {
        let mut plan = self.plan.lock().unwrap();
        let i = plan.iter().position(|(o, _)| *o == op)?;
        *self.injected.lock().unwrap() += 1;
        plan.remove(i).map(|(_, f)| f)
    }

    async fn before(&self, op: Op) -> Result<Option<Fault>, StoreError> {
        match self.take(op) {
            Some(Fault::AfterWrite) => Ok(Some(Fault::AfterWrite)),
            Some(Fault::Timeout) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(Fault::Timeout.error())
            }
            Some(f) => Err(f.error()),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl SignupStore for FaultyStore {
    async fn put_members(&self, members: &[MemberProfile]) -> Result<(), StoreError> {
        self.inner.put_members(members).await
    }

    async fn get_member(&self, id: &MemberId) -> Result<Option<MemberProfile>, StoreError> {
        self.before(Op::GetMember).await?;
        self.inner.get_member(id).await
    }

    async fn get_signup(&self, id: &MemberId) -> Result<Option<SignupRecord>, StoreError> {
        self.before(Op::GetSignup).await?;
        self.inner.get_signup(id).await
    }

    async fn put_signup(&self, record: &SignupRecord, expect: Expect) -> Result<(), WriteError> {
        let after = self.before(Op::PutSignup).await?;
        self.inner.put_signup(record, expect).await?;
        match after {
            Some(f) => Err(WriteError::Store(f.error())),
            None => Ok(()),
        }
    }

    async fn put_signup_with_consent(&self, record: &SignupRecord, expect: Expect, consent: &ConsentRecord) -> Result<(), WriteError> {
        let after = self.before(Op::PutSignupWithConsent).await?;
        self.inner.put_signup_with_consent(record, expect, consent).await?;
        match after {
            Some(f) => Err(WriteError::Store(f.error())),
            None => Ok(()),
        }
    }

    async fn put_signup_blind(&self, member: &MemberId, write: &BlindWrite, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let after = self.before(Op::PutSignupBlind).await?;
        let written = self.inner.put_signup_blind(member, write, now).await?;
        match after {
            Some(f) => Err(f.error()),
            None => Ok(written),
        }
    }

    async fn create_signup_if_identity(&self, record: &SignupRecord, insurer_number: &InsurerNumber, birth_date: &BirthDate) -> Result<bool, StoreError> {
        let after = self.before(Op::CreateSignup).await?;
        let written = self.inner.create_signup_if_identity(record, insurer_number, birth_date).await?;
        match after {
            Some(f) => Err(f.error()),
            None => Ok(written),
        }
    }

    async fn list_consents(&self, id: &MemberId) -> Result<Vec<ConsentRecord>, StoreError> {
        self.inner.list_consents(id).await
    }

    async fn end_sessions(&self, member: &MemberId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.end_sessions(member, at).await
    }

    async fn reserve_send_slot(&self, now: DateTime<Utc>, interval: chrono::Duration) -> Result<kenpo_shared::store::SendSlot, StoreError> {
        self.inner.reserve_send_slot(now, interval).await
    }

    async fn pause_sending(&self, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        self.inner.pause_sending(until, now).await
    }

    async fn claim_token(&self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let after = self.before(Op::ClaimToken).await?;
        let claimed = self.inner.claim_token(jti, expires_at, now).await?;
        match after {
            Some(f) => Err(f.error()),
            None => Ok(claimed),
        }
    }
}
