//! SES v2 adapter of `Mailer` (`SendEmail`, simple content, UTF-8).

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag, RawMessage};

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

/// What a log line may say about a failed send: the kind of failure, SES's error code and HTTP
/// status and the request id (for AWS support), never SES's message text, which names addresses
/// ("Email address is not verified … taro@example.jp") and quotes request data.
fn describe(e: &SdkError<SendEmailError, aws_sdk_sesv2::config::http::HttpResponse>) -> String {
    let request_id = e.raw_response().and_then(|r| r.headers().get("x-amzn-requestid")).unwrap_or("-").to_owned();
    match e {
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            format!("{} (HTTP {status}, request id {request_id})", s.err().code().unwrap_or("unknown service error"))
        }
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "timeout while sending".to_owned(),
        SdkError::DispatchFailure(d) if d.is_io() => "connection failure".to_owned(),
        SdkError::DispatchFailure(_) => "dispatch failure".to_owned(),
        SdkError::ResponseError(_) => format!("unreadable response (request id {request_id})"),
        SdkError::ConstructionFailure(_) => "request not built".to_owned(),
        _ => "unknown failure".to_owned(),
    }
}

/// `From` with the society's name as display name (SES v2: a non-ASCII name as an RFC 2047
/// encoded word, `=?UTF-8?B?…?= <address>`); the raw path writes it in the MIME message itself.
pub fn from_address(mail: &OutgoingMail) -> String {
    use base64::Engine;
    match mail.from_name.as_deref().map(|n| n.replace(['\r', '\n'], "")).filter(|n| !n.trim().is_empty()) {
        Some(name) => format!("=?UTF-8?B?{}?= <{}>", base64::engine::general_purpose::STANDARD.encode(name.as_bytes()), mail.from),
        None => mail.from.clone(),
    }
}

/// A throttling answer: the daily quota when SES's message says so, else the rate.
fn throttling(message: Option<&str>, context: String) -> MailError {
    if message.is_some_and(|m| m.to_ascii_lowercase().contains("daily")) { MailError::QuotaReached(context) } else { MailError::Throttled(context) }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        // A mail with header fields of its own (the update notice's RFC 8058 pair) goes as raw MIME,
        // the outbox's message: SES's simple content has no place for them.
        let content = if mail.headers.is_empty() {
            let mut body = Body::builder().text(utf8(&mail.text)?);
            if let Some(html) = &mail.html {
                body = body.html(utf8(html)?);
            }
            EmailContent::builder().simple(Message::builder().subject(utf8(&mail.subject)?).body(body.build()).build()).build()
        } else {
            let raw = RawMessage::builder().data(Blob::new(super::outbox::render_eml(mail)?)).build().map_err(|e| MailError::Rejected(e.to_string()))?;
            EmailContent::builder().raw(raw).build()
        };
        let result = self
            .client
            .send_email()
            .from_email_address(from_address(mail))
            .destination(Destination::builder().to_addresses(mail.to.rfc5322()).build())
            .content(content)
            .set_configuration_set_name(self.configuration_set.clone())
            .set_email_tags(mail.member_id.as_ref().and_then(|m| MessageTag::builder().name("member").value(m.as_str()).build().ok()).map(|t| vec![t]))
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e) => {
                let context = describe(&e);
                // Sent but unanswered: SES may have taken the mail.
                if matches!(e, SdkError::TimeoutError(_) | SdkError::ResponseError(_)) {
                    return Err(MailError::Ambiguous(context));
                }
                // Only a refusal of the recipient marks the member's address (DESIGN.md Part 2). SES
                // refuses recipients after accepting (bounces, through the configuration set); what
                // it refuses at once is the society's own configuration (the sandbox's unverified
                // identities: MessageRejected; an unverified MAIL FROM domain; paused or suspended
                // sending; a missing configuration set): the mail did not leave, nobody is marked,
                // the message is retried and ends in the dead-letter queue with its alarm. A request
                // SES cannot read for this recipient (BadRequest: an address it cannot take) is the
                // one refusal of the recipient.
                // The sending limits (a rate, a daily quota) come as throttling; SES tells them
                // apart only in the message ("Daily message quota exceeded"), which is read here
                // and never logged.
                Err(match e.into_service_error() {
                    SendEmailError::BadRequestException(_) => MailError::Rejected(context),
                    err @ (SendEmailError::TooManyRequestsException(_) | SendEmailError::LimitExceededException(_)) => throttling(err.message(), context),
                    err if err.code() == Some("Throttling") || err.code() == Some("ThrottlingException") => throttling(err.message(), context),
                    _ => MailError::Unavailable(context),
                })
            }
        }
    }
}
