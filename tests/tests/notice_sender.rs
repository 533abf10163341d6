//! Issue 12: the update notice as sent (`kenpo_notice_sender`), on the embedded stores with a
//! recording mailer: exactly once under duplicate and concurrent deliveries and a crash between
//! each pair of steps, given back on an outage, a refused recipient marked, the rate never
//! exceeded (tokio's paused clock: no timed assertion), and who gets one in a day's run.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use kenpo_notice_sender::{NoticeError, Notifier, Outcome, Outlets, Pacer, notify_member, run_day};
use kenpo_shared::clock::{Clock, ManualClock};
use kenpo_shared::config::Settings;
use kenpo_shared::domain::{EmailAddress, MemberId, Step};
use kenpo_shared::mailer::MailError;
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_shared::store::{Expect, SignupRecord, SignupStore};
use kenpo_statement_store::StatementStore;
use kenpo_statement_store::embedded::EmbeddedStatements;
use kenpo_statement_store::import::{Quiet, import_file};
use kenpo_statements::types::StatementKind::Medical;
use kenpo_tests::statements::{file, medical};
use kenpo_tests::{RecordingMailer, member};

/// The publication day, and 10:00 Japan time on it.
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

struct Rig {
    signups: Arc<EmbeddedStore>,
    statements: Arc<EmbeddedStatements>,
    mailer: RecordingMailer,
    clock: ManualClock,
    notifier: Notifier,
}

impl Rig {
    fn outlets(&self) -> Outlets<'_> {
        Outlets { statements: self.statements.as_ref(), signups: self.signups.as_ref(), mailer: &self.mailer, clock: &self.clock }
    }

    async fn notify(&self, member: &str) -> Result<Outcome, NoticeError> {
        notify_member(&self.notifier, &self.outlets(), &Pacer::new(1000.0, 1000.0), &MemberId::parse(member).unwrap(), day()).await
    }
}

/// `n` completed members N000…, all 必要 with an address but `not_wanted` (不要) and `no_address`,
/// each with a line published on `day()`, imported the day before.
async fn rig(n: usize, not_wanted: &[usize], no_address: &[usize]) -> Rig {
    let signups = Arc::new(EmbeddedStore::new());
    let statements = Arc::new(EmbeddedStatements::new(signups.clone()));
    let settings = Settings::development();
    let mut rows = Vec::new();
    for i in 0..n {
        let id = format!("N{i:03}");
        signups.put_members(&[member(&id, "06133946", "19810403")]).await.unwrap();
        let mut r = SignupRecord::new(MemberId::parse(&id).unwrap(), Utc.with_ymd_and_hms(2026, 10, 1, 1, 0, 0).unwrap());
        (r.version, r.state, r.completed_at, r.terms_version) = (1, Step::Completed, Some(r.updated_at), Some(settings.terms_version.clone()));
        r.notify_medical_expenses = Some(!not_wanted.contains(&i));
        r.email = if no_address.contains(&i) { None } else { EmailAddress::from_stored(&format!("n{i:03}@example.jp")) };
        signups.put_signup(&r, Expect::Absent).await.unwrap();
        rows.push(medical(&format!("nl-{i}"), "N", &id, "00", "202610", 1000, false, "20261201"));
    }
    import_file(statements.as_ref(), &file(Medical, &rows), Utc.with_ymd_and_hms(2026, 11, 30, 1, 0, 0).unwrap(), &Quiet).await.unwrap();
    let key = kenpo_notices::UnsubscribeKey::new(&settings.notify_unsubscribe_key).unwrap();
    let notifier = Notifier { policy: settings.policy(), settings, key, site: "https://kenpo.example".into() };
    Rig { signups, statements, mailer: RecordingMailer::default(), clock: ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 1, 0, 0).unwrap()), notifier }
}

#[tokio::test]
async fn a_days_run_mails_exactly_who_chose_it() {
    let r = rig(6, &[1], &[2]).await;
    let report = run_day(&r.notifier, &r.outlets(), &Pacer::new(1000.0, 1000.0), day()).await.unwrap();
    assert_eq!((report.members, report.sent, report.skipped, report.failed), (6, 4, 2, 0));
    let mut to: Vec<String> = r.mailer.sent.lock().unwrap().iter().map(|m| m.to.as_str().to_owned()).collect();
    to.sort();
    assert_eq!(to, ["n000@example.jp", "n003@example.jp", "n004@example.jp", "n005@example.jp"]);
    // The same run again (a redelivery, a second trigger): nothing more.
    let again = run_day(&r.notifier, &r.outlets(), &Pacer::new(1000.0, 1000.0), day()).await.unwrap();
    assert_eq!((again.sent, r.mailer.count()), (0, 4));
}

#[tokio::test]
async fn duplicate_and_concurrent_deliveries_send_once() {
    let r = rig(1, &[], &[]).await;
    let outcomes = kenpo_tests::join_all((0..8).map(|_| r.notify("N000"))).await;
    assert_eq!(r.mailer.count(), 1);
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Ok(Outcome::Sent))).count(), 1);
    assert!(outcomes.iter().all(|o| matches!(o, Ok(Outcome::Sent | Outcome::Skipped("already_sent" | "claimed_elsewhere")) | Err(NoticeError::InFlight))), "{outcomes:?}");
    assert_eq!(r.notify("N000").await.unwrap(), Outcome::Skipped("already_sent"));
}

/// A sender that died after the claim (before the send, or after it but before `sentAt`): within
/// the lease the retry waits; after it, nobody knows whether the mail left, so it is never sent
/// again (the dead-letter queue on AWS).
#[tokio::test]
async fn a_crash_between_the_steps_never_sends_twice() {
    let r = rig(1, &[], &[]).await;
    let m = MemberId::parse("N000").unwrap();
    assert!(r.statements.claim_notice(&m, day(), r.clock.now()).await.unwrap(), "claimed, then the sender died");
    assert!(matches!(r.notify("N000").await, Err(NoticeError::InFlight)));
    r.clock.advance(Duration::seconds(kenpo_notices::decide::CLAIM_LEASE_SECONDS));
    assert!(matches!(r.notify("N000").await, Err(NoticeError::Unconfirmed)));
    assert_eq!(r.mailer.count(), 0, "never sent on a guess");
}

#[tokio::test]
async fn an_outage_gives_the_claim_back_and_a_refused_recipient_is_marked() {
    let r = rig(2, &[], &[]).await;
    *r.mailer.fail_with.lock().unwrap() = Some(|| MailError::Unavailable("Throttling (HTTP 400)".into()));
    assert!(matches!(r.notify("N000").await, Err(NoticeError::Mail(MailError::Unavailable(_)))));
    *r.mailer.fail_with.lock().unwrap() = None;
    assert_eq!(r.notify("N000").await.unwrap(), Outcome::Sent, "the retry sends");
    assert_eq!(r.mailer.count(), 1);
    *r.mailer.fail_with.lock().unwrap() = Some(|| MailError::Rejected("MessageRejected (HTTP 400)".into()));
    assert_eq!(r.notify("N001").await.unwrap(), Outcome::Rejected);
    let marked = r.signups.get_signup(&MemberId::parse("N001").unwrap()).await.unwrap().unwrap();
    assert_eq!(marked.email_problem, Some(kenpo_shared::signup::EmailProblem::Rejected));
    *r.mailer.fail_with.lock().unwrap() = None;
    assert_eq!(r.notify("N001").await.unwrap(), Outcome::Skipped("already_sent"), "no retry of a refused notice");
}

/// `NOTIFY_SEND_RATE` across every sender (DESIGN.md Part 2, "Pacing": welcome mails included):
/// two notice senders at half the rate each and a welcome sender, all at once on one store, at 14 a
/// second; in any one-second window of tokio's (paused, auto-advancing) clock, no more than 14 sends.
#[tokio::test(start_paused = true)]
async fn the_rate_is_never_exceeded_welcome_mails_included() {
    let r = rig(30, &[], &[]).await;
    let clock = Arc::new(kenpo_shared::clock::TimerClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 1, 0, 0).unwrap()));
    // 14 a second: 1000 / 14 ms is not whole (slots round up to 72 ms).
    let (a, b) = (Pacer::new(7.0, 14.0), Pacer::new(7.0, 14.0));
    let started = tokio::time::Instant::now();
    let stamps = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stamped = StampingMailer { inner: &r.mailer, stamps: stamps.clone() };
    let o = Outlets { statements: r.statements.as_ref(), signups: r.signups.as_ref(), mailer: &stamped, clock: clock.as_ref() };
    // Ten members completing their onboarding meanwhile: their welcome mails share the rate.
    let mut settings = Settings::development();
    settings.send_rate = 14.0;
    let app = kenpo_shared::App::new(settings, r.signups.clone(), clock.clone()).unwrap();
    let welcomes = (0..10).map(|i| {
        let mut new = SignupRecord::new(MemberId::parse(&format!("W{i:03}")).unwrap(), clock.now());
        (new.state, new.completed_at, new.email) = (Step::Completed, Some(clock.now()), EmailAddress::from_stored(&format!("w{i:03}@example.jp")));
        kenpo_shared::store::SignupChange { old: None, new }
    });
    let welcomes: Vec<_> = welcomes.collect();
    for w in &welcomes {
        r.signups.put_signup(&w.new, Expect::Absent).await.unwrap();
    }
    let (one, two, welcomed) = tokio::join!(
        run_day(&r.notifier, &o, &a, day()),
        run_day(&r.notifier, &o, &b, day()),
        kenpo_tests::join_all(welcomes.iter().map(|w| send_welcome_email::handle_change(&app, &stamped, w))),
    );
    assert_eq!(one.unwrap().sent + two.unwrap().sent, 30, "each notice once, by one sender or the other");
    assert!(welcomed.iter().all(|w| matches!(w, Ok(send_welcome_email::Outcome::Sent))), "{welcomed:?}");
    let stamps = stamps.lock().unwrap().clone();
    assert_eq!(stamps.len(), 40);
    for (i, t) in stamps.iter().enumerate() {
        let in_window = stamps[i..].iter().take_while(|u| **u - *t < std::time::Duration::from_secs(1)).count();
        assert!(in_window <= 14, "{in_window} sends within one second from send {i}");
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(2800), "40 sends at 14 a second take about 2.8 s of the paused clock");
}

/// Records when (tokio's clock) each mail was handed over.
struct StampingMailer<'a> {
    inner: &'a RecordingMailer,
    stamps: Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>,
}

#[async_trait::async_trait]
impl kenpo_shared::mailer::Mailer for StampingMailer<'_> {
    async fn send(&self, mail: &kenpo_shared::mailer::OutgoingMail) -> Result<String, MailError> {
        self.stamps.lock().unwrap().push(tokio::time::Instant::now());
        self.inner.send(mail).await
    }
}

/// The queue of a run, in memory.
#[derive(Default)]
struct ListQueue(std::sync::Mutex<Vec<(NaiveDate, MemberId)>>);

#[async_trait::async_trait]
impl notify_publication::NoticeQueue for ListQueue {
    async fn put(&self, day: NaiveDate, members: &[MemberId]) -> Result<(), notify_publication::QueueError> {
        self.0.lock().unwrap().extend(members.iter().map(|m| (day, m.clone())));
        Ok(())
    }
}

/// The day's run (notify-publication): from 09:00 Japan time, one message per member with news
/// today; before 09:00 (an import finishing early) nothing: the schedule's run does it.
#[tokio::test]
async fn the_days_run_queues_whoever_has_news_from_nine_japan_time() {
    let r = rig(3, &[1], &[]).await;
    let queue = ListQueue::default();
    let early = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 0).unwrap(); // 08:59 on 12-01 in Japan
    let run = notify_publication::run(r.statements.as_ref(), &queue, early).await.unwrap();
    assert_eq!((run.day, run.queued), (day(), None));
    assert!(queue.0.lock().unwrap().is_empty());
    let nine = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let run = notify_publication::run(r.statements.as_ref(), &queue, nine).await.unwrap();
    assert_eq!(run.queued, Some(3), "everyone with news; the sender decides who gets a mail");
    let queued: Vec<String> = queue.0.lock().unwrap().iter().map(|(d, m)| format!("{d} {}", m.as_str())).collect();
    assert_eq!(queued, ["2026-12-01 N000", "2026-12-01 N001", "2026-12-01 N002"]);
}

/// The queue consumer: a batch's failed notices are reported by message id (only they come back);
/// a malformed message is dropped, never retried forever.
#[tokio::test]
async fn the_consumer_reports_only_the_failed_messages() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let r = rig(2, &[], &[]).await;
    let message = |id: &str, body: &str| {
        let mut m = SqsMessage::default();
        (m.message_id, m.body) = (Some(id.into()), Some(body.into()));
        m
    };
    let m0 = r.statements.claim_notice(&MemberId::parse("N000").unwrap(), day(), r.clock.now()).await.unwrap();
    assert!(m0, "N000's notice is in flight elsewhere");
    let mut event = SqsEvent::default();
    event.records = vec![message("a", r#"{"member":"N000","day":"2026-12-01"}"#), message("b", r#"{"member":"N001","day":"2026-12-01"}"#), message("c", "not json")];
    let (postpone, pause) = (Postponed::default(), send_update_notice::Pause::default());
    let c = send_update_notice::Consumer { pacer: &Pacer::new(1000.0, 1000.0), postpone: &postpone, pause: &pause };
    let response = send_update_notice::handle(&r.notifier, &r.outlets(), &c, event).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["a"], "in flight: retried later; sent: done; malformed: dropped");
    assert_eq!(r.mailer.count(), 1);
    assert!(postpone.0.lock().unwrap().is_empty(), "an ordinary retry keeps the queue's visibility timeout");
}

/// Postponements asked of the queue: (receipt handle, seconds).
#[derive(Default)]
struct Postponed(std::sync::Mutex<Vec<(String, i32)>>);

#[async_trait::async_trait]
impl send_update_notice::Postpone for Postponed {
    async fn postpone(&self, receipt_handle: &str, seconds: i32) -> Result<(), String> {
        self.0.lock().unwrap().push((receipt_handle.to_owned(), seconds));
        Ok(())
    }
}

fn queued(r: &Rig, members: &[&str], receives: u32) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = members
        .iter()
        .map(|m| {
            let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
            (message.message_id, message.receipt_handle) = (Some(format!("id-{m}")), Some(format!("rh-{m}")));
            message.body = Some(format!(r#"{{"member":"{m}","day":"{}"}}"#, day()));
            message.attributes.insert("ApproximateReceiveCount".into(), receives.to_string());
            message
        })
        .collect();
    let _ = r;
    event
}

/// SES throttling: the claim is given back and the message postponed by its own visibility
/// timeout, longer with each delivery; the next delivery sends it once.
#[tokio::test]
async fn a_throttled_notice_is_postponed_and_then_sent_once() {
    let r = rig(1, &[], &[]).await;
    let (postpone, pause) = (Postponed::default(), send_update_notice::Pause::default());
    let c = send_update_notice::Consumer { pacer: &Pacer::new(1000.0, 1000.0), postpone: &postpone, pause: &pause };
    *r.mailer.fail_with.lock().unwrap() = Some(|| MailError::Throttled("TooManyRequestsException (HTTP 429)".into()));
    let response = send_update_notice::handle(&r.notifier, &r.outlets(), &c, queued(&r, &["N000"], 3)).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(*postpone.0.lock().unwrap(), [("rh-N000".to_owned(), 120)], "third delivery: 30 s doubled twice");
    *r.mailer.fail_with.lock().unwrap() = None;
    let response = send_update_notice::handle(&r.notifier, &r.outlets(), &c, queued(&r, &["N000"], 4)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(r.mailer.count(), 1);
    assert_eq!(send_update_notice::throttle_backoff_seconds(1), 30);
    assert_eq!(send_update_notice::throttle_backoff_seconds(40), 900, "at most 15 minutes");
}

/// SES's daily quota: every sender pauses for 24 hours (the quota is a rolling 24 hours, and
/// every send that filled it was before the refusal); the rest of the batch and later batches
/// wait without a call to SES; no claim is kept, nobody's address is marked; after the pause the
/// notices go out, once each. A welcome mail that meets the quota pauses the notices the same way.
#[tokio::test]
async fn at_the_daily_quota_every_sender_pauses_for_a_day() {
    let r = rig(3, &[], &[]).await;
    let (postpone, pause) = (Postponed::default(), send_update_notice::Pause::default());
    let c = send_update_notice::Consumer { pacer: &Pacer::new(1000.0, 1000.0), postpone: &postpone, pause: &pause };
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = QuotaMailer { attempts: attempts.clone(), inner: &r.mailer, full: std::sync::atomic::AtomicBool::new(true) };
    let o = Outlets { statements: r.statements.as_ref(), signups: r.signups.as_ref(), mailer: &counting, clock: &r.clock };
    let response = send_update_notice::handle(&r.notifier, &o, &c, queued(&r, &["N000", "N001", "N002"], 1)).await;
    assert_eq!(response.batch_item_failures.len(), 3);
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 1, "one call to SES, then the pause");
    let postponed = postpone.0.lock().unwrap().clone();
    assert_eq!(postponed.len(), 3);
    assert!(postponed.iter().all(|(_, s)| *s == send_update_notice::MAX_POSTPONE_SECONDS), "24 h, in SQS's 12-hour steps: {postponed:?}");
    for m in ["N000", "N001", "N002"] {
        let stored = r.signups.get_signup(&MemberId::parse(m).unwrap()).await.unwrap().unwrap();
        assert_eq!(stored.email_problem, None, "the society's quota is not the member's address");
    }
    // Another copy (its own memory) finds the pause in the ledger: no call to SES either.
    let other = send_update_notice::Pause::default();
    let c2 = send_update_notice::Consumer { pacer: &Pacer::new(1000.0, 1000.0), postpone: &postpone, pause: &other };
    r.clock.advance(Duration::hours(13));
    send_update_notice::handle(&r.notifier, &o, &c2, queued(&r, &["N000"], 2)).await;
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(postpone.0.lock().unwrap().last().map(|(_, s)| *s), Some(11 * 3600), "until the pause's end, to the second");
    // 24 hours after the refusal the quota is free again.
    r.clock.advance(Duration::hours(11));
    counting.full.store(false, std::sync::atomic::Ordering::SeqCst);
    let response = send_update_notice::handle(&r.notifier, &o, &c2, queued(&r, &["N000", "N001", "N002", "N000"], 3)).await;
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    assert_eq!(r.mailer.count(), 3, "each once");
}

/// Two days' notices of one member: while the first is being sent, the second waits (so it
/// never counts news the first may yet fail to deliver); once the first went, the second says
/// only what is newer.
#[tokio::test]
async fn a_days_notice_waits_for_the_previous_days_in_flight() {
    let r = rig(1, &[], &[]).await;
    let m = MemberId::parse("N000").unwrap();
    assert!(r.statements.claim_notice(&m, day() - Duration::days(1), r.clock.now()).await.unwrap(), "yesterday's notice is being sent");
    assert!(matches!(r.notify("N000").await, Err(NoticeError::InFlight)));
    assert_eq!(r.mailer.count(), 0);
}

/// A mailer whose account is at its daily quota while `full`.
struct QuotaMailer<'a> {
    attempts: Arc<std::sync::atomic::AtomicUsize>,
    inner: &'a RecordingMailer,
    full: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl kenpo_shared::mailer::Mailer for QuotaMailer<'_> {
    async fn send(&self, mail: &kenpo_shared::mailer::OutgoingMail) -> Result<String, MailError> {
        self.attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(MailError::QuotaReached("TooManyRequestsException (HTTP 429)".into()));
        }
        self.inner.send(mail).await
    }
}
