//! Lambda entry point: wiring only; the handler is `verify_identity::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kenpo_shared::lambda::run_http(kenpo_shared::lambda::Needs::default(), |app, req| async move { verify_identity::handle(&app, req).await }).await
}
