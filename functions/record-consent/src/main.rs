//! Lambda entry point: wiring only (settings, the DynamoDB store); the handler is `record_consent::handle`.

use kenpo_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    let app = lambda::dynamo_app(settings, &lambda::aws_config().await).await?;
    lambda::serve_http(app, |app, req| async move { record_consent::handle(&app, req).await }).await
}
