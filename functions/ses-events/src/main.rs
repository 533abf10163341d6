//! Lambda entry point (SNS topic of the SES configuration set): wiring only; the handler is `ses_events::handle_sns`.

use std::sync::Arc;

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kenpo_shared::lambda::init_tracing();
    let app = Arc::new(kenpo_shared::lambda::init(kenpo_shared::lambda::Needs::default()).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SnsEvent>| {
        let app = app.clone();
        async move { ses_events::handle_sns(&app, event.payload).await }
    }))
    .await
}
