//! Lambda entry point (DynamoDB stream): wiring only; the handler is `send_welcome_email::handle_stream`.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kenpo_shared::lambda::init_tracing();
    let app = Arc::new(kenpo_shared::lambda::init(kenpo_shared::lambda::Needs::default()).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let app = app.clone();
        async move { Ok::<_, Error>(send_welcome_email::handle_stream(&app, event.payload).await) }
    }))
    .await
}
