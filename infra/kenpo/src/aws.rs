//! The operator's AWS configuration: the standard chain an IT person's shell has (environment
//! variables, `~/.aws` profiles including IAM Identity Center (SSO) ones, credential processes,
//! an instance role; `AWS_ENDPOINT_URL` for a local emulator). The Lambdas use
//! `kenpo_shared::lambda::aws_config`, which reads only what Lambda sets.
//!
//! A command that cannot reach AWS says in one Japanese-and-English line what is missing and which
//! table it tried (never the SDK's debug dump).

use aws_credential_types::provider::ProvideCredentials;
use kenpo_shared::store::dynamodb::DynamoStore;

/// The full default chain (`AWS_PROFILE`, `AWS_REGION`, …).
pub async fn config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The chain, checked before any request: a region and credentials, or the line that says what is
/// missing (for `table`).
pub async fn checked_config(table: &str) -> Result<aws_config::SdkConfig, String> {
    let config = config().await;
    if config.region().is_none() {
        let region = aws_config::default_provider::region::DefaultRegionChain::builder().build().region().await;
        if region.is_none() {
            return Err(format!(
                "AWSのリージョンが設定されていません。AWS_REGION=ap-northeast-1 などを設定してください / no AWS region: set AWS_REGION (table {table})"
            ));
        }
    }
    let Some(provider) = config.credentials_provider() else {
        return Err(missing_credentials(table));
    };
    if provider.provide_credentials().await.is_err() {
        return Err(missing_credentials(table));
    }
    Ok(config)
}

fn missing_credentials(table: &str) -> String {
    format!(
        "AWSの認証情報が見つかりません。AWS_PROFILE（SSOのプロファイルなら先に aws sso login）か AWS_ACCESS_KEY_ID などを設定してください / no AWS credentials: set AWS_PROFILE (run `aws sso login` first for an SSO profile) or AWS_ACCESS_KEY_ID (table {table})"
    )
}

/// The store of `table`, after the check.
pub async fn store(table: &str) -> Result<DynamoStore, String> {
    let config = checked_config(table).await?;
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table.to_owned()))
}

/// A store failure as one line for the operator: what the likely cause is and the table.
pub fn explain(error: &str, table: &str) -> String {
    let lower = error.to_ascii_lowercase();
    let hint = if lower.contains("resourcenotfound") || lower.contains("requested resource not found") {
        "テーブルが見つかりません。--table（TABLE_NAME）とリージョンを確認してください / table not found: check --table and the region"
    } else if lower.contains("accessdenied") || lower.contains("not authorized") {
        "このテーブルへの権限がありません（docs/DEPLOY.md の IAM ポリシー） / access denied (see the IAM policy in docs/DEPLOY.md)"
    } else if lower.contains("expired") && lower.contains("token") {
        "認証情報の期限が切れています。aws sso login などで更新してください / the credentials expired: run `aws sso login` again"
    } else if lower.contains("dispatch") || lower.contains("connect") || lower.contains("timeout") {
        "AWSに接続できません。ネットワークとリージョンを確認してください / cannot reach AWS: check the network and the region"
    } else {
        "AWSへの書き込みに失敗しました / the request to AWS failed"
    };
    format!("{hint} (table {table})")
}
