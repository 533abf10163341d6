//! SES bounces, complaints and rejects (the configuration set's event destination, via SNS): the
//! member's address is marked (`emailProblem`), no mail goes to it again, and the top page asks
//! the member to check it. Mails carry the member id as the SES message tag `member`.

use std::collections::HashMap;

use aws_lambda_events::event::sns::SnsEvent;
use kenpo_shared::App;
use kenpo_shared::domain::MemberId;
use kenpo_shared::store::{EmailProblem, Expect, StoreError, WriteError};
use serde::Deserialize;

/// The SES event (event publishing: `eventType`; feedback notifications: `notificationType`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesEvent {
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub notification_type: Option<String>,
    pub mail: SesMail,
    #[serde(default)]
    pub bounce: Option<Bounce>,
    #[serde(default)]
    pub complaint: Option<Complaint>,
}

#[derive(Debug, Deserialize)]
pub struct SesMail {
    #[serde(default)]
    pub destination: Vec<String>,
    #[serde(default)]
    pub tags: HashMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bounce {
    pub bounce_type: String,
    #[serde(default)]
    pub bounced_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Complaint {
    #[serde(default)]
    pub complained_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub email_address: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Marked(EmailProblem),
    Ignored(&'static str),
}

/// The SES message tag that names the member (set by the SES mailer).
pub const MEMBER_TAG: &str = "member";

/// `"taro..yamada"@Docomo.ne.jp` and `taro..yamada@docomo.ne.jp` are the same address.
fn same_address(reported: &str, stored: &str) -> bool {
    let unquote = |a: &str| -> String {
        let a = a.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = a.rsplit_once('@').unwrap_or((a, ""));
        format!("{}@{}", local.trim_matches('"'), domain.to_ascii_lowercase())
    };
    unquote(reported) == unquote(stored)
}

pub async fn handle_event(app: &App, event: &SesEvent) -> Result<Outcome, StoreError> {
    let kind = event.event_type.as_deref().or(event.notification_type.as_deref()).unwrap_or("");
    let (problem, recipients): (EmailProblem, Vec<&str>) = match kind {
        "Bounce" => match &event.bounce {
            // Transient bounces (mailbox full, …) are retried by SES itself: not the address's fault.
            Some(b) if b.bounce_type == "Permanent" => (EmailProblem::Bounced, b.bounced_recipients.iter().map(|r| r.email_address.as_str()).collect()),
            _ => return Ok(Outcome::Ignored("transient_bounce")),
        },
        "Complaint" => (
            EmailProblem::Complained,
            event.complaint.as_ref().map(|c| c.complained_recipients.iter().map(|r| r.email_address.as_str()).collect()).unwrap_or_default(),
        ),
        "Reject" => (EmailProblem::Rejected, event.mail.destination.iter().map(String::as_str).collect()),
        _ => return Ok(Outcome::Ignored("not_a_problem")),
    };
    let Some(member) = event.mail.tags.get(MEMBER_TAG).and_then(|v| v.first()).and_then(|id| MemberId::parse(id).ok()) else {
        return Ok(Outcome::Ignored("untagged"));
    };
    for _ in 0..5 {
        let Some(current) = app.store.get_signup(&member).await? else { return Ok(Outcome::Ignored("no_record")) };
        let Some(email) = current.email.as_ref() else { return Ok(Outcome::Ignored("no_address")) };
        // The member may have changed the address since this mail: only the address it went to is marked.
        if !recipients.iter().any(|r| same_address(r, email.as_str())) {
            return Ok(Outcome::Ignored("address_changed"));
        }
        if current.email_problem == Some(problem) {
            return Ok(Outcome::Marked(problem));
        }
        let mut next = current.next(app.clock.now());
        next.email_problem = Some(problem);
        match app.store.put_signup(&next, Expect::Version(current.version)).await {
            Ok(()) => {
                tracing::warn!(code = "email_problem_marked", member = %member, problem = problem.as_str(), "address marked; no more mail to it");
                return Ok(Outcome::Marked(problem));
            }
            Err(WriteError::Conflict(_)) => continue,
            Err(WriteError::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::Unavailable("lost too many races marking the address".into()))
}

/// Lambda entry: every SNS record. A record that is not an SES event is logged and skipped; a
/// store failure fails the invocation so SNS/Lambda retry it (then the function's DLQ).
pub async fn handle_sns(app: &App, event: SnsEvent) -> Result<(), lambda_runtime::Error> {
    for record in event.records {
        match serde_json::from_str::<SesEvent>(&record.sns.message) {
            Ok(ses) => {
                let outcome = handle_event(app, &ses).await?;
                tracing::info!(?outcome, "ses event handled");
            }
            Err(_) => tracing::warn!(code = "ses_event_unreadable", "SNS message is not an SES event; skipped"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::same_address;

    #[test]
    fn addresses_compare_as_sent() {
        assert!(same_address("\"taro..yamada\"@Docomo.ne.jp", "taro..yamada@docomo.ne.jp"));
        assert!(same_address("<taro@example.jp>", "taro@example.jp"));
        assert!(!same_address("hanako@example.jp", "taro@example.jp"));
    }
}
