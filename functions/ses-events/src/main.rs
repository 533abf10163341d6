//! Lambda entry point (SNS topic of the SES configuration set): wiring only (settings, the
//! DynamoDB store); the handler is `ses_events::handle_sns`.

use std::sync::Arc;

use aws_lambda_events::event::sns::SnsEvent;
use kenpo_shared::lambda;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    let app = Arc::new(lambda::dynamo_app(settings, &lambda::aws_config().await).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SnsEvent>| {
        let app = app.clone();
        async move { ses_events::handle_sns(&app, event.payload).await }
    }))
    .await
}
