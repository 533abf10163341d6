//! What every handler gets: settings, the store and mailer ports, the clock, session and token codecs.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Settings};
use crate::handoff::HandoffVerifier;
use crate::mailer::Mailer;
use crate::mailer::ses::SesMailer;
use crate::session::SessionCodec;
use crate::store::SignupStore;
use crate::store::dynamodb::DynamoStore;

pub struct App {
    pub settings: Settings,
    pub store: Arc<dyn SignupStore>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub sessions: SessionCodec,
    pub handoff: HandoffVerifier,
}

impl App {
    pub fn new(settings: Settings, store: Arc<dyn SignupStore>, mailer: Arc<dyn Mailer>, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let sessions = SessionCodec::new(&settings.session_key, settings.cookie_secure, settings.session_seconds)?;
        let handoff = match &settings.sso_public_key {
            Some((algorithm, pem)) => HandoffVerifier::public_key(algorithm, pem.as_bytes())?,
            // Without a key (functions that never verify tokens) nothing verifies: a random secret.
            None if settings.sso_jwt_secret.len() < 32 => HandoffVerifier::hs256(&rand::random::<[u8; 32]>()),
            None => HandoffVerifier::hs256(&settings.sso_jwt_secret),
        };
        Ok(Self { settings, store, mailer, clock, sessions, handoff })
    }

    /// Production wiring: settings from the environment, DynamoDB and SES v2 clients from the
    /// standard AWS configuration chain (`AWS_ENDPOINT_URL` for a local emulator).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let (store, mailer) = aws_ports(&settings).await;
        Self::new(settings, store, mailer, Arc::new(SystemClock))
    }
}

/// The DynamoDB store and SES mailer for `settings`, built once.
pub async fn aws_ports(settings: &Settings) -> (Arc<dyn SignupStore>, Arc<dyn Mailer>) {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), settings.table_name.clone());
    let configuration_set = std::env::var("SES_CONFIGURATION_SET").ok().filter(|v| !v.is_empty());
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&config), configuration_set);
    (Arc::new(store), Arc::new(mailer))
}
