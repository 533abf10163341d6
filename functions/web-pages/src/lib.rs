//! `GET` pages and `/assets/*`: the onboarding screens, the top page and the two statement lists
//! (医療費のお知らせ, 給付金支給額), embedded in the binary.
//!
//! Every page is a static HTML shell rendered by a compile-time template (askama, `templates/`;
//! settings such as the mail domain and the portal address are escaped by it) plus its CSS and
//! JS. The onboarding screens and the top page use `app.css` and `app.js`: the script asks
//! `GET /api/signup` where the member stands and sends them to the page of their step, so a page
//! reached out of order never shows a form it cannot submit. The statement lists add
//! `statements.css` and use `statements.js` alone (the onboarding flow never loads either), which
//! reads `GET /api/medical-expenses` or `GET /api/benefits` and draws the page from the answer.

use std::sync::LazyLock;

use askama::Template;
use kenpo_shared::ApiError;
use kenpo_shared::config::Settings;
use kenpo_shared::http::{asset_response, html_response, safe_href, see_other};
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};

/// The society's terms (`terms/terms.html`): one file with its own version on the first line.
pub const TERMS_FILE: &str = include_str!("../terms/terms.html");
const APP_CSS: &str = include_str!("../assets/app.css");
const APP_JS: &str = include_str!("../assets/app.js");
const STATEMENTS_CSS: &str = include_str!("../assets/statements.css");
const STATEMENTS_JS: &str = include_str!("../assets/statements.js");

/// One screen: the `data-page` the script dispatches on (and the template it includes), its
/// heading, which step of the indicator it is (signup screens only), and whether it is a
/// statement list (`statements.css` and `statements.js` instead of `app.js`).
struct Page {
    name: &'static str,
    title: &'static str,
    step: Option<usize>,
    statements: bool,
}

const IDENTITY: Page = Page { name: "identity", title: "本人確認画面", step: Some(0), statements: false };
const PREFERENCES: Page = Page { name: "preferences", title: "個人情報入力画面", step: Some(1), statements: false };
const CONFIRM: Page = Page { name: "confirm", title: "入力確認画面", step: Some(2), statements: false };
const COMPLETE: Page = Page { name: "complete", title: "オンラインサインアップ完了画面", step: Some(3), statements: false };
const MENU: Page = Page { name: "menu", title: "トップページ", step: None, statements: false };
/// New terms for a completed member (DESIGN.md Part 2, `reconsent`).
const TERMS: Page = Page { name: "terms", title: "利用規約等の更新", step: None, statements: false };
const MEDICAL_EXPENSES: Page = Page { name: "medical-expenses", title: "医療費のお知らせ", step: None, statements: true };
const BENEFITS: Page = Page { name: "benefits", title: "給付金支給額", step: None, statements: true };

/// The step indicator's labels (the manual's order).
const STEP_NAMES: [&str; 4] = ["本人確認", "個人情報入力", "入力確認", "完了"];

/// A screen as rendered: `templates/screen.html`, which includes the page's own template.
#[derive(Template)]
#[template(path = "screen.html")]
struct Screen<'a> {
    name: &'a str,
    title: &'a str,
    step: Option<usize>,
    step_names: [&'a str; 4],
    system_name: &'a str,
    society: &'a str,
    /// The footer: the society and whom to ask (`kenpo_shared::http::footer_html`, escaped there).
    footer: String,
    mail_from_domain: &'a str,
    terms_version: &'a str,
    /// The terms' text (the file after its comments), the society's own HTML.
    terms_html: &'a str,
    portal_url: &'a str,
    statements: bool,
    css: &'a str,
    js: &'a str,
    statements_css: &'a str,
    statements_js: &'a str,
}

/// An asset as served: [`compact`]ed, also gzipped, with the fingerprint of what is served.
struct Served {
    body: String,
    gzipped: Vec<u8>,
    fingerprint: String,
}

impl Served {
    fn of(source: &str) -> Self {
        let body = compact(source);
        let fingerprint = fingerprint(&body);
        let gzipped = gzip(body.as_bytes());
        Served { body, gzipped, fingerprint }
    }
}

/// `bytes` gzipped (RFC 1952) at the best compression: the assets once per process, a page (a few
/// KB) per request in well under a millisecond.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Whether the request's `Accept-Encoding` lists gzip with a q-value above 0 (RFC 9110 §12.5.3).
fn accepts_gzip(req: &Request) -> bool {
    req.headers().get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)));
        (name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")) && !refused
    })
}

/// `response` with its body gzipped (`gzipped`: already compressed bytes of the same body) when
/// the browser accepts it; `Vary: Accept-Encoding` either way, so no cache mixes the two.
fn encoded(mut response: Response<Body>, req: &Request, gzipped: Option<&[u8]>) -> Response<Body> {
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if !accepts_gzip(req) {
        return response;
    }
    let body = match (gzipped, response.body()) {
        (Some(bytes), _) => bytes.to_vec(),
        (None, Body::Text(t)) => gzip(t.as_bytes()),
        (None, Body::Binary(b)) => gzip(b),
        _ => return response,
    };
    *response.body_mut() = Body::Binary(body);
    response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    response
}

/// The assets, compacted and fingerprinted once per process (not per page).
static APP_CSS_SERVED: LazyLock<Served> = LazyLock::new(|| Served::of(APP_CSS));
static APP_JS_SERVED: LazyLock<Served> = LazyLock::new(|| Served::of(APP_JS));
static STATEMENTS_CSS_SERVED: LazyLock<Served> = LazyLock::new(|| Served::of(STATEMENTS_CSS));
static STATEMENTS_JS_SERVED: LazyLock<Served> = LazyLock::new(|| Served::of(STATEMENTS_JS));

/// The system's name, as the portal's menu shows it.
pub use kenpo_shared::http::SYSTEM_NAME;

/// Pages need only the settings: this function builds no AWS client.
pub async fn handle(settings: &Settings, req: Request) -> Response<Body> {
    let path = kenpo_shared::http::route_path(&req);
    let path = path.as_str();
    // Everything no other route takes reaches this function (the API's `$default` route): the
    // API's own addresses keep their JSON error, and a page is only ever read.
    if path.starts_with("/api/") {
        return ApiError::not_found().into_response();
    }
    if !matches!(*req.method(), lambda_http::http::Method::GET | lambda_http::http::Method::HEAD) {
        return message_page(settings, 405, "この操作は受け付けられません", "このページは表示するだけのページです。", Some("GET, HEAD"));
    }
    let page = match path {
        // The top page's script sends a member who has not finished the onboarding on to their step.
        "/" => return see_other("/menu", None),
        "/signup/identity" => &IDENTITY,
        "/signup/terms" => &TERMS,
        "/signup/preferences" => &PREFERENCES,
        "/signup/confirm" => &CONFIRM,
        "/signup/complete" => &COMPLETE,
        "/menu" => &MENU,
        "/medical-expenses" => &MEDICAL_EXPENSES,
        "/benefits" => &BENEFITS,
        _ => return match path.strip_prefix("/assets/") {
            Some(name) => asset(settings, name, &req),
            None => encoded(not_found_page(settings), &req, None),
        },
    };
    match render(settings, page) {
        Ok(html) => encoded(html_response(200, html), &req, None),
        Err(e) => {
            tracing::error!(code = "page_render_failed", error = %e, "page not rendered");
            ApiError::internal().into_response()
        }
    }
}

fn asset(settings: &Settings, name: &str, req: &Request) -> Response<Body> {
    let (content_type, served): (&str, &Served) = match name {
        "app.css" => ("text/css; charset=utf-8", &APP_CSS_SERVED),
        "app.js" => ("text/javascript; charset=utf-8", &APP_JS_SERVED),
        "statements.css" => ("text/css; charset=utf-8", &STATEMENTS_CSS_SERVED),
        "statements.js" => ("text/javascript; charset=utf-8", &STATEMENTS_JS_SERVED),
        _ => return not_found_page(settings),
    };
    encoded(asset_response(content_type, served.body.as_bytes()), req, Some(&served.gzipped))
}

/// A mistyped address: a page that says so and leads to the top page, never raw JSON.
fn not_found_page(settings: &Settings) -> Response<Body> {
    message_page(settings, 404, "ページが見つかりません", "お探しのページは見つかりませんでした。アドレスに誤りがないかご確認ください。", None)
}

/// A page of one message with the ways on (the top page, the portal); `allow`: the `Allow` of a 405.
/// Also the dev server's answer to a page address asked with another method (`GET /logout`).
pub fn message_page(settings: &Settings, status: u16, title: &str, detail: &str, allow: Option<&str>) -> Response<Body> {
    let css = format!("/assets/app.css?v={}", APP_CSS_SERVED.fingerprint);
    let links = [("/menu", "トップページへ"), (safe_href(&settings.portal_url), "ポータルへ戻る")];
    let mut response = html_response(status, kenpo_shared::http::framed_page(settings, &css, title, detail, &links));
    if let Some(value) = allow.and_then(|a| HeaderValue::from_str(a).ok()) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}



/// An asset without what the browser does not need: each line's indentation, and lines that are
/// only a comment (`// …`, or `/* … */` on one line) become empty, so line numbers stay those of
/// the source (the onboarding flow's page-weight budget). Sound for our JS and CSS because no
/// string or template literal spans lines and no block comment spans lines (a test holds both).
fn compact(source: &str) -> String {
    source
        .lines()
        .map(|line| {
            let line = line.trim_start();
            let comment = line.starts_with("//") || (line.starts_with("/*") && line.ends_with("*/"));
            if comment { "" } else { line }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A short fingerprint of an asset, so a deployment's pages never pick up a cached older script.
fn fingerprint(bytes: &str) -> String {
    // FNV-1a: stable across builds and processes (unlike `DefaultHasher`'s contract).
    let hash = bytes.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{:08x}", hash >> 32)
}

/// The version the terms file declares (`<!-- terms-version: YYYY-MM-DD -->` on its first line).
pub fn terms_file_version() -> Option<&'static str> {
    let first = TERMS_FILE.lines().next()?.trim();
    let version = first.strip_prefix("<!--")?.strip_suffix("-->")?.trim().strip_prefix("terms-version:")?.trim();
    kenpo_shared::domain::TermsVersion::parse(version).ok().map(|_| version)
}

/// The terms file without its leading comments.
fn terms_body() -> &'static str {
    let mut rest = TERMS_FILE.trim_start();
    while let Some(after) = rest.strip_prefix("<!--") {
        rest = after.split_once("-->").map_or("", |(_, tail)| tail).trim_start();
    }
    rest
}

/// At start (the Lambda's init, the dev server): the terms file carries a version, and it is the
/// one the stack asks members to agree to (`TERMS_VERSION`), else the pages would show a text
/// other than the one on record.
///
/// Errors: a `ConfigError` naming `TERMS_VERSION` and both versions.
pub fn check_terms(settings: &Settings) -> Result<(), kenpo_shared::config::ConfigError> {
    match terms_file_version() {
        Some(v) if v == settings.terms_version.as_str() => Ok(()),
        Some(v) => Err(kenpo_shared::config::ConfigError {
            name: "TERMS_VERSION",
            reason: format!("is {} but the terms file (functions/web-pages/terms/terms.html) is version {v}", settings.terms_version.as_str()),
        }),
        None => Err(kenpo_shared::config::ConfigError { name: "TERMS_VERSION", reason: "the terms file has no <!-- terms-version: YYYY-MM-DD --> first line".into() }),
    }
}

fn render(settings: &Settings, page: &Page) -> askama::Result<String> {
    Screen {
        name: page.name,
        title: page.title,
        step: page.step,
        step_names: STEP_NAMES,
        system_name: SYSTEM_NAME,
        society: &settings.society_name,
        footer: kenpo_shared::http::footer_html(settings),
        mail_from_domain: &settings.mail_from_domain,
        terms_version: settings.terms_version.as_str(),
        terms_html: terms_body(),
        portal_url: safe_href(&settings.portal_url),
        statements: page.statements,
        css: &APP_CSS_SERVED.fingerprint,
        js: &APP_JS_SERVED.fingerprint,
        statements_css: &STATEMENTS_CSS_SERVED.fingerprint,
        statements_js: &STATEMENTS_JS_SERVED.fingerprint,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use kenpo_shared::config::Settings;
    use lambda_http::http::header;

    use super::*;

    fn get(path: &str) -> Request {
        lambda_http::http::Request::builder().uri(path).body(Body::Empty).expect("request")
    }

    fn text(r: &Response<Body>) -> String {
        match r.body() {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    async fn page(settings: Settings, path: &str) -> (Response<Body>, String) {
        let r = handle(&settings, get(path)).await;
        let t = text(&r);
        (r, t)
    }

    #[tokio::test]
    async fn every_page_is_a_japanese_html_shell_with_the_page_csp() {
        for (path, heading, name) in [
            ("/signup/identity", "本人確認画面", "identity"),
            ("/signup/preferences", "個人情報入力画面", "preferences"),
            ("/signup/confirm", "入力確認画面", "confirm"),
            ("/signup/complete", "オンラインサインアップ完了画面", "complete"),
            ("/menu", "トップページ", "menu"),
            ("/medical-expenses", "医療費のお知らせ", "medical-expenses"),
            ("/benefits", "給付金支給額", "benefits"),
        ] {
            let (r, html) = page(Settings::development(), path).await;
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
            assert_eq!(r.headers()["content-security-policy"], kenpo_shared::http::PAGE_CSP);
            assert!(html.starts_with(r#"<!doctype html><html lang="ja">"#), "{path}");
            assert!(html.contains(&format!("<h1>{heading}</h1>")), "{path}");
            assert!(html.contains(&format!(r#"data-page="{name}""#)), "{path}");
            // CSP: no inline script or style anywhere.
            assert!(!html.contains("<script>") && !html.contains("style=") && !html.contains("<style"), "{path}");
            assert!(!html.contains("{{"), "{path}: a placeholder was left");
        }
    }

    #[tokio::test]
    async fn root_goes_to_the_top_page() {
        let (r, _) = page(Settings::development(), "/").await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()[header::LOCATION], "/menu");
    }

    #[tokio::test]
    async fn assets_are_served_and_unknown_ones_are_404() {
        let (css, _) = page(Settings::development(), "/assets/app.css").await;
        assert_eq!(css.status(), 200);
        assert_eq!(css.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        let (js, body) = page(Settings::development(), "/assets/app.js").await;
        assert_eq!(js.status(), 200);
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(body.contains("/api/signup"));
        assert!(body.contains("/api/statements/summary"));
        let (css, _) = page(Settings::development(), "/assets/statements.css").await;
        assert_eq!(css.status(), 200);
        assert_eq!(css.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        let (js, body) = page(Settings::development(), "/assets/statements.js").await;
        assert_eq!(js.status(), 200);
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(body.contains("/api/medical-expenses") && body.contains("/api/benefits"));
        for path in ["/api/nope", "/api/"] {
            let (r, body) = page(Settings::development(), path).await;
            assert_eq!(r.status(), 404, "{path}");
            assert!(body.contains("\"not_found\""), "the API's addresses keep their JSON: {path}");
        }
        // Anything but GET or HEAD (the API's `$default` route brings every method here): 405.
        for path in ["/menu", "/nowhere"] {
            let req = lambda_http::http::Request::builder().method("POST").uri(path).body(Body::Empty).expect("request");
            let r = handle(&Settings::development(), req).await;
            assert_eq!((r.status().as_u16(), r.headers()[header::ALLOW].to_str().unwrap()), (405, "GET, HEAD"), "{path}");
        }
        // A mistyped page address: a page, never raw JSON.
        for path in ["/favicon.ico", "/menu/", "/signup/terms2", "/assets/nope.js", "/assets/../Cargo.toml", "/assets/"] {
            let (r, body) = page(Settings::development(), path).await;
            assert_eq!((r.status().as_u16(), r.headers()[header::CONTENT_TYPE].to_str().unwrap()), (404, "text/html; charset=utf-8"), "{path}");
            assert!(body.contains("ページが見つかりません") && body.contains(r#"href="/menu""#), "{path}");
        }
    }

    /// Pages and assets are gzipped for a browser that accepts it, and the same bytes inflate back.
    #[tokio::test]
    async fn pages_and_assets_are_gzipped_when_the_browser_accepts_it() {
        use std::io::Read;
        for path in ["/signup/identity", "/assets/app.js", "/assets/statements.css", "/nowhere"] {
            let (plain, text) = page(Settings::development(), path).await;
            let mut req = get(path);
            req.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br, zstd"));
            let zipped = handle(&Settings::development(), req).await;
            assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip", "{path}");
            assert_eq!((zipped.headers()[header::VARY].to_str().unwrap(), plain.headers()[header::VARY].to_str().unwrap()), ("accept-encoding", "accept-encoding"));
            assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
            let Body::Binary(bytes) = zipped.body() else { panic!("{path}: gzip is binary") };
            assert!(bytes.len() < text.len(), "{path}: {} of {}", bytes.len(), text.len());
            let mut inflated = String::new();
            flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut inflated).unwrap();
            assert_eq!(inflated, text, "{path}");
        }
        for refused in ["gzip;q=0", "identity", "br"] {
            let mut req = get("/menu");
            req.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_str(refused).unwrap());
            assert!(handle(&Settings::development(), req).await.headers().get(header::CONTENT_ENCODING).is_none(), "{refused}");
        }
    }

    #[tokio::test]
    async fn settings_are_rendered_escaped() {
        let mut s = Settings::development();
        s.mail_from_domain = "mail.example<script>".into();
        s.society_name = "A&B健康保険組合".into();
        s.portal_url = "javascript:alert(1)".into();
        let (_, html) = page(s.clone(), "/signup/preferences").await;
        assert!(html.contains("「mail.example&lt;script&gt;」からのメールを受信できるよう設定を変更してください"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("A&amp;B健康保険組合"));
        assert!(!html.contains("javascript:"));
        s.portal_url = "https://portal.example/menu?a=1&b=\"2\"".into();
        let (_, html) = page(s, "/menu").await;
        assert!(html.contains(r#"href="https://portal.example/menu?a=1&amp;b=&quot;2&quot;""#));
    }

    #[tokio::test]
    async fn the_terms_are_the_files_text_with_its_version() {
        let s = Settings::development();
        assert!(check_terms(&s).is_ok(), "the development version is the file's");
        let (_, html) = page(s, "/signup/identity").await;
        assert!(html.contains("この利用規約はひな形です。健康保険組合が配備時に差し替えます。"));
        assert!(html.contains(r#"data-terms-version="2026-11-01""#));
        assert!(!html.contains("terms-version:") && !html.contains("The society replaces"), "the file's comments stay out of the page");
        assert!(!html.contains("KOSMO"));
    }

    /// The stack's TERMS_VERSION and the file must agree, or the function does not start.
    #[test]
    fn a_terms_version_other_than_the_files_refuses_to_start() {
        let mut s = Settings::development();
        s.terms_version = kenpo_shared::domain::TermsVersion::parse("2027-04-01").expect("version");
        let e = check_terms(&s).unwrap_err();
        assert_eq!(e.name, "TERMS_VERSION");
        assert!(e.reason.contains("2027-04-01") && e.reason.contains("2026-11-01"), "{}", e.reason);
    }

    #[tokio::test]
    async fn statement_lists_load_their_own_assets_and_the_onboarding_never_does() {
        let app = (format!("/assets/app.css?v={}", fingerprint(&compact(APP_CSS))), format!("/assets/app.js?v={}", fingerprint(&compact(APP_JS))));
        let lists = (format!("/assets/statements.css?v={}", fingerprint(&compact(STATEMENTS_CSS))), format!("/assets/statements.js?v={}", fingerprint(&compact(STATEMENTS_JS))));
        for path in ["/medical-expenses", "/benefits"] {
            let (_, html) = page(Settings::development(), path).await;
            assert!(html.contains(&format!(r#"<link rel="stylesheet" href="{}">"#, app.0)), "{path}");
            assert!(html.contains(&format!(r#"<link rel="stylesheet" href="{}">"#, lists.0)), "{path}");
            assert!(html.contains(&format!(r#"<script src="{}" defer></script>"#, lists.1)), "{path}");
            assert!(!html.contains("/assets/app.js"), "{path}: the lists need only statements.js");
            // The way back, the states every list shows, the filters in the URL query.
            assert!(html.contains(r#"<li><a href="/menu">トップページ</a></li>"#), "{path}");
            assert!(html.contains(r#"<p class="back"><a href="/menu">トップページへ戻る</a></p>"#), "{path}");
            for id in ["signed-out", "expired", "problem", "retry", "filters", "year", "person", "result-status", "empty", "about"] {
                assert!(html.contains(&format!(r#"id="{id}""#)), "{path}: #{id}");
            }
            assert!(html.contains(&format!(r#"action="{path}" method="get""#)), "{path}");
        }
        for path in ["/signup/identity", "/signup/preferences", "/signup/confirm", "/signup/complete", "/menu"] {
            let (_, html) = page(Settings::development(), path).await;
            assert!(html.contains(&format!(r#"<script src="{}" defer></script></head>"#, app.1)), "{path}");
            assert!(!html.contains("statements.css") && !html.contains("statements.js"), "{path}: the onboarding flow's weight");
        }
    }

    #[tokio::test]
    async fn the_lists_explain_the_lag_the_amounts_the_tax_deduction_and_dependants_privacy() {
        let mut s = Settings::development();
        s.society_name = "A&B健康保険組合".into();
        let (_, html) = page(s.clone(), "/medical-expenses").await;
        for text in ["受診から、おおむね3か月後", "10割", "自己負担相当額", "医療費控除", "医療費通知", "実際に支払った医療費", "被保険者等の氏名", "保険者等の名称", "表示しないことがあります", "A&amp;B健康保険組合にお申し出ください"] {
            assert!(html.contains(text), "/medical-expenses: {text}");
        }
        let (_, html) = page(s.clone(), "/benefits").await;
        for text in ["高額療養費", "傷病手当金", "出産育児一時金", "支払日", "（予定）", "給与と合わせて（事業主経由）", "支給決定通知書（PDF）"] {
            assert!(html.contains(text), "/benefits: {text}");
        }
        let (_, html) = page(s, "/menu").await;
        for text in [r#"href="/medical-expenses""#, r#"href="/benefits""#, "ご利用期間が終了しました。", r#"action="/logout""#, r#"id="preferences-form""#] {
            assert!(html.contains(text), "/menu: {text}");
        }
        assert!(!html.contains("準備中"), "/menu: the placeholders are gone");
    }

    #[tokio::test]
    async fn assets_are_served_compacted_with_the_source_lines_kept() {
        for (name, source) in [("app.css", APP_CSS), ("app.js", APP_JS), ("statements.css", STATEMENTS_CSS), ("statements.js", STATEMENTS_JS)] {
            // What makes `compact` sound: nothing spans lines but code.
            for (i, line) in source.lines().enumerate() {
                assert_eq!(line.matches('`').count() % 2, 0, "{name}:{}: a template literal spans lines", i + 1);
                let t = line.trim();
                assert!(!t.starts_with("/*") || t.ends_with("*/"), "{name}:{}: a block comment spans lines", i + 1);
                assert!(!t.ends_with('\\'), "{name}:{}: a string continues on the next line", i + 1);
            }
            let (r, body) = page(Settings::development(), &format!("/assets/{name}")).await;
            assert_eq!(r.status(), 200);
            assert_eq!(body, compact(source), "{name}");
            assert_eq!(body.lines().count(), source.lines().count(), "{name}: line numbers are the source's");
            assert!(body.len() < source.len(), "{name}");
            for (served, original) in body.lines().zip(source.lines()) {
                assert!(served.is_empty() || original.trim_start() == served, "{name}: {served}");
            }
        }
        assert_eq!(compact("  a();\n  // note\n/* c */\n  b(' // kept');\n"), "a();\n\n\nb(' // kept');\n");
    }

    #[test]
    fn fingerprints_are_stable_and_short() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint(APP_CSS).len(), 8);
    }
}
