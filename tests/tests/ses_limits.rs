//! SES's sending limits, which moto cannot produce: the SES v2 adapter against recorded AWS error
//! payloads (the status, `x-amzn-ErrorType` and JSON body SES answers, served on 127.0.0.1). The
//! rate is `Throttled` (a back-off), the daily quota `QuotaReached` (a pause until the next day);
//! neither is a refusal of the recipient, and no SES text reaches the error.

use kenpo_shared::domain::EmailAddress;
use kenpo_shared::mailer::ses::SesMailer;
use kenpo_shared::mailer::{MailError, Mailer, OutgoingMail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `status`, `error_type` and `body` to every request on a fresh 127.0.0.1 port.
async fn recorded(status: &'static str, error_type: &'static str, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 65536];
                let mut seen = Vec::new();
                // The whole request: headers, then Content-Length bytes.
                loop {
                    let Ok(n) = socket.read(&mut buffer).await else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&seen);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end].lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))).unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nx-amzn-ErrorType: {error_type}\r\nx-amzn-RequestId: 3f1a2b4c-0000-4000-8000-000000000001\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

async fn send_against(endpoint: &str) -> Result<String, MailError> {
    let config = kenpo_tests::moto_config_at(endpoint).await;
    let ses = aws_sdk_sesv2::config::Builder::from(&config).retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled()).build();
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::from_conf(ses), None);
    let mail = OutgoingMail {
        member_id: None,
        from: "webmaster@kenpo.example".into(),
        to: EmailAddress::from_stored("taro@example.jp").unwrap(),
        subject: "件名".into(),
        text: "本文".into(),
        html: None,
        from_name: None,
        headers: Vec::new(),
    };
    mailer.send(&mail).await
}

#[tokio::test]
async fn the_sending_rate_is_throttling_and_the_daily_quota_a_pause() {
    let rate = recorded("429 Too Many Requests", "TooManyRequestsException", r#"{"message":"Maximum sending rate exceeded."}"#).await;
    match send_against(&rate).await {
        Err(e @ MailError::Throttled(_)) => assert!(e.not_sent() && e.to_string().contains("TooManyRequestsException (HTTP 429, request id 3f1a2b4c"), "{e}"),
        other => panic!("{other:?}"),
    }
    let quota = recorded("429 Too Many Requests", "TooManyRequestsException", r#"{"message":"Daily message quota exceeded."}"#).await;
    match send_against(&quota).await {
        Err(e @ MailError::QuotaReached(_)) => assert!(e.not_sent() && !e.to_string().contains("Daily message"), "the code, not SES's text: {e}"),
        other => panic!("{other:?}"),
    }
    // The SES v1-style answer the SES guide documents for the API.
    let v1 = recorded("400 Bad Request", "ThrottlingException", r#"{"message":"Daily message quota exceeded"}"#).await;
    assert!(matches!(send_against(&v1).await, Err(MailError::QuotaReached(_))));
    // The society's paused sending is neither: an outage of its own, never the member's address.
    let paused = recorded("400 Bad Request", "SendingPausedException", r#"{"message":"Sending is paused for this account."}"#).await;
    assert!(matches!(send_against(&paused).await, Err(MailError::Unavailable(_))));
}
