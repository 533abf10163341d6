//! `kenpo dev`: every handler in-process behind the template's routes (`crate::router`), on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;

use kenpo_shared::App;
use kenpo_shared::clock::{Clock, SystemClock};
use kenpo_shared::config::Settings;
use kenpo_shared::mailer::Mailer;
use kenpo_shared::mailer::outbox::OutboxMailer;
use kenpo_shared::store::SignupStore;
use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_statement_store::StatementStore;
use kenpo_statement_store::embedded::EmbeddedStatements;
use kenpo_statement_store::import::{Quiet, import_file};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::{Dev, DevOptions};

pub async fn run(options: DevOptions) -> Result<(), String> {
    init_logs();
    let listener = TcpListener::bind(("127.0.0.1", options.port)).await.map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", options.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut settings = Settings::from_env().map_err(|e| e.to_string())?;
    web_pages::check_terms(&settings).map_err(|e| e.to_string())?;
    // The logs' member pseudonyms under this server's key, as a Lambda's (`lambda::settings`).
    kenpo_shared::pseudonym::init(&settings.log_pseudonym_key);
    if options.aws {
        require_real_secrets(&settings)?;
    }
    if std::env::var_os("ALLOWED_ORIGINS").is_none() {
        settings.allowed_origins = vec![format!("http://127.0.0.1:{}", addr.port()), format!("http://localhost:{}", addr.port())];
    }
    let handoff = kenpo_shared::handoff::HandoffVerifier::from_settings(&settings).map_err(|e| e.to_string())?;
    let mut aws_config = None;
    type Stores = (Arc<dyn SignupStore>, Arc<dyn StatementStore>);
    let ((store, statements), mailer, outbox, changes): (Stores, Arc<dyn Mailer>, _, _) = if options.aws {
        let config = crate::aws::config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let store = kenpo_shared::store::dynamodb::DynamoStore::new(client.clone(), settings.table_name.clone());
        let statements = kenpo_statement_store::dynamodb::DynamoStatements::new(client, settings.table_name.clone());
        let mailer = kenpo_shared::lambda::ses_mailer(&config);
        aws_config = Some(config);
        ((Arc::new(store), Arc::new(statements)), Arc::new(mailer), None, None)
    } else {
        let store = Arc::new(EmbeddedStore::new());
        let (tx, rx) = mpsc::unbounded_channel();
        store.set_change_listener(tx);
        let statements = Arc::new(EmbeddedStatements::new(store.clone()));
        let mailer = OutboxMailer::new(&options.outbox).map_err(|e| format!("outbox {}: {e}", options.outbox.display()))?;
        ((store, statements), Arc::new(mailer), Some(options.outbox.clone()), Some(rx))
    };
    let mut file_members = Vec::new();
    if !options.aws {
        crate::seed::seed(store.as_ref(), &settings.terms_version).await.map_err(|e| e.to_string())?;
        if let Some(file) = &options.members {
            let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let members = kenpo_shared::members_csv::parse(&bytes, SystemClock.today_in_japan(), &settings.insurer_numbers).map_err(|errors| {
                errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
            })?;
            store.put_members(&members).await.map_err(|e| e.to_string())?;
            eprintln!("{}: {}件の加入者を読み込みました（/dev/portal に表示されます）。", file.display(), members.len());
            file_members = members;
        }
        crate::seed_statements::seed_statements(statements.as_ref(), SystemClock.now()).await?;
        crate::notices::mark_notified(statements.as_ref(), SystemClock.today_in_japan(), SystemClock.now()).await.map_err(|e| e.to_string())?;
    }
    for file in &options.statements {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let imported = import_file(statements.as_ref(), &bytes, SystemClock.now(), &Quiet).await.map_err(|e| format!("{}: {e} ({})", file.display(), e.code()))?;
        eprintln!("{}: {}", file.display(), crate::dev_import::summary_line(&imported));
        if imported.report.is_refused() {
            return Err(format!("{} は取り込めませんでした:\n{}", file.display(), crate::dev_import::issue_lines(&imported.report)));
        }
    }
    let app = Arc::new(App::new(settings, store, Arc::new(SystemClock)).map_err(|e| e.to_string())?);
    let font = crate::document_font();
    match &font {
        Ok(font) => eprintln!("PDFの字体 / the documents' font: {font:?}"),
        Err(e) => eprintln!("PDFのダウンロードには日本語フォントが必要です / PDF downloads need a Japanese font: {e}. apt-get install fonts-ipaexfont-gothic, or set DOCUMENT_FONT to a font file"),
    }
    let dev = Arc::new(Dev { app, handoff, mailer, statements, outbox: outbox.clone(), file_members, font: font.ok() });
    if let Some(rx) = changes {
        tokio::spawn(crate::welcome::feed(dev.clone(), rx));
    }
    if !options.statements.is_empty() {
        crate::notices::notify_today(dev.clone());
    }
    if let Some(config) = aws_config {
        tokio::spawn(crate::stream::follow(dev.clone(), config));
    }
    let router = crate::router::router(dev)?.layer(axum::middleware::from_fn_with_state(own_hosts(addr), only_own_host));
    print_banner(addr, options.aws, outbox.as_deref());
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.map_err(|e| format!("server stopped: {e}"))
}

/// `--aws` talks to a real table and SES: the public development secrets would let anyone who has
/// this repository sign hand-off tokens or session cookies for it.
fn require_real_secrets(settings: &Settings) -> Result<(), String> {
    use kenpo_shared::config::{DEV_SESSION_KEY, DEV_SSO_JWT_SECRET};
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let mut missing = Vec::new();
    if !set("SESSION_KEY") || settings.session_key == DEV_SESSION_KEY.as_bytes() {
        missing.push("SESSION_KEY");
    }
    if settings.sso_public_key.is_none() && (!set("SSO_JWT_SECRET") || settings.sso_jwt_secret == DEV_SSO_JWT_SECRET.as_bytes()) {
        missing.push("SSO_JWT_SECRET (or SSO_JWT_PUBLIC_KEY)");
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "kenpo dev --aws には開発用ではない鍵が必要です / --aws needs real keys, not the public development ones: set {} (docs/DEPLOY.md, \"Trying the deployed table from a workstation\")",
        missing.join(" and ")
    ))
}

/// The `Host` values the dev server answers to: its own address by IP and by `localhost`.
fn own_hosts(addr: SocketAddr) -> Arc<Vec<String>> {
    let port = addr.port();
    Arc::new(vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")])
}

/// DNS rebinding: a page on another site whose name now resolves to 127.0.0.1 reaches this server
/// with its own name in `Host`. Only our own names are served (421 Misdirected Request otherwise,
/// RFC 9110 §15.5.20), so such a page never reads `/dev/*` or the API.
async fn only_own_host(
    axum::extract::State(hosts): axum::extract::State<Arc<Vec<String>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    // Exactly one Host, ours; and a request line in absolute form (`GET http://…/`) names ours too.
    let mut given = req.headers().get_all(axum::http::header::HOST).iter();
    let host = match (given.next(), given.next()) {
        (Some(h), None) => h.to_str().unwrap_or(""),
        _ => "",
    };
    let ours = |name: &str| hosts.iter().any(|own| own.eq_ignore_ascii_case(name));
    if ours(host) && req.uri().authority().is_none_or(|a| ours(a.as_str())) {
        return next.run(req).await;
    }
    let body = format!("kenpo dev answers only http://{}/\n", hosts[0]);
    axum::http::Response::builder()
        .status(axum::http::StatusCode::MISDIRECTED_REQUEST)
        .header(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(axum::body::Body::from(body))
        .unwrap_or_default()
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
        text.push_str(&format!("development portal: http://{addr}/dev/portal   outbox: http://{addr}/dev/outbox   import: http://{addr}/dev/import\n"));
        text.push_str("demo members (made up): id / 保険者番号 / 生年月日\n");
        for d in crate::seed::DEMO_MEMBERS {
            text.push_str(&format!("  {}  {}  {}  {}\n", d.id, d.insurer, d.birth, d.note));
        }
    }
    // A closed stdout (a parent that stopped reading) must not stop the server.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

