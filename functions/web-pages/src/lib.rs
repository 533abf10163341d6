//! `GET` pages and `/assets/*`: the onboarding screens, embedded in the binary.
//!
//! Every page is a static HTML shell rendered by a compile-time template (askama, `templates/`;
//! settings such as the mail domain and the portal address are escaped by it) plus one CSS and
//! one JS file. The script asks `GET /api/signup` where the member stands and sends them to the
//! page of their step, so a page reached out of order never shows a form it cannot submit.

use askama::Template;
use kenpo_shared::ApiError;
use kenpo_shared::config::Settings;
use kenpo_shared::http::{asset_response, html_response, see_other};
use lambda_http::{Body, Request, Response};

const APP_CSS: &str = include_str!("../assets/app.css");
const APP_JS: &str = include_str!("../assets/app.js");

/// One screen: the `data-page` the script dispatches on (and the template it includes), its
/// heading, and which step of the indicator it is (signup screens only).
struct Page {
    name: &'static str,
    title: &'static str,
    step: Option<usize>,
}

const IDENTITY: Page = Page { name: "identity", title: "本人確認画面", step: Some(0) };
const PREFERENCES: Page = Page { name: "preferences", title: "個人情報入力画面", step: Some(1) };
const CONFIRM: Page = Page { name: "confirm", title: "入力確認画面", step: Some(2) };
const COMPLETE: Page = Page { name: "complete", title: "オンラインサインアップ完了画面", step: Some(3) };
const MENU: Page = Page { name: "menu", title: "トップページ", step: None };

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
    mail_from_domain: &'a str,
    terms_version: &'a str,
    portal_url: &'a str,
    css: &'a str,
    js: &'a str,
}

/// The assets' fingerprints, computed once per process (not per page).
static CSS_FINGERPRINT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| fingerprint(APP_CSS));
static JS_FINGERPRINT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| fingerprint(APP_JS));

/// The system's name, as the portal's menu shows it.
pub const SYSTEM_NAME: &str = "医療費と給付金支給額";

/// Pages need only the settings: this function builds no AWS client.
pub async fn handle(settings: &Settings, req: Request) -> Response<Body> {
    let path = req.uri().path();
    let page = match path {
        // The top page's script sends a member who has not finished the onboarding on to their step.
        "/" => return see_other("/menu", None),
        "/signup/identity" => &IDENTITY,
        "/signup/preferences" => &PREFERENCES,
        "/signup/confirm" => &CONFIRM,
        "/signup/complete" => &COMPLETE,
        "/menu" => &MENU,
        _ => return match path.strip_prefix("/assets/") {
            Some(name) => asset(name),
            None => ApiError::not_found().into_response(),
        },
    };
    match render(settings, page) {
        Ok(html) => html_response(200, html),
        Err(e) => {
            tracing::error!(code = "page_render_failed", error = %e, "page not rendered");
            ApiError::internal().into_response()
        }
    }
}

fn asset(name: &str) -> Response<Body> {
    match name {
        "app.css" => asset_response("text/css; charset=utf-8", APP_CSS.as_bytes()),
        "app.js" => asset_response("text/javascript; charset=utf-8", APP_JS.as_bytes()),
        _ => ApiError::not_found().into_response(),
    }
}


/// A link target from configuration: only http(s) URLs and same-site paths, else the site root.
fn safe_href(url: &str) -> &str {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let ok = lower.starts_with("https://") || lower.starts_with("http://") || (url.starts_with('/') && !url.starts_with("//"));
    if ok { url } else { "/" }
}

/// A short fingerprint of an asset, so a deployment's pages never pick up a cached older script.
fn fingerprint(bytes: &str) -> String {
    // FNV-1a: stable across builds and processes (unlike `DefaultHasher`'s contract).
    let hash = bytes.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{:08x}", hash >> 32)
}

fn render(settings: &Settings, page: &Page) -> askama::Result<String> {
    Screen {
        name: page.name,
        title: page.title,
        step: page.step,
        step_names: STEP_NAMES,
        system_name: SYSTEM_NAME,
        society: &settings.society_name,
        mail_from_domain: &settings.mail_from_domain,
        terms_version: settings.terms_version.as_str(),
        portal_url: safe_href(&settings.portal_url),
        css: &CSS_FINGERPRINT,
        js: &JS_FINGERPRINT,
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
        for path in ["/assets/nope.js", "/assets/../Cargo.toml", "/assets/", "/favicon.ico"] {
            let (r, body) = page(Settings::development(), path).await;
            assert_eq!(r.status(), 404, "{path}");
            assert!(body.contains("\"not_found\""), "{path}");
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
    async fn the_terms_are_our_placeholder_with_the_configured_version() {
        let mut s = Settings::development();
        s.terms_version = kenpo_shared::domain::TermsVersion::parse("2027-04-01").expect("version");
        let (_, html) = page(s, "/signup/identity").await;
        assert!(html.contains("この利用規約はひな形です。健康保険組合が配備時に差し替えます。"));
        assert!(html.contains(r#"data-terms-version="2027-04-01""#));
        assert!(html.contains("2027-04-01"));
        assert!(!html.contains("KOSMO"));
    }

    #[test]
    fn fingerprints_are_stable_and_short() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint(APP_CSS).len(), 8);
    }
}
