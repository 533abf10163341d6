//! Lambda entry point: wiring only (settings; no AWS client); the handler is `web_pages::handle`.

use kenpo_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    lambda::serve_http(settings, |settings, req| async move { web_pages::handle(&settings, req).await }).await
}
