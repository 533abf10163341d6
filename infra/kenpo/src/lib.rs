//! The `kenpo` local tools as a library: the dev server, its router (the template's routes), the
//! demo members and the operator commands. `main.rs` only parses the command line.
//!
//! Modules depend one way: `dev` (the server) → `router`, `welcome`, `stream`, `seed`;
//! `router` → `routes`, `dev_audit`, `dev_pages`; every one of them → `Dev` (here).

pub mod aws;
pub mod dev;
pub mod dev_audit;
pub mod dev_import;
pub mod dev_pages;
pub mod import;
pub mod router;
pub mod routes;
pub mod seed;
pub mod seed_statements;
pub mod stream;
pub mod welcome;

use std::path::PathBuf;
use std::sync::Arc;

use kenpo_shared::App;
use kenpo_shared::handoff::HandoffVerifier;
use kenpo_shared::mailer::Mailer;
use kenpo_statement_store::StatementStore;

/// Everything the dev server hosts: the API handlers' state, the portal's token verifier
/// (portal-entry's), the mailer (send-welcome-email's), the statements (read-statements' and the
/// import's) and the outbox folder (None with `--aws`).
pub mod notices;

pub struct Dev {
    pub app: Arc<App>,
    pub handoff: HandoffVerifier,
    pub mailer: Arc<dyn Mailer>,
    pub statements: Arc<dyn StatementStore>,
    pub outbox: Option<PathBuf>,
}

pub struct DevOptions {
    pub port: u16,
    pub members: Option<PathBuf>,
    /// Medical or benefits CSVs applied after the demo data, in order (`--statements`, repeatable).
    pub statements: Vec<PathBuf>,
    pub outbox: PathBuf,
    pub aws: bool,
}

pub fn parse_dev(args: &[String]) -> Result<DevOptions, String> {
    let mut o = DevOptions { port: 3000, members: None, statements: Vec::new(), outbox: PathBuf::from("outbox"), aws: false };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--port" => o.port = value("--port")?.parse().map_err(|_| "--port takes a number from 0 to 65535".to_string())?,
            "--members" => o.members = Some(PathBuf::from(value("--members")?)),
            "--statements" => o.statements.push(PathBuf::from(value("--statements")?)),
            "--outbox" => o.outbox = PathBuf::from(value("--outbox")?),
            "--aws" => o.aws = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

