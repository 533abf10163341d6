//! Lambda entry point (DynamoDB stream): wiring only (settings, the DynamoDB store, the SES v2
//! mailer); the handler is `send_welcome_email::handle_stream`.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use kenpo_shared::lambda;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    let config = lambda::aws_config().await;
    let mailer = lambda::ses_mailer(&config);
    let app = Arc::new((lambda::dynamo_app(settings, &config).await?, mailer));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let state = app.clone();
        async move { Ok::<_, Error>(send_welcome_email::handle_stream(&state.0, &state.1, event.payload).await) }
    }))
    .await
}
