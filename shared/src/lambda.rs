//! Wiring shared by every Lambda's `main.rs`: JSON logs, the app built once, the runtime loop.

use std::future::Future;
use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::app::App;

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default info). Never logs bodies.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// What a function needs beyond the common settings; missing, it fails at init, not at the first member.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// `SSO_JWT_SECRET` or `SSO_JWT_PUBLIC_KEY` (the hand-off function).
    pub handoff_key: bool,
}

/// Build the app from the environment once, then serve API Gateway events with `handler`.
pub async fn run_http<F, Fut>(needs: Needs, handler: F) -> Result<(), Error>
where
    F: Fn(Arc<App>, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    init_tracing();
    let app = Arc::new(init(needs).await?);
    lambda_http::run(service_fn(|req: Request| {
        let app = app.clone();
        let response = handler(app, req);
        async move { Ok::<_, Error>(response.await) }
    }))
    .await
}

/// The app from the environment, checked against what this function needs.
pub async fn init(needs: Needs) -> Result<App, crate::config::ConfigError> {
    let app = App::from_env().await;
    let app = app.and_then(|app| {
        if needs.handoff_key && !app.settings.handoff_configured() {
            Err(crate::config::ConfigError { name: "SSO_JWT_SECRET", reason: "is required by the hand-off function (or SSO_JWT_PUBLIC_KEY)".into() })
        } else {
            Ok(app)
        }
    });
    app.inspect_err(|e| tracing::error!(code = e.code(), error = %e, "init failed"))
}
