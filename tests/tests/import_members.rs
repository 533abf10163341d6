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
