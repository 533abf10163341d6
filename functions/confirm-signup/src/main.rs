//! Lambda entry point: wiring only; the handler is `confirm_signup::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kenpo_shared::lambda::run_http(kenpo_shared::lambda::Needs::default(), |app, req| async move { confirm_signup::handle(&app, req).await }).await
}
