//! The library every kenpo-web function uses: domain types, the pure signup state machine and
//! its one retry loop, the typed HTTP contract, the store and mailer ports with their adapters
//! (the AWS ones behind the `dynamodb` and `ses` features), sessions, hand-off tokens, HTTP
//! helpers and the building blocks of a Lambda's `main.rs`.

pub mod app;
pub mod clock;
pub mod config;
pub mod contract;
pub mod domain;
pub mod handoff;
pub mod http;
pub mod lambda;
pub mod mailer;
pub mod members_csv;
pub mod pseudonym;
pub mod session;
pub mod signup;
pub mod store;
pub mod transition;

pub use app::App;
pub use contract::ApiError;
/// The contract's errors under their earlier path.
pub use contract as error;
