//! In-process store: the default for `kenpo dev` and fast tests. It keeps the DynamoDB adapter's
//! semantics (conditional writes, all-or-nothing consent, lazy token expiry) and hands every
//! committed signup change to a listener, as the table's stream does.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;

use super::{BlindWrite, ConsentRecord, Expect, MemberProfile, SendSlot, SignupChange, SignupRecord, SignupStore, StoreError, WriteError};
use crate::domain::{BirthDate, InsurerNumber, MemberId};

#[derive(Default)]
struct Tables {
    members: HashMap<MemberId, MemberProfile>,
    signups: HashMap<MemberId, SignupRecord>,
    consents: HashMap<MemberId, Vec<ConsentRecord>>,
    tokens: HashMap<String, DateTime<Utc>>,
    next_send_slot: Option<DateTime<Utc>>,
    sending_paused_until: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct EmbeddedStore {
    tables: Mutex<Tables>,
    changes: Mutex<Option<UnboundedSender<SignupChange>>>,
}

impl EmbeddedStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every committed signup write is sent here (the dev server's stand-in for the stream).
    pub fn set_change_listener(&self, tx: UnboundedSender<SignupChange>) {
        *self.changes.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self, record: &SignupRecord, expect: Expect, consent: Option<&ConsentRecord>) -> Result<(), WriteError> {
        let change = {
            let mut t = self.tables();
            let current = t.signups.get(&record.member_id);
            let ok = match (expect, current) {
                (Expect::Absent, None) => true,
                (Expect::Version(v), Some(c)) => c.version == v,
                _ => false,
            };
            if !ok {
                return Err(WriteError::Conflict(current.cloned().map(Box::new)));
            }
            if let Some(consent) = consent {
                let list = t.consents.entry(consent.member_id.clone()).or_default();
                if list.iter().any(|c| c.agreed_at == consent.agreed_at) {
                    return Err(WriteError::Conflict(t.signups.get(&record.member_id).cloned().map(Box::new)));
                }
                list.push(consent.clone());
            }
            let old = t.signups.insert(record.member_id.clone(), record.clone());
            SignupChange { old, new: record.clone() }
        };
        self.announce(change);
        Ok(())
    }

    /// Hand a committed change to the listener, as the table's stream would.
    fn announce(&self, change: SignupChange) {
        if let Some(tx) = self.changes.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            // The listener may be gone when the server shuts down; the write still stands.
            let _ = tx.send(change);
        }
    }
}

#[async_trait]
impl SignupStore for EmbeddedStore {
    async fn put_members(&self, members: &[MemberProfile]) -> Result<(), StoreError> {
        let mut t = self.tables();
        for m in members {
            t.members.insert(m.member_id.clone(), m.clone());
        }
        Ok(())
    }

    async fn get_member(&self, id: &MemberId) -> Result<Option<MemberProfile>, StoreError> {
        Ok(self.tables().members.get(id).cloned())
    }

    async fn get_signup(&self, id: &MemberId) -> Result<Option<SignupRecord>, StoreError> {
        Ok(self.tables().signups.get(id).cloned())
    }

    async fn put_signup(&self, record: &SignupRecord, expect: Expect) -> Result<(), WriteError> {
        self.write(record, expect, None)
    }

    async fn put_signup_with_consent(&self, record: &SignupRecord, expect: Expect, consent: &ConsentRecord) -> Result<(), WriteError> {
        self.write(record, expect, Some(consent))
    }

    async fn end_sessions(&self, member: &MemberId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let change = {
            let mut t = self.tables();
            let old = t.signups.get(member).cloned();
            let mut record = old.clone().unwrap_or_else(|| SignupRecord::new(member.clone(), at));
            if record.sessions_valid_from.is_some_and(|from| from >= at) {
                return Ok(());
            }
            record.sessions_valid_from = Some(at);
            record.version += 1;
            record.updated_at = at;
            t.signups.insert(member.clone(), record.clone());
            SignupChange { old, new: record }
        };
        self.announce(change);
        Ok(())
    }

    async fn put_signup_blind(&self, member: &MemberId, write: &BlindWrite, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let change = {
            let mut t = self.tables();
            let Some(stored) = t.signups.get(member).filter(|r| write.applies_to(Some(r))) else { return Ok(false) };
            let mut record = stored.clone();
            record.apply(&write.sets);
            record.version += 1;
            record.updated_at = now;
            if let Some(consent) = &write.consent {
                let list = t.consents.entry(consent.member_id.clone()).or_default();
                if list.iter().any(|c| c.agreed_at == consent.agreed_at) {
                    return Ok(false);
                }
                list.push(consent.clone());
            }
            let old = t.signups.insert(member.clone(), record.clone());
            SignupChange { old, new: record }
        };
        self.announce(change);
        Ok(true)
    }

    async fn create_signup_if_identity(&self, record: &SignupRecord, insurer_number: &InsurerNumber, birth_date: &BirthDate) -> Result<bool, StoreError> {
        let change = {
            let mut t = self.tables();
            let holds = t.members.get(&record.member_id).is_some_and(|p| p.insurer_number == *insurer_number && p.birth_date == *birth_date);
            if !holds || t.signups.contains_key(&record.member_id) {
                return Ok(false);
            }
            t.signups.insert(record.member_id.clone(), record.clone());
            SignupChange { old: None, new: record.clone() }
        };
        self.announce(change);
        Ok(true)
    }

    async fn list_consents(&self, id: &MemberId) -> Result<Vec<ConsentRecord>, StoreError> {
        let mut list = self.tables().consents.get(id).cloned().unwrap_or_default();
        list.sort_by_key(|c| c.agreed_at);
        Ok(list)
    }

    async fn claim_token(&self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut t = self.tables();
        match t.tokens.get(jti) {
            Some(until) if *until > now => Ok(false),
            _ => {
                t.tokens.insert(jti.to_owned(), expires_at);
                Ok(true)
            }
        }
    }

    async fn reserve_send_slot(&self, now: DateTime<Utc>, interval: chrono::Duration) -> Result<SendSlot, StoreError> {
        let mut t = self.tables();
        if let Some(until) = t.sending_paused_until.filter(|until| *until > now) {
            return Ok(SendSlot::PausedUntil(until));
        }
        let now = super::ceil_to_millis(now);
        let horizon = now + chrono::Duration::seconds(super::SEND_SLOT_HORIZON_SECONDS);
        let ahead = now + chrono::Duration::seconds(super::SEND_SLOT_MAX_AHEAD_SECONDS);
        let slot = match t.next_send_slot.filter(|next| *next > now && *next < horizon) {
            Some(next) if next >= ahead => return Ok(SendSlot::Full),
            Some(next) => next,
            None => now,
        };
        t.next_send_slot = Some(slot + interval);
        Ok(SendSlot::At(slot))
    }

    async fn pause_sending(&self, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        let mut t = self.tables();
        let paused = t.sending_paused_until.filter(|current| *current > now).unwrap_or(until);
        t.sending_paused_until = Some(paused);
        Ok(paused)
    }
}
