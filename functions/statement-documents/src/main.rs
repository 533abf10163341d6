//! Lambda entry point: wiring only (settings, the font from the font layer, one DynamoDB client for
//! the session's record and the household's statements); the handler is `statement_documents::handle`.

use std::path::PathBuf;
use std::sync::Arc;

use kenpo_documents::DocumentFont;
use kenpo_documents::font::LAYER_FONT_PATH;
use kenpo_shared::lambda::{aws_config, cookie_settings, init_failed, init_tracing, serve_http};
use kenpo_statement_store::dynamodb::DynamoStatements;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = cookie_settings()?;
    // DOCUMENT_FONT: the template points it at the font layer; a missing font fails the init (a
    // deployment error the Errors alarm reports), never a member's download.
    let font_path = std::env::var_os("DOCUMENT_FONT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(LAYER_FONT_PATH));
    let font = DocumentFont::load(&font_path, 0).map_err(|e| {
        tracing::error!(code = e.code(), error = %e, "init failed");
        lambda_http::Error::from(e.to_string())
    })?;
    let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let statements = DynamoStatements::new(client.clone(), settings.table_name.clone());
    let signups = kenpo_shared::store::dynamodb::DynamoStore::new(client, settings.table_name.clone());
    let app = kenpo_shared::App::new(settings, Arc::new(signups), Arc::new(kenpo_shared::clock::SystemClock)).map_err(init_failed)?;
    let documents = statement_documents::Documents { app: Arc::new(app), statements: Arc::new(statements), font: Some(font) };
    serve_http(documents, |documents, req| async move { statement_documents::handle(&documents, req).await }).await
}
