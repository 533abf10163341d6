//! DynamoDB adapter of `StatementStore`, in the onboarding's table (`docs/DATA.md`):
//!
//! | item | PK | SK | holds |
//! |---|---|---|---|
//! | medical line | `MEMBER#<id>` | `STMT#MED#<record_id>` | the line, `importedOn`, TTL `expiresAt` |
//! | benefit decision | `MEMBER#<id>` | `STMT#BEN#<record_id>` | the decision, `importedOn`, TTL |
//! | tombstone (a `D`) | same key as the record | | `cancelled`, `member_id`, TTL |
//! | record owner | `REC#MED#<record_id>` / `REC#BEN#<record_id>` | `REC` | `memberId`, TTL |
//! | import file | `IMPORT#<sha256>` | `FILE` | `status`, `report` (JSON), `updatedAt` |
//! | import lock | `IMPORT#LOCK` | `LOCK` | `holder`, `leaseUntil` (epoch ms) |
//! | import run (S3 import) | `IMPORT#<sha256>` | `RUN` | `generation`, `holder`, `source`, `chunks`, `done` (number set of the chunks counted), `startedAt` |
//!
//! The statement items sort after `PROFILE` and `SIGNUP` in the member's partition, so one
//! strongly consistent Query from `PROFILE` reads the session's signup record, the profile and the
//! household's records (benefits before medical lines: a benefits page stops there). The owner
//! item answers "whose is this `record_id`" for the import's check (record ids are unique per
//! society), so a row naming another member is refused instead of creating a second record.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use chrono::{DateTime, NaiveDate, Utc};
use kenpo_shared::clock::start_of_japan_day;
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::StoreError;
use kenpo_shared::store::dynamodb::{condition_applied, decode_member, decode_signup, member_pk, partition_items, unavailable};
use kenpo_statements::import::{Change, StoredRecord};
use kenpo_statements::read::Imported;
use kenpo_statements::records::Statement;
use kenpo_statements::types::{RecordId, StatementKind};

use crate::{ChunkCount, FileRecord, FileStatus, Household, ImportRun, Scope, StatementStore};

type Item = HashMap<String, AttributeValue>;

/// Keys per BatchGetItem (DynamoDB's limit).
const BATCH_GET: usize = 100;
/// Writes per BatchWriteItem (DynamoDB's limit).
const BATCH_WRITE: usize = 25;
/// BatchWriteItem requests in flight at once per `apply`.
const WRITERS: usize = 8;

pub struct DynamoStatements {
    client: Client,
    table: String,
}

impl DynamoStatements {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

fn kind_tag(kind: StatementKind) -> &'static str {
    match kind {
        StatementKind::Medical => "MED",
        StatementKind::Benefits => "BEN",
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

fn record_key(member: &MemberId, kind: StatementKind, id: &RecordId) -> Item {
    key(member_pk(member), format!("STMT#{}#{}", kind_tag(kind), id.as_str()))
}

fn owner_key(kind: StatementKind, id: &RecordId) -> Item {
    key(format!("REC#{}#{}", kind_tag(kind), id.as_str()), "REC".into())
}

/// TTL: the start (Japan time) of the first day the record is no longer kept, epoch seconds.
fn expires_at(day: NaiveDate) -> AttributeValue {
    AttributeValue::N(start_of_japan_day(day).timestamp().to_string())
}

fn run_key(sha256: &str) -> Item {
    key(format!("IMPORT#{sha256}"), "RUN".into())
}

fn get_n(item: &Item, name: &str) -> Option<u32> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

/// Chunks counted in a run item (`done` is absent until the first).
fn done_count(item: &Item) -> u32 {
    item.get("done").and_then(|v| v.as_ns().ok()).map_or(0, |ns| ns.len() as u32)
}

fn decode_run(sha256: &str, item: &Item) -> Result<ImportRun, StoreError> {
    let text = |name: &str| get_s(item, name).map(str::to_owned).ok_or_else(|| corrupt(format!("run {name}")));
    Ok(ImportRun {
        sha256: sha256.to_owned(),
        generation: text("generation")?,
        holder: text("holder")?,
        source: text("source")?,
        chunks: get_n(item, "chunks").ok_or_else(|| corrupt("run chunks"))?,
        done: done_count(item),
        started_at: DateTime::parse_from_rfc3339(&text("startedAt")?).map_err(corrupt)?.with_timezone(&Utc),
    })
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("statement item: {what}"))
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn encode_statement(statement: &Statement, imported_on: NaiveDate) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(statement).map_err(corrupt)?;
    item.extend(record_key(statement.member_id(), statement.kind(), statement.record_id()));
    item.insert("importedOn".into(), s(imported_on.format("%Y-%m-%d").to_string()));
    item.insert("expiresAt".into(), expires_at(statement.expires_on()));
    Ok(item)
}

/// A record item as stored: the statement, or a tombstone's owner.
fn decode_stored(item: &Item) -> Result<(StoredRecord, NaiveDate), StoreError> {
    let imported_on = get_s(item, "importedOn").and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).ok_or_else(|| corrupt("importedOn"))?;
    if item.get("cancelled").is_some() {
        let member_id = get_s(item, "member_id").and_then(|m| MemberId::parse(m).ok()).ok_or_else(|| corrupt("member_id"))?;
        return Ok((StoredRecord::Cancelled { member_id }, imported_on));
    }
    let mut fields = item.clone();
    for k in ["PK", "SK", "importedOn", "expiresAt"] {
        fields.remove(k);
    }
    let statement: Statement = serde_dynamo::from_item(fields).map_err(corrupt)?;
    Ok((StoredRecord::Active(statement), imported_on))
}

/// How long a notice claim is kept (days after its day): the last notice's day is the baseline of
/// "new since the last notice".
const NOTICE_CLAIM_DAYS: i64 = 400;

/// How long a day's publication index is kept (days after the day): the notice run reads it that
/// day (or, after an outage, the days after).
const PUBLICATION_INDEX_DAYS: i64 = 60;

fn publication_pk(day: NaiveDate) -> String {
    format!("PUB#{}", day.format("%Y-%m-%d"))
}

fn notice_sk(day: NaiveDate) -> String {
    format!("NOTICE#{}", day.format("%Y-%m-%d"))
}

/// A member's items (from a partition Query) as the household: profile, signup, active records.
fn household_of(items: &[Item]) -> Result<Household, StoreError> {
    let mut household = Household::default();
    for item in items {
        match get_s(item, "SK") {
            Some("PROFILE") => household.profile = Some(decode_member(item)?),
            Some("SIGNUP") => household.signup = Some(decode_signup(item)?),
            Some(sk) if sk.starts_with("STMT#") => match decode_stored(item)? {
                (StoredRecord::Active(Statement::Medical(record)), imported_on) => household.medical.push(Imported { record, imported_on }),
                (StoredRecord::Active(Statement::Benefit(record)), imported_on) => household.benefits.push(Imported { record, imported_on }),
                (StoredRecord::Cancelled { .. }, _) => {}
            },
            _ => {}
        }
    }
    Ok(household)
}

impl DynamoStatements {
    /// The items of `member`'s partition from `from` to `to` (`kenpo_shared`'s one partition read).
    async fn partition(&self, member: &MemberId, from: &str, to: &str) -> Result<Vec<Item>, StoreError> {
        partition_items(&self.client, &self.table, member, from, to).await
    }

    /// Every item of `keys` (any order), strongly consistent, following UnprocessedKeys.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET) {
            let mut pending = Some(KeysAndAttributes::builder().set_keys(Some(chunk.to_vec())).consistent_read(true).build().map_err(corrupt)?);
            let mut backoff = Duration::from_millis(20);
            while let Some(request) = pending.take() {
                let out = self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(|e| unavailable(&e))?;
                if let Some(mut responses) = out.responses {
                    found.extend(responses.remove(&self.table).unwrap_or_default());
                }
                pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        Ok(found)
    }

    /// Every item of `items`, in BatchWriteItems of 25, `WRITERS` at a time; returns when all are
    /// written (or the first failure).
    async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let mut batches = items.chunks(BATCH_WRITE).map(<[Item]>::to_vec);
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < WRITERS {
                let Some(batch) = batches.next() else { break };
                running.spawn(Self::batch_put(self.client.clone(), self.table.clone(), batch));
            }
            let Some(done) = running.join_next().await else { break };
            done.map_err(|e| StoreError::Unavailable(format!("writer task: {e}")))??;
        }
        Ok(())
    }

    /// One BatchWriteItem of up to 25 puts, following UnprocessedItems with backoff.
    async fn batch_put(client: Client, table: String, items: Vec<Item>) -> Result<(), StoreError> {
        let mut pending: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| PutRequest::builder().set_item(Some(item)).build().map(|p| WriteRequest::builder().put_request(p).build()))
            .collect::<Result<_, _>>()
            .map_err(corrupt)?;
        let mut backoff = Duration::from_millis(20);
        while !pending.is_empty() {
            let out = client.batch_write_item().request_items(&table, pending).send().await.map_err(|e| unavailable(&e))?;
            pending = out.unprocessed_items.and_then(|mut u| u.remove(&table)).unwrap_or_default();
            if !pending.is_empty() {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl StatementStore for DynamoStatements {
    async fn stored(&self, kind: StatementKind, rows: &[(RecordId, MemberId)]) -> Result<HashMap<RecordId, StoredRecord>, StoreError> {
        let mut seen = HashSet::new();
        let rows: Vec<&(RecordId, MemberId)> = rows.iter().filter(|(id, _)| seen.insert(id.clone())).collect();
        // Whose each record is (its first import's member), then the record under that member.
        let mut owners: HashMap<RecordId, MemberId> = HashMap::new();
        for item in self.batch_get(rows.iter().map(|(id, _)| owner_key(kind, id)).collect()).await? {
            let id = get_s(&item, "PK").and_then(|pk| pk.split_once('#')).and_then(|(_, rest)| rest.split_once('#')).and_then(|(_, id)| RecordId::parse(id).ok());
            let member = get_s(&item, "memberId").and_then(|m| MemberId::parse(m).ok());
            if let (Some(id), Some(member)) = (id, member) {
                owners.insert(id, member);
            }
        }
        let keys = rows.iter().map(|(id, row_member)| record_key(owners.get(id).unwrap_or(row_member), kind, id)).collect();
        let mut stored = HashMap::new();
        for item in self.batch_get(keys).await? {
            let id = get_s(&item, "SK").and_then(|sk| sk.rsplit_once('#')).and_then(|(_, id)| RecordId::parse(id).ok()).ok_or_else(|| corrupt("SK"))?;
            stored.insert(id, decode_stored(&item)?.0);
        }
        Ok(stored)
    }

    async fn apply(&self, kind: StatementKind, changes: &[Change], imported_on: NaiveDate) -> Result<(), StoreError> {
        let mut owners = Vec::with_capacity(changes.len());
        let mut records = Vec::with_capacity(changes.len());
        for change in changes {
            let (mut record, expires) = match change {
                Change::Put { statement, .. } => (encode_statement(statement, imported_on)?, statement.expires_on()),
                Change::Tombstone { record_id, member_id, expires_on, .. } => {
                    let mut item = record_key(member_id, kind, record_id);
                    item.insert("cancelled".into(), AttributeValue::Bool(true));
                    item.insert("member_id".into(), s(member_id.as_str()));
                    item.insert("importedOn".into(), s(imported_on.format("%Y-%m-%d").to_string()));
                    item.insert("expiresAt".into(), expires_at(*expires_on));
                    (item, *expires_on)
                }
            };
            record.insert("expiresAt".into(), expires_at(expires));
            let mut owner = owner_key(kind, change.record_id());
            owner.insert("memberId".into(), s(change.member_id().as_str()));
            owner.insert("expiresAt".into(), expires_at(expires));
            owners.push(owner);
            records.push(record);
        }
        // The publication index: who has news on which day (each once: a batch may not hold a
        // key twice).
        let mut index: Vec<(NaiveDate, MemberId)> = changes.iter().filter_map(|c| crate::published(c, imported_on)).collect();
        index.sort();
        index.dedup();
        for (day, member) in index {
            let mut item = key(publication_pk(day), member_pk(&member));
            item.insert("expiresAt".into(), expires_at(day + chrono::Duration::days(PUBLICATION_INDEX_DAYS)));
            records.push(item);
        }
        // Every owner before any record: a record written without its owner would escape the
        // check of a later file (an `N` of the same id for another member).
        self.put_all(owners).await?;
        self.put_all(records).await
    }

    async fn household(&self, member: &MemberId, scope: Scope) -> Result<Household, StoreError> {
        let upper = match scope {
            Scope::All => "STMT#MED$",
            Scope::Benefits => "STMT#BEN$",
        };
        household_of(&self.partition(member, "PROFILE", upper).await?)
    }

    async fn published_on(&self, day: NaiveDate) -> Result<Vec<MemberId>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(publication_pk(day)))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| unavailable(&e))?;
        let mut members: Vec<MemberId> =
            items.iter().filter_map(|i| get_s(i, "SK").and_then(|sk| sk.strip_prefix("MEMBER#")).and_then(|m| MemberId::parse(m).ok())).collect();
        members.sort();
        members.dedup();
        Ok(members)
    }

    async fn notice_input(&self, member: &MemberId) -> Result<kenpo_notices::NoticeInput, StoreError> {
        // `NOTICE#…` < `PROFILE` < `SIGNUP` < `STMT#…`: one Query brings all the decision needs.
        let items = self.partition(member, "NOTICE#", "STMT#MED$").await?;
        let household = household_of(&items)?;
        let mut claims = Vec::new();
        for item in &items {
            let Some(day) = get_s(item, "SK").and_then(|sk| sk.strip_prefix("NOTICE#")) else { continue };
            if get_s(item, "claimedAt").is_none() {
                continue; // given back: no claim
            }
            let time = |k: &str| get_s(item, k).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
            let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| corrupt("NOTICE# day"))?;
            claims.push(kenpo_notices::NoticeClaim { day, claimed_at: time("claimedAt").ok_or_else(|| corrupt("claimedAt"))?, sent_at: time("sentAt") });
        }
        Ok(kenpo_notices::NoticeInput { profile: household.profile, signup: household.signup, medical: household.medical, benefits: household.benefits, claims })
    }

    async fn claim_notice(&self, member: &MemberId, day: NaiveDate, now: DateTime<Utc>) -> Result<bool, StoreError> {
        // An UpdateItem that creates the claim: the sender's role writes no item whole (it could
        // replace a profile), and only these attributes (the template's NoticeSender list).
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(member_pk(member), notice_sk(day))))
            .update_expression("SET claimedAt = :c, expiresAt = :e")
            // No claim, or one given back (`release_notice` removes `claimedAt`).
            .condition_expression("attribute_not_exists(claimedAt) AND attribute_not_exists(sentAt)")
            .expression_attribute_values(":c", s(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .expression_attribute_values(":e", expires_at(day + chrono::Duration::days(NOTICE_CLAIM_DAYS)))
            .send()
            .await;
        condition_applied(result)
    }

    async fn release_notice(&self, member: &MemberId, day: NaiveDate) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(member_pk(member), notice_sk(day))))
            .update_expression("REMOVE claimedAt")
            .condition_expression("attribute_exists(claimedAt) AND attribute_not_exists(sentAt)")
            .send()
            .await;
        // A failed condition: nothing claimed to give back, or the notice went.
        condition_applied(result).map(|_| ())
    }

    async fn settle_notice(&self, member: &MemberId, day: NaiveDate, sent_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(member_pk(member), notice_sk(day))))
            .update_expression("SET sentAt = :s")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":s", s(sent_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }

    async fn file(&self, sha256: &str) -> Result<Option<FileRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("IMPORT#{sha256}"), "FILE".into())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let Some(item) = out.item else { return Ok(None) };
        let status = match get_s(&item, "status") {
            Some("applying") => FileStatus::Applying,
            Some("applied") => FileStatus::Applied,
            Some("rejected") => FileStatus::Rejected,
            _ => return Err(corrupt("status")),
        };
        let report = get_s(&item, "report").and_then(|r| serde_json::from_str(r).ok()).ok_or_else(|| corrupt("report"))?;
        let updated_at = get_s(&item, "updatedAt").and_then(|t| DateTime::parse_from_rfc3339(t).ok()).ok_or_else(|| corrupt("updatedAt"))?.with_timezone(&Utc);
        Ok(Some(FileRecord { sha256: sha256.to_owned(), status, report, updated_at }))
    }

    async fn put_file(&self, file: &FileRecord) -> Result<(), StoreError> {
        let mut item = key(format!("IMPORT#{}", file.sha256), "FILE".into());
        let status = match file.status {
            FileStatus::Applying => "applying",
            FileStatus::Applied => "applied",
            FileStatus::Rejected => "rejected",
        };
        item.insert("status".into(), s(status));
        item.insert("report".into(), s(serde_json::to_string(&file.report).map_err(corrupt)?));
        item.insert("updatedAt".into(), s(kenpo_shared::store::format_time(file.updated_at)));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn lock_imports(&self, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut item = key("IMPORT#LOCK".into(), "LOCK".into());
        item.insert("holder".into(), s(holder));
        item.insert("leaseUntil".into(), AttributeValue::N(until.timestamp_millis().to_string()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR holder = :h OR leaseUntil < :now")
            .expression_attribute_values(":h", s(holder))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp_millis().to_string()))
            .send()
            .await;
        condition_applied(result)
    }

    async fn unlock_imports(&self, holder: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key("IMPORT#LOCK".into(), "LOCK".into())))
            .condition_expression("holder = :h")
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        // A failed condition: another holder has it (or nobody): nothing to release.
        condition_applied(result).map(|_| ())
    }

    async fn start_run(&self, run: &ImportRun) -> Result<(), StoreError> {
        let mut item = run_key(&run.sha256);
        item.insert("generation".into(), s(&run.generation));
        item.insert("holder".into(), s(&run.holder));
        item.insert("source".into(), s(&run.source));
        item.insert("chunks".into(), AttributeValue::N(run.chunks.to_string()));
        item.insert("startedAt".into(), s(kenpo_shared::store::format_time(run.started_at)));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn run(&self, sha256: &str) -> Result<Option<ImportRun>, StoreError> {
        let out = self.client.get_item().table_name(&self.table).set_key(Some(run_key(sha256))).consistent_read(true).send().await.map_err(|e| unavailable(&e))?;
        out.item.map(|item| decode_run(sha256, &item)).transpose()
    }

    async fn count_chunk(&self, sha256: &str, generation: &str, chunk: u32) -> Result<ChunkCount, StoreError> {
        // The chunk joins the set only once; the condition tells a repeat (or another run's chunk).
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(run_key(sha256)))
            .update_expression("ADD done :chunk")
            .condition_expression("generation = :generation AND NOT contains(done, :n)")
            .expression_attribute_values(":chunk", AttributeValue::Ns(vec![chunk.to_string()]))
            .expression_attribute_values(":n", AttributeValue::N(chunk.to_string()))
            .expression_attribute_values(":generation", s(generation))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let chunks = get_n(&item, "chunks").ok_or_else(|| corrupt("run chunks"))?;
                Ok(ChunkCount::Counted { done: done_count(&item), chunks })
            }
            Err(e) => {
                condition_applied(Err::<(), _>(e))?;
                Ok(match self.run(sha256).await? {
                    Some(run) if run.generation == generation => ChunkCount::AlreadyCounted { done: run.done, chunks: run.chunks },
                    _ => ChunkCount::Superseded,
                })
            }
        }
    }
}
