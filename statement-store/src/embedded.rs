//! In-process adapter of `StatementStore` (the dev server, fast tests), with the DynamoDB
//! adapter's semantics: records keyed by (kind, `record_id`) and owned by the member first imported
//! for; tombstones kept; profiles and signup records read from the signup store beside it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::{SignupStore, StoreError};
use kenpo_statements::import::{Change, StoredRecord};
use kenpo_statements::read::Imported;
use kenpo_statements::records::Statement;
use kenpo_statements::types::{RecordId, StatementKind};

use crate::{ChunkCount, FileRecord, Household, ImportRun, Scope, StatementStore};

#[derive(Default)]
struct Tables {
    records: HashMap<(StatementKind, RecordId), (StoredRecord, NaiveDate)>,
    /// The keys of each member's records (their partition, as DynamoDB keeps it).
    by_member: HashMap<MemberId, Vec<(StatementKind, RecordId)>>,
    files: HashMap<String, FileRecord>,
    lock: Option<(String, DateTime<Utc>)>,
    /// Each file's current run and the chunks counted done.
    runs: HashMap<String, (ImportRun, BTreeSet<u32>)>,
    /// The publication index: who has news on a day.
    published: std::collections::BTreeMap<NaiveDate, BTreeSet<MemberId>>,
    /// The update notices' claims, by member then day (a member's are one range, as in their partition).
    notices: std::collections::BTreeMap<(MemberId, NaiveDate), kenpo_notices::NoticeClaim>,
}

pub struct EmbeddedStatements {
    signups: Arc<dyn SignupStore>,
    tables: Mutex<Tables>,
}

impl EmbeddedStatements {
    /// Statements beside `signups`, whose profiles and signup records the household reads return.
    pub fn new(signups: Arc<dyn SignupStore>) -> Self {
        Self { signups, tables: Mutex::new(Tables::default()) }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl StatementStore for EmbeddedStatements {
    async fn stored(&self, kind: StatementKind, rows: &[(RecordId, MemberId)]) -> Result<HashMap<RecordId, StoredRecord>, StoreError> {
        let t = self.tables();
        Ok(rows
            .iter()
            .filter_map(|(id, _)| t.records.get(&(kind, id.clone())).map(|(stored, _)| (id.clone(), stored.clone())))
            .collect())
    }

    async fn apply(&self, kind: StatementKind, changes: &[Change], imported_on: NaiveDate) -> Result<(), StoreError> {
        let mut t = self.tables();
        for change in changes {
            let key = (kind, change.record_id().clone());
            // The owner never changes (the import rules refuse a change of member).
            match t.records.get(&key) {
                Some((stored, _)) if stored.member_id() != change.member_id() => continue,
                Some(_) => {}
                None => t.by_member.entry(change.member_id().clone()).or_default().push(key.clone()),
            }
            t.records.insert(key, (change.stored(), imported_on));
            if let Some((day, member)) = crate::published(change, imported_on) {
                t.published.entry(day).or_default().insert(member);
            }
        }
        Ok(())
    }

    async fn published_on(&self, day: NaiveDate) -> Result<Vec<MemberId>, StoreError> {
        Ok(self.tables().published.get(&day).map(|m| m.iter().cloned().collect()).unwrap_or_default())
    }

    async fn notice_input(&self, member: &MemberId) -> Result<kenpo_notices::NoticeInput, StoreError> {
        let household = self.household(member, Scope::All).await?;
        let from = (member.clone(), NaiveDate::MIN);
        let claims = self.tables().notices.range(from..).take_while(|((m, _), _)| m == member).map(|(_, c)| c.clone()).collect();
        Ok(kenpo_notices::NoticeInput { profile: household.profile, signup: household.signup, medical: household.medical, benefits: household.benefits, claims })
    }

    async fn claim_notice(&self, member: &MemberId, day: NaiveDate, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let key = (member.clone(), day);
        if t.notices.contains_key(&key) {
            return Ok(false);
        }
        t.notices.insert(key, kenpo_notices::NoticeClaim { day, claimed_at: now, sent_at: None });
        Ok(true)
    }

    async fn release_notice(&self, member: &MemberId, day: NaiveDate) -> Result<(), StoreError> {
        let mut t = self.tables();
        let key = (member.clone(), day);
        if t.notices.get(&key).is_some_and(|c| c.sent_at.is_none()) {
            t.notices.remove(&key);
        }
        Ok(())
    }

    async fn settle_notice(&self, member: &MemberId, day: NaiveDate, sent_at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(claim) = self.tables().notices.get_mut(&(member.clone(), day)) {
            claim.sent_at = Some(sent_at);
        }
        Ok(())
    }

    async fn household(&self, member: &MemberId, scope: Scope) -> Result<Household, StoreError> {
        let (profile, signup) = self.signups.get_member_and_signup(member).await?;
        let mut household = Household { profile, signup, ..Household::default() };
        let t = self.tables();
        let keys = t.by_member.get(member).into_iter().flatten();
        let records = keys.filter_map(|key| match t.records.get(key) {
            Some((StoredRecord::Active(s), on)) => Some((s, *on)),
            _ => None,
        });
        for (statement, imported_on) in records {
            match statement {
                Statement::Medical(m) if scope == Scope::All => household.medical.push(Imported { record: m.clone(), imported_on }),
                Statement::Benefit(b) => household.benefits.push(Imported { record: b.clone(), imported_on }),
                Statement::Medical(_) => {}
            }
        }
        Ok(household)
    }

    async fn file(&self, sha256: &str) -> Result<Option<FileRecord>, StoreError> {
        Ok(self.tables().files.get(sha256).cloned())
    }

    async fn put_file(&self, file: &FileRecord) -> Result<(), StoreError> {
        self.tables().files.insert(file.sha256.clone(), file.clone());
        Ok(())
    }

    async fn lock_imports(&self, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut t = self.tables();
        match &t.lock {
            Some((other, lease)) if other != holder && *lease > now => Ok(false),
            _ => {
                t.lock = Some((holder.to_owned(), until));
                Ok(true)
            }
        }
    }

    async fn unlock_imports(&self, holder: &str) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.lock.as_ref().is_some_and(|(h, _)| h == holder) {
            t.lock = None;
        }
        Ok(())
    }

    async fn start_run(&self, run: &ImportRun) -> Result<(), StoreError> {
        let run = ImportRun { done: 0, ..run.clone() };
        self.tables().runs.insert(run.sha256.clone(), (run, BTreeSet::new()));
        Ok(())
    }

    async fn run(&self, sha256: &str) -> Result<Option<ImportRun>, StoreError> {
        Ok(self.tables().runs.get(sha256).map(|(run, done)| ImportRun { done: done.len() as u32, ..run.clone() }))
    }

    async fn count_chunk(&self, sha256: &str, generation: &str, chunk: u32) -> Result<ChunkCount, StoreError> {
        let mut t = self.tables();
        let Some((run, done)) = t.runs.get_mut(sha256).filter(|(run, _)| run.generation == generation) else {
            return Ok(ChunkCount::Superseded);
        };
        let counted = done.insert(chunk);
        let (done, chunks) = (done.len() as u32, run.chunks);
        Ok(if counted { ChunkCount::Counted { done, chunks } } else { ChunkCount::AlreadyCounted { done, chunks } })
    }
}
