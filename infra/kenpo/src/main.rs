//! `kenpo`: the local tools.
//!
//! - `kenpo dev [--port N] [--members FILE] [--outbox DIR] [--aws]`: the whole system on 127.0.0.1.
//! - `kenpo import-members FILE`: load a members CSV (UTF-8 or Shift_JIS) into the DynamoDB table.
//! - `kenpo import-statements FILE`: apply a medical or benefits CSV to the DynamoDB table, as the
//!   S3 import does.

use std::path::PathBuf;
use std::process::ExitCode;

use kenpo::{dev, import, parse_dev};

const USAGE: &str = "usage:
  kenpo dev [--port N] [--members FILE] [--statements FILE]... [--outbox DIR] [--aws]
  kenpo import-members FILE
  kenpo import-statements FILE
environment: SSO_JWT_SECRET, SESSION_KEY, TABLE_NAME, INSURER_NUMBERS, TERMS_VERSION, ONBOARDING_CUTOFF,
  LOCKOUT_ATTEMPTS, LOCKOUT_SECONDS, SESSION_SECONDS, SENDER_ADDRESS (see README.md)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kenpo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("dev") => parse_dev(&args[1..]).and_then(|o| runtime.block_on(dev::run(o))),
        Some("import-members") if args.len() == 2 => runtime.block_on(import::run(PathBuf::from(&args[1]))),
        Some("import-statements") if args.len() == 2 => runtime.block_on(import::run_statements(PathBuf::from(&args[1]))),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kenpo: {message}");
            ExitCode::FAILURE
        }
    }
}
