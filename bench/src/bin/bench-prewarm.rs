//! `verify-identity` wired as its `main.rs` wires it, with one
//! difference: the DynamoDB connection (TCP + TLS handshake, credentials, signing) is opened during
//! init by one `GetItem` of a key that never exists. Init is billed anyway and runs at full CPU on
//! Lambda (up to 10 s); the first member request then finds a warm connection in the pool.
//!
//! Built only to measure the effect (scripts/bench.sh, kenpo-coldstart --db); the proposed change
//! to `shared/src/app.rs` is the same few lines.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use kenpo_shared::App;
use kenpo_shared::clock::SystemClock;
use kenpo_shared::lambda;
use kenpo_shared::store::dynamodb::DynamoStore;
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let settings = lambda::settings()?;
    let config = lambda::aws_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    // Open the connection now. The answer does not matter (an absent item, or an error the first
    // member request will meet again and report); only the pooled connection does.
    let warm = client
        .get_item()
        .table_name(&settings.table_name)
        .key("PK", AttributeValue::S("WARMUP".into()))
        .key("SK", AttributeValue::S("WARMUP".into()))
        .projection_expression("PK")
        .send()
        .await;
    if let Err(e) = warm {
        tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "connection warm-up failed");
    }
    let store = DynamoStore::new(client, settings.table_name.clone());
    let app = App::new(settings, Arc::new(store), Arc::new(SystemClock)).map_err(lambda::init_failed)?;
    lambda::serve_http(app, |app, req| async move { verify_identity::handle(&app, req).await }).await
}
