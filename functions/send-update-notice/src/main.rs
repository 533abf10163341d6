//! Lambda entry point (the notice queue, SQS): wiring only (settings, DynamoDB, SES v2, the
//! unsubscribe key, the pacer, the queue's visibility for postponing); the handler is `send_update_notice::handle`.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use kenpo_shared::config::ConfigError;
use kenpo_shared::lambda;
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// A positive number from the environment (`NOTIFY_MAX_CONCURRENCY`).
fn number(name: &'static str) -> Result<f64, Error> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .ok_or_else(|| lambda::init_failed(ConfigError { name, reason: "expected a positive number".into() }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    let key = kenpo_notices::UnsubscribeKey::new(&settings.notify_unsubscribe_key)
        .ok_or_else(|| lambda::init_failed(ConfigError { name: "NOTIFY_UNSUBSCRIBE_KEY", reason: "must be at least 32 bytes".into() }))?;
    let site = std::env::var("SITE_URL").map_err(|_| lambda::init_failed(ConfigError { name: "SITE_URL", reason: "is required".into() }))?;
    // Each copy paces itself to its share of the account's rate (DESIGN.md Part 2: the SQS
    // source's MaximumConcurrency bounds the copies).
    let pacer = Arc::new(kenpo_notice_sender::Pacer::new(settings.send_rate / number("NOTIFY_MAX_CONCURRENCY")?, settings.send_rate));
    let queue_url = std::env::var("NOTICE_QUEUE_URL").map_err(|_| lambda::init_failed(ConfigError { name: "NOTICE_QUEUE_URL", reason: "is required".into() }))?;
    let config = lambda::aws_config().await;
    let postpone = Arc::new(send_update_notice::SqsPostpone { client: aws_sdk_sqs::Client::new(&config), queue_url });
    let pause = Arc::new(send_update_notice::Pause::default());
    let client = aws_sdk_dynamodb::Client::new(&config);
    let signups = Arc::new(kenpo_shared::store::dynamodb::DynamoStore::new(client.clone(), settings.table_name.clone()));
    let statements = Arc::new(kenpo_statement_store::dynamodb::DynamoStatements::new(client, settings.table_name.clone()));
    let mailer = Arc::new(lambda::ses_mailer(&config));
    let notifier = Arc::new(kenpo_notice_sender::Notifier { policy: settings.policy(), settings, key, site: site.trim_end_matches('/').to_owned() });
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (notifier, pacer, signups, statements, mailer, postpone, pause) = (notifier.clone(), pacer.clone(), signups.clone(), statements.clone(), mailer.clone(), postpone.clone(), pause.clone());
        async move {
            let clock = kenpo_shared::clock::SystemClock;
            let o = kenpo_notice_sender::Outlets { statements: statements.as_ref(), signups: signups.as_ref(), mailer: mailer.as_ref(), clock: &clock };
            let c = send_update_notice::Consumer { pacer: &pacer, postpone: postpone.as_ref(), pause: &pause };
            Ok::<_, Error>(send_update_notice::handle(&notifier, &o, &c, event.payload).await)
        }
    }))
    .await
}
