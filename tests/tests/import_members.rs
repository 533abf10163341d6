//! `kenpo import-members FILE` against DynamoDB's wire protocol (moto): Shift_JIS in, members out.

use kenpo_shared::domain::MemberId;
use kenpo_shared::store::SignupStore;
use kenpo_shared::store::dynamodb::DynamoStore;
use kenpo_tests::*;

fn import(table: &str, file: &std::path::Path) -> std::process::Output {
    std::process::Command::new(kenpo_bin())
        .arg("import-members")
        .arg(file)
        .env("TABLE_NAME", table)
        .env("INSURER_NUMBERS", "06133946,63133946")
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "moto")
        .env("AWS_SECRET_ACCESS_KEY", "moto")
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run kenpo import-members")
}

#[tokio::test]
async fn a_shift_jis_file_from_excel_is_imported_in_batches() {
    let (client, table) = moto_table("import").await;
    let mut text = String::from("member_id,insurer_number,birth_date,category\r\n");
    for i in 0..40 {
        text.push_str(&format!("I{i:04},{},1960{:02}15,{}\r\n", if i % 2 == 0 { "06133946" } else { "63133946" }, i % 12 + 1, if i % 2 == 0 { "任意継続" } else { "特例退職" }));
    }
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    let file = std::env::temp_dir().join(format!("members-{table}.csv"));
    std::fs::write(&file, &sjis).unwrap();
    let out = import(&table, &file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("40件"));
    let store = DynamoStore::new(client, table);
    let m = store.get_member(&MemberId::parse("I0039").unwrap()).await.unwrap().unwrap();
    assert_eq!((m.insurer_number.as_str(), m.category.as_deref()), ("63133946", Some("特例退職")));
}

#[tokio::test]
async fn a_file_with_errors_imports_nothing_and_names_the_lines_not_the_values() {
    let (client, table) = moto_table("import-bad").await;
    let file = std::env::temp_dir().join(format!("members-{table}.csv"));
    std::fs::write(&file, "member_id,insurer_number,birth_date\nX0001,06133946,19810403\nX0002,06133946,19810231\n").unwrap();
    let out = import(&table, &file);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3行目") && stderr.contains("birth_date"), "{stderr}");
    assert!(!stderr.contains("19810231"));
    let store = DynamoStore::new(client, table);
    assert!(store.get_member(&MemberId::parse("X0001").unwrap()).await.unwrap().is_none());
}

fn kenpo(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(kenpo_bin());
    command.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("HOME", std::env::temp_dir()).env("AWS_EC2_METADATA_DISABLED", "true");
    command.env("INSURER_NUMBERS", "06133946,63133946");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run kenpo")
}

/// Issue 13: one member id on two CRLF lines (Excel) refuses the whole file, naming both physical
/// lines; nothing is written (DynamoDB would refuse the batch as a whole and later members would
/// be lost).
#[tokio::test]
async fn a_member_on_two_lines_refuses_the_file_with_both_line_numbers() {
    let (client, table) = moto_table("import-dup").await;
    let file = std::env::temp_dir().join(format!("members-{table}.csv"));
    std::fs::write(&file, "member_id,insurer_number,birth_date\r\nD0001,06133946,19810403\r\nD0002,06133946,19790822\r\nD0001,63133946,19480115\r\n").unwrap();
    let out = import(&table, &file);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4行目") && stderr.contains("2行目"), "{stderr}");
    let store = DynamoStore::new(client, table);
    assert!(store.get_member(&MemberId::parse("D0002").unwrap()).await.unwrap().is_none(), "nothing written");
}

/// Issue 13: every subcommand has --help with the file format; the table is required outside the
/// dev server; no option is ignored; without AWS settings one line says what is missing and which
/// table (no SDK debug dump).
#[test]
fn the_command_line_helps_and_refuses_what_it_would_ignore() {
    let help = kenpo(&["import-members", "--help"], &[]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("member_id,insurer_number,birth_date") && text.contains("--table"), "{text}");
    for sub in ["dev", "import-statements", "show-member", "unlock", "pseudonym"] {
        assert!(kenpo(&[sub, "--help"], &[]).status.success(), "{sub} --help");
    }
    let file = std::env::temp_dir().join("members-cli.csv");
    std::fs::write(&file, "member_id,insurer_number,birth_date\nM0001,06133946,19810403\n").unwrap();
    let no_table = kenpo(&["import-members", file.to_str().unwrap()], &[]);
    assert!(!no_table.status.success() && String::from_utf8_lossy(&no_table.stderr).contains("--table"), "no silent kenpo-dev");
    let ignored = kenpo(&["dev", "--aws", "--members", file.to_str().unwrap()], &[]);
    assert!(!ignored.status.success() && String::from_utf8_lossy(&ignored.stderr).contains("cannot be used with"));
    let no_region = kenpo(&["import-members", "--table", "kenpo-prod", file.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&no_region.stderr);
    assert!(!no_region.status.success() && stderr.contains("AWS_REGION") && stderr.contains("kenpo-prod") && !stderr.contains("DispatchFailure"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    let no_credentials = kenpo(&["import-members", "--table", "kenpo-prod", file.to_str().unwrap()], &[("AWS_REGION", "ap-northeast-1")]);
    let stderr = String::from_utf8_lossy(&no_credentials.stderr);
    assert!(stderr.contains("AWS_PROFILE") && stderr.contains("kenpo-prod") && !stderr.contains("IMDS"), "{stderr}");
}

/// Issue 13: support's commands. A locked member is shown as locked (no birth date or address
/// unless asked) and unlocked; the pseudonym is the logs'.
#[tokio::test]
async fn support_sees_and_unlocks_a_member() {
    let (client, table) = moto_table("ops").await;
    let store = DynamoStore::new(client, table.clone());
    store.put_members(&[member("L0001", "06133946", "19810403")]).await.unwrap();
    let mut r = kenpo_shared::store::SignupRecord::new(MemberId::parse("L0001").unwrap(), chrono::Utc::now());
    (r.failed_attempts, r.locked_until, r.email) = (5, Some(chrono::Utc::now() + chrono::Duration::minutes(30)), kenpo_shared::domain::EmailAddress::from_stored("l0001@example.jp"));
    store.put_signup(&r, kenpo_shared::store::Expect::Absent).await.unwrap();
    let aws = [("AWS_ENDPOINT_URL", moto_endpoint()), ("AWS_ACCESS_KEY_ID", "moto".into()), ("AWS_SECRET_ACCESS_KEY", "moto".into()), ("AWS_REGION", "ap-northeast-1".into()), ("TABLE_NAME", table.clone())];
    let aws: Vec<(&str, &str)> = aws.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shown = kenpo(&["show-member", "L0001"], &aws);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    assert!(text.contains("ロック中") && text.contains("kenpo unlock L0001"), "{text}");
    assert!(!text.contains("19810403") && !text.contains("l0001@example.jp"), "nothing personal unless asked: {text}");
    let personal = kenpo(&["show-member", "L0001", "--personal"], &aws);
    assert!(String::from_utf8_lossy(&personal.stdout).contains("l0001@example.jp"));
    let unlocked = kenpo(&["unlock", "L0001"], &aws);
    assert!(String::from_utf8_lossy(&unlocked.stdout).contains("解除しました"), "{}", String::from_utf8_lossy(&unlocked.stderr));
    let after = store.get_signup(&MemberId::parse("L0001").unwrap()).await.unwrap().unwrap();
    assert_eq!((after.failed_attempts, after.locked_until, after.email), (0, None, r.email.clone()));
    let key = "0123456789abcdef0123456789abcdef";
    let p = kenpo(&["pseudonym", "L0001"], &[("LOG_PSEUDONYM_KEY", key)]);
    assert_eq!(String::from_utf8_lossy(&p.stdout).trim(), kenpo_shared::pseudonym::pseudonym(key.as_bytes(), &MemberId::parse("L0001").unwrap()));
}

/// Issue 13: members who left and whose period of use ended (資格喪失日 + 24 months) are removed
/// with everything personal in their partition; a member still in the period, and one who has
/// not left, stay. `--dry-run` only lists.
#[tokio::test]
async fn members_whose_period_ended_are_removed_and_no_one_else() {
    let (client, table) = moto_table("remove-left").await;
    let store = DynamoStore::new(client, table.clone());
    let mut gone = member("R0001", "06133946", "19810403");
    gone.left_on = chrono::NaiveDate::from_ymd_opt(2023, 3, 31);
    let mut within = member("R0002", "06133946", "19790822");
    within.left_on = chrono::NaiveDate::from_ymd_opt(2025, 9, 30);
    store.put_members(&[gone, within, member("R0003", "63133946", "19480115")]).await.unwrap();
    for id in ["R0001", "R0002"] {
        let mut r = kenpo_shared::store::SignupRecord::new(MemberId::parse(id).unwrap(), chrono::Utc::now());
        r.email = kenpo_shared::domain::EmailAddress::from_stored("left@example.jp");
        store.put_signup(&r, kenpo_shared::store::Expect::Absent).await.unwrap();
    }
    let aws = [("AWS_ENDPOINT_URL", moto_endpoint()), ("AWS_ACCESS_KEY_ID", "moto".into()), ("AWS_SECRET_ACCESS_KEY", "moto".into()), ("AWS_REGION", "ap-northeast-1".into()), ("TABLE_NAME", table.clone())];
    let aws: Vec<(&str, &str)> = aws.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let listed = kenpo(&["remove-left-members", "--dry-run"], &aws);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().next(), Some("R0001"), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(store.get_member(&MemberId::parse("R0001").unwrap()).await.unwrap().is_some(), "a dry run deletes nothing");
    let removed = kenpo(&["remove-left-members"], &aws);
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    let (profile, signup) = store.get_member_and_signup(&MemberId::parse("R0001").unwrap()).await.unwrap();
    assert!(profile.is_none() && signup.is_none(), "the birth date and the address are gone");
    assert!(store.get_member(&MemberId::parse("R0002").unwrap()).await.unwrap().is_some(), "still within the period");
    assert!(store.get_signup(&MemberId::parse("R0002").unwrap()).await.unwrap().is_some());
    assert!(store.get_member(&MemberId::parse("R0003").unwrap()).await.unwrap().is_some(), "a member");
}

/// Issue 13: a failure part-way (here: no such table) says how far the import got and that the
/// same file can be run again, in one message without the SDK's debug dump.
#[test]
fn a_failed_import_says_what_was_written_and_how_to_go_on() {
    let file = std::env::temp_dir().join("members-missing-table.csv");
    std::fs::write(&file, "member_id,insurer_number,birth_date\nM0001,06133946,19810403\nM0002,06133946,19790822\n").unwrap();
    let out = import("kenpo-no-such-table", &file);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("テーブルが見つかりません") && stderr.contains("kenpo-no-such-table"), "{stderr}");
    assert!(stderr.contains("先頭から0件") && stderr.contains("残りの2件") && stderr.contains("もう一度"), "{stderr}");
    assert!(!stderr.contains("DispatchFailure") && !stderr.contains("ServiceError"), "{stderr}");
}

/// Issue 10: `kenpo import-statements FILE` applies a medical file to the table as the S3 import
/// does and says how many lines it applied; the same file again changes nothing; a file with a
/// wrong line is refused as a whole (exit status 1), naming the line and the column, not the value.
#[tokio::test]
async fn import_statements_applies_a_file_once_and_refuses_a_wrong_one() {
    use kenpo_statement_store::{Scope, StatementStore};
    use kenpo_statements::types::StatementKind::Medical;
    use kenpo_tests::statements::{file, medical};
    let (client, table) = moto_table("import-stmts").await;
    let endpoint = moto_endpoint();
    let env = [("TABLE_NAME", table.as_str()), ("AWS_ENDPOINT_URL", endpoint.as_str()), ("AWS_ACCESS_KEY_ID", "moto"), ("AWS_SECRET_ACCESS_KEY", "moto"), ("AWS_REGION", "ap-northeast-1")];
    let good = std::env::temp_dir().join(format!("medical-{table}.csv"));
    std::fs::write(&good, file(Medical, &[medical("cli-1", "N", "C1", "00", "202609", 3000, false, "20261025"), medical("cli-2", "N", "C1", "01", "202609", 2000, false, "20261025")])).unwrap();
    let out = kenpo(&["import-statements", good.to_str().unwrap()], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("医療費: 2行を反映しました。"), "{stdout}");
    let store = kenpo_statement_store::dynamodb::DynamoStatements::new(client, table.clone());
    let member = MemberId::parse("C1").unwrap();
    assert_eq!(store.household(&member, Scope::All).await.unwrap().medical.len(), 2);

    let again = kenpo(&["import-statements", good.to_str().unwrap()], &env);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("同じファイルは取り込み済みです"), "{}", String::from_utf8_lossy(&again.stdout));

    let bad = std::env::temp_dir().join(format!("medical-bad-{table}.csv"));
    std::fs::write(&bad, file(Medical, &[medical("cli-3", "N", "C1", "00", "202609", 1234, false, "20261025"), medical("cli-4", "N", "C1", "00", "202613", 5678, false, "20261025")])).unwrap();
    let out = kenpo(&["import-statements", bad.to_str().unwrap()], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("3行目") && stderr.contains("service_month"), "{stderr}");
    assert!(!stderr.contains("202613"), "never the value: {stderr}");
    assert_eq!(store.household(&member, Scope::All).await.unwrap().medical.len(), 2, "nothing of the refused file was written");
}
