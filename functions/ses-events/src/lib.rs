//! SES bounces, complaints and rejects (the configuration set's event destination, via SNS): the
//! member's address is marked (`emailProblem`), no mail goes to it again, and the top page asks
//! the member to check it. Mails carry the member id as the SES message tag `member`.

use std::collections::HashMap;

use aws_lambda_events::event::sns::SnsEvent;
use kenpo_shared::App;
use kenpo_shared::domain::MemberId;
use kenpo_shared::signup::{Command, Outcome as Decided};
use kenpo_shared::store::{EmailProblem, StoreError};
use kenpo_shared::transition::{ApplyError, Sender, Start, apply};
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
    let Some(current) = app.store.get_signup(&member).await? else { return Ok(Outcome::Ignored("no_record")) };
    let recipients = recipients.into_iter().map(str::to_owned).collect();
    let command = Command::MarkEmailProblem { problem, recipients };
    let applied = apply(app.store.as_ref(), app.clock.as_ref(), &app.policy, &member, Sender::System, Start::Known(Some(current)), &command).await.map_err(|e| match e {
        ApplyError::Store(e) => e,
        ApplyError::Contended => StoreError::Unavailable("lost too many races marking the address".into()),
    })?;
    match applied.outcome {
        Decided::Skipped(reason) => Ok(Outcome::Ignored(reason)),
        _ => {
            if applied.wrote {
                tracing::warn!(code = "email_problem_marked", member = %kenpo_shared::pseudonym::of(&member), problem = problem.as_str(), "address marked; no more mail to it");
            }
            Ok(Outcome::Marked(problem))
        }
    }
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
    use kenpo_shared::domain::EmailAddress;

    #[test]
    fn addresses_compare_as_sent() {
        let stored = |a: &str| EmailAddress::parse_optional(a).unwrap().unwrap();
        assert!(stored("taro..yamada@docomo.ne.jp").same_as_reported("\"taro..yamada\"@Docomo.ne.jp"));
        assert!(stored("taro@example.jp").same_as_reported("<taro@example.jp>"));
        assert!(!stored("taro@example.jp").same_as_reported("hanako@example.jp"));
    }
}
