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
    let started = tokio::time::Instant::now();
    loop {
        let now = clock.now();
        match store.reserve_send_slot(now, interval).await? {
            crate::store::SendSlot::At(slot) => {
                // At most SEND_SLOT_MAX_AHEAD_SECONDS (15 s) ahead.
                if let Ok(wait) = (slot - now).to_std() {
                    tokio::time::sleep(wait).await;
                }
                return Ok(());
            }
            crate::store::SendSlot::PausedUntil(until) => return Err(SendWait::Paused(until)),
            // A burst: every slot of the next 15 s is taken. Ask again in a second, for at most
            // MAX_FULL_WAIT (then the caller is retried later; no slot is left unused).
            crate::store::SendSlot::Full if started.elapsed() < MAX_FULL_WAIT => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
            crate::store::SendSlot::Full => return Err(SendWait::Store(crate::store::StoreError::Unavailable("the send-rate ledger stayed full".into()))),
        }
    }
}

/// How long a sender asks again while the ledger is full (30 s): with the slot's own wait (at most
/// 15 s) a record never outlasts a 60 s Lambda timeout.
pub const MAX_FULL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

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
