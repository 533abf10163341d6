//! Benchmarks of kenpo-web (see docs/PERFORMANCE.md and scripts/bench.sh).
//!
//! - `bench-baseline`: the floor, a `lambda_http` function that only answers 200.
//! - `bench-prewarm`: `verify-identity` with the DynamoDB connection opened during init.
//! - `kenpo-coldstart`: spawn -> ready -> first answer of every built bootstrap against the
//!   Runtime API stub (`kenpo_tests::runtime_stub`), alternating with the baseline; the first
//!   DynamoDB request after a cold start on a CPU-throttled process (moto over TLS); peak RSS of
//!   every function over whole onboardings.
//! - `kenpo-cost`: DynamoDB requests and consumed capacity (an SDK interceptor on the real client
//!   against moto), Lambda invocations and API requests of one onboarding, cost per 1,000.
//! - `benches/handlers.rs` (divan): per-request cost of each handler in-process, embedded store.

#[cfg(feature = "harness")]
pub mod common;
#[cfg(feature = "harness")]
/// The DynamoDB request counter, shared with the tests (kenpo-tests).
pub use kenpo_tests::counter;
