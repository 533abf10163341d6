//! Lambda entry point of both import functions (the check pass and the writers: the event says
//! which): wiring only. The settings, then the DynamoDB, S3 and SQS clients (no network call at
//! init); the handler is `import_statements::handle`.

use std::sync::Arc;

use import_statements::{ImportSettings, Importer};
use kenpo_shared::lambda::{aws_config, init_failed, init_tracing};
use kenpo_statement_store::dynamodb::DynamoStatements;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let settings = ImportSettings::from_env().map_err(init_failed)?;
    let config = aws_config().await;
    let store = DynamoStatements::new(aws_sdk_dynamodb::Client::new(&config), settings.table_name.clone());
    let importer = Arc::new(Importer {
        store: Arc::new(store),
        s3: aws_sdk_s3::Client::new(&config),
        sqs: aws_sdk_sqs::Client::new(&config),
        clock: Arc::new(kenpo_shared::clock::SystemClock),
        settings,
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let importer = importer.clone();
        async move { import_statements::handle(&importer, event.payload).await.map_err(Error::from) }
    }))
    .await
}
