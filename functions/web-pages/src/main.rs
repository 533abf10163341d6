//! Lambda entry point: wiring only; the handler is `web_pages::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kenpo_shared::lambda::run_http(kenpo_shared::lambda::Needs::default(), |app, req| async move { web_pages::handle(&app, req).await }).await
}
