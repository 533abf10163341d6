//! Lambda entry point: wiring only (settings, the DynamoDB store, the portal's key); the handler
//! is `portal_entry::handle`. The only function that holds the portal's key.

use kenpo_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_tracing();
    let settings = lambda::cookie_settings()?;
    let handoff = kenpo_shared::handoff::HandoffVerifier::from_settings(&settings).map_err(lambda::init_failed)?;
    let app = lambda::dynamo_app(settings, &lambda::aws_config().await).await?;
    lambda::serve_http((app, handoff), |state, req| async move { portal_entry::handle(&state.0, &state.1, req).await }).await
}
