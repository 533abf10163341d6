//! The update notices in the dev server (DESIGN.md Part 2, "Local run, part 2"): a publication
//! whose day has come (`--statements`, `/dev/import`) sends its notices at once, through the same
//! `kenpo_notice_sender::run_day` as on AWS, to the outbox; the seeded demo data counts as already
//! notified.

use std::sync::Arc;

use chrono::NaiveDate;
use kenpo_statement_store::StatementStore;
use kenpo_notice_sender::{Notifier, Outlets, Pacer, run_day};

use crate::Dev;

/// The notifier of the dev server's settings (its own origin for the links). `None` without a
/// usable `NOTIFY_UNSUBSCRIBE_KEY`.
fn notifier(dev: &Dev) -> Option<Notifier> {
    let settings = dev.app.settings.clone();
    let key = kenpo_notices::UnsubscribeKey::new(&settings.notify_unsubscribe_key)?;
    let site = settings.allowed_origins.first().cloned().unwrap_or_else(|| "http://127.0.0.1:3000".into());
    Some(Notifier { policy: dev.app.policy.clone(), settings, key, site })
}

/// Today's notices (Japan date), in the background: the outbox gets them within moments.
pub fn notify_today(dev: Arc<Dev>) {
    tokio::spawn(async move {
        let Some(n) = notifier(&dev) else {
            tracing::error!(code = "notice_key_missing", "NOTIFY_UNSUBSCRIBE_KEY is unusable: no update notices");
            return;
        };
        let o = Outlets { statements: dev.statements.as_ref(), signups: dev.app.store.as_ref(), mailer: dev.mailer.as_ref(), clock: dev.app.clock.as_ref() };
        // One sender at the account's rate (NOTIFY_SEND_RATE), sharing it with the welcome mails.
        let rate = dev.app.settings.send_rate;
        let pacer = Pacer::new(rate, rate);
        if let Err(e) = run_day(&n, &o, &pacer, dev.app.clock.today_in_japan()).await {
            tracing::warn!(code = e.code(), "notice run failed");
        }
    });
}

/// The seeded demo data counts as notified: today's notices of everyone in it are claimed and
/// settled without a mail, so only what is imported later makes one.
pub async fn mark_notified(statements: &dyn StatementStore, today: NaiveDate, now: chrono::DateTime<chrono::Utc>) -> Result<(), kenpo_shared::store::StoreError> {
    for member in statements.published_on(today).await? {
        if statements.claim_notice(&member, today, now).await? {
            statements.settle_notice(&member, today, now).await?;
        }
    }
    Ok(())
}
