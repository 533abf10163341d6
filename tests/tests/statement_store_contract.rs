//! ONE contract suite for `StatementStore`, run against the embedded adapter and against
//! DynamoDB's real wire protocol (moto on 127.0.0.1), through the import every path uses
//! (`kenpo_statement_store::import::import_file`): what a society's file does to a household.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::SignupStore;
use kenpo_shared::store::dynamodb::DynamoStore;
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_statement_store::dynamodb::DynamoStatements;
use kenpo_statement_store::embedded::EmbeddedStatements;
use kenpo_statement_store::import::{ImportError, Quiet, import_file};
use kenpo_statement_store::{FileStatus, Household, Scope, StatementStore};
use kenpo_statements::types::StatementKind::{Benefits, Medical};
use kenpo_tests::member;
use kenpo_tests::statements::{benefit, cancellation, file, medical};

type Stores = (Arc<dyn SignupStore>, Arc<dyn StatementStore>);

fn id(s: &str) -> MemberId {
    MemberId::parse(s).unwrap()
}

fn at(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 1, 0, 0).unwrap()
}

fn ids(h: &Household) -> (Vec<String>, Vec<String>) {
    let mut medical: Vec<String> = h.medical.iter().map(|m| m.record.record_id.as_str().to_owned()).collect();
    let mut benefits: Vec<String> = h.benefits.iter().map(|b| b.record.record_id.as_str().to_owned()).collect();
    medical.sort();
    benefits.sort();
    (medical, benefits)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Lines land in their own household only, with the import date; a benefits read leaves the
/// medical lines out; the profile and the signup record come with the records.
async fn a_file_lands_in_its_household_only((signups, store): Stores) {
    signups.put_members(&[member("H1", "06133946", "19810403"), member("H2", "06133946", "19790822")]).await.unwrap();
    let lines = file(Medical, &[medical("m-1", "N", "H1", "00", "202609", 3000, false, "20261125"), medical("m-2", "N", "H1", "01", "202609", 2000, false, "20261125"), medical("m-3", "N", "H2", "00", "202609", 3000, false, "20261125")]);
    let imported = import_file(store.as_ref(), &lines, at(20), &Quiet).await.unwrap();
    assert_eq!((imported.status, imported.report.applied, imported.seen_before), (FileStatus::Applied, 3, false));
    let benefits = file(Benefits, &[benefit("b-1", "N", "H1", "00", 40_000, "20261110", "20261125")]);
    assert_eq!(import_file(store.as_ref(), &benefits, at(20), &Quiet).await.unwrap().report.applied, 1);
    let h1 = store.household(&id("H1"), Scope::All).await.unwrap();
    assert_eq!(ids(&h1), (strs(&["m-1", "m-2"]), strs(&["b-1"])));
    assert_eq!(h1.profile.map(|p| p.member_id), Some(id("H1")));
    assert!(h1.medical.iter().all(|m| m.imported_on == NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()), "the Japan date of the import");
    assert_eq!(ids(&store.household(&id("H1"), Scope::Benefits).await.unwrap()), (vec![], strs(&["b-1"])));
    assert_eq!(ids(&store.household(&id("H2"), Scope::All).await.unwrap()), (strs(&["m-3"]), vec![]));
    assert_eq!(store.household(&id("NOBODY"), Scope::All).await.unwrap(), Household::default());
}

/// The same file again is a no-op (whenever it comes); a different file with the same rows
/// changes nothing either.
async fn re_delivery_changes_nothing((_, store): Stores) {
    let rows = [medical("r-1", "N", "R1", "00", "202609", 3000, false, "20261125"), medical("r-2", "N", "R1", "00", "202608", 1000, false, "20261025")];
    let bytes = file(Medical, &rows);
    import_file(store.as_ref(), &bytes, at(20), &Quiet).await.unwrap();
    let again = import_file(store.as_ref(), &bytes, at(27), &Quiet).await.unwrap();
    assert_eq!((again.status, again.report.applied, again.seen_before), (FileStatus::Applied, 0, true));
    // The same rows in another order (another file): every row a no-op, the import date kept.
    let reordered = file(Medical, &[rows[1].clone(), rows[0].clone()]);
    let second = import_file(store.as_ref(), &reordered, at(28), &Quiet).await.unwrap();
    assert_eq!((second.report.applied, second.seen_before), (0, false));
    let h = store.household(&id("R1"), Scope::All).await.unwrap();
    assert!(h.medical.iter().all(|m| m.imported_on == NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()));
}

/// A correction replaces the line, a cancellation removes it and leaves a tombstone: the record id
/// cannot come back, and a second cancellation is a no-op.
async fn corrections_and_cancellations((_, store): Stores) {
    import_file(store.as_ref(), &file(Medical, &[medical("c-1", "N", "C1", "00", "202609", 3000, false, "20261125"), medical("c-2", "N", "C1", "00", "202609", 1000, false, "20261125")]), at(20), &Quiet).await.unwrap();
    let fix = file(Medical, &[medical("c-1", "C", "C1", "00", "202609", 2500, false, "20261125"), cancellation("c-2", "C1")]);
    assert_eq!(import_file(store.as_ref(), &fix, at(21), &Quiet).await.unwrap().report.applied, 2);
    let h = store.household(&id("C1"), Scope::All).await.unwrap();
    assert_eq!(ids(&h).0, strs(&["c-1"]));
    assert_eq!(h.medical[0].record.self_pay.0, 2500);
    let again = file(Medical, &[cancellation("c-2", "C1"), medical("c-1", "C", "C1", "00", "202609", 2500, false, "20261125")]);
    assert_eq!(import_file(store.as_ref(), &again, at(22), &Quiet).await.unwrap().report.applied, 0, "a cancelled record cancelled again, a correction to the current contents");
    let back = import_file(store.as_ref(), &file(Medical, &[medical("c-2", "N", "C1", "00", "202609", 1000, false, "20261125")]), at(23), &Quiet).await.unwrap();
    assert_eq!((back.status, back.report.errors.iter().map(|e| (e.line, e.column.as_str())).collect::<Vec<_>>()), (FileStatus::Rejected, vec![(2, "record_id")]));
}

/// Record ids are unique per society: a row naming another member is refused, whichever
/// member it names, and nothing of the file is written.
async fn a_record_id_belongs_to_one_member((_, store): Stores) {
    import_file(store.as_ref(), &file(Medical, &[medical("o-1", "N", "O1", "00", "202609", 3000, false, "20261125")]), at(20), &Quiet).await.unwrap();
    let other = file(Medical, &[medical("o-2", "N", "O2", "00", "202609", 1000, false, "20261125"), medical("o-1", "N", "O2", "00", "202609", 3000, false, "20261125"), medical("o-1x", "C", "O2", "00", "202609", 3000, false, "20261125")]);
    let refused = import_file(store.as_ref(), &other, at(21), &Quiet).await.unwrap();
    assert_eq!(refused.status, FileStatus::Rejected);
    assert_eq!(refused.report.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4], "{:?}", refused.report.errors);
    let moved = import_file(store.as_ref(), &file(Medical, &[medical("o-1", "C", "O2", "00", "202609", 3000, false, "20261125")]), at(22), &Quiet).await.unwrap();
    assert_eq!(moved.report.errors.iter().map(|e| e.column.as_str()).collect::<Vec<_>>(), vec!["member_id"], "a correction may not move a line to another member");
    assert_eq!(ids(&store.household(&id("O2"), Scope::All).await.unwrap()).0, Vec::<String>::new(), "nothing of a refused file is written");
    assert_eq!(ids(&store.household(&id("O1"), Scope::All).await.unwrap()).0, strs(&["o-1"]));
}

/// Medical and benefit record ids are separate namespaces.
async fn the_two_kinds_do_not_share_record_ids((_, store): Stores) {
    import_file(store.as_ref(), &file(Medical, &[medical("same-1", "N", "K1", "00", "202609", 3000, false, "20261125")]), at(20), &Quiet).await.unwrap();
    let b = import_file(store.as_ref(), &file(Benefits, &[benefit("same-1", "N", "K1", "00", 5000, "20261110", "20261125")]), at(20), &Quiet).await.unwrap();
    assert_eq!((b.status, b.report.applied), (FileStatus::Applied, 1));
    import_file(store.as_ref(), &file(Benefits, &[cancellation("same-1", "K1")]), at(21), &Quiet).await.unwrap();
    assert_eq!(ids(&store.household(&id("K1"), Scope::All).await.unwrap()), (strs(&["same-1"]), vec![]), "cancelling the benefit leaves the line");
}

/// Files are applied one at a time; a holder's lease that ran out may be taken over; an
/// interrupted file (marked Applying, some changes written) is finished by its next delivery.
async fn one_file_at_a_time_and_an_interrupted_file_finishes((_, store): Stores) {
    assert!(store.lock_imports("other-file", at(20), at(20) + Duration::minutes(15)).await.unwrap());
    let bytes = file(Medical, &[medical("l-1", "N", "L1", "00", "202609", 3000, false, "20261125"), medical("l-2", "N", "L1", "00", "202609", 1000, false, "20261125")]);
    assert!(matches!(import_file(store.as_ref(), &bytes, at(20), &Quiet).await, Err(ImportError::Busy)));
    assert!(store.household(&id("L1"), Scope::All).await.unwrap().medical.is_empty());
    // The other import crashed: after its lease, the lock is taken over.
    let later = at(20) + Duration::minutes(16);
    // Interrupted half-way: the first change written, the file left Applying.
    let parsed = kenpo_statements::parse(&bytes).unwrap();
    let plan = kenpo_statements::plan(&parsed, &Default::default()).unwrap();
    store.apply(Medical, &plan.changes[..1], NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()).await.unwrap();
    let sha = kenpo_statement_store::import::sha256_hex(&bytes);
    store.put_file(&kenpo_statement_store::FileRecord { sha256: sha.clone(), status: FileStatus::Applying, report: plan.report.clone(), updated_at: at(20) }).await.unwrap();
    let finished = import_file(store.as_ref(), &bytes, later, &Quiet).await.unwrap();
    assert_eq!((finished.status, finished.report.applied, finished.seen_before), (FileStatus::Applied, 1, false), "the rest applied");
    assert_eq!(ids(&store.household(&id("L1"), Scope::All).await.unwrap()).0, strs(&["l-1", "l-2"]));
    assert_eq!(store.file(&sha).await.unwrap().map(|f| f.status), Some(FileStatus::Applied));
    // The lock was released: another file goes through at once.
    let next = file(Medical, &[medical("l-3", "N", "L1", "00", "202609", 500, false, "20261125")]);
    assert_eq!(import_file(store.as_ref(), &next, later, &Quiet).await.unwrap().status, FileStatus::Applied);
}

/// A refused file writes nothing and is checked again when it comes back (the verdict may change
/// once the file it depends on has been applied).
async fn a_refused_file_is_checked_again((_, store): Stores) {
    let fix = file(Medical, &[medical("d-1", "C", "D1", "00", "202609", 2000, false, "20261125")]);
    assert_eq!(import_file(store.as_ref(), &fix, at(20), &Quiet).await.unwrap().status, FileStatus::Rejected);
    import_file(store.as_ref(), &file(Medical, &[medical("d-1", "N", "D1", "00", "202609", 3000, false, "20261125")]), at(21), &Quiet).await.unwrap();
    let again = import_file(store.as_ref(), &fix, at(22), &Quiet).await.unwrap();
    assert_eq!((again.status, again.report.applied), (FileStatus::Applied, 1));
}

/// The publication index: each member with a record (not hidden) that becomes visible on a day is
/// listed under that day (its `publish_on`, or the import day when later), once; a hidden line or a
/// cancellation lists nobody.
async fn the_publication_index_names_who_has_news_on_a_day((_, store): Stores) {
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let lines = file(Medical, &[
        medical("p-1", "N", "P1", "00", "202609", 3000, false, "20261125"),
        medical("p-2", "N", "P1", "01", "202609", 2000, false, "20261125"),
        medical("p-3", "N", "P2", "00", "202609", 3000, true, "20261125"),
        medical("p-4", "N", "P3", "00", "202609", 3000, false, "20261110"),
    ]);
    import_file(store.as_ref(), &lines, at(20), &Quiet).await.unwrap();
    assert_eq!(store.published_on(day(25)).await.unwrap(), vec![id("P1")], "each once; the hidden line lists nobody");
    assert_eq!(store.published_on(day(20)).await.unwrap(), vec![id("P3")], "published before the import: the import's day");
    assert_eq!(store.published_on(day(10)).await.unwrap(), Vec::<MemberId>::new());
    let cancelled = file(Medical, &[cancellation("p-1", "P1")]);
    import_file(store.as_ref(), &cancelled, at(21), &Quiet).await.unwrap();
    assert_eq!(store.published_on(day(21)).await.unwrap(), Vec::<MemberId>::new(), "a D is no news");
}

/// A member's notice of a day is claimed once, settled, and read back with the household.
async fn a_notice_is_claimed_once_and_read_back((signups, store): Stores) {
    let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    signups.put_members(&[member("N1", "06133946", "19810403")]).await.unwrap();
    import_file(store.as_ref(), &file(Medical, &[medical("n-1", "N", "N1", "00", "202609", 3000, false, "20261125")]), at(20), &Quiet).await.unwrap();
    assert!(store.notice_input(&id("N1")).await.unwrap().claims.is_empty());
    assert!(store.claim_notice(&id("N1"), day, at(25)).await.unwrap());
    assert!(!store.claim_notice(&id("N1"), day, at(25) + Duration::seconds(1)).await.unwrap(), "a second claim of the same day");
    let input = store.notice_input(&id("N1")).await.unwrap();
    assert_eq!(input.claims, vec![kenpo_notices::NoticeClaim { day, claimed_at: at(25), sent_at: None }]);
    assert_eq!((input.medical.len(), input.profile.map(|p| p.member_id)), (1, Some(id("N1"))), "the household comes with it");
    // Given back (the provider was unavailable): claimed again by the retry.
    store.release_notice(&id("N1"), day).await.unwrap();
    assert!(store.notice_input(&id("N1")).await.unwrap().claims.is_empty(), "given back");
    assert!(store.claim_notice(&id("N1"), day, at(25)).await.unwrap());
    store.settle_notice(&id("N1"), day, at(25) + Duration::seconds(2)).await.unwrap();
    store.release_notice(&id("N1"), day).await.unwrap();
    assert_eq!(store.notice_input(&id("N1")).await.unwrap().claims[0].sent_at, Some(at(25) + Duration::seconds(2)), "a sent notice is never given back");
    assert!(!store.claim_notice(&id("N1"), day, at(26)).await.unwrap());
    assert_eq!(store.household(&id("N1"), Scope::All).await.unwrap().medical.len(), 1, "the pages' read is unchanged");
}

macro_rules! contract_suite {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let signups: std::sync::Arc<dyn super::SignupStore> = std::sync::Arc::new(super::EmbeddedStore::new());
                    let statements = std::sync::Arc::new(super::EmbeddedStatements::new(signups.clone()));
                    super::$case((signups, statements)).await
                }
            )*
        }
        mod dynamodb_on_moto {
            $(
                #[tokio::test]
                async fn $case() {
                    let (client, table) = kenpo_tests::moto_table("statements").await;
                    let signups = std::sync::Arc::new(super::DynamoStore::new(client.clone(), table.clone()));
                    super::$case((signups, std::sync::Arc::new(super::DynamoStatements::new(client, table)))).await
                }
            )*
        }
    };
}

contract_suite!(
    the_publication_index_names_who_has_news_on_a_day,
    a_notice_is_claimed_once_and_read_back,
    a_file_lands_in_its_household_only,
    re_delivery_changes_nothing,
    corrections_and_cancellations,
    a_record_id_belongs_to_one_member,
    the_two_kinds_do_not_share_record_ids,
    one_file_at_a_time_and_an_interrupted_file_finishes,
    a_refused_file_is_checked_again,
);
