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
}

impl MailError {
    pub fn code(&self) -> &'static str {
        match self {
            MailError::Rejected(_) => "mail_rejected",
            MailError::Unavailable(_) => "mail_unavailable",
            MailError::Ambiguous(_) => "mail_outcome_unknown",
        }
    }
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Send; returns the provider's message id.
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError>;
}
