//! Lambda entry point: wiring only (settings; no AWS client); the handler is `web_pages::handle`.

use kenpo_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    // The terms shown must be the version members agree to.
    web_pages::check_terms(&settings).map_err(lambda::init_failed)?;
    lambda::serve_http(settings, |settings, req| async move { web_pages::handle(&settings, req).await }).await
}
