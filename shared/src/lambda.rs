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
    use lambda_http::tracing::subscriber::layer::SubscriberExt;
    use lambda_http::tracing::subscriber::util::SubscriberInitExt;
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref(), std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref());
    let logs = lambda_http::tracing::subscriber::fmt().with_target(false).without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json { logs.json().finish().with(filter).try_init() } else { logs.finish().with(filter).try_init() };
}

/// What is logged: `rust_log`'s directives (`RUST_LOG`: `info`, `kenpo_shared=debug,info`) as
/// `Targets`, the same syntax without span and field filters, so no regex engine is linked (about
/// 100 KB of every zip); the level `lambda_level` (`AWS_LAMBDA_LOG_LEVEL`) first, else
/// `rust_log`'s, else INFO; the runtime's crates never below INFO (at TRACE `lambda_runtime` logs
/// every raw event). An unreadable value counts as absent.
pub fn log_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> lambda_http::tracing::subscriber::filter::Targets {
    use lambda_http::tracing::subscriber::filter::{LevelFilter, Targets};
    let directives = rust_log.and_then(|v| v.parse::<Targets>().ok()).unwrap_or_default();
    // Lambda's levels are TRACE to FATAL; tracing has no FATAL: ERROR.
    let lambda_level = lambda_level.map(|l| if l.trim().eq_ignore_ascii_case("fatal") { "error" } else { l });
    let level = lambda_level.and_then(|l| l.parse::<LevelFilter>().ok()).or(directives.default_level()).unwrap_or(LevelFilter::INFO);
    let mut filter = Targets::new().with_default(level);
    for (target, target_level) in directives.iter() {
        filter = filter.with_target(target, target_level);
    }
    for quiet in ["lambda_runtime", "lambda_http", "lambda_runtime_api_client"] {
        filter = filter.with_target(quiet, LevelFilter::INFO.min(level));
    }
    filter
}

/// An init failure, logged once with its stable code; the runtime reports it to
/// `/runtime/init/error` and Lambda does not start the function.
pub fn init_failed(e: ConfigError) -> Error {
    tracing::error!(code = e.code(), error = %e, "init failed");
    e.into()
}

/// The settings from the environment (a missing or invalid one fails init).
pub fn settings() -> Result<Settings, Error> {
    let settings = Settings::from_env().map_err(init_failed)?;
    // The logs' member pseudonyms (`crate::pseudonym`), from the stack's key.
    if settings.log_pseudonym_key.is_empty() {
        tracing::warn!(code = "log_pseudonym_key_missing", "LOG_PSEUDONYM_KEY is not set: member pseudonyms differ per process");
    } else {
        crate::pseudonym::init(&settings.log_pseudonym_key);
    }
    Ok(settings)
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

/// The AWS configuration of a Lambda: what Lambda puts in the environment, nothing else. The
/// execution role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), the region (`AWS_REGION`, else `AWS_DEFAULT_REGION`) and
/// `AWS_ENDPOINT_URL` for a local emulator; the clients' own defaults (HTTPS client, standard
/// retries, timeouts) for the rest. Not the default chain (profiles, SSO, IMDS, ECS, web
/// identity through STS): a Lambda never uses it, and linking it cost every bootstrap about 100 KB
/// of its zip (issue 9). The operator's CLI loads the full chain (`kenpo`'s `aws` module).
#[cfg(any(feature = "dynamodb", feature = "ses"))]
pub async fn aws_config() -> aws_config::SdkConfig {
    let region = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).ok().filter(|r| !r.is_empty());
    let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    let mut config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .credentials_provider(credentials)
        .region(region.map(aws_config::Region::new));
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty()) {
        config = config.endpoint_url(url);
    }
    config.build()
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

#[cfg(test)]
mod tests {
    use super::log_filter;
    use lambda_http::tracing::Level;

    #[test]
    fn the_runtime_never_logs_below_info_whatever_the_level() {
        let trace = log_filter(Some("trace"), None);
        assert!(trace.would_enable("kenpo_shared::store", &Level::TRACE));
        assert!(!trace.would_enable("lambda_runtime::layers", &Level::DEBUG), "the raw event stays out of the logs");
        assert!(trace.would_enable("lambda_runtime", &Level::INFO));
        let lambda = log_filter(Some("info"), Some("WARN"));
        assert!(!lambda.would_enable("kenpo_shared", &Level::INFO), "AWS_LAMBDA_LOG_LEVEL first");
        assert!(!lambda.would_enable("lambda_runtime", &Level::INFO));
        let mixed = log_filter(Some("kenpo_shared=debug,warn"), None);
        assert!(mixed.would_enable("kenpo_shared::http", &Level::DEBUG) && !mixed.would_enable("aws_smithy_runtime", &Level::INFO));
        let fatal = log_filter(Some("debug"), Some("FATAL"));
        assert!(fatal.would_enable("kenpo_shared", &Level::ERROR) && !fatal.would_enable("kenpo_shared", &Level::WARN), "FATAL: errors only");
        let unset = log_filter(None, Some("not a level"));
        assert!(unset.would_enable("kenpo_shared", &Level::INFO) && !unset.would_enable("kenpo_shared", &Level::DEBUG), "INFO by default");
    }
}
