//! The `Mailer` port: SES v2 in production, a folder of `.eml` files locally.

pub mod outbox;
#[cfg(feature = "ses")]
pub mod ses;

use async_trait::async_trait;

use crate::domain::EmailAddress;

/// One mail to one member.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// Tagged on the message, so bounces and complaints find the member.
    pub member_id: Option<crate::domain::MemberId>,
    pub from: String,
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// The display name of `from` (the society's name), RFC 2047-encoded when written.
    pub from_name: Option<String>,
    /// Extra header fields, written as given (ASCII; the update notice's RFC 8058 pair). A mail
    /// with any goes to SES as raw MIME, so the headers reach the recipient intact.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The provider refused this mail for good (bad address, unverified sender): do not retry.
    #[error("mail rejected: {0}")]
    Rejected(String),
    /// Throttled, refused the connection, provider down: the mail did NOT leave; retry later.
    #[error("mail provider unavailable: {0}")]
    Unavailable(String),
    /// No answer (timeout, connection lost mid-request): the mail may or may not have left.
    #[error("mail outcome unknown: {0}")]
    Ambiguous(String),
    /// The account's sending rate was exceeded (SES: "Maximum sending rate exceeded"): the mail
    /// did NOT leave; retry after a back-off.
    #[error("mail throttled: {0}")]
    Throttled(String),
    /// The account's daily quota is used up (SES: "Daily message quota exceeded"; a rolling 24
    /// hours): the mail did NOT leave; nothing more goes out until the next day's run.
    #[error("daily sending quota reached: {0}")]
    QuotaReached(String),
}

impl MailError {
    pub fn code(&self) -> &'static str {
        match self {
            MailError::Rejected(_) => "mail_rejected",
            MailError::Unavailable(_) => "mail_unavailable",
            MailError::Ambiguous(_) => "mail_outcome_unknown",
            MailError::Throttled(_) => "mail_throttled",
            MailError::QuotaReached(_) => "mail_daily_quota",
        }
    }

    /// The mail surely did not leave and may be sent again later (an outage, throttling, the
    /// daily quota): a claim on it can be given back.
    pub fn not_sent(&self) -> bool {
        matches!(self, MailError::Unavailable(_) | MailError::Throttled(_) | MailError::QuotaReached(_))
    }
}

/// Waits for the account's next send slot: every sender (the welcome mail, the address notice,
/// the update notices, in every Lambda copy) reserves one in the shared ledger
/// (`SignupStore::reserve_send_slot`) before it calls the provider, so together they never start
/// more than `rate` sends (mails per second, `NOTIFY_SEND_RATE`) in any one second (DESIGN.md
/// Part 2, "Pacing": welcome mails included). Slots are whole milliseconds, rounded up (at 14 a
/// second: 72 ms, so 14 slots span more than a second), reserved against `clock` and waited for on
/// tokio's timer.
///
/// Errors: `SendWait::Paused` while SES's daily quota pauses sending (send nothing until then);
/// `SendWait::Store` when the ledger cannot be reached (the caller sends nothing).
pub async fn wait_for_send_slot(store: &dyn crate::store::SignupStore, clock: &dyn crate::clock::Clock, rate: f64) -> Result<(), SendWait> {
    let interval = send_interval(rate);
    let now = clock.now();
    match store.reserve_send_slot(now, interval).await? {
        crate::store::SendSlot::At(slot) => {
            if let Ok(wait) = (slot - now).to_std() {
                // Never a wait the function's timeout could cut short (the slot is let go; the
                // caller is retried later).
                if wait > MAX_SLOT_WAIT {
                    return Err(SendWait::Store(crate::store::StoreError::Unavailable(format!("send slot {} s ahead", wait.as_secs()))));
                }
                tokio::time::sleep(wait).await;
            }
            Ok(())
        }
        crate::store::SendSlot::PausedUntil(until) => Err(SendWait::Paused(until)),
    }
}

/// The longest wait for a send slot (15 s): a Lambda with a 60 s timeout and a batch of three
/// never runs out of time waiting.
pub const MAX_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// The time between two sends at `rate` per second: whole milliseconds, rounded up (never
/// faster than the rate), at least 1 ms.
pub fn send_interval(rate: f64) -> chrono::Duration {
    let millis = (1000.0 / rate.clamp(0.001, 1000.0)).ceil() as i64;
    chrono::Duration::milliseconds(millis.max(1))
}

/// Why a sender may not send now.
#[derive(Debug, thiserror::Error)]
pub enum SendWait {
    /// SES's daily quota paused every sender until this time (UTC).
    #[error("sending paused until {0}")]
    Paused(chrono::DateTime<chrono::Utc>),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Send; returns the provider's message id.
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError>;
}
