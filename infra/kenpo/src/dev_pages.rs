//! Development-only pages (never in the Lambda deployment): `/dev/portal` logs in as a seeded
//! member through the real `POST /sso`; `/dev/outbox` lists the mails written to the outbox.

use kenpo_shared::handoff::sign_hs256;
use kenpo_shared::http::html_response;
use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};

use crate::Dev;

pub async fn handle(dev: &Dev, req: &Request, path: &str) -> Option<Response<Body>> {
    if !path.starts_with("/dev/") || req.method() != Method::GET {
        return None;
    }
    match path {
        "/dev/portal" => Some(portal(dev)),
        "/dev/outbox" => Some(outbox_index(dev)),
        _ => path.strip_prefix("/dev/outbox/").map(|name| outbox_file(dev, name)),
    }
}

/// A demo member's row on `/dev/portal`, with a fresh hand-off token.
struct PortalMember<'a> {
    token: String,
    id: &'a str,
    category: &'a str,
    note: &'a str,
    insurer: &'a str,
    /// Made up for the demo members; not shown for a `--members` file's (it may hold real ones).
    birth: &'a str,
}

#[derive(askama::Template)]
#[template(path = "dev_portal.html")]
struct PortalPage<'a> {
    title: &'static str,
    members: Vec<PortalMember<'a>>,
}

#[derive(askama::Template)]
#[template(path = "dev_outbox.html")]
struct OutboxPage {
    title: &'static str,
    has_outbox: bool,
    total: usize,
    mails: Vec<(String, Option<ShownMail>)>,
}

/// A rendered dev page (a template error is a 500 with the contract's JSON).
fn page(rendered: askama::Result<String>) -> Response<Body> {
    match rendered {
        Ok(html) => html_response(200, html),
        Err(e) => {
            tracing::error!(error = %e, "dev page not rendered");
            kenpo_shared::ApiError::internal().into_response()
        }
    }
}

fn portal(dev: &Dev) -> Response<Body> {
    let now = chrono::Utc::now().timestamp();
    let secret = &dev.app.settings.sso_jwt_secret;
    let demo = crate::seed::DEMO_MEMBERS
        .iter()
        .map(|d| PortalMember { token: sign_hs256(secret, d.id, now, 10 * 60), id: d.id, category: d.category, note: d.note, insurer: d.insurer, birth: d.birth });
    // The members of `kenpo dev --members FILE`, after the demo's.
    let loaded = dev.file_members.iter().map(|m| PortalMember {
        token: sign_hs256(secret, m.member_id.as_str(), now, 10 * 60),
        id: m.member_id.as_str(),
        category: m.category.as_deref().unwrap_or("—"),
        note: "--members で読み込み",
        insurer: m.insurer_number.as_str(),
        birth: "（ファイルのとおり）",
    });
    let members = demo.chain(loaded).collect();
    page(askama::Template::render(&PortalPage { title: "開発用ポータル", members }))
}

/// The newest mails first; at most this many are shown on the index.
const OUTBOX_SHOWN: usize = 50;

fn outbox_names(dev: &Dev) -> Vec<String> {
    let Some(dir) = &dev.outbox else { return Vec::new() };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| e.file_name().into_string().ok()).filter(|n| n.ends_with(".eml")).collect())
        .unwrap_or_default();
    names.sort();
    names.reverse();
    names
}

/// One outbox mail as the member would read it: subject, sender, recipient, date and the text part,
/// decoded (RFC 2047 headers, base64 or quoted-printable body) and escaped.
struct ShownMail {
    subject: String,
    from: String,
    to: String,
    date: String,
    text: String,
    /// The HTML part as its source (shown escaped), if any.
    html: Option<String>,
    /// Header fields a developer checks on the update notice (RFC 8058), as written.
    headers: Vec<(String, String)>,
}

fn address_of(a: Option<&mail_parser::Address<'_>>) -> String {
    a.map(|a| {
        let list = a.clone().into_list();
        list.iter()
            .map(|x| match (x.name(), x.address()) {
                (Some(n), Some(addr)) => format!("{n} <{addr}>"),
                (None, Some(addr)) => addr.to_owned(),
                (Some(n), None) => n.to_owned(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    })
    .unwrap_or_default()
}

fn decode_mail(bytes: &[u8]) -> Option<ShownMail> {
    let message = mail_parser::MessageParser::default().parse(bytes)?;
    Some(ShownMail {
        subject: message.subject().unwrap_or("（件名なし）").to_owned(),
        from: address_of(message.from()),
        to: address_of(message.to()),
        date: message.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        text: message.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: message.body_html(0).map(|t| t.into_owned()),
        headers: ["List-Unsubscribe", "List-Unsubscribe-Post"]
            .iter()
            .filter_map(|name| message.header_raw(*name).map(|v| ((*name).to_owned(), v.trim().to_owned())))
            .collect(),
    })
}

fn outbox_index(dev: &Dev) -> Response<Body> {
    let names = outbox_names(dev);
    let mails = names
        .iter()
        .take(OUTBOX_SHOWN)
        .map(|name| {
            let bytes = dev.outbox.as_ref().and_then(|dir| std::fs::read(dir.join(name)).ok()).unwrap_or_default();
            (name.clone(), decode_mail(&bytes))
        })
        .collect();
    page(askama::Template::render(&OutboxPage { title: "送信メール（outbox）", has_outbox: dev.outbox.is_some(), total: names.len(), mails }))
}

fn outbox_file(dev: &Dev, name: &str) -> Response<Body> {
    // Only names the folder listing returned: no path can reach outside the outbox.
    let known = outbox_names(dev).iter().any(|n| n == name);
    let text = dev.outbox.as_ref().filter(|_| known).and_then(|dir| std::fs::read(dir.join(name)).ok());
    match text {
        Some(bytes) => {
            let mut response = Response::new(Body::Binary(bytes));
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
            headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            headers.insert("content-security-policy", HeaderValue::from_static(kenpo_shared::http::PAGE_CSP));
            headers.insert("cache-control", HeaderValue::from_static("no-store"));
            response
        }
        None => kenpo_shared::ApiError::not_found().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_mail_is_decoded_for_reading() {
        let mail = kenpo_shared::mailer::OutgoingMail {
            member_id: None,
            from: "webmaster@kenpo.example".into(),
            to: kenpo_shared::domain::EmailAddress::parse_optional("taro@example.jp").ok().flatten().expect("address"),
            subject: "「医療費と給付金支給額」へようこそ <b>".into(),
            text: "ご登録ありがとうございます。\n医療費通知：必要".into(),
            html: Some("<p>html</p>".into()),
            from_name: None,
            headers: Vec::new(),
        };
        let bytes = kenpo_shared::mailer::outbox::render_eml(&mail).expect("eml");
        let shown = decode_mail(&bytes).expect("parsed");
        assert_eq!(shown.subject, "「医療費と給付金支給額」へようこそ <b>");
        assert_eq!(shown.to, "taro@example.jp");
        assert!(shown.text.contains("医療費通知：必要"), "{}", shown.text);
        assert!(kenpo_shared::http::escape_html(&shown.subject).contains("&lt;b&gt;"));
    }
}
