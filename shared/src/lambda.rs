//! Building blocks of every Lambda's `main.rs`: JSON logs, the settings, the clients a function
//! uses (each behind the cargo feature that links its SDK), and the runtime loop. A `main.rs`
//! calls only what its function needs, so web-pages links no AWS SDK and only the welcome mail
//! links SES v2.

use std::future::Future;
use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::config::{ConfigError, Settings};

/// Logs as `lambda_runtime`'s `init_default_subscriber` sets them up (JSON lines to stdout when the
/// function's log format is JSON, as the template's `LoggingConfig` makes it; the level from
/// Lambda's advanced logging controls `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, default INFO; each
/// line inside the invocation's span, with its request id), with one difference: the runtime's own
/// crates never log below INFO, because at TRACE `lambda_runtime` logs every raw event (a birth
/// date, a session cookie). Never logs bodies.
pub fn init_tracing() {
    use lambda_http::tracing::subscriber::EnvFilter;
    use lambda_http::tracing::subscriber::filter::LevelFilter;
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let level = level.ok().and_then(|l| l.parse::<LevelFilter>().ok()).unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    for quiet in ["lambda_runtime=info", "lambda_http=info", "lambda_runtime_api_client=info"] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let logs = lambda_http::tracing::subscriber::fmt().with_target(false).without_time().with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json { logs.json().try_init() } else { logs.try_init() };
}

/// An init failure, logged once with its stable code; the runtime reports it to
/// `/runtime/init/error` and Lambda does not start the function.
pub fn init_failed(e: ConfigError) -> Error {
    tracing::error!(code = e.code(), error = %e, "init failed");
    e.into()
}

/// The settings from the environment (a missing or invalid one fails init).
pub fn settings() -> Result<Settings, Error> {
    Settings::from_env().map_err(init_failed)
}

/// The settings of a function that reads the session cookie: as `settings`, and `SESSION_KEY`
/// must be there.
pub fn cookie_settings() -> Result<Settings, Error> {
    let settings = settings()?;
    settings.require_session_key().map_err(init_failed)?;
    Ok(settings)
}

/// The API handlers' state on DynamoDB: settings, the table's store, the system clock.
#[cfg(feature = "dynamodb")]
pub async fn dynamo_app(settings: Settings, config: &aws_config::SdkConfig) -> Result<crate::app::App, Error> {
    let store = crate::store::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(config), settings.table_name.clone());
    crate::app::App::new(settings, Arc::new(store), Arc::new(crate::clock::SystemClock)).map_err(init_failed)
}

/// The whole `main` of an API step (signup-status, verify-identity, record-consent,
/// save-preferences, confirm-signup): logs, settings, the DynamoDB store, then `handler` for
/// every API Gateway event. No other client is built.
#[cfg(feature = "dynamodb")]
pub async fn run_api<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Arc<crate::app::App>, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    init_tracing();
    let app = dynamo_app(cookie_settings()?, &aws_config().await).await?;
    serve_http(app, handler).await
}

/// The standard AWS configuration chain (`AWS_ENDPOINT_URL` for a local emulator).
#[cfg(any(feature = "dynamodb", feature = "ses"))]
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The SES v2 mailer (`SES_CONFIGURATION_SET` optional).
#[cfg(feature = "ses")]
pub fn ses_mailer(config: &aws_config::SdkConfig) -> crate::mailer::ses::SesMailer {
    let configuration_set = std::env::var("SES_CONFIGURATION_SET").ok().filter(|v| !v.is_empty());
    crate::mailer::ses::SesMailer::new(aws_sdk_sesv2::Client::new(config), configuration_set)
}

/// Serve API Gateway (HTTP API) events with `handler` and the state built once.
pub async fn serve_http<S, F, Fut>(state: S, handler: F) -> Result<(), Error>
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    let state = Arc::new(state);
    lambda_http::run(service_fn(|req: Request| {
        let response = handler(state.clone(), req);
        async move { Ok::<_, Error>(response.await) }
    }))
    .await
}
