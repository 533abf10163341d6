//! The operator's import commands, against `TABLE_NAME` with the standard AWS environment:
//!
//! - `kenpo import-members FILE`: the society's members CSV (batches of 25, retried).
//! - `kenpo import-statements FILE`: a medical or benefits CSV, applied exactly as the S3 import
//!   applies it (`kenpo_statement_store::import`), with a progress bar on a terminal (lines
//!   checked, lines written) and a summary; a refused file prints every wrong line and exits 1.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use kenpo_shared::clock::{Clock, SystemClock};
use kenpo_shared::members_csv;
use kenpo_shared::store::SignupStore;
use kenpo_statement_store::import::{Progress, import_file};

pub async fn run(file: PathBuf, table: &str, society: &[kenpo_shared::domain::InsurerNumber]) -> Result<(), String> {
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let members = members_csv::parse(&bytes, SystemClock.today_in_japan(), society).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("{} の {}件の誤りのため、取り込みませんでした:\n{}", file.display(), errors.len(), lines.join("\n"))
    })?;
    let store = crate::aws::store(table).await?;
    // In batches of 25 (BatchWriteItem's limit), so a failure can say how far it got; the file
    // replaces profiles, so running it again reaches the same end.
    let mut written = 0;
    for chunk in members.chunks(25) {
        if let Err(e) = store.put_members(chunk).await {
            return Err(format!(
                "{}\nファイルの先頭から{}件を書き込み、残りの{}件は書き込んでいません。原因を直して同じファイルをもう一度取り込んでください（同じ結果になります） / wrote the first {} members, not the other {}; fix the cause and import the same file again",
                crate::aws::explain(&e.to_string(), table),
                written,
                members.len() - written,
                written,
                members.len() - written
            ));
        }
        written += chunk.len();
    }
    println!("{}件の加入者を {} に取り込みました。", members.len(), table);
    Ok(())
}

/// The terminal's progress bar (drawn only when stderr is a terminal).
struct Bar(ProgressBar);

impl Progress for Bar {
    fn checked(&self, lines: u64, changes: u64) {
        self.0.set_length(changes);
        self.0.set_position(0);
        self.0.set_style(ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}行 書き込み済み ({eta})").unwrap_or_else(|_| ProgressStyle::default_bar()));
        self.0.set_message(format!("{lines}行を確認しました。"));
    }

    fn written(&self, written: u64) {
        self.0.set_position(written);
    }
}

pub async fn run_statements(file: PathBuf, table: &str) -> Result<(), String> {
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let config = crate::aws::checked_config(table).await?;
    let store = kenpo_statement_store::dynamodb::DynamoStatements::new(aws_sdk_dynamodb::Client::new(&config), table.to_owned());
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("{} を確認しています…", file.display()));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let progress = Bar(bar.clone());
    let imported = import_file(&store, &bytes, SystemClock.now(), &progress).await;
    bar.finish_and_clear();
    let imported = imported.map_err(|e| format!("{}: {} ({})", file.display(), crate::aws::explain(&e.to_string(), table), e.code()))?;
    println!("{}: {}", file.display(), crate::dev_import::summary_line(&imported));
    for w in imported.report.warnings.iter() {
        println!("  警告 {}行目 {}: {}", w.line, w.column, w.message);
    }
    if imported.report.is_refused() {
        return Err(format!("{} は取り込めませんでした:\n{}", file.display(), crate::dev_import::issue_lines(&imported.report)));
    }
    Ok(())
}
