//! HTTP helpers shared by every handler: JSON in and out, limits, origin, session, headers.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::contract::ApiError;
use crate::session::Session;

impl ApiError {
    /// The JSON error response (`Retry-After` when set).
    pub fn into_response(self) -> Response<Body> {
        let mut response = json_response(self.status(), &self.body());
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Headers every response carries.
fn secure_headers(builder: lambda_http::http::response::Builder) -> lambda_http::http::response::Builder {
    builder
        .header("x-content-type-options", "nosniff")
        // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` with a
        // form POST (Fetch, "append a request Origin header"), and the origin check refuses the
        // page's own forms (ログアウト). Nothing leaves the origin either way.
        .header("referrer-policy", "same-origin")
        .header("strict-transport-security", "max-age=63072000; includeSubDomains")
        .header("cache-control", "no-store")
}

fn build(builder: lambda_http::http::response::Builder, body: Body) -> Response<Body> {
    builder.body(body).unwrap_or_else(|_| {
        // Only reachable with an invalid header value built from our own constants.
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

pub fn json_response(status: u16, value: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let builder = secure_headers(Response::builder().status(status)).header(header::CONTENT_TYPE, "application/json; charset=utf-8");
    build(builder, Body::Text(text))
}

pub fn ok_json(value: &impl Serialize) -> Response<Body> {
    json_response(200, value)
}

/// A link target from configuration (`PORTAL_URL`, …): only http(s) URLs and same-site paths,
/// else the site root (never `javascript:` or another scheme, even if an operator typed one).
pub fn safe_href(url: &str) -> &str {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let ok = lower.starts_with("https://") || lower.starts_with("http://") || (url.starts_with('/') && !url.starts_with("//"));
    if ok { url } else { "/" }
}

/// The service's name, on every page and mail (the manual's).
pub const SYSTEM_NAME: &str = "医療費と給付金支給額";

/// The footer of every page: the society, and whom to ask (phone, hours, web page), escaped.
pub fn footer_html(settings: &crate::config::Settings) -> String {
    let link = settings.society_url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let web = link.map(|u| format!(r#"<br><a href="{}">{}のホームページ</a>"#, escape_html(u), escape_html(&settings.society_name))).unwrap_or_default();
    let hours = if settings.society_hours.is_empty() { String::new() } else { format!("（{}）", escape_html(&settings.society_hours)) };
    format!(
        r#"<footer class="site"><div class="wrap"><p>{society}</p><p class="contact">お問い合わせ：<a href="tel:{tel}">{phone}</a>{hours}{web}</p></div></footer>"#,
        society = escape_html(&settings.society_name),
        tel = escape_html(&settings.society_phone.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect::<String>()),
        phone = escape_html(&settings.society_phone),
    )
}

/// A whole page in the site's frame (the header with the service and the society, the footer with
/// whom to ask) around `title`, `detail` and links `(href, text)`, the first as a button: the
/// error and notice pages outside the screens (the hand-off's refusals, 404, 405). Text is escaped;
/// hrefs must be ours or from configuration.
pub fn framed_page(settings: &crate::config::Settings, css_href: &str, title: &str, detail: &str, links: &[(&str, &str)]) -> String {
    let links: String = links
        .iter()
        .enumerate()
        .map(|(i, (href, text))| format!(r#"<p><a{} href="{}">{}</a></p>"#, if i == 0 { r#" class="button""# } else { "" }, escape_html(href), escape_html(text)))
        .collect();
    format!(
        r#"<!doctype html><html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}｜{SYSTEM_NAME}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="{css}"></head><body><header class="site"><div class="wrap"><p class="system">{SYSTEM_NAME}</p><p class="society">{society}</p></div></header><main class="page"><h1>{title}</h1><p role="alert">{detail}</p>{links}</main>{footer}</body></html>"#,
        title = escape_html(title),
        css = escape_html(css_href),
        society = escape_html(&settings.society_name),
        detail = escape_html(detail),
        footer = footer_html(settings),
    )
}

/// Content-Security-Policy of every page: nothing leaves our origin, no inline script.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn html_response(status: u16, html: impl Into<String>) -> Response<Body> {
    let builder = secure_headers(Response::builder().status(status))
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", PAGE_CSP)
        .header("x-frame-options", "DENY");
    build(builder, Body::Text(html.into()))
}

pub fn asset_response(content_type: &str, bytes: &'static [u8]) -> Response<Body> {
    let builder = secure_headers(Response::builder().status(200))
        .header(header::CONTENT_TYPE, content_type)
        .header("content-security-policy", PAGE_CSP);
    let mut response = build(builder, Body::Binary(bytes.to_vec()));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// A file the member downloads (200): `content_type`, `Content-Disposition: attachment` with an
/// ASCII `filename` for old clients and the Japanese name as RFC 8187 `filename*` (RFC 6266 §4.3),
/// the body as bytes (API Gateway sends it base64-encoded), never cached.
pub fn download_response(content_type: &str, ascii_name: &str, name: &str, bytes: Vec<u8>) -> Response<Body> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~".
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC.remove(b'!').remove(b'#').remove(b'$').remove(b'&').remove(b'+').remove(b'-').remove(b'.').remove(b'^').remove(b'_').remove(b'`').remove(b'|').remove(b'~');
    let ascii: String = ascii_name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", utf8_percent_encode(name, ATTR));
    let builder = secure_headers(Response::builder().status(200)).header(header::CONTENT_TYPE, content_type).header(header::CONTENT_DISPOSITION, disposition);
    build(builder, Body::Binary(bytes))
}

/// 303 See Other, optionally setting a cookie.
pub fn see_other(location: &str, set_cookie: Option<&str>) -> Response<Body> {
    let mut builder = secure_headers(Response::builder().status(303)).header(header::LOCATION, location);
    if let Some(c) = set_cookie {
        builder = builder.header(header::SET_COOKIE, c);
    }
    build(builder, Body::Empty)
}

pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// Refuse state-changing requests whose `Origin` is missing or not ours.
pub fn check_origin(app: &App, req: &Request) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if origin_in(req, &app.settings.allowed_origins) { Ok(()) } else { Err(ApiError::cross_origin()) }
}

/// Whether the request carries exactly one `Origin` header (browsers send one; a second one is
/// not ours to choose between) and it is one of `allowed`. A missing one is never allowed.
pub fn origin_in(req: &Request, allowed: &[String]) -> bool {
    let mut origins = req.headers().get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (Some(v), None) => v.to_str().is_ok_and(|origin| allowed.iter().any(|o| o == origin)),
        _ => false,
    }
}

/// The JSON body as `T` (which denies unknown fields): 413, 415, 400 as the contract says.
pub fn json_body<T: DeserializeOwned>(app: &App, req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > app.settings.max_body_bytes {
        return Err(ApiError::too_large());
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::unsupported_media_type());
    }
    serde_json::from_slice(bytes).map_err(|_| ApiError::malformed_request())
}

/// The member's session as the cookie says (sealed by our key, used within `SESSION_SECONDS`,
/// issued within `SESSION_MAX_SECONDS`), or 401. Whether a logout ended it since is on the
/// member's record: `session_on_record` where a handler reads the record, `Sender::Member` where
/// the state machine does.
pub fn session(app: &App, req: &Request) -> Result<Session, ApiError> {
    app.sessions.read(req.headers(), app.clock.now()).ok_or_else(ApiError::unauthenticated)
}

/// 401 where the member's record (as read; `None`: none stored) says `session` was ended by a
/// logout (DESIGN.md Part 2, "sessions valid from").
pub fn session_on_record(session: &Session, record: Option<&crate::signup::SignupRecord>) -> Result<(), ApiError> {
    if record.is_none_or(|r| r.accepts_session(session.issued_at())) { Ok(()) } else { Err(ApiError::unauthenticated()) }
}

/// The checks every API call makes before its own: origin, then session.
pub fn api_preamble(app: &App, req: &Request) -> Result<Session, ApiError> {
    check_origin(app, req)?;
    session(app, req)
}

/// Set by a handler once the member's record was seen to accept the session (not ended by a
/// logout): `session_on_record` passed, or the state machine decided for a `Sender::Member`
/// (`Outcome::session_checked`). Only then is the cookie re-issued, so a copy of an ended cookie
/// is never kept alive by answers given before that check (a malformed body, say).
#[derive(Clone, Default)]
pub struct Confirmed(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Confirmed {
    pub fn confirm(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// `confirm` when `checked`.
    pub fn confirm_if(&self, checked: bool) {
        if checked {
            self.confirm();
        }
    }

    fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// An authenticated API call from start to end: the origin and session checks, `handler` with the
/// session, and on every answer but a 401 given after the record's check (`Confirmed`) the session
/// cookie re-issued with its last use now (DESIGN.md Part 2: inactivity counts from the last
/// answer; pages never re-issue it).
pub async fn authenticated<F, Fut>(app: &App, req: &Request, handler: F) -> Response<Body>
where
    F: FnOnce(Session, Confirmed) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, ApiError>>,
{
    let session = match api_preamble(app, req) {
        Ok(session) => session,
        Err(e) => return e.into_response(),
    };
    let cookie = app.sessions.renew(&session, app.clock.now());
    let confirmed = Confirmed::default();
    let (member, issued_at) = (session.member_id.clone(), session.issued_at());
    let mut response = respond(handler(session, confirmed.clone()).await.map_err(|e| with_contact(app, e)));
    // A refusal given before the record's check (a malformed or invalid body): a copy of an ended
    // cookie must get 401 all the same, so the record is read then (only on this error path).
    if !confirmed.is_set() && response.status().is_client_error() && response.status() != StatusCode::UNAUTHORIZED {
        match app.store.get_signup(&member).await {
            Ok(Some(record)) if !record.accepts_session(issued_at) => return ApiError::unauthenticated().into_response(),
            Ok(_) => confirmed.confirm(),
            Err(e) => tracing::warn!(code = e.code(), "session not checked on a refusal"),
        }
    }
    if confirmed.is_set()
        && response.status() != StatusCode::UNAUTHORIZED
        && let Ok(value) = HeaderValue::from_str(&cookie)
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A lock of the identity check says whom to ask (the society's name, phone and hours).
fn with_contact(app: &App, mut e: ApiError) -> ApiError {
    if e.code == crate::contract::ErrorCode::Locked {
        e.message.push_str(&format!("お急ぎの場合やご不明な点は、{}にお問い合わせください。", app.settings.contact_line()));
    }
    e
}

/// The path the function routes on, whatever the API stage: `lambda_http` puts `/<stage>` in front
/// of the path for a named stage (a custom domain mapped to `prod`, or `StageName` in a template),
/// and the execute-api URL of a named stage carries it too; our routes are the paths after it.
pub fn route_path(req: &Request) -> String {
    let path = req.uri().path();
    let stage = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    match stage.filter(|s| s != "$default" && !s.is_empty()) {
        Some(stage) => {
            let prefix = format!("/{stage}");
            match path.strip_prefix(&prefix) {
                Some("") => "/".to_owned(),
                Some(rest) if rest.starts_with('/') => rest.to_owned(),
                _ => path.to_owned(),
            }
        }
        None => path.to_owned(),
    }
}

/// Source IP as API Gateway saw it (recorded with the consent).
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

/// Turn a handler's result into the response (errors become their JSON error response).
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// The project's one HTML escaper, also askama's for `.html` templates (each crate's
/// `askama.toml`): named entities for `& < > "` and `&#39;` for `'`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlEscaper;

impl askama::filters::Escaper for HtmlEscaper {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, string: &str) -> std::fmt::Result {
        dest.write_str(&escape_html(string))
    }
}

/// Text for HTML text and double-quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
