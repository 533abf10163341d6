//! The `kenpo` local tools as a library: the dev server, its route table (the template's), the
//! demo members and the operator commands. `main.rs` only parses the command line.

pub mod dev;
pub mod dev_audit;
pub mod dev_pages;
pub mod import;
pub mod routes;
pub mod seed;
pub mod stream;

use std::path::PathBuf;

pub struct DevOptions {
    pub port: u16,
    pub members: Option<PathBuf>,
    pub outbox: PathBuf,
    pub aws: bool,
}

pub fn parse_dev(args: &[String]) -> Result<DevOptions, String> {
    let mut o = DevOptions { port: 3000, members: None, outbox: PathBuf::from("outbox"), aws: false };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--port" => o.port = value("--port")?.parse().map_err(|_| "--port takes a number from 0 to 65535".to_string())?,
            "--members" => o.members = Some(PathBuf::from(value("--members")?)),
            "--outbox" => o.outbox = PathBuf::from(value("--outbox")?),
            "--aws" => o.aws = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

