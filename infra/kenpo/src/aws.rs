//! The operator's AWS configuration: the standard chain an IT person's shell has (environment
//! variables, `~/.aws` profiles including IAM Identity Center (SSO) ones, credential processes,
//! `AWS_ENDPOINT_URL` for a local emulator). The Lambdas use `kenpo_shared::lambda::aws_config`,
//! which reads only what Lambda sets.

/// The full default chain (`AWS_PROFILE`, `AWS_REGION`, …).
pub async fn config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
