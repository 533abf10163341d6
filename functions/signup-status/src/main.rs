//! Lambda entry point: wiring only; the handler is `signup_status::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kenpo_shared::lambda::run_http(|app, req| async move { signup_status::handle(&app, req).await }).await
}
