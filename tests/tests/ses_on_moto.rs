//! The SES v2 adapter over the real wire protocol (moto on 127.0.0.1): what we send is what SES got.

use kenpo_shared::domain::EmailAddress;
use kenpo_shared::mailer::ses::SesMailer;
use kenpo_shared::mailer::{MailError, Mailer, OutgoingMail};
use kenpo_tests::*;

fn mail(to: &str, from: &str) -> OutgoingMail {
    OutgoingMail {
        member_id: Some(kenpo_shared::domain::MemberId::parse("M1").unwrap()),
        from: from.into(),
        to: EmailAddress::from_stored(to).unwrap(),
        subject: "「医療費と給付金支給額」へようこそ".into(),
        text: "ご登録ありがとうございます。".into(),
        html: Some("<p>ご登録ありがとうございます。</p>".into()),
        from_name: None,
        headers: Vec::new(),
    }
}

fn sent_to_moto(recipient: &str) -> Vec<serde_json::Value> {
    let data: serde_json::Value = ureq::get(&format!("{}/moto-api/data.json", moto_endpoint())).call().unwrap().into_json().unwrap();
    let messages = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
    messages.into_iter().filter(|m| m["destinations"]["ToAddresses"].to_string().contains(recipient)).collect()
}

#[tokio::test]
async fn sends_utf8_mail_through_sesv2_and_moto_records_it() {
    let config = moto_config().await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    let domain = format!("d{:08x}.example.jp", rand::random::<u32>());
    ses.create_email_identity().email_identity(&domain).send().await.unwrap();
    let mailer = SesMailer::new(ses, None);
    let to = format!("r{:08x}@example.jp", rand::random::<u32>());
    let id = mailer.send(&mail(&to, &format!("webmaster@{domain}"))).await.unwrap();
    assert!(!id.is_empty());
    let sent = sent_to_moto(&to);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["subject"], "「医療費と給付金支給額」へようこそ");
    assert_eq!(sent[0]["source"], format!("webmaster@{domain}"));
    assert_eq!(sent[0]["destinations"]["ToAddresses"][0], to.as_str());
}

/// An unverified sender is the society's configuration, not the member's address: the mail did
/// not leave and is retried (never marks the member; the dead-letter queue's alarm tells the
/// society).
#[tokio::test]
async fn an_unverified_sender_is_the_societys_configuration_not_a_refused_recipient() {
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&moto_config().await), None);
    let result = mailer.send(&mail("taro@example.jp", "nobody@unverified-domain.example")).await;
    match result {
        Err(MailError::Unavailable(text)) => assert!(text.starts_with("MessageRejected") && !text.contains('@'), "the code, never SES's text: {text}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn carrier_addresses_go_out_quoted() {
    let config = moto_config().await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    let domain = format!("q{:08x}.example.jp", rand::random::<u32>());
    ses.create_email_identity().email_identity(&domain).send().await.unwrap();
    let local = format!("taro..{:08x}", rand::random::<u32>());
    let to = format!("{local}@docomo.ne.jp");
    SesMailer::new(ses, None).send(&mail(&to, &format!("webmaster@{domain}"))).await.unwrap();
    let sent = sent_to_moto(&local);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["destinations"]["ToAddresses"][0], format!("\"{local}\"@docomo.ne.jp"));
}

/// The update notice's own header fields (RFC 8058) reach SES intact: a mail with headers goes as
/// raw MIME (moto keeps the raw message; SES's simple content has no place for headers).
#[tokio::test]
async fn a_mail_with_headers_goes_as_raw_mime_with_them() {
    let config = moto_config().await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    let domain = format!("h{:08x}.example.jp", rand::random::<u32>());
    ses.create_email_identity().email_identity(&domain).send().await.unwrap();
    let to = format!("n{:08x}@example.jp", rand::random::<u32>());
    let mut notice = mail(&to, &format!("webmaster@{domain}"));
    notice.headers = vec![("List-Unsubscribe".into(), "<https://kenpo.example/unsubscribe?t=T>".into()), ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into())];
    notice.from_name = Some("健康保険組合".into());
    SesMailer::new(ses, None).send(&notice).await.unwrap();
    let data: serde_json::Value = ureq::get(&format!("{}/moto-api/data.json", moto_endpoint())).call().unwrap().into_json().unwrap();
    let raw = data["ses"].to_string();
    let ours = raw.split("List-Unsubscribe-Post").count() > 1 && raw.contains(&to);
    assert!(ours, "moto holds the raw message with the headers and the recipient");
    assert!(raw.contains("List-Unsubscribe: <https://kenpo.example/unsubscribe?t=T>"));
}

/// Issue 13: `From` carries the society's name on SES's simple path too (the welcome mail), as an
/// RFC 2047 encoded word SES decodes.
#[tokio::test]
async fn the_from_address_carries_the_societys_name() {
    let config = moto_config().await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    let domain = format!("n{:08x}.example.jp", rand::random::<u32>());
    ses.create_email_identity().email_identity(&domain).send().await.unwrap();
    let mailer = SesMailer::new(ses, None);
    let to = format!("r{:08x}@example.jp", rand::random::<u32>());
    let mut m = mail(&to, &format!("webmaster@{domain}"));
    m.from_name = Some("けんぽ見本健康保険組合".into());
    mailer.send(&m).await.unwrap();
    let sent = sent_to_moto(&to);
    let source = sent[0]["source"].as_str().unwrap().to_owned();
    assert!(source.ends_with(&format!("<webmaster@{domain}>")), "{source}");
    use base64::Engine;
    let encoded = source.trim_start_matches("=?UTF-8?B?").split("?=").next().unwrap();
    assert_eq!(String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap(), "けんぽ見本健康保険組合");
}
