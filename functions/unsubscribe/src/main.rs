//! Lambda entry point: wiring only (settings, the DynamoDB store, the unsubscribe key); the handler
//! is `unsubscribe::handle`.

use kenpo_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    let key = kenpo_notices::UnsubscribeKey::new(&settings.notify_unsubscribe_key)
        .ok_or_else(|| lambda::init_failed(kenpo_shared::config::ConfigError { name: "NOTIFY_UNSUBSCRIBE_KEY", reason: "must be at least 32 bytes".into() }))?;
    let app = lambda::dynamo_app(settings, &lambda::aws_config().await).await?;
    lambda::serve_http((app, key), |state, req| async move { unsubscribe::handle(&state.0, &state.1, req).await }).await
}
