//! Lambda entry point: wiring only; the handler is `portal_entry::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kenpo_shared::lambda::run_http(kenpo_shared::lambda::Needs { handoff_key: true }, |app, req| async move { portal_entry::handle(&app, req).await }).await
}
