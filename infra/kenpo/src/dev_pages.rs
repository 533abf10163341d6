//! Development-only pages (never in the Lambda deployment): `/dev/portal` logs in as a seeded
//! member through the real `POST /sso`; `/dev/outbox` lists the mails written to the outbox.

use kenpo_shared::handoff::sign_hs256;
use kenpo_shared::http::escape_html as escape;
use kenpo_shared::http::html_response;
use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};

use crate::Dev;


fn layout(title: &str, body: &str) -> String {
    format!(
        concat!(
            r#"<!doctype html><html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">"#,
            r#"<title>{title}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/app.css"></head>"#,
            r#"<body><header class="site"><div class="wrap"><p class="system">kenpo-web 開発サーバー</p><p class="society">開発専用（本番にはありません）</p></div></header>"#,
            r#"<main class="page"><h1>{title}</h1>{body}</main></body></html>"#,
        ),
        title = title,
        body = body
    )
}

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

fn portal(dev: &Dev) -> Response<Body> {
    let now = chrono::Utc::now().timestamp();
    let secret = &dev.app.settings.sso_jwt_secret;
    let rows: String = crate::seed::DEMO_MEMBERS
        .iter()
        .map(|d| {
            let token = sign_hs256(secret, d.id, now, 10 * 60);
            format!(
                r#"<li><form method="post" action="/sso"><input type="hidden" name="token" value="{token}"><button type="submit">{id} としてログイン</button><span><strong>{category}</strong>・{note}<br>保険者番号 {insurer}／生年月日 {birth}</span></form></li>"#,
                token = escape(&token),
                id = escape(d.id),
                category = escape(d.category),
                note = escape(d.note),
                insurer = escape(d.insurer),
                birth = escape(d.birth),
            )
        })
        .collect();
    html_response(200, layout(
        "開発用ポータル",
        &format!(
            concat!(
                r#"<p>健康保険組合のポータルの代わりです。メニューで「医療費と給付金支給額」を選んだときと同じく、署名付きトークンを <code>POST /sso</code> に送ります。トークンは1回限りです（ログインし直すときはこの画面を再読み込みしてください）。</p>"#,
                r#"<h2>デモ加入者</h2><ul class="dev-list">{rows}</ul>"#,
                r#"<p><a href="/dev/outbox">送信メール（outbox）を見る</a></p>"#,
            ),
            rows = rows
        ),
    ))
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
    })
}

fn outbox_index(dev: &Dev) -> Response<Body> {
    let names = outbox_names(dev);
    let mails: String = names
        .iter()
        .take(OUTBOX_SHOWN)
        .map(|name| {
            let bytes = dev.outbox.as_ref().and_then(|dir| std::fs::read(dir.join(name)).ok()).unwrap_or_default();
            let raw = format!(r#"<a href="/dev/outbox/{n}">{n}</a>"#, n = escape(name));
            match decode_mail(&bytes) {
                Some(m) => format!(
                    concat!(
                        r#"<article class="mail"><h2>{subject}</h2><dl><dt>差出人</dt><dd>{from}</dd><dt>宛先</dt><dd>{to}</dd>"#,
                        r#"<dt>日時</dt><dd>{date}</dd><dt>ファイル</dt><dd>{raw}</dd></dl><pre>{text}</pre></article>"#,
                    ),
                    subject = escape(&m.subject),
                    from = escape(&m.from),
                    to = escape(&m.to),
                    date = escape(&m.date),
                    raw = raw,
                    text = escape(&m.text),
                ),
                None => format!(r#"<article class="mail"><h2>（読み取れないメール）</h2><p>{raw}</p></article>"#),
            }
        })
        .collect();
    let body = match (dev.outbox.is_some(), names.len()) {
        (false, _) => "<p>このサーバーはメールを SES で送っています（outbox はありません）。</p>".to_owned(),
        (true, 0) => "<p>まだメールはありません。</p>".to_owned(),
        (true, n) if n > OUTBOX_SHOWN => format!("<p>{n}通のうち新しい{OUTBOX_SHOWN}通を表示しています。</p>{mails}"),
        (true, n) => format!("<p>{n}通（新しい順）</p>{mails}"),
    };
    html_response(200, layout("送信メール（outbox）", &format!(r#"{body}<p><a href="/dev/portal">開発用ポータルへ</a></p>"#)))
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
        };
        let bytes = kenpo_shared::mailer::outbox::render_eml(&mail).expect("eml");
        let shown = decode_mail(&bytes).expect("parsed");
        assert_eq!(shown.subject, "「医療費と給付金支給額」へようこそ <b>");
        assert_eq!(shown.to, "taro@example.jp");
        assert!(shown.text.contains("医療費通知：必要"), "{}", shown.text);
        assert!(escape(&shown.subject).contains("&lt;b&gt;"));
    }
}
