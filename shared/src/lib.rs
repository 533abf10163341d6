//! The library every kenpo-web function uses: domain types, the signup state machine, the store
//! and mailer ports with their adapters, sessions, hand-off tokens and HTTP helpers.

pub mod app;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod handoff;
pub mod http;
pub mod lambda;
pub mod mailer;
pub mod members_csv;
pub mod session;
pub mod signup;
pub mod store;

pub use app::App;
pub use error::ApiError;
