//! Lambda entry point: wiring only; the handler is `record_consent::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kenpo_shared::lambda::run_http(kenpo_shared::lambda::Needs::default(), |app, req| async move { record_consent::handle(&app, req).await }).await
}
