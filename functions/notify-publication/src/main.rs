//! Lambda entry point (EventBridge Scheduler, daily at 09:00 Japan time; S3, an import's report
//! under processed/): wiring only (settings, DynamoDB, SQS); the handler is `notify_publication::run`.

use std::sync::Arc;

use kenpo_shared::config::ConfigError;
use kenpo_shared::lambda;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    let url = std::env::var("NOTICE_QUEUE_URL").map_err(|_| lambda::init_failed(ConfigError { name: "NOTICE_QUEUE_URL", reason: "is required".into() }))?;
    let config = lambda::aws_config().await;
    let statements = Arc::new(kenpo_statement_store::dynamodb::DynamoStatements::new(aws_sdk_dynamodb::Client::new(&config), settings.table_name.clone()));
    let queue = Arc::new(notify_publication::SqsQueue { client: aws_sdk_sqs::Client::new(&config), url });
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let (statements, queue) = (statements.clone(), queue.clone());
        async move {
            let run = notify_publication::run(statements.as_ref(), queue.as_ref(), chrono::Utc::now()).await.map_err(|e| {
                tracing::error!(code = "notice_run_failed", error = %e, "notice run failed");
                Error::from(e.to_string())
            })?;
            Ok::<_, Error>(serde_json::json!({"day": run.day.format("%Y-%m-%d").to_string(), "queued": run.queued}))
        }
    }))
    .await
}
