//! SES v2 adapter of `Mailer` (`SendEmail`, simple content, UTF-8).

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};

use super::{MailError, Mailer, OutgoingMail};

pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, configuration_set: Option<String>) -> Self {
        Self { client, configuration_set }
    }
}

fn utf8(data: &str) -> Result<Content, MailError> {
    Content::builder().data(data).charset("UTF-8").build().map_err(|e| MailError::Rejected(e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let mut body = Body::builder().text(utf8(&mail.text)?);
        if let Some(html) = &mail.html {
            body = body.html(utf8(html)?);
        }
        let message = Message::builder().subject(utf8(&mail.subject)?).body(body.build()).build();
        let result = self
            .client
            .send_email()
            .from_email_address(&mail.from)
            .destination(Destination::builder().to_addresses(mail.to.rfc5322()).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .set_email_tags(mail.member_id.as_ref().and_then(|m| MessageTag::builder().name("member").value(m.as_str()).build().ok()).map(|t| vec![t]))
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e) => {
                let context = DisplayErrorContext(&e).to_string();
                // Sent but unanswered: SES may have taken the mail.
                if matches!(e, SdkError::TimeoutError(_) | SdkError::ResponseError(_)) {
                    return Err(MailError::Ambiguous(context));
                }
                Err(match e.into_service_error() {
                    SendEmailError::MessageRejected(_)
                    | SendEmailError::MailFromDomainNotVerifiedException(_)
                    | SendEmailError::AccountSuspendedException(_)
                    | SendEmailError::SendingPausedException(_)
                    | SendEmailError::BadRequestException(_)
                    | SendEmailError::NotFoundException(_) => MailError::Rejected(context),
                    _ => MailError::Unavailable(context),
                })
            }
        }
    }
}
