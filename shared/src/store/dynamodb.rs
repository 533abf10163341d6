//! DynamoDB adapter of `SignupStore`: one table, items as in DESIGN.md.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | member | `MEMBER#<id>` | `PROFILE` |
//! | signup | `MEMBER#<id>` | `SIGNUP` |
//! | consent | `MEMBER#<id>` | `CONSENT#<timestamp>` |
//! | used token | `SSO#<jti>` | `SSO` (TTL `expiresAt`) |

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, PutRequest, TransactWriteItem, Update, WriteRequest};
use chrono::{DateTime, Utc};

use super::{BlindWrite, ConsentRecord, EmailProblem, Expect, MemberProfile, SendSlot, SignupChange, SignupRecord, SignupStore, StoreError, WriteError, format_time, parse_time};
use crate::signup::Set;
use crate::domain::{BirthDate, EmailAddress, InsurerNumber, MemberId, Step, TermsVersion};

pub type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
    /// Whether this process's last send slot came from a busy ledger: the next reservation tries
    /// that way first (a welcome mail on its own: 1 request; a notice run: 1 request per mail).
    ledger_busy: std::sync::atomic::AtomicBool,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), ledger_busy: std::sync::atomic::AtomicBool::new(false) }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The signup record's write: one UpdateItem that leaves the item equal to `record` (every
    /// attribute set, every absent optional one removed), if the stored one matches `expect`.
    fn signup_update(&self, record: &SignupRecord, expect: Expect) -> ItemUpdate {
        let (condition, version) = condition_for(expect);
        let mut update = ItemUpdate::replacing(encode_signup(record), SIGNUP_ATTRIBUTES, condition);
        if let Some(v) = version {
            update.names.insert("#v".into(), "version".into());
            update.values.insert(":v".into(), v);
        }
        update
    }

    /// The append-only consent item, created by an UpdateItem (never over an existing one).
    fn consent_update(consent: &ConsentRecord) -> ItemUpdate {
        ItemUpdate::replacing(encode_consent(consent), CONSENT_ATTRIBUTES, "attribute_not_exists(PK)")
    }

    /// On a lost condition, the record as it is now: read again, strongly consistent. The item a
    /// failed condition returns (ALL_OLD) is not used for decisions: under concurrent writers it
    /// was seen to disagree with the stored record (moto), and a lost race is rare enough that
    /// the extra read costs nothing that matters.
    async fn current_after_conflict(&self, id: &MemberId) -> Result<Option<Box<SignupRecord>>, StoreError> {
        Ok(self.get_signup(id).await?.map(Box::new))
    }
}

/// A blind write as DynamoDB expressions: every attribute through a `#aN` name and `:vN` value.
struct BlindExpression {
    update: String,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl BlindExpression {
    fn new(write: &BlindWrite, now: DateTime<Utc>) -> Self {
        let mut e = Self { update: String::new(), condition: String::new(), names: HashMap::new(), values: HashMap::new() };
        let mut set: Vec<String> = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        for change in &write.sets {
            let (attribute, value) = match change {
                Set::State(step) => ("state", Some(s(step.stored()))),
                Set::FailedAttempts(n) => ("failedAttempts", Some(self::n(n))),
                Set::LockedUntil(t) => ("lockedUntil", t.map(|t| s(format_time(t)))),
                Set::TermsVersion(v) => ("termsVersion", Some(s(v.as_str()))),
                Set::Email(a) => ("email", a.as_ref().map(|a| s(a.as_str()))),
                Set::EmailProblem(p) => ("emailProblem", p.map(|p| s(p.as_str()))),
                Set::NotifyMedicalExpenses(b) => ("notifyMedicalExpenses", Some(AttributeValue::Bool(*b))),
                Set::CompletedAt(t) => ("completedAt", Some(s(format_time(*t)))),
            };
            let name = e.name(attribute);
            match value {
                Some(v) => {
                    let value = e.value(v);
                    set.push(format!("{name} = {value}"));
                }
                None => remove.push(name),
            }
        }
        let (version, updated, one, at) = (e.name("version"), e.name("updatedAt"), e.value(n(1)), e.value(s(format_time(now))));
        set.push(format!("{version} = {version} + {one}"));
        set.push(format!("{updated} = {at}"));
        e.update = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            e.update.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        // An existing record (UpdateItem would create one) in one of the expected states.
        let state = e.name("state");
        let from: Vec<String> = write.from.iter().map(|step| e.value(s(step.stored()))).collect();
        e.condition = format!("attribute_exists(PK) AND {state} IN ({})", from.join(", "));
        if let Some(expected) = write.version {
            let (version, value) = (e.name("version"), e.value(n(expected)));
            e.condition.push_str(&format!(" AND {version} = {value}"));
        }
        if let Some(issued) = write.session_issued_at {
            // Times are stored as RFC 3339 UTC with microseconds: they compare as text.
            let (from, value) = (e.name("sessionsValidFrom"), e.value(s(format_time(issued))));
            e.condition.push_str(&format!(" AND (attribute_not_exists({from}) OR {from} <= {value})"));
        }
        e
    }

    fn name(&mut self, attribute: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == attribute) {
            return k.clone();
        }
        let k = format!("#a{}", self.names.len());
        self.names.insert(k.clone(), attribute.to_owned());
        k
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }
}

/// Every attribute a signup record's item may have (`encode_signup`). The signup writers' IAM
/// statements allow writing these (and `CONSENT_ATTRIBUTES`) only, so no step function can write a
/// profile's insurer number or birth date (`tests/tests/template_matches_routes.rs` holds the
/// template's lists equal to these).
pub const SIGNUP_ATTRIBUTES: &[&str] = &[
    "PK", "SK", "state", "version", "failedAttempts", "updatedAt", "lockedUntil", "email", "notifyMedicalExpenses", "termsVersion", "emailProblem",
    "completedAt", "welcomeMailFor", "welcomeClaimedAt", "welcomeSentAt", "sessionsValidFrom", "addressChangedAt",
];

/// `get_signup`'s ProjectionExpression over `SIGNUP_ATTRIBUTES` (every name through a placeholder:
/// `state` and `version` are among DynamoDB's reserved words).
const SIGNUP_PROJECTION: (&str, &[(&str, &str)]) = (
    "#p0, #p1, #p2, #p3, #p4, #p5, #p6, #p7, #p8, #p9, #p10, #p11, #p12, #p13, #p14, #p15, #p16",
    &[
        ("#p0", "PK"), ("#p1", "SK"), ("#p2", "state"), ("#p3", "version"), ("#p4", "failedAttempts"), ("#p5", "updatedAt"), ("#p6", "lockedUntil"),
        ("#p7", "email"), ("#p8", "notifyMedicalExpenses"), ("#p9", "termsVersion"), ("#p10", "emailProblem"), ("#p11", "completedAt"),
        ("#p12", "welcomeMailFor"), ("#p13", "welcomeClaimedAt"), ("#p14", "welcomeSentAt"), ("#p15", "sessionsValidFrom"), ("#p16", "addressChangedAt"),
    ],
);

/// What `end_sessions` (ログアウト) writes: the template's `SessionEnder` list, all the logout's role
/// may write.
pub const END_SESSIONS_ATTRIBUTES: &[&str] = &["PK", "SK", "sessionsValidFrom", "updatedAt", "version", "state", "failedAttempts"];

/// Every attribute of a consent item (`encode_consent`).
pub const CONSENT_ATTRIBUTES: &[&str] = &["PK", "SK", "termsVersion", "agreedAt", "sourceIp"];

/// A whole item written by UpdateItem instead of PutItem (so a writer's role needs no PutItem,
/// which could replace any item of the partition, a profile included): `SET` of every attribute
/// of the item, `REMOVE` of the item type's other attributes, on `condition`.
struct ItemUpdate {
    key: Item,
    expression: String,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl ItemUpdate {
    fn replacing(mut item: Item, attributes: &[&str], condition: &str) -> Self {
        let mut key = Item::new();
        for k in ["PK", "SK"] {
            if let Some(v) = item.remove(k) {
                key.insert(k.to_owned(), v);
            }
        }
        let (mut names, mut values, mut set, mut remove) = (HashMap::new(), HashMap::new(), Vec::new(), Vec::new());
        let mut fields: Vec<(String, AttributeValue)> = item.into_iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (name, value)) in fields.into_iter().enumerate() {
            names.insert(format!("#s{i}"), name);
            values.insert(format!(":s{i}"), value);
            set.push(format!("#s{i} = :s{i}"));
        }
        let present: Vec<String> = names.values().cloned().collect();
        for (i, absent) in attributes.iter().filter(|a| !["PK", "SK"].contains(a) && !present.iter().any(|n| n == *a)).enumerate() {
            names.insert(format!("#r{i}"), (*absent).to_owned());
            remove.push(format!("#r{i}"));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        Self { key, expression, condition: condition.to_owned(), names, values }
    }

    /// As one item of a TransactWriteItems.
    fn transact(self, table: &str) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(table)
            .set_key(Some(self.key))
            .update_expression(self.expression)
            .condition_expression(self.condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

fn condition_for(expect: Expect) -> (&'static str, Option<AttributeValue>) {
    match expect {
        Expect::Absent => ("attribute_not_exists(PK)", None),
        Expect::Version(v) => ("#v = :v", Some(AttributeValue::N(v.to_string()))),
    }
}

/// A cancelled transaction that lost a condition, or collided with another transaction on the same
/// item at the same moment (both may be cancelled): a lost race either way, not an outage.
fn lost_race(c: &aws_sdk_dynamodb::types::error::TransactionCanceledException) -> bool {
    c.cancellation_reasons().iter().any(|r| matches!(r.code(), Some("ConditionalCheckFailed" | "TransactionConflict")))
}

/// A conditional transaction's outcome: `true` applied, `false` a condition lost (or a collision
/// with another transaction: a lost race either way); any other failure is the store's.
fn transaction_applied<T>(result: Result<T, SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(err) => {
            let store_error = unavailable(&err);
            match err.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(c) if lost_race(&c) => Ok(false),
                _ => Err(store_error),
            }
        }
    }
}

/// A single-item write's error that can say whether its condition failed.
pub trait ConditionalError: std::error::Error + 'static {
    fn condition_failed(&self) -> bool;
}

impl ConditionalError for PutItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionalError for UpdateItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionalError for aws_sdk_dynamodb::operation::delete_item::DeleteItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

/// A conditional single-item write's outcome: `Ok(true)` applied, `Ok(false)` its condition failed
/// (a domain outcome: a repeat, a lost race, a lock held); any other failure is the store's
/// (`StoreError::Unavailable`). The one mapping of both DynamoDB adapters.
pub fn condition_applied<T, E: ConditionalError>(result: Result<T, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) => {
            let store_error = unavailable(&e);
            if e.as_service_error().is_some_and(ConditionalError::condition_failed) { Ok(false) } else { Err(store_error) }
        }
    }
}

/// A failed request as the store's error (the SDK's text: no item values).
pub fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(e: &SdkError<E, R>) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(e).to_string())
}

/// The items of `member`'s partition with sort keys from `from` to `to` (inclusive): one strongly
/// consistent Query, more pages only past 1 MB. The one partition read of both stores (the
/// signup's profile and record, the statements' household, the notices' input).
///
/// Errors: `StoreError::Unavailable` when DynamoDB fails.
pub async fn partition_items(client: &Client, table: &str, member: &MemberId, from: &str, to: &str) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(member_pk(member)))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

pub fn member_pk(id: &MemberId) -> String {
    format!("MEMBER#{}", id.as_str())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.get(key).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n<T: std::str::FromStr>(item: &Item, key: &str) -> Option<T> {
    item.get(key).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute {what} missing or invalid"))
}

fn member_id_of(item: &Item) -> Result<MemberId, StoreError> {
    get_s(item, "PK")
        .and_then(|pk| pk.strip_prefix("MEMBER#"))
        .and_then(|id| MemberId::parse(id).ok())
        .ok_or_else(|| corrupt("PK"))
}

pub fn encode_member(m: &MemberProfile) -> Item {
    let mut item = Item::new();
    item.insert("PK".into(), s(member_pk(&m.member_id)));
    item.insert("SK".into(), s("PROFILE"));
    item.insert("insurerNumber".into(), s(m.insurer_number.as_str()));
    item.insert("birthDate".into(), s(m.birth_date.compact()));
    if let Some(c) = &m.category {
        item.insert("category".into(), s(c.clone()));
    }
    if let Some(name) = &m.name {
        item.insert("name".into(), s(name.clone()));
    }
    if let Some(d) = m.left_on {
        item.insert("leftOn".into(), s(d.format("%Y-%m-%d").to_string()));
    }
    item
}

pub fn decode_member(item: &Item) -> Result<MemberProfile, StoreError> {
    Ok(MemberProfile {
        member_id: member_id_of(item)?,
        insurer_number: get_s(item, "insurerNumber").and_then(|v| InsurerNumber::parse(v).ok()).ok_or_else(|| corrupt("insurerNumber"))?,
        birth_date: get_s(item, "birthDate").and_then(BirthDate::from_compact).ok_or_else(|| corrupt("birthDate"))?,
        category: get_s(item, "category").map(str::to_owned),
        name: get_s(item, "name").map(str::to_owned),
        left_on: match get_s(item, "leftOn") {
            None => None,
            Some(v) => Some(chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| corrupt("leftOn"))?),
        },
    })
}

pub fn encode_signup(r: &SignupRecord) -> Item {
    let mut item = Item::new();
    item.insert("PK".into(), s(member_pk(&r.member_id)));
    item.insert("SK".into(), s("SIGNUP"));
    item.insert("state".into(), s(r.state.stored()));
    item.insert("version".into(), n(r.version));
    item.insert("failedAttempts".into(), n(r.failed_attempts));
    item.insert("updatedAt".into(), s(format_time(r.updated_at)));
    if let Some(t) = r.locked_until {
        item.insert("lockedUntil".into(), s(format_time(t)));
    }
    if let Some(e) = &r.email {
        item.insert("email".into(), s(e.as_str()));
    }
    if let Some(b) = r.notify_medical_expenses {
        item.insert("notifyMedicalExpenses".into(), AttributeValue::Bool(b));
    }
    if let Some(v) = &r.terms_version {
        item.insert("termsVersion".into(), s(v.as_str()));
    }
    if let Some(p) = r.email_problem {
        item.insert("emailProblem".into(), s(p.as_str()));
    }
    for (key, value) in [
        ("completedAt", r.completed_at),
        ("welcomeMailFor", r.welcome_mail_for),
        ("welcomeClaimedAt", r.welcome_claimed_at),
        ("welcomeSentAt", r.welcome_sent_at),
        ("sessionsValidFrom", r.sessions_valid_from),
        ("addressChangedAt", r.address_changed_at),
    ] {
        if let Some(t) = value {
            item.insert(key.into(), s(format_time(t)));
        }
    }
    item
}

pub fn decode_signup(item: &Item) -> Result<SignupRecord, StoreError> {
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        match get_s(item, key) {
            None => Ok(None),
            Some(v) => parse_time(v).map(Some).ok_or_else(|| corrupt(key)),
        }
    };
    Ok(SignupRecord {
        member_id: member_id_of(item)?,
        state: get_s(item, "state").and_then(Step::from_stored).ok_or_else(|| corrupt("state"))?,
        version: get_n(item, "version").ok_or_else(|| corrupt("version"))?,
        failed_attempts: get_n(item, "failedAttempts").unwrap_or(0),
        locked_until: time("lockedUntil")?,
        email: match get_s(item, "email") {
            None => None,
            Some(v) => Some(EmailAddress::from_stored(v).ok_or_else(|| corrupt("email"))?),
        },
        notify_medical_expenses: item.get("notifyMedicalExpenses").and_then(|v| v.as_bool().ok()).copied(),
        terms_version: get_s(item, "termsVersion").and_then(|v| TermsVersion::parse(v).ok()),
        completed_at: time("completedAt")?,
        welcome_mail_for: time("welcomeMailFor")?,
        welcome_claimed_at: time("welcomeClaimedAt")?,
        welcome_sent_at: time("welcomeSentAt")?,
        email_problem: get_s(item, "emailProblem").and_then(EmailProblem::parse),
        sessions_valid_from: time("sessionsValidFrom")?,
        address_changed_at: time("addressChangedAt")?,
        updated_at: time("updatedAt")?.ok_or_else(|| corrupt("updatedAt"))?,
    })
}

/// A stream image (a Lambda event's or the Streams API's, as `serde_dynamo::Item`) as a signup
/// record; `None` for an absent image or another item (a profile, a consent, a token).
pub fn decode_signup_image(image: &serde_dynamo::Item) -> Result<Option<SignupRecord>, StoreError> {
    if image.is_empty() {
        return Ok(None);
    }
    let item: Item = image.clone().into();
    if get_s(&item, "SK") != Some("SIGNUP") {
        return Ok(None);
    }
    decode_signup(&item).map(Some)
}

/// A stream record's two images as a signup change (`None`: not a signup item).
pub fn decode_signup_change(old: &serde_dynamo::Item, new: &serde_dynamo::Item) -> Result<Option<SignupChange>, StoreError> {
    let Some(new) = decode_signup_image(new)? else { return Ok(None) };
    Ok(Some(SignupChange { old: decode_signup_image(old)?, new }))
}

fn encode_consent(c: &ConsentRecord) -> Item {
    let mut item = Item::new();
    item.insert("PK".into(), s(member_pk(&c.member_id)));
    item.insert("SK".into(), s(format!("CONSENT#{}", format_time(c.agreed_at))));
    item.insert("termsVersion".into(), s(c.terms_version.as_str()));
    item.insert("agreedAt".into(), s(format_time(c.agreed_at)));
    if let Some(ip) = &c.source_ip {
        item.insert("sourceIp".into(), s(ip.clone()));
    }
    item
}

fn decode_consent(item: &Item) -> Result<ConsentRecord, StoreError> {
    Ok(ConsentRecord {
        member_id: member_id_of(item)?,
        terms_version: get_s(item, "termsVersion").and_then(|v| TermsVersion::parse(v).ok()).ok_or_else(|| corrupt("termsVersion"))?,
        agreed_at: get_s(item, "agreedAt").and_then(parse_time).ok_or_else(|| corrupt("agreedAt"))?,
        source_ip: get_s(item, "sourceIp").map(str::to_owned),
    })
}

#[async_trait]
impl SignupStore for DynamoStore {
    async fn put_members(&self, members: &[MemberProfile]) -> Result<(), StoreError> {
        for chunk in members.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|m| {
                    let put = PutRequest::builder().set_item(Some(encode_member(m))).build().map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_, StoreError>>()?;
            let mut delay = Duration::from_millis(50);
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| unavailable(&e))?;
                pending = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(StoreError::Unavailable(format!("{} members left unprocessed after retries", pending.len())));
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
        Ok(())
    }

    async fn get_member(&self, id: &MemberId) -> Result<Option<MemberProfile>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(member_pk(id)))
            .key("SK", s("PROFILE"))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        out.item.as_ref().map(decode_member).transpose()
    }

    async fn get_signup(&self, id: &MemberId) -> Result<Option<SignupRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(member_pk(id)))
            .key("SK", s("SIGNUP"))
            .consistent_read(true)
            // Only the record's own attributes: the readers' roles may read no other (a profile's).
            .projection_expression(SIGNUP_PROJECTION.0)
            .set_expression_attribute_names(Some(SIGNUP_PROJECTION.1.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        out.item.as_ref().map(decode_signup).transpose()
    }

    async fn get_member_and_signup(&self, id: &MemberId) -> Result<(Option<MemberProfile>, Option<SignupRecord>), StoreError> {
        // `CONSENT#…` < `NOTICE#…` < `PROFILE` < `SIGNUP`: the two items, read together.
        let (mut profile, mut signup) = (None, None);
        for item in partition_items(&self.client, &self.table, id, "PROFILE", "SIGNUP").await? {
            match get_s(&item, "SK") {
                Some("PROFILE") => profile = Some(decode_member(&item)?),
                Some("SIGNUP") => signup = Some(decode_signup(&item)?),
                _ => {}
            }
        }
        Ok((profile, signup))
    }

    async fn put_signup(&self, record: &SignupRecord, expect: Expect) -> Result<(), WriteError> {
        let u = self.signup_update(record, expect);
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(u.key))
            .update_expression(u.expression)
            .condition_expression(u.condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values));
        if condition_applied(request.send().await)? {
            return Ok(());
        }
        Err(WriteError::Conflict(self.current_after_conflict(&record.member_id).await?))
    }

    async fn put_signup_with_consent(&self, record: &SignupRecord, expect: Expect, consent: &ConsentRecord) -> Result<(), WriteError> {
        let consent = Self::consent_update(consent).transact(&self.table)?;
        let signup = self.signup_update(record, expect).transact(&self.table)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(signup).build())
            .transact_items(TransactWriteItem::builder().update(consent).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let store_error = unavailable(&e);
                match e.into_service_error() {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        // A lost condition, or another transaction on the same item at the same
                        // moment (both may be cancelled): a lost race either way. The record is
                        // read again: a cancellation's item is not a reliable "current".
                        if lost_race(&c) {
                            Err(WriteError::Conflict(self.current_after_conflict(&record.member_id).await?))
                        } else {
                            Err(WriteError::Store(store_error))
                        }
                    }
                    _ => Err(WriteError::Store(store_error)),
                }
            }
        }
    }

    async fn put_signup_blind(&self, member: &MemberId, write: &BlindWrite, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let e = BlindExpression::new(write, now);
        let key = [("PK".to_owned(), s(member_pk(member))), ("SK".to_owned(), s("SIGNUP"))];
        let Some(consent) = &write.consent else {
            // One UpdateItem.
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.into_iter().collect()))
                .update_expression(e.update)
                .condition_expression(e.condition)
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values(Some(e.values))
                .send()
                .await;
            return condition_applied(result);
        };
        // One TransactWriteItems: the update and the consent appended.
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key.into_iter().collect()))
            .update_expression(e.update)
            .condition_expression(e.condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let consent = Self::consent_update(consent).transact(&self.table)?;
        let request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().update(consent).build());
        transaction_applied(request.send().await)
    }

    async fn create_signup_if_identity(&self, record: &SignupRecord, insurer_number: &InsurerNumber, birth_date: &BirthDate) -> Result<bool, StoreError> {
        let profile_key = [("PK".to_owned(), s(member_pk(&record.member_id))), ("SK".to_owned(), s("PROFILE"))];
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key.into_iter().collect()))
            .condition_expression("#i = :i AND #b = :b")
            .expression_attribute_names("#i", "insurerNumber")
            .expression_attribute_names("#b", "birthDate")
            .expression_attribute_values(":i", s(insurer_number.as_str()))
            .expression_attribute_values(":b", s(birth_date.compact()))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().update(self.signup_update(record, Expect::Absent).transact(&self.table)?).build());
        transaction_applied(request.send().await)
    }

    async fn end_sessions(&self, member: &MemberId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let key: Item = [("PK".to_owned(), s(member_pk(member))), ("SK".to_owned(), s("SIGNUP"))].into_iter().collect();
        let names: HashMap<String, String> = [("#f", "sessionsValidFrom"), ("#v", "version"), ("#u", "updatedAt"), ("#s", "state"), ("#a", "failedAttempts")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let values: HashMap<String, AttributeValue> =
            [(":f", s(format_time(at))), (":one", n(1)), (":zero", n(0)), (":identity", s(Step::Identity.stored()))].into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        // An existing record: the time moves (never back), the version is bumped. A member without
        // one gets it, at the identity step, with the time and nothing else.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #f = :f, #u = :f, #v = if_not_exists(#v, :zero) + :one, #s = if_not_exists(#s, :identity), #a = if_not_exists(#a, :zero)")
            .condition_expression("attribute_not_exists(#f) OR #f < :f")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        // A failed condition: already ended at or after `at` (another logout), nothing to do.
        condition_applied(result).map(|_| ())
    }

    async fn list_consents(&self, id: &MemberId) -> Result<Vec<ConsentRecord>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(member_pk(id)))
            .expression_attribute_values(":prefix", s("CONSENT#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| unavailable(&e))?;
        items.iter().map(decode_consent).collect()
    }

    async fn claim_token(&self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(format!("SSO#{jti}")))
            .item("SK", s("SSO"))
            .item("expiresAt", n(expires_at.timestamp()))
            // TTL deletes lazily: an expired item may still be there, and does not count.
            .condition_expression("attribute_not_exists(PK) OR expiresAt < :now")
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        condition_applied(result)
    }

    async fn reserve_send_slot(&self, now: DateTime<Utc>, interval: chrono::Duration) -> Result<SendSlot, StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        let now = super::ceil_to_millis(now);
        let step = interval.num_milliseconds().max(1);
        // A few rounds: a failed condition means the ledger moved past `now` or fell behind it
        // between the two requests (another sender's reservation, or time passing).
        for _ in 0..8 {
            let busy_first = self.ledger_busy.load(Relaxed);
            for busy in [busy_first, !busy_first] {
                let slot = if busy { self.next_busy_slot(now, step).await? } else { self.idle_slot(now, step).await?.then_some(now) };
                if let Some(slot) = slot {
                    self.ledger_busy.store(busy, Relaxed);
                    return Ok(SendSlot::At(slot));
                }
            }
            // Both failed: paused, full, or a race. The item decides.
            let (paused, next) = self.ledger_state().await?;
            if let Some(until) = paused.filter(|u| *u > now) {
                return Ok(SendSlot::PausedUntil(until));
            }
            let ahead = now + chrono::Duration::seconds(super::SEND_SLOT_MAX_AHEAD_SECONDS);
            let horizon = now + chrono::Duration::seconds(super::SEND_SLOT_HORIZON_SECONDS);
            if next.is_some_and(|next| next >= ahead && next < horizon) {
                return Ok(SendSlot::Full);
            }
        }
        Err(StoreError::Unavailable("send slot ledger contended".into()))
    }

    async fn pause_sending(&self, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        let result = self
            .ledger_update(now)
            .update_expression("SET pausedUntil = :until")
            .condition_expression("attribute_not_exists(pausedUntil) OR pausedUntil <= :now")
            .expression_attribute_values(":until", n(until.timestamp_millis()))
            .send()
            .await;
        if condition_applied(result)? {
            return Ok(until);
        }
        // Another sender paused first: its pause stands.
        Ok(self.ledger_state().await?.0.unwrap_or(until))
    }
}

/// Not paused: no pause, or one that is over (`:now`).
const LEDGER_NOT_PAUSED: &str = "(attribute_not_exists(pausedUntil) OR pausedUntil <= :now)";

impl DynamoStore {
    /// An UpdateItem of the ledger item with `:now` (epoch ms) bound.
    fn ledger_update(&self, now: DateTime<Utc>) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(SEND_RATE_KEY))
            .key("SK", s(SEND_RATE_KEY))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
    }

    /// The ledger is busy (its next slot ahead of `now`, less than `SEND_SLOT_MAX_AHEAD_SECONDS`
    /// ahead): that slot, and the ledger moved one `step` (ms) on. `None`: not busy, full, or paused.
    async fn next_busy_slot(&self, now: DateTime<Utc>, step: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
        let result = self
            .ledger_update(now)
            .update_expression("ADD nextSlot :step")
            .condition_expression(format!("nextSlot > :now AND nextSlot < :ahead AND {LEDGER_NOT_PAUSED}"))
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":ahead", n(now.timestamp_millis() + super::SEND_SLOT_MAX_AHEAD_SECONDS * 1000))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let slot = out.attributes.as_ref().and_then(|a| get_n(a, "nextSlot")).ok_or_else(|| StoreError::Corrupt("nextSlot missing".into()))?;
                DateTime::from_timestamp_millis(slot).map(Some).ok_or_else(|| StoreError::Corrupt("nextSlot out of range".into()))
            }
            Err(e) if e.as_service_error().is_some_and(ConditionalError::condition_failed) => Ok(None),
            Err(e) => Err(unavailable(&e)),
        }
    }

    /// The ledger is idle, never used, or implausibly far ahead: the slot is `now`, the next one
    /// `step` (ms) later. `false`: not idle, or paused.
    async fn idle_slot(&self, now: DateTime<Utc>, step: i64) -> Result<bool, StoreError> {
        let result = self
            .ledger_update(now)
            .update_expression("SET nextSlot = :next")
            .condition_expression(format!("(attribute_not_exists(nextSlot) OR nextSlot <= :now OR nextSlot >= :horizon) AND {LEDGER_NOT_PAUSED}"))
            .expression_attribute_values(":next", n(now.timestamp_millis() + step))
            .expression_attribute_values(":horizon", n(now.timestamp_millis() + super::SEND_SLOT_HORIZON_SECONDS * 1000))
            .send()
            .await;
        condition_applied(result)
    }

    /// The send-rate ledger's pause (`pausedUntil`) and next slot (`nextSlot`), UTC, as stored:
    /// one strongly consistent GetItem of those two attributes.
    async fn ledger_state(&self) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(SEND_RATE_KEY))
            .key("SK", s(SEND_RATE_KEY))
            .projection_expression("pausedUntil, nextSlot")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let at = |name: &str| out.item.as_ref().and_then(|i| get_n::<i64>(i, name)).and_then(DateTime::from_timestamp_millis);
        Ok((at("pausedUntil"), at("nextSlot")))
    }
}

/// The send-rate ledger's key (`PK` and `SK`): one item for the account.
pub const SEND_RATE_KEY: &str = "SENDRATE";

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists the IAM statements are held to name every attribute the code writes or reads.
    #[test]
    fn the_attribute_lists_cover_every_attribute_a_record_or_consent_has() {
        let now = Utc::now();
        let mut r = SignupRecord::new(MemberId::parse("M1").unwrap(), now);
        (r.locked_until, r.email, r.notify_medical_expenses) = (Some(now), EmailAddress::from_stored("a@example.jp"), Some(true));
        (r.terms_version, r.email_problem, r.completed_at) = (TermsVersion::parse("2026-11-01").ok(), Some(EmailProblem::Bounced), Some(now));
        (r.welcome_mail_for, r.welcome_claimed_at, r.welcome_sent_at) = (Some(now), Some(now), Some(now));
        (r.sessions_valid_from, r.address_changed_at) = (Some(now), Some(now));
        let item = encode_signup(&r);
        let mut written: Vec<&str> = item.keys().map(String::as_str).collect();
        written.sort_unstable();
        let mut listed = SIGNUP_ATTRIBUTES.to_vec();
        listed.sort_unstable();
        assert_eq!(written, listed);
        let mut projected: Vec<&str> = SIGNUP_PROJECTION.1.iter().map(|(_, a)| *a).collect();
        projected.sort_unstable();
        assert_eq!(projected, listed, "get_signup reads exactly the record's attributes");
        assert_eq!(SIGNUP_PROJECTION.0.split(", ").count(), SIGNUP_PROJECTION.1.len());
        let consent = ConsentRecord { member_id: r.member_id.clone(), terms_version: TermsVersion::parse("2026-11-01").unwrap(), agreed_at: now, source_ip: Some("192.0.2.1".into()) };
        let item = encode_consent(&consent);
        let mut written: Vec<&str> = item.keys().map(String::as_str).collect();
        written.sort_unstable();
        let mut listed = CONSENT_ATTRIBUTES.to_vec();
        listed.sort_unstable();
        assert_eq!(written, listed);
    }

    /// An update that stands for a Put: every attribute set, the absent optional ones removed.
    #[test]
    fn an_item_update_sets_what_the_item_has_and_removes_the_rest() {
        let r = SignupRecord::new(MemberId::parse("M1").unwrap(), Utc::now());
        let u = ItemUpdate::replacing(encode_signup(&r), SIGNUP_ATTRIBUTES, "attribute_not_exists(PK)");
        assert_eq!(u.key.len(), 2);
        let (set, remove) = u.expression.split_once(" REMOVE ").unwrap();
        assert_eq!(set.matches(" = ").count(), encode_signup(&r).len() - 2);
        let removed: Vec<&str> = remove.split(", ").map(|k| u.names[k].as_str()).collect();
        assert!(removed.contains(&"email") && removed.contains(&"sessionsValidFrom") && !removed.contains(&"state"), "{removed:?}");
    }
}
