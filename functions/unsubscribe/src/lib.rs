//! `GET /unsubscribe?t=…` and `POST /unsubscribe`: stopping 医療費通知等更新のお知らせ from the mail,
//! without a login (DESIGN.md Part 2; RFC 8058 one-click).
//!
//! - GET shows a page with one button and changes nothing (mail scanners follow links).
//! - POST (the page's form `t=…`, or a mail provider's one-click `List-Unsubscribe=One-Click` with
//!   the token in the query, urlencoded or multipart) sets 医療費通知 不要 (`Command::StopNotices`).
//! - Exempt from the Origin check and from the JSON-only rule: one-click POSTs come from mail
//!   providers' servers, often without `Origin`.
//! - The token (`kenpo_notices::unsubscribe`) must be ours, for a member, and for the address the
//!   member has now: anything else is the 400 page, which says only that the link cannot be used.

use kenpo_notices::UnsubscribeKey;
use kenpo_shared::App;
use kenpo_shared::http::{body_bytes, html_response};
use kenpo_shared::signup::Command;
use kenpo_shared::transition::{Sender, Start, apply};
use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};

/// The page (`templates/unsubscribe.html`).
#[derive(askama::Template)]
#[template(path = "unsubscribe.html")]
struct Page<'a> {
    title: &'a str,
    lines: &'a [&'a str],
    /// The form's token (the GET page only).
    token: Option<&'a str>,
}

fn page(status: u16, title: &str, lines: &[&str], token: Option<&str>) -> Response<Body> {
    let html = askama::Template::render(&Page { title, lines, token }).unwrap_or_else(|e| {
        tracing::error!(code = "page_render_failed", error = %e, "unsubscribe page not rendered");
        String::from("<!doctype html><title>医療費と給付金支給額</title>")
    });
    html_response(status, html)
}

fn bad_link() -> Response<Body> {
    page(400, "このリンクは使えません", &["お知らせの停止リンクが正しくないか、メールアドレスの変更などで無効になっています。", "通知の設定は、ポータルから「医療費と給付金支給額」に入り、トップページで変更できます。"], None)
}

/// The token: the query's `t`, else the form body's `t` (urlencoded).
fn token_of(req: &Request) -> Option<String> {
    if let Some(t) = req.query_string_parameters_ref().and_then(|q| q.first("t")) {
        return Some(t.to_owned());
    }
    let body = std::str::from_utf8(body_bytes(req)).ok()?;
    body.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == "t").map(|(_, v)| v.to_owned())
}

/// One request (`key`: `NOTIFY_UNSUBSCRIBE_KEY`).
pub async fn handle(app: &App, key: &UnsubscribeKey, req: Request) -> Response<Body> {
    let method = req.method().clone();
    if !matches!(method, Method::GET | Method::HEAD | Method::POST) {
        return kenpo_shared::ApiError::method_not_allowed().into_response();
    }
    let Some(token) = token_of(&req) else { return bad_link() };
    let Ok((member, _)) = key.verify(&token) else {
        tracing::warn!(code = "unsubscribe_refused", reason = "token_invalid", "unsubscribe link refused");
        return bad_link();
    };
    let record = match app.store.get_signup(&member).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(code = e.code(), "unsubscribe: store unavailable");
            return page(503, "ただいま混み合っています", &["しばらくしてから、もう一度お試しください。"], None);
        }
    };
    if let Err(e) = key.verify_for(&token, record.as_ref().and_then(|r| r.email.as_ref())) {
        tracing::warn!(code = "unsubscribe_refused", reason = e.code(), "unsubscribe link refused");
        return bad_link();
    }
    if method != Method::POST {
        return page(200, "お知らせの停止", &["「医療費通知等更新のお知らせ」のメールを停止します。よろしければ、下のボタンを押してください。"], Some(&token));
    }
    match apply(app.store.as_ref(), app.clock.as_ref(), &app.policy, &member, Sender::System, Start::Known(record), &Command::StopNotices).await {
        Ok(_) => {
            tracing::info!(code = "notices_stopped", "update notices stopped from the mail");
            page(200, "お知らせを停止しました", &["「医療費通知等更新のお知らせ」のメールは、今後お送りしません。", "再開するときは、トップページの「通知メールの設定」で医療費通知を「必要」にしてください。"], None)
        }
        Err(e) => {
            tracing::error!(code = e.code(), "unsubscribe not recorded");
            page(503, "ただいま混み合っています", &["しばらくしてから、もう一度お試しください。"], None)
        }
    }
}
