//! Lambda entry point: wiring only (settings, one DynamoDB client for the session's signup
//! record and the household's statements); the handler is `read_statements::handle`.

use std::sync::Arc;

use kenpo_shared::lambda::{aws_config, cookie_settings, init_failed, init_tracing, serve_http};
use kenpo_statement_store::dynamodb::DynamoStatements;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = cookie_settings()?;
    let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let statements = DynamoStatements::new(client.clone(), settings.table_name.clone());
    let signups = kenpo_shared::store::dynamodb::DynamoStore::new(client, settings.table_name.clone());
    let app = kenpo_shared::App::new(settings, Arc::new(signups), Arc::new(kenpo_shared::clock::SystemClock)).map_err(init_failed)?;
    let reader = read_statements::Reader { app: Arc::new(app), statements: Arc::new(statements) };
    serve_http(reader, |reader, req| async move { read_statements::handle(&reader, req).await }).await
}
