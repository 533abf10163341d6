//! Lambda entry point: wiring only (settings, the DynamoDB store: `kenpo_shared::lambda::run_api`);
//! the handler is `record_consent::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kenpo_shared::lambda::run_api(|app, req| async move { record_consent::handle(&app, req).await }).await
}
