//! `kenpo dev`: every handler in-process behind the template's routes, on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use kenpo_shared::App;
use kenpo_shared::clock::{Clock, SystemClock};
use kenpo_shared::config::Settings;
use kenpo_shared::error::ApiError;
use kenpo_shared::mailer::Mailer;
use kenpo_shared::mailer::outbox::OutboxMailer;
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_shared::store::{SignupChange, SignupStore};
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, Response};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::DevOptions;
use crate::routes::{Dispatch, Function, dispatch};

/// API Gateway's own payload limit is 10 MB; the dev server stops reading well before that.
const MAX_READ_BYTES: usize = 1024 * 1024;

pub struct Dev {
    pub app: Arc<App>,
    pub outbox: Option<std::path::PathBuf>,
}

pub async fn run(options: DevOptions) -> Result<(), String> {
    init_logs();
    let listener = TcpListener::bind(("127.0.0.1", options.port)).await.map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", options.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut settings = Settings::from_env().map_err(|e| e.to_string())?;
    if std::env::var_os("ALLOWED_ORIGINS").is_none() {
        settings.allowed_origins = vec![format!("http://127.0.0.1:{}", addr.port()), format!("http://localhost:{}", addr.port())];
    }
    let mut aws_config = None;
    let (store, mailer, outbox, changes): (Arc<dyn SignupStore>, Arc<dyn Mailer>, _, _) = if options.aws {
        let (store, mailer) = kenpo_shared::app::aws_ports(&settings).await;
        aws_config = Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
        (store, mailer, None, None)
    } else {
        let store = Arc::new(EmbeddedStore::new());
        let (tx, rx) = mpsc::unbounded_channel();
        store.set_change_listener(tx);
        let mailer = OutboxMailer::new(&options.outbox).map_err(|e| format!("outbox {}: {e}", options.outbox.display()))?;
        (store, Arc::new(mailer), Some(options.outbox.clone()), Some(rx))
    };
    if !options.aws {
        crate::seed::seed(store.as_ref()).await.map_err(|e| e.to_string())?;
        if let Some(file) = &options.members {
            let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let members = kenpo_shared::members_csv::parse(&bytes, SystemClock.today_in_japan()).map_err(|errors| {
                errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
            })?;
            store.put_members(&members).await.map_err(|e| e.to_string())?;
            eprintln!("{}: {}件の加入者を読み込みました。", file.display(), members.len());
        }
    }
    let app = Arc::new(App::new(settings, store, mailer, Arc::new(SystemClock)).map_err(|e| e.to_string())?);
    if let Some(rx) = changes {
        tokio::spawn(feed_welcome_mails(app.clone(), rx, outbox.clone()));
    }
    if let Some(config) = aws_config {
        tokio::spawn(crate::stream::follow(app.clone(), config));
    }
    print_banner(addr, options.aws, outbox.as_deref());
    let dev = Arc::new(Dev { app, outbox });
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let dev = dev.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let dev = dev.clone();
                async move { Ok::<_, Infallible>(serve(&dev, req, peer).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

fn print_banner(addr: SocketAddr, aws: bool, outbox: Option<&std::path::Path>) {
    use std::io::Write;
    let mail = match outbox {
        Some(dir) => format!("outbox {}", dir.display()),
        None => "SES".into(),
    };
    let mut text = format!("kenpo dev: http://{addr}/  (store: {}, mail: {mail})\n", if aws { "DynamoDB" } else { "embedded" });
    if !aws {
        text.push_str(&format!("development portal: http://{addr}/dev/portal   outbox: http://{addr}/dev/outbox\n"));
        text.push_str("demo members (made up): id / 保険者番号 / 生年月日\n");
        for d in crate::seed::DEMO_MEMBERS {
            text.push_str(&format!("  {}  {}  {}  {}\n", d.id, d.insurer, d.birth, d.note));
        }
    }
    // A closed stdout (a parent that stopped reading) must not stop the server.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// The embedded store's changes reach the same welcome handler as the stream's records would.
async fn feed_welcome_mails(app: Arc<App>, mut rx: mpsc::UnboundedReceiver<SignupChange>, outbox: Option<std::path::PathBuf>) {
    if let Some(dir) = outbox {
        let _ = DEAD_LETTERS.set(dir.join("dead-letters.jsonl"));
    }
    while let Some(change) = rx.recv().await {
        // The event source mapping's filter: only signups that are COMPLETED.
        if change.new.state == kenpo_shared::domain::Step::Completed {
            deliver_welcome(app.clone(), change);
        }
    }
}

static DEAD_LETTERS: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// As the event source mapping does: retry with backoff and jitter, then dead-letter
/// (`<outbox>/dead-letters.jsonl` here; an SQS queue on AWS). Never dropped silently.
pub fn deliver_welcome(app: Arc<App>, change: SignupChange) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        let mut last = String::new();
        for _ in 0..6 {
            match send_welcome_email::handle_change(&app, &change).await {
                Ok(outcome) => {
                    tracing::debug!(?outcome, member = %change.new.member_id, "welcome mail handled");
                    return;
                }
                Err(e) => {
                    last = e.code().to_owned();
                    let jitter = Duration::from_millis(u64::from(rand_jitter()) % (delay.as_millis() as u64 + 1));
                    tokio::time::sleep(delay + jitter).await;
                    delay *= 2;
                }
            }
        }
        tracing::error!(code = "welcome_dead_lettered", member = %change.new.member_id, reason = %last, "welcome mail not settled after retries");
        if let Some(path) = DEAD_LETTERS.get() {
            let line = serde_json::json!({"member": change.new.member_id.as_str(), "completedAt": change.new.completed_at, "reason": last}).to_string() + "\n";
            use std::io::Write;
            let written = std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = written {
                tracing::error!(error = %e, "dead-letter file not written");
            }
        }
    });
}

fn rand_jitter() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

async fn serve(dev: &Dev, req: hyper::Request<Incoming>, peer: SocketAddr) -> hyper::Response<Full<Bytes>> {
    let response = match to_lambda_request(req, peer).await {
        Ok(request) => route(dev, request).await,
        Err(response) => response,
    };
    from_lambda_response(response)
}

async fn route(dev: &Dev, req: Request) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if let Some(response) = crate::dev_audit::handle(dev, &req, &path).await {
        return response;
    }
    if let Some(response) = crate::dev_pages::handle(dev, &req, &path).await {
        return response;
    }
    let app = &dev.app;
    match dispatch(req.method(), &path) {
        Dispatch::To(Function::WebPages) => web_pages::handle(app, req).await,
        Dispatch::To(Function::PortalEntry) => portal_entry::handle(app, req).await,
        Dispatch::To(Function::SignupStatus) => signup_status::handle(app, req).await,
        Dispatch::To(Function::VerifyIdentity) => verify_identity::handle(app, req).await,
        Dispatch::To(Function::RecordConsent) => record_consent::handle(app, req).await,
        Dispatch::To(Function::SavePreferences) => save_preferences::handle(app, req).await,
        Dispatch::To(Function::ConfirmSignup) => confirm_signup::handle(app, req).await,
        Dispatch::MethodNotAllowed(allowed) => {
            let mut response = ApiError::method_not_allowed().into_response();
            if let Ok(v) = allowed.join(", ").parse() {
                response.headers_mut().insert("allow", v);
            }
            response
        }
        Dispatch::NotFound => ApiError::not_found().into_response(),
    }
}

/// As API Gateway (HTTP API, payload 2.0) hands a request to a function, with the source IP.
async fn to_lambda_request(req: hyper::Request<Incoming>, peer: SocketAddr) -> Result<Request, Response<Body>> {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_READ_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(ApiError::too_large().into_response()),
    };
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
    let mut request = Request::from_parts(parts, body);
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.source_ip = Some(peer.ip().to_string());
    http.method = request.method().clone();
    http.path = Some(request.uri().path().to_owned());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http = http;
    request.extensions_mut().insert(RequestContext::ApiGatewayV2(context));
    Ok(request)
}

fn from_lambda_response(response: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
