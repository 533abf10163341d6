//! Welcome mails in the dev server: the embedded store's changes (or, with `--aws`, the table's
//! stream) reach the same handler as the Lambda's stream records, retried like the event source
//! mapping and dead-lettered to `<outbox>/dead-letters.jsonl` (an SQS queue on AWS).

use std::sync::Arc;
use std::time::Duration;

use kenpo_shared::store::SignupChange;
use tokio::sync::mpsc;

use crate::Dev;

/// Hand every completion and address change to `deliver` (the template's filter, in code:
/// `SignupChange::calls_for_mail`).
pub async fn feed(dev: Arc<Dev>, mut rx: mpsc::UnboundedReceiver<SignupChange>) {
    while let Some(change) = rx.recv().await {
        if change.calls_for_mail() {
            deliver(dev.clone(), change);
        }
    }
}

/// As the event source mapping does: retry with backoff and jitter, then dead-letter. Never
/// dropped silently.
pub fn deliver(dev: Arc<Dev>, change: SignupChange) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        let mut last = String::new();
        for _ in 0..6 {
            match send_welcome_email::handle_change(&dev.app, dev.mailer.as_ref(), &change).await {
                Ok(outcome) => {
                    tracing::debug!(?outcome, member = %kenpo_shared::pseudonym::of(&change.new.member_id), "welcome mail handled");
                    return;
                }
                Err(e) => {
                    last = e.code().to_owned();
                    let jitter = Duration::from_millis(u64::from(jitter_nanos()) % (delay.as_millis() as u64 + 1));
                    tokio::time::sleep(delay + jitter).await;
                    delay *= 2;
                }
            }
        }
        tracing::error!(code = "welcome_dead_lettered", member = %kenpo_shared::pseudonym::of(&change.new.member_id), reason = %last, "welcome mail not settled after retries");
        if let Some(path) = dev.outbox.as_ref().map(|dir| dir.join("dead-letters.jsonl")) {
            let line = serde_json::json!({"member": change.new.member_id.as_str(), "completedAt": change.new.completed_at, "reason": last}).to_string() + "\n";
            use std::io::Write;
            let written = std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = written {
                tracing::error!(error = %e, "dead-letter file not written");
            }
        }
    });
}

fn jitter_nanos() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}
