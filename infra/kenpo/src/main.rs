//! `kenpo`: the local tools (`kenpo --help`, `kenpo <command> --help`; the commands are in
//! `kenpo::cli`).

use std::process::ExitCode;

use clap::Parser;
use kenpo::cli::{Cli, Command};
use kenpo::{dev, import, ops};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kenpo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Dev(args) => runtime.block_on(dev::run(args.into())),
        Command::ImportMembers { file, table, insurer_numbers } => runtime.block_on(import::run(file, &table.name, &insurer_numbers.0)),
        Command::ImportStatements { file, table } => runtime.block_on(import::run_statements(file, &table.name)),
        Command::ShowMember { member_id, personal, table } => runtime.block_on(ops::show(&member_id, personal, &table.name)),
        Command::Unlock { member_id, table } => runtime.block_on(ops::unlock(&member_id, &table.name)),
        Command::RemoveLeftMembers { dry_run, table } => runtime.block_on(ops::remove_left(&table.name, dry_run)),
        Command::Pseudonym { member_id, key } => ops::pseudonym(&member_id, &key),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kenpo: {message}");
            ExitCode::FAILURE
        }
    }
}
