//! `kenpo import-members FILE`: the society's members CSV into the table (batches of 25, retried).

use std::path::PathBuf;

use kenpo_shared::clock::{Clock, SystemClock};
use kenpo_shared::config::Settings;
use kenpo_shared::members_csv;
use kenpo_shared::store::SignupStore;

pub async fn run(file: PathBuf) -> Result<(), String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let members = members_csv::parse(&bytes, SystemClock.today_in_japan()).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("{} の {}件の誤りのため、取り込みませんでした:\n{}", file.display(), errors.len(), lines.join("\n"))
    })?;
    let config = kenpo_shared::lambda::aws_config().await;
    let store = kenpo_shared::store::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), settings.table_name.clone());
    store.put_members(&members).await.map_err(|e| format!("{} ({})", e, e.code()))?;
    println!("{}件の加入者を {} に取り込みました。", members.len(), settings.table_name);
    Ok(())
}
