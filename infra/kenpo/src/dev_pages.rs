//! Development-only pages (never in the Lambda deployment): `/dev/portal` logs in as a seeded
//! member through the real `POST /sso`; `/dev/outbox` lists the mails written to the outbox.

use kenpo_shared::handoff::sign_hs256;
use kenpo_shared::http::html_response;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

use crate::dev::Dev;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><link rel="stylesheet" href="/assets/app.css"></head><body><main class="page"><h1>{title}</h1>{body}</main></body></html>"#
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
                r#"<li><form method="post" action="/sso"><input type="hidden" name="token" value="{token}"><button type="submit">{id} としてログイン</button> <span>{category}・{note}（保険者番号 {insurer}／生年月日 {birth}）</span></form></li>"#,
                id = d.id,
                category = escape(d.category),
                note = escape(d.note),
                insurer = d.insurer,
                birth = d.birth,
            )
        })
        .collect();
    html_response(200, layout(
        "開発用ポータル",
        &format!(r#"<p>健康保険組合のポータルの代わりです。メニュー「医療費と給付金支給額」を押したときと同じく、署名付きトークンを POST /sso に送ります（開発サーバーのみ）。</p><ul class="dev-list">{rows}</ul><p><a href="/dev/outbox">送信メール（outbox）</a></p>"#),
    ))
}

fn outbox_names(dev: &Dev) -> Vec<String> {
    let Some(dir) = &dev.outbox else { return Vec::new() };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| e.file_name().into_string().ok()).filter(|n| n.ends_with(".eml")).collect())
        .unwrap_or_default();
    names.sort();
    names.reverse();
    names
}

fn outbox_index(dev: &Dev) -> Response<Body> {
    let items: String = outbox_names(dev).iter().map(|n| format!(r#"<li><a href="/dev/outbox/{n}">{n}</a></li>"#, n = escape(n))).collect();
    let body = if items.is_empty() { "<p>まだメールはありません。</p>".to_string() } else { format!("<ul>{items}</ul>") };
    html_response(200, layout("送信メール（outbox）", &body))
}

fn outbox_file(dev: &Dev, name: &str) -> Response<Body> {
    let known = outbox_names(dev).iter().any(|n| n == name);
    let text = dev.outbox.as_ref().filter(|_| known).and_then(|dir| std::fs::read(dir.join(name)).ok());
    match text {
        Some(bytes) => {
            let mut response = Response::new(Body::Binary(bytes));
            response.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("text/plain; charset=utf-8"));
            response
        }
        None => kenpo_shared::ApiError::not_found().into_response(),
    }
}
