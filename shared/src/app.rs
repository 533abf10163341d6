//! What the API handlers share: settings, the signup store port, the clock and the session codec.
//! Nothing here builds an AWS client: each function's `main.rs` builds the clients it uses
//! (`crate::lambda`), the dev server and the tests build theirs.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{ConfigError, Settings};
use crate::session::SessionCodec;
use crate::signup::Policy;
use crate::store::SignupStore;

/// The state of every API handler.
pub struct App {
    pub settings: Settings,
    pub store: Arc<dyn SignupStore>,
    pub clock: Arc<dyn Clock>,
    pub sessions: SessionCodec,
    /// The society's rules for the state machine, from `settings`.
    pub policy: Policy,
}

impl App {
    /// A function given no `SESSION_KEY` (one that reads no cookie: the mail and bounce functions)
    /// gets a random key, so no cookie ever opens there.
    ///
    /// Errors: `ConfigError` when a session key is unusable (shorter than 32 bytes).
    pub fn new(settings: Settings, store: Arc<dyn SignupStore>, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let random_key = rand::random::<[u8; 32]>();
        let key = if settings.session_key.is_empty() { &random_key[..] } else { &settings.session_key[..] };
        let sessions = SessionCodec::new(key, settings.session_key_previous.as_deref(), settings.cookie_secure, settings.session_seconds, settings.session_max_seconds)?;
        let policy = settings.policy();
        Ok(Self { settings, store, clock, sessions, policy })
    }
}
