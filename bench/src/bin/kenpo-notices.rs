//! The update notices at scale, simulated (issue 12): N members with news on one day, a day's run
//! through `kenpo_notice_sender::run_day` on the embedded stores with a counting mailer, paced to a
//! rate on tokio's paused clock (so 100,000 notices at 14 a second take about 2 hours of simulated
//! time and seconds of real time). Prints the simulated duration against N / rate, the duplicates
//! and the missing (both must be 0), and the cost per 1,000 notices at list prices.
//!
//! `cargo run --release -p kenpo-bench --bin kenpo-notices -- [MEMBERS] [RATE]` (default 100000 14).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, TimeZone, Utc};
use kenpo_notice_sender::{Notifier, Outlets, Pacer, run_day};
use kenpo_shared::clock::TimerClock;
use kenpo_shared::config::Settings;
use kenpo_shared::domain::{EmailAddress, MemberId, Step};
use kenpo_shared::mailer::{MailError, Mailer, OutgoingMail};
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_shared::store::{Expect, SignupRecord, SignupStore};
use kenpo_statement_store::embedded::EmbeddedStatements;
use kenpo_statement_store::import::{Quiet, import_file};
use kenpo_statements::types::StatementKind::Medical;

/// Counts mails per recipient.
#[derive(Default)]
struct CountingMailer(Mutex<HashMap<String, u32>>);

#[async_trait::async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(mail.to.as_str().to_owned()).or_default() += 1;
        Ok(String::new())
    }
}

use kenpo_bench::common::prices::{
    DYNAMODB_RRU_PER_MILLION, DYNAMODB_WRU_PER_MILLION, LAMBDA_ARM_GB_SECOND, LAMBDA_REQUESTS_PER_MILLION, SES_PER_THOUSAND, SQS_PER_MILLION,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let members: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rate: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(14.0);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime");
    runtime.block_on(async move {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let signups = Arc::new(EmbeddedStore::new());
        let statements = Arc::new(EmbeddedStatements::new(signups.clone()));
        let settings = Settings::development();
        let completed = Utc.with_ymd_and_hms(2026, 10, 1, 1, 0, 0).single().expect("time");
        let mut rows = Vec::with_capacity(members);
        let mut profiles = Vec::with_capacity(members);
        for i in 0..members {
            let id = format!("B{i:07}");
            profiles.push(kenpo_tests::member(&id, "06133946", "19810403"));
            let mut r = SignupRecord::new(MemberId::parse(&id).expect("id"), completed);
            (r.version, r.state, r.completed_at, r.terms_version) = (1, Step::Completed, Some(completed), Some(settings.terms_version.clone()));
            // Every tenth member chose 不要: they must get nothing.
            r.notify_medical_expenses = Some(i % 10 != 0);
            r.email = EmailAddress::from_stored(&format!("b{i:07}@example.jp"));
            signups.put_signup(&r, Expect::Absent).await.expect("signup");
            rows.push(kenpo_tests::statements::medical(&format!("bn-{i}"), "N", &id, "00", "202610", 1000, false, "20261201"));
        }
        signups.put_members(&profiles).await.expect("members");
        let file = kenpo_tests::statements::file(Medical, &rows);
        import_file(statements.as_ref(), &file, Utc.with_ymd_and_hms(2026, 11, 30, 1, 0, 0).single().expect("time"), &Quiet).await.expect("import");
        let key = kenpo_notices::UnsubscribeKey::new(&settings.notify_unsubscribe_key).expect("key");
        let notifier = Notifier { policy: settings.policy(), settings, key, site: "https://kenpo.example".into() };
        let mailer = CountingMailer::default();
        // Runs on tokio's paused clock, as the pacing's waits do.
        let clock = TimerClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().expect("time"));
        let outlets = Outlets { statements: statements.as_ref(), signups: signups.as_ref(), mailer: &mailer, clock: &clock };
        let wall = std::time::Instant::now();
        let started = tokio::time::Instant::now();
        let report = run_day(&notifier, &outlets, &Pacer::new(rate, rate), day).await.expect("run");
        let simulated = started.elapsed().as_secs_f64();
        let counts = mailer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let expected = members - members.div_ceil(10);
        let duplicates = counts.values().filter(|n| **n > 1).count();
        let missing = (0..members).filter(|i| i % 10 != 0 && !counts.contains_key(&format!("b{i:07}@example.jp"))).count();
        // Per notice: 1 SQS send + 1 receive + 1 delete; 1 Query (a household's items, ~1 RRU
        // strongly consistent) and 3 UpdateItem (the send slot, claim, sent; 1 WRU each); 1 SES mail; a fifth of
        // a Lambda invocation (batches of 5) of ~200 ms at 256 MB, plus the pacing wait (2 copies at
        // rate/2: 2/rate s per notice in a copy).
        let lambda_seconds = 0.2 + 2.0 / rate;
        let per_1000 = SES_PER_THOUSAND
            + 1000.0 * (3.0 * SQS_PER_MILLION + DYNAMODB_RRU_PER_MILLION + 3.0 * DYNAMODB_WRU_PER_MILLION + 0.2 * LAMBDA_REQUESTS_PER_MILLION) / 1e6
            + 1000.0 * lambda_seconds * 0.25 * LAMBDA_ARM_GB_SECOND;
        println!(
            "{}",
            serde_json::json!({
                "members": members, "rate": rate, "sent": report.sent, "expected": expected, "duplicates": duplicates, "missing": missing,
                "simulatedSeconds": (simulated * 10.0).round() / 10.0, "membersOverRateSeconds": ((expected as f64 / rate) * 10.0).round() / 10.0,
                "ratio": ((simulated / (expected as f64 / rate)) * 1000.0).round() / 1000.0,
                "wallSeconds": (wall.elapsed().as_secs_f64() * 10.0).round() / 10.0,
                "usdPer1000Notices": (per_1000 * 10000.0).round() / 10000.0, "pricesOf": kenpo_bench::common::prices::DATE,
            })
        );
        assert_eq!((duplicates, missing, report.sent), (0, 0, expected), "exactly one notice to each member who chose it");
    });
}
