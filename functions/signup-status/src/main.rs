//! Lambda entry point: wiring only (settings, the DynamoDB store); the handler is `signup_status::handle`.

use kenpo_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    let app = lambda::dynamo_app(settings, &lambda::aws_config().await).await?;
    lambda::serve_http(app, |app, req| async move { signup_status::handle(&app, req).await }).await
}
