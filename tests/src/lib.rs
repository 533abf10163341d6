//! Helpers for the cross-crate tests: apps on the embedded store or DynamoDB (moto), requests as
//! API Gateway hands them to a function, a recording mailer.

pub mod counter;
pub mod faults;
pub mod runtime_stub;
pub mod statements;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use kenpo_shared::App;
use kenpo_shared::clock::{Clock, ManualClock};
use kenpo_shared::config::Settings;
use kenpo_shared::domain::{BirthDate, InsurerNumber, MemberId};
use kenpo_shared::handoff::sign_hs256;
use kenpo_shared::mailer::{MailError, Mailer, OutgoingMail};
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_shared::store::{MemberProfile, SignupStore};
use kenpo_statement_store::StatementStore;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

pub const ORIGIN: &str = "https://kenpo.example";

/// A mailer that keeps what it was asked to send, and can be told to fail.
#[derive(Default)]
pub struct RecordingMailer {
    pub sent: Mutex<Vec<OutgoingMail>>,
    pub fail_with: Mutex<Option<fn() -> MailError>>,
}

impl RecordingMailer {
    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        if let Some(fail) = *self.fail_with.lock().unwrap() {
            return Err(fail());
        }
        self.sent.lock().unwrap().push(mail.clone());
        Ok(format!("m{}", self.count()))
    }
}

pub struct TestApp {
    pub app: Arc<App>,
    /// What the dev server hosts (the app, the portal's verifier, the mailer).
    pub dev: Arc<kenpo::Dev>,
    /// The dev server's router (the template's routes), called in-process.
    pub router: axum::Router,
    pub clock: Arc<ManualClock>,
    pub mailer: Arc<RecordingMailer>,
    pub store: Arc<dyn SignupStore>,
    pub statements: Arc<dyn StatementStore>,
}

pub fn test_settings() -> Settings {
    let mut s = Settings::development();
    s.allowed_origins = vec![ORIGIN.to_string()];
    s
}

/// 2026-11-25 10:00 Japan time.
pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap()
}

pub fn member(id: &str, insurer: &str, birth: &str) -> MemberProfile {
    MemberProfile {
        member_id: MemberId::parse(id).unwrap(),
        insurer_number: InsurerNumber::parse(insurer).unwrap(),
        birth_date: BirthDate::from_compact(birth).unwrap(),
        category: None,
        name: None,
        left_on: None,
    }
}

/// An app on `store`, with in-process statements beside it (they read profiles and signup
/// records from `store`).
pub async fn app_on(store: Arc<dyn SignupStore>, settings: Settings) -> TestApp {
    let statements = Arc::new(kenpo_statement_store::embedded::EmbeddedStatements::new(store.clone()));
    app_with(store, statements, settings).await
}

/// An app on `store` and `statements` (e.g. both on DynamoDB).
pub async fn app_with(store: Arc<dyn SignupStore>, statements: Arc<dyn StatementStore>, settings: Settings) -> TestApp {
    let clock = Arc::new(ManualClock::new(start_time()));
    let mailer = Arc::new(RecordingMailer::default());
    let handoff = kenpo_shared::handoff::HandoffVerifier::from_settings(&settings).unwrap();
    let app = Arc::new(App::new(settings, store.clone(), clock.clone()).unwrap());
    let dev = Arc::new(kenpo::Dev { app: app.clone(), handoff, mailer: mailer.clone(), statements: statements.clone(), outbox: None, file_members: Vec::new(), font: kenpo::document_font().ok() });
    let router = kenpo::router::router(dev.clone()).unwrap();
    TestApp { app, dev, router, clock, mailer, store, statements }
}

pub async fn embedded_app() -> TestApp {
    app_on(Arc::new(EmbeddedStore::new()), test_settings()).await
}

pub fn request(method: &str, path: &str, body: Option<&str>, cookie: Option<&str>) -> Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(format!("https://kenpo.example{path}")).header("origin", ORIGIN);
    if let Some(c) = cookie {
        builder = builder.header("cookie", c);
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    builder.body(body.map_or(Body::Empty, |b| Body::Text(b.to_owned()))).unwrap()
}

/// `POST /sso` as the portal's page posts it (form field `token`).
pub fn sso_request(token: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://kenpo.example/sso")
        .header("content-type", "application/x-www-form-urlencoded")
        // The dev portal is on our own origin (PORTAL_URL is a path): DESIGN.md Part 2.
        .header("origin", ORIGIN)
        .body(Body::Text(format!("token={token}")))
        .unwrap()
}

/// The raw `SIGNUP` item of `member` (strongly consistent), as the table's stream would carry it.
pub async fn signup_item(client: &aws_sdk_dynamodb::Client, table: &str, member: &str) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue;
    client
        .get_item()
        .table_name(table)
        .key("PK", AttributeValue::S(format!("MEMBER#{member}")))
        .key("SK", AttributeValue::S("SIGNUP".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("read the signup item")
        .item
        .expect("the signup item exists")
}

/// The body's bytes, text or binary (a download, a JSON answer); empty for no body.
pub fn body_bytes(response: &Response<Body>) -> &[u8] {
    match response.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

pub fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(body_bytes(response)).unwrap_or(Value::Null)
}

pub fn error_code(response: &Response<Body>) -> String {
    json_of(response)["error"]["code"].as_str().unwrap_or("").to_owned()
}

impl TestApp {
    /// Log in through `POST /sso` as the portal would; returns the `Cookie` header value.
    pub async fn login(&self, member_id: &str) -> String {
        let token = sign_hs256(&self.app.settings.sso_jwt_secret, member_id, self.clock.now().timestamp(), 120);
        let response = self.route(sso_request(&token)).await;
        assert_eq!(response.status(), 303, "hand-off for {member_id}");
        let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<&str>, cookie: &str) -> Response<Body> {
        let req = request(method, path, body, Some(cookie));
        self.route(req).await
    }

    /// The request through the dev server's router (the template's routes), in-process.
    pub async fn route(&self, req: Request) -> Response<Body> {
        kenpo::router::call(&self.router, req).await
    }

    pub async fn step(&self, cookie: &str) -> String {
        json_of(&self.call("GET", "/api/signup", None, cookie).await)["step"].as_str().unwrap_or("").to_owned()
    }

    /// Identity, consent, preferences and confirm for a seeded member.
    pub async fn onboard(&self, cookie: &str, insurer: &str, birth: &str, email: Option<&str>) {
        let steps = [
            ("POST", "/api/signup/identity", format!(r#"{{"insurerNumber":"{insurer}","birthDate":"{birth}"}}"#)),
            ("POST", "/api/signup/consent", format!(r#"{{"termsVersion":"{}","agreed":true}}"#, self.app.settings.terms_version.as_str())),
            ("PUT", "/api/signup/preferences", serde_json::json!({"email": email, "notifyMedicalExpenses": email.is_some()}).to_string()),
        ];
        for (method, path, body) in steps {
            let response = self.call(method, path, Some(&body), cookie).await;
            assert_eq!(response.status(), 200, "{path}: {}", json_of(&response));
        }
        let response = self.confirm(cookie).await;
        assert_eq!(response.status(), 200, "confirm: {}", json_of(&response));
    }

    /// 実行 as the confirmation screen sends it: the `version` `GET /api/signup` showed.
    pub async fn confirm(&self, cookie: &str) -> Response<Body> {
        let version = json_of(&self.call("GET", "/api/signup", None, cookie).await)["version"].as_u64().unwrap_or(0);
        self.call("POST", "/api/signup/confirm", Some(&format!(r#"{{"version":{version}}}"#)), cookie).await
    }
}

/// The moto server the test script started. Tests that need it fail loudly without it.
pub fn moto_endpoint() -> String {
    std::env::var("KENPO_MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!("KENPO_MOTO_ENDPOINT is not set: run ./scripts/test.sh (it starts moto on 127.0.0.1)")
    })
}

pub async fn moto_config() -> aws_config::SdkConfig {
    moto_config_at(&moto_endpoint()).await
}

/// The SDK configuration for a moto server at `endpoint` (any credentials; Tokyo).
pub async fn moto_config_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("ap-northeast-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("moto", "moto", None, None, "moto"))
        .load()
        .await
}

/// A fresh table on the test script's moto, laid out as the template's (without its stream: moto
/// keeps every stream record in memory and copies all tables on every transaction).
pub async fn moto_table(prefix: &str) -> (aws_sdk_dynamodb::Client, String) {
    moto_table_at(&moto_endpoint(), prefix, false).await
}

/// A fresh table on moto at `endpoint`, laid out as the template's (keys; with `stream`, the
/// stream with both images), named `<prefix>-<random>` so parallel tests never share one.
pub async fn moto_table_at(endpoint: &str, prefix: &str, stream: bool) -> (aws_sdk_dynamodb::Client, String) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification, StreamViewType};
    let client = aws_sdk_dynamodb::Client::new(&moto_config_at(endpoint).await);
    let table = format!("{prefix}-{:08x}", rand::random::<u32>());
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(AttributeDefinition::builder().attribute_name("PK").attribute_type(ScalarAttributeType::S).build().unwrap())
        .attribute_definitions(AttributeDefinition::builder().attribute_name("SK").attribute_type(ScalarAttributeType::S).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("PK").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("SK").key_type(KeyType::Range).build().unwrap())
        .set_stream_specification(stream.then(|| StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewAndOldImages).build().unwrap()))
        .send()
        .await
        .expect("create table on moto");
    (client, table)
}

/// Run futures together on one task (requests "at the same time": the store decides the winner).
pub async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, future) in results.iter_mut().zip(pending.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    results.into_iter().flatten().collect()
}

/// The `kenpo` binary built by the same `cargo build` (KENPO_BIN, or beside the test executable).
pub fn kenpo_bin() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("KENPO_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    // Test executables live in target/<profile>/deps, binaries in target/<profile>.
    let dir = exe.parent().map(|d| if d.ends_with("deps") { d.parent().unwrap_or(d) } else { d }).expect("target/<profile>");
    let bin = dir.join("kenpo");
    assert!(bin.exists(), "{} not built: run ./scripts/test.sh (or cargo build --bin kenpo)", bin.display());
    bin
}

/// A running `kenpo dev` on an ephemeral port, stopped when dropped.
pub struct DevServer {
    pub child: std::process::Child,
    pub base: String,
    pub outbox: std::path::PathBuf,
}

impl DevServer {
    pub fn start(extra_env: &[(&str, &str)]) -> Self {
        Self::start_with(&[], extra_env)
    }

    pub fn start_with(args: &[String], extra_env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let outbox = std::env::temp_dir().join(format!("kenpo-outbox-{:08x}", rand::random::<u32>()));
        let mut cmd = std::process::Command::new(kenpo_bin());
        cmd.args(["dev", "--port", "0"]);
        // `--aws` sends through SES: an outbox would be refused as an option it ignores.
        if !args.iter().any(|a| a == "--aws") {
            cmd.arg("--outbox").arg(&outbox);
        }
        cmd.args(args).stdout(std::process::Stdio::piped()).stderr(log_sink());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start kenpo dev");
        let stdout = child.stdout.take().unwrap();
        let mut reader = std::io::BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        // Keep draining what it prints, so it never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let base = first.split_whitespace().find(|w| w.starts_with("http://")).expect("banner names the address").trim_end_matches('/').to_owned();
        DevServer { child, base, outbox }
    }

    pub fn agent(&self) -> ureq::Agent {
        ureq::AgentBuilder::new().redirects(0).build()
    }

    /// The eml files written so far.
    pub fn mails(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.outbox).map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect()).unwrap_or_default();
        names.sort();
        names.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.outbox);
    }
}

/// The decoded `Subject:` of an .eml (RFC 2047 base64 words, folded lines).
pub fn eml_subject(eml: &str) -> String {
    use base64::Engine;
    let mut lines = eml.lines().skip_while(|l| !l.starts_with("Subject:"));
    let mut raw = lines.next().unwrap_or("").trim_start_matches("Subject:").to_owned();
    for l in lines.take_while(|l| l.starts_with([' ', '\t'])) {
        raw.push_str(l);
    }
    raw.split_whitespace()
        .map(|word| match word.strip_prefix("=?utf-8?B?").and_then(|w| w.strip_suffix("?=")) {
            Some(b64) => base64::engine::general_purpose::STANDARD.decode(b64).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default(),
            None => word.to_owned(),
        })
        .collect()
}

/// Where a child process's log lines go: a file under KENPO_LOG_DIR (the test script scans them
/// for personal data), or nowhere.
pub fn log_sink() -> std::process::Stdio {
    let Some(dir) = std::env::var_os("KENPO_LOG_DIR") else { return std::process::Stdio::null() };
    let _ = std::fs::create_dir_all(&dir);
    let path = std::path::Path::new(&dir).join(format!("kenpo-{}-{:08x}.log", std::process::id(), rand::random::<u32>()));
    std::fs::File::create(path).map(std::process::Stdio::from).unwrap_or_else(|_| std::process::Stdio::null())
}
