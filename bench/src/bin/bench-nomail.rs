//! `verify-identity` wired as its `main.rs` wires it, except that the app holds no SES client (a
//! mailer that refuses): measures what the SES v2 client costs the seven functions that never
//! send mail, in bootstrap size and in init time. The proposed change: build the SES mailer only
//! where `Needs` asks for it (send-welcome-email).

use std::sync::Arc;

use async_trait::async_trait;
use kenpo_shared::App;
use kenpo_shared::clock::SystemClock;
use kenpo_shared::config::Settings;
use kenpo_shared::mailer::{MailError, Mailer, OutgoingMail};
use kenpo_shared::store::dynamodb::DynamoStore;
use lambda_http::{Error, Request, service_fn};

struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send(&self, _mail: &OutgoingMail) -> Result<String, MailError> {
        Err(MailError::Rejected("this function sends no mail".into()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    kenpo_shared::lambda::init_tracing();
    let settings = Settings::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        settings.table_name.clone(),
    );
    let app = Arc::new(App::new(
        settings,
        Arc::new(store),
        Arc::new(NoMailer),
        Arc::new(SystemClock),
    )?);
    lambda_http::run(service_fn(|req: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(verify_identity::handle(&app, req).await) }
    }))
    .await
}
