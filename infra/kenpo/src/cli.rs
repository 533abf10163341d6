//! The command line (clap): every subcommand with `--help` (the file formats included), the table
//! required outside the dev server (`--table` or `TABLE_NAME`), no option ignored. `main.rs` only
//! calls `run`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::DevOptions;

/// kenpo-web の開発・運用ツール (local tools of kenpo-web).
#[derive(Debug, Parser)]
#[command(name = "kenpo", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The table outside the dev server: required, never a silent default.
#[derive(Debug, Clone, Args)]
pub struct Table {
    /// The DynamoDB table (the stack's `TableName` output).
    #[arg(long = "table", env = "TABLE_NAME", value_name = "NAME", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub name: String,
}

/// The society's 保険者番号 as `INSURER_NUMBERS` gives them.
#[derive(Debug, Clone)]
pub struct SocietyNumbers(pub Vec<kenpo_shared::domain::InsurerNumber>);

fn society_numbers(v: &str) -> Result<SocietyNumbers, String> {
    kenpo_shared::config::parse_insurer_numbers(v).map(|(numbers, _)| SocietyNumbers(numbers)).map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole system on 127.0.0.1 (embedded store, demo data, the outbox), or against a
    /// deployed staging stack with --aws.
    Dev(DevArgs),
    /// Load the members file into the table (nothing is written if any line is wrong).
    #[command(after_long_help = MEMBERS_FILE_HELP)]
    ImportMembers {
        /// The members CSV (UTF-8, with or without BOM, or Shift_JIS as Excel writes it).
        file: PathBuf,
        #[command(flatten)]
        table: Table,
        /// The society's 保険者番号, comma-separated (the stack's InsurerNumbers; `06133946:…`
        /// labels allowed): a line with another number is refused.
        #[arg(long, env = "INSURER_NUMBERS", value_name = "NUMBERS", value_parser = society_numbers)]
        insurer_numbers: SocietyNumbers,
    },
    /// Apply a medical or benefits CSV to the table, as the S3 import does.
    #[command(after_long_help = STATEMENTS_FILE_HELP)]
    ImportStatements {
        /// The medical lines or benefits CSV (docs/FILES.md).
        file: PathBuf,
        #[command(flatten)]
        table: Table,
    },
    /// One member's state: the onboarding step, a lock, the notice setting (no birth date or
    /// address unless --personal).
    ShowMember {
        /// The member id (the portal's `sub`).
        member_id: String,
        /// Also print the birth date and the e-mail address (for this one member).
        #[arg(long)]
        personal: bool,
        #[command(flatten)]
        table: Table,
    },
    /// End a member's identity-check lock (after five wrong attempts) and reset the count.
    Unlock {
        /// The member id.
        member_id: String,
        #[command(flatten)]
        table: Table,
    },
    /// Remove the members whose period of use ended (資格喪失日 + 24 months): their profile, onboarding
    /// and consents (their statements expire on their own). Prints their member ids.
    RemoveLeftMembers {
        /// List them without deleting anything.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        table: Table,
    },
    /// The keyed pseudonym that log lines use for a member (`LOG_PSEUDONYM_KEY`: the stack's key).
    Pseudonym {
        /// The member id.
        member_id: String,
        /// The key (docs/DEPLOY.md, "Reading the logs").
        #[arg(long, env = "LOG_PSEUDONYM_KEY", hide_env_values = true)]
        key: String,
    },
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// A members CSV loaded after the demo members (docs/FILES.md); they appear on /dev/portal.
    #[arg(long, value_name = "FILE", conflicts_with = "aws")]
    pub members: Option<PathBuf>,
    /// A medical or benefits CSV applied after the demo data (repeatable, in order; with --aws, to
    /// the stack's table).
    #[arg(long, value_name = "FILE")]
    pub statements: Vec<PathBuf>,
    /// Where mail goes as .eml files (not with --aws: SES sends it).
    #[arg(long, value_name = "DIR", default_value = "outbox", conflicts_with = "aws")]
    pub outbox: PathBuf,
    /// Against a deployed stack's table and SES (TABLE_NAME, real keys; never production).
    #[arg(long)]
    pub aws: bool,
}

impl From<DevArgs> for DevOptions {
    fn from(a: DevArgs) -> Self {
        DevOptions { port: a.port, members: a.members, statements: a.statements, outbox: a.outbox, aws: a.aws }
    }
}

pub const MEMBERS_FILE_HELP: &str = "\
The members file (docs/FILES.md):
  member_id,insurer_number,birth_date[,category][,name][,left_on]
  M0001,06133946,19810403,一般,健保 一郎,
  - member_id: the portal's `sub` for the member (letters, digits, - and _; at most 64)
  - insurer_number: 保険者番号, 8 digits (format the column as text in Excel, or its leading 0 is lost)
  - birth_date: YYYYMMDD (also YYYY-MM-DD, YYYY/MM/DD)
  - category (一般, 任意継続, 特例退職 …), name (被保険者氏名, up to 40 characters), left_on (資格喪失日, YYYYMMDD)
  One line per member; a member id on two lines refuses the file. A file replaces each listed
  member's profile; it never touches their onboarding.
Credentials: the standard AWS chain (AWS_PROFILE including SSO profiles, environment variables,
  credential_process, an instance role) and AWS_REGION.";

pub const STATEMENTS_FILE_HELP: &str = "\
Medical lines or benefit decisions (docs/FILES.md): CSV in UTF-8 (with or without BOM) or Shift_JIS;
the kind is told by the header. The whole file is checked first: any wrong line refuses it, and the
errors name the line and the column (never a value). The same file applied again changes nothing.
Credentials: the standard AWS chain and AWS_REGION.";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
