//! ONE contract suite for `SignupStore`, run against the embedded store and against DynamoDB's
//! real wire protocol (moto on 127.0.0.1), so the embedded store cannot drift from DynamoDB.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use kenpo_shared::domain::{EmailAddress, MemberId, Step, TermsVersion};
use kenpo_shared::store::dynamodb::DynamoStore;
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_shared::store::{ConsentRecord, Expect, SignupRecord, SignupStore, WriteError};
use kenpo_tests::*;
use serde_json::json;

fn id(s: &str) -> MemberId {
    MemberId::parse(s).unwrap()
}

fn at(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, 0, 0).unwrap()
}

/// A record written for the first time (version 1).
fn first(member: &str) -> SignupRecord {
    next(&SignupRecord::new(id(member), at(1)), at(1))
}

/// The next version of `r`, as the retry loop writes it (expecting `r.version`).
fn next(r: &SignupRecord, now: chrono::DateTime<Utc>) -> SignupRecord {
    SignupRecord { version: r.version + 1, updated_at: now, ..r.clone() }
}

async fn members_round_trip_in_batches(store: Arc<dyn SignupStore>) {
    let members: Vec<_> = (0..60).map(|i| member(&format!("B{i:03}"), if i % 2 == 0 { "06133946" } else { "63133946" }, "19810403")).collect();
    store.put_members(&members).await.unwrap();
    for m in &members {
        assert_eq!(store.get_member(&m.member_id).await.unwrap().as_ref(), Some(m));
    }
    assert_eq!(store.get_member(&id("NOBODY")).await.unwrap(), None);
}

async fn a_signup_is_created_once(store: Arc<dyn SignupStore>) {
    let r = first("S1");
    store.put_signup(&r, Expect::Absent).await.unwrap();
    match store.put_signup(&r, Expect::Absent).await {
        Err(WriteError::Conflict(Some(current))) => assert_eq!(*current, r),
        other => panic!("second create must lose with the current record, got {other:?}"),
    }
}

async fn every_field_survives_a_round_trip(store: Arc<dyn SignupStore>) {
    let mut r = first("S2");
    r.state = Step::Completed;
    r.failed_attempts = 3;
    r.locked_until = Some(at(5));
    r.email = EmailAddress::from_stored("taro..yamada@docomo.ne.jp");
    r.notify_medical_expenses = Some(true);
    r.terms_version = Some(TermsVersion::parse("2026-11-01").unwrap());
    r.completed_at = Some(at(2) + Duration::microseconds(123_456));
    r.welcome_mail_for = r.completed_at;
    r.welcome_claimed_at = Some(at(3));
    r.welcome_sent_at = Some(at(3) + Duration::seconds(1));
    r.email_problem = Some(kenpo_shared::store::EmailProblem::Bounced);
    r.sessions_valid_from = Some(at(4) + Duration::microseconds(7));
    r.address_changed_at = Some(at(4));
    store.put_signup(&r, Expect::Absent).await.unwrap();
    assert_eq!(store.get_signup(&id("S2")).await.unwrap(), Some(r.clone()));
    // A whole-record write removes what the new record no longer has.
    let mut cleared = SignupRecord { version: 2, ..first("S2") };
    cleared.state = Step::Completed;
    store.put_signup(&cleared, Expect::Version(1)).await.unwrap();
    assert_eq!(store.get_signup(&id("S2")).await.unwrap(), Some(cleared));
    assert_eq!(store.get_signup(&id("NONE")).await.unwrap(), None);
}

async fn a_stale_version_loses_and_sees_the_winner(store: Arc<dyn SignupStore>) {
    let r1 = first("S3");
    store.put_signup(&r1, Expect::Absent).await.unwrap();
    let mut winner = next(&r1, at(2));
    winner.state = Step::Consent;
    let mut loser = next(&r1, at(2));
    loser.failed_attempts = 1;
    store.put_signup(&winner, Expect::Version(r1.version)).await.unwrap();
    match store.put_signup(&loser, Expect::Version(r1.version)).await {
        Err(WriteError::Conflict(Some(current))) => {
            assert_eq!(current.state, Step::Consent);
            assert_eq!(current.version, 2);
        }
        other => panic!("stale write must lose, got {other:?}"),
    }
    assert_eq!(store.get_signup(&id("S3")).await.unwrap().unwrap().failed_attempts, 0, "the loser changed nothing");
}

async fn of_concurrent_transitions_exactly_one_wins(store: Arc<dyn SignupStore>) {
    let r1 = first("S4");
    store.put_signup(&r1, Expect::Absent).await.unwrap();
    let attempts: Vec<SignupRecord> = (0..10u32)
        .map(|i| {
            let mut n = next(&r1, at(2));
            n.failed_attempts = i;
            n
        })
        .collect();
    let results = join_all(attempts.iter().map(|n| store.put_signup(n, Expect::Version(1)))).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(WriteError::Conflict(_)))).count();
    assert_eq!((wins, conflicts), (1, 9));
}

async fn consent_and_transition_are_all_or_nothing(store: Arc<dyn SignupStore>) {
    let r1 = first("S5");
    store.put_signup(&r1, Expect::Absent).await.unwrap();
    let consent = |h| ConsentRecord { member_id: id("S5"), terms_version: TermsVersion::parse("2026-11-01").unwrap(), agreed_at: at(h), source_ip: Some("192.0.2.1".into()) };
    let mut second = next(&r1, at(2));
    second.state = Step::Preferences;
    // Wrong expected version: neither the record nor the consent is written.
    assert!(matches!(store.put_signup_with_consent(&second, Expect::Version(7), &consent(2)).await, Err(WriteError::Conflict(_))));
    assert!(store.list_consents(&id("S5")).await.unwrap().is_empty());
    store.put_signup_with_consent(&second, Expect::Version(1), &consent(2)).await.unwrap();
    let mut later = next(&second, at(4));
    later.state = Step::Preferences;
    store.put_signup_with_consent(&later, Expect::Version(2), &consent(4)).await.unwrap();
    let listed = store.list_consents(&id("S5")).await.unwrap();
    assert_eq!(listed, vec![consent(2), consent(4)], "append-only, oldest first");
    assert_eq!(store.get_signup(&id("S5")).await.unwrap().unwrap().version, 3);
}

async fn a_token_is_used_once_until_it_expires(store: Arc<dyn SignupStore>) {
    let now = at(10);
    assert!(store.claim_token("jti-0001-abcdefgh", now + Duration::minutes(5), now).await.unwrap());
    assert!(!store.claim_token("jti-0001-abcdefgh", now + Duration::minutes(5), now + Duration::minutes(1)).await.unwrap(), "replay");
    assert!(store.claim_token("jti-0002-abcdefgh", now + Duration::minutes(5), now).await.unwrap(), "another token");
    // TTL deletes lazily: an expired item still there does not block (and an expired token is refused anyway).
    assert!(store.claim_token("jti-0001-abcdefgh", now + Duration::minutes(20), now + Duration::minutes(10)).await.unwrap());
}

/// The profile and the signup record in one read, each absent on its own.
async fn profile_and_signup_are_read_together(store: Arc<dyn SignupStore>) {
    store.put_members(&[member("P1", "06133946", "19810403")]).await.unwrap();
    assert_eq!(store.get_member_and_signup(&id("P1")).await.unwrap(), (Some(member("P1", "06133946", "19810403")), None));
    let r = first("P1");
    store.put_signup(&r, Expect::Absent).await.unwrap();
    // A consent sorts before the profile: it is not mistaken for either item.
    let consent = ConsentRecord { member_id: id("P1"), terms_version: TermsVersion::parse("2026-11-01").unwrap(), agreed_at: at(2), source_ip: None };
    store.put_signup_with_consent(&next(&r, at(2)), Expect::Version(1), &consent).await.unwrap();
    let (profile, signup) = store.get_member_and_signup(&id("P1")).await.unwrap();
    assert_eq!((profile.map(|p| p.member_id), signup.map(|s| s.version)), (Some(id("P1")), Some(2)));
    let r = first("P2");
    store.put_signup(&r, Expect::Absent).await.unwrap();
    assert_eq!(store.get_member_and_signup(&id("P2")).await.unwrap(), (None, Some(r)));
    assert_eq!(store.get_member_and_signup(&id("NOBODY")).await.unwrap(), (None, None));
}

/// A first identity check creates the record only on the member's exact profile and only once.
async fn a_first_identity_check_creates_on_the_profile_condition(store: Arc<dyn SignupStore>) {
    use kenpo_shared::domain::{BirthDate, InsurerNumber};
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let (insurer, birth) = (InsurerNumber::parse("06133946").unwrap(), BirthDate::parse("19810403", today).unwrap());
    let other_birth = BirthDate::parse("19810404", today).unwrap();
    let mut r = first("F1");
    r.state = Step::Consent;
    assert!(!store.create_signup_if_identity(&r, &insurer, &birth).await.unwrap(), "no profile: nothing written");
    store.put_members(&[member("F1", "06133946", "19810403")]).await.unwrap();
    assert!(!store.create_signup_if_identity(&r, &insurer, &other_birth).await.unwrap(), "another birth date");
    assert!(!store.create_signup_if_identity(&r, &InsurerNumber::parse("63133946").unwrap(), &birth).await.unwrap(), "another insurer number");
    assert_eq!(store.get_signup(&id("F1")).await.unwrap(), None);
    assert!(store.create_signup_if_identity(&r, &insurer, &birth).await.unwrap());
    assert_eq!(store.get_signup(&id("F1")).await.unwrap().as_ref(), Some(&r));
    let mut again = next(&r, at(2));
    again.state = Step::Preferences;
    assert!(!store.create_signup_if_identity(&again, &insurer, &birth).await.unwrap(), "a record exists: never overwritten");
    assert_eq!(store.get_signup(&id("F1")).await.unwrap(), Some(r));
}

/// A blind write applies only to an existing record in one of its states, bumps the version,
/// and sets exactly its fields (an absent value removes the attribute).
async fn blind_writes_apply_only_where_their_condition_holds(store: Arc<dyn SignupStore>) {
    use kenpo_shared::domain::Preferences;
    use kenpo_shared::signup::{Command, Policy, decide_blind};
    let policy = Policy { terms_version: TermsVersion::parse("2026-11-01").unwrap(), onboarding_cutoff: chrono::NaiveDate::from_ymd_opt(2022, 8, 1).unwrap(), lockout_attempts: 5, lockout_seconds: 1800 };
    let m = id("X1");
    let consent = Command::Consent { agreed: true, terms_version: "2026-11-01".into(), source_ip: Some("192.0.2.1".into()) };
    assert!(!store.put_signup_blind(&m, &decide_blind(&m, &consent, at(1), &policy).unwrap(), at(1)).await.unwrap(), "no record: nothing written");
    assert_eq!(store.get_signup(&m).await.unwrap(), None, "a blind write never creates the record");
    assert!(store.list_consents(&m).await.unwrap().is_empty());
    let mut r = first("X1");
    r.state = Step::Consent;
    store.put_signup(&r, Expect::Absent).await.unwrap();
    assert!(store.put_signup_blind(&m, &decide_blind(&m, &consent, at(2), &policy).unwrap(), at(2)).await.unwrap());
    assert!(!store.put_signup_blind(&m, &decide_blind(&m, &consent, at(3), &policy).unwrap(), at(3)).await.unwrap(), "a repeat");
    assert_eq!(store.list_consents(&m).await.unwrap().len(), 1, "the repeat appended nothing");
    let r = store.get_signup(&m).await.unwrap().unwrap();
    assert_eq!((r.state, r.version, r.updated_at, r.terms_version.as_ref().map(TermsVersion::as_str)), (Step::Preferences, 2, at(2), Some("2026-11-01")));
    let prefs = |email: Option<&str>, notify| Command::SavePreferences { preferences: Preferences::new(email.map(|e| EmailAddress::from_stored(e).unwrap()), notify).unwrap(), birth_date_matches: None };
    let confirm = |version| Command::Confirm { version };
    assert!(!store.put_signup_blind(&m, &decide_blind(&m, &confirm(2), at(3), &policy).unwrap(), at(3)).await.unwrap(), "a step out of order");
    assert!(store.put_signup_blind(&m, &decide_blind(&m, &prefs(Some("taro@example.jp"), true), at(3), &policy).unwrap(), at(3)).await.unwrap());
    // From 入力確認 (戻る): the address removed, the choice changed.
    assert!(store.put_signup_blind(&m, &decide_blind(&m, &prefs(None, false), at(4), &policy).unwrap(), at(4)).await.unwrap());
    let r = store.get_signup(&m).await.unwrap().unwrap();
    assert_eq!((r.state, r.version, r.email, r.notify_medical_expenses), (Step::Confirm, 4, None, Some(false)));
    assert!(!store.put_signup_blind(&m, &decide_blind(&m, &confirm(3), at(5), &policy).unwrap(), at(5)).await.unwrap(), "a screen that showed version 3");
    assert!(store.put_signup_blind(&m, &decide_blind(&m, &confirm(4), at(5), &policy).unwrap(), at(5)).await.unwrap());
    assert!(!store.put_signup_blind(&m, &decide_blind(&m, &confirm(5), at(6), &policy).unwrap(), at(6)).await.unwrap());
    let r = store.get_signup(&m).await.unwrap().unwrap();
    assert_eq!((r.state, r.version, r.completed_at), (Step::Completed, 5, Some(at(5))));

    // A session ended by a logout (the record's sessionsValidFrom) writes nothing, to the microsecond.
    let m = id("X2");
    let mut r = first("X2");
    r.state = Step::Preferences;
    r.sessions_valid_from = Some(at(10) + chrono::Duration::microseconds(1));
    store.put_signup(&r, Expect::Absent).await.unwrap();
    assert_eq!(store.get_signup(&m).await.unwrap().unwrap().sessions_valid_from, r.sessions_valid_from, "stored to the microsecond");
    let from_session = |issued: chrono::DateTime<chrono::Utc>| kenpo_shared::signup::BlindWrite { session_issued_at: Some(issued), ..decide_blind(&m, &prefs(None, false), at(11), &policy).unwrap() };
    assert!(!store.put_signup_blind(&m, &from_session(at(10)), at(11)).await.unwrap(), "issued a microsecond before the logout");
    assert!(store.put_signup_blind(&m, &from_session(at(10) + chrono::Duration::microseconds(1)), at(11)).await.unwrap());
}

/// Through the real identity handler: concurrent wrong attempts are all counted (no lost update).
async fn concurrent_failed_attempts_are_all_counted(store: Arc<dyn SignupStore>) {
    let t = app_on(store, test_settings()).await;
    t.store.put_members(&[member("L1", "06133946", "19810403")]).await.unwrap();
    let cookie = t.login("L1").await;
    let wrong = json!({"insurerNumber": "06133946", "birthDate": "19800101"}).to_string();
    let results = join_all((0..4).map(|_| t.call("POST", "/api/signup/identity", Some(&wrong), &cookie))).await;
    let mut remaining: Vec<u64> = results.iter().map(|r| json_of(r)["error"]["remainingAttempts"].as_u64().unwrap()).collect();
    remaining.sort();
    assert_eq!(remaining, vec![1, 2, 3, 4], "each attempt counted once");
    let r = t.call("POST", "/api/signup/identity", Some(&wrong), &cookie).await;
    assert_eq!(r.status(), 429);
    let stored = t.store.get_signup(&id("L1")).await.unwrap().unwrap();
    assert_eq!(stored.failed_attempts, 5);
    assert!(stored.locked_until.is_some());
}

/// The whole onboarding on this store, through the handlers.
async fn a_whole_onboarding_completes(store: Arc<dyn SignupStore>) {
    let t = app_on(store, test_settings()).await;
    t.store.put_members(&[member("W1", "63133946", "19480115")]).await.unwrap();
    let cookie = t.login("W1").await;
    t.onboard(&cookie, "63133946", "1948-01-15", Some("hanako@example.jp")).await;
    let record = t.store.get_signup(&id("W1")).await.unwrap().unwrap();
    assert_eq!((record.state, record.email.map(|e| e.as_str().to_owned())), (Step::Completed, Some("hanako@example.jp".into())));
    assert_eq!(t.store.list_consents(&id("W1")).await.unwrap().len(), 1);
}

macro_rules! contract_suite {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new(super::EmbeddedStore::new())).await
                }
            )*
        }
        mod dynamodb_on_moto {
            $(
                #[tokio::test]
                async fn $case() {
                    let (client, table) = kenpo_tests::moto_table("contract").await;
                    super::$case(std::sync::Arc::new(super::DynamoStore::new(client, table))).await
                }
            )*
        }
    };
}

/// ログアウト: the time moves on the record (never back), the rest of it stays; a member without a
/// record gets one at the identity step.
async fn ending_sessions_moves_only_the_time(store: Arc<dyn SignupStore>) {
    let mut r = first("E1");
    r.state = Step::Completed;
    r.email = EmailAddress::from_stored("taro@example.jp");
    store.put_signup(&r, Expect::Absent).await.unwrap();
    store.end_sessions(&id("E1"), at(7)).await.unwrap();
    let ended = store.get_signup(&id("E1")).await.unwrap().unwrap();
    assert_eq!(ended, SignupRecord { sessions_valid_from: Some(at(7)), version: r.version + 1, updated_at: at(7), ..r.clone() });
    store.end_sessions(&id("E1"), at(6)).await.unwrap();
    assert_eq!(store.get_signup(&id("E1")).await.unwrap().unwrap().sessions_valid_from, Some(at(7)), "never back");
    store.end_sessions(&id("E2"), at(8)).await.unwrap();
    let created = store.get_signup(&id("E2")).await.unwrap().unwrap();
    assert_eq!((created.state, created.version, created.sessions_valid_from), (Step::Identity, 1, Some(at(8))));
    // The first identity check then takes the ordinary path (a record exists).
    assert!(!store.create_signup_if_identity(&first("E2"), &kenpo_shared::domain::InsurerNumber::parse("06133946").unwrap(), &kenpo_shared::domain::BirthDate::from_compact("19810403").unwrap()).await.unwrap());
}

/// The account's send-rate ledger: slots an interval apart, never one twice (even to callers at
/// the same instant), starting at `now` (rounded up to the millisecond) after an idle spell, or
/// when the ledger is implausibly far ahead; none while sending is paused.
async fn send_slots_are_an_interval_apart_and_never_shared(store: Arc<dyn SignupStore>) {
    use kenpo_shared::store::SendSlot::{At, Full, PausedUntil};
    let step = Duration::milliseconds(100);
    assert_eq!(store.reserve_send_slot(at(1), step).await.unwrap(), At(at(1)), "idle: now");
    let together = kenpo_tests::join_all((0..6).map(|_| store.reserve_send_slot(at(1), step))).await;
    let mut slots: Vec<_> = together.into_iter().map(Result::unwrap).collect();
    slots.sort_by_key(|s| match s {
        At(t) | PausedUntil(t) => Some(*t),
        Full => None,
    });
    let expected: Vec<_> = (1..=6).map(|k| At(at(1) + step * k)).collect();
    assert_eq!(slots, expected, "each caller its own slot, in order");
    assert_eq!(store.reserve_send_slot(at(1) + Duration::milliseconds(350), step).await.unwrap(), At(at(1) + step * 7), "still busy: the next slot");
    let sub_milli = at(2) + Duration::microseconds(1500);
    assert_eq!(store.reserve_send_slot(sub_milli, step).await.unwrap(), At(at(2) + Duration::milliseconds(2)), "idle again: now, rounded up");
    // A burst: never a slot 15 s or more ahead; full instead, and nothing taken. A second later
    // there is room again.
    let later = at(2) + Duration::seconds(1);
    for k in 0..150 {
        assert_eq!(store.reserve_send_slot(later, step).await.unwrap(), At(later + step * k));
    }
    assert_eq!(store.reserve_send_slot(later, step).await.unwrap(), Full);
    assert_eq!(store.reserve_send_slot(later, step).await.unwrap(), Full, "a full ledger does not move");
    assert_eq!(store.reserve_send_slot(later + Duration::seconds(1), step).await.unwrap(), At(later + step * 150));
    // A sender whose clock ran 2 minutes ahead left the ledger far ahead: the others start again.
    let jumped = later + Duration::seconds(120);
    assert_eq!(store.reserve_send_slot(jumped, step).await.unwrap(), At(jumped));
    assert_eq!(store.reserve_send_slot(later + Duration::seconds(2), step).await.unwrap(), At(later + Duration::seconds(2)), "reset to now");
}

/// SES's daily quota: one pause for every sender; a second refusal moments later keeps the first
/// pause's end; after it, slots again.
async fn a_pause_stops_every_sender_until_it_ends(store: Arc<dyn SignupStore>) {
    use kenpo_shared::store::SendSlot::{At, PausedUntil};
    let step = Duration::milliseconds(100);
    let until = at(3) + Duration::hours(24);
    assert_eq!(store.pause_sending(until, at(3)).await.unwrap(), until);
    assert_eq!(store.pause_sending(until + Duration::minutes(5), at(3) + Duration::minutes(5)).await.unwrap(), until, "the first pause stands");
    assert_eq!(store.reserve_send_slot(at(4), step).await.unwrap(), PausedUntil(until));
    assert_eq!(store.reserve_send_slot(until, step).await.unwrap(), At(until), "over at its end");
}

contract_suite!(
    send_slots_are_an_interval_apart_and_never_shared,
    a_pause_stops_every_sender_until_it_ends,
    ending_sessions_moves_only_the_time,
    members_round_trip_in_batches,
    a_signup_is_created_once,
    every_field_survives_a_round_trip,
    a_stale_version_loses_and_sees_the_winner,
    of_concurrent_transitions_exactly_one_wins,
    consent_and_transition_are_all_or_nothing,
    a_token_is_used_once_until_it_expires,
    concurrent_failed_attempts_are_all_counted,
    a_whole_onboarding_completes,
    profile_and_signup_are_read_together,
    blind_writes_apply_only_where_their_condition_holds,
    a_first_identity_check_creates_on_the_profile_condition,
);
