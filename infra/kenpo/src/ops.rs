//! The operator's member commands (issue 13), against the table with the standard AWS chain:
//!
//! - `kenpo show-member ID [--personal]`: the member's profile and onboarding as support needs
//!   them; no birth date or address unless `--personal` (for this one member).
//! - `kenpo unlock ID`: ends the identity check's lock (`signup::Command::Unlock`, through the same
//!   conditional write as every transition).
//! - `kenpo pseudonym ID`: the keyed pseudonym the logs use for the member.

use kenpo_shared::clock::{Clock, SystemClock, japan};
use kenpo_shared::domain::MemberId;
use kenpo_shared::signup::{Command, Outcome, current_step};
use kenpo_shared::transition::{Sender, Start, apply};

fn member(id: &str) -> Result<MemberId, String> {
    // An id that is not one is shown shortened and without control characters.
    let shown: String = id.chars().filter(|c| !c.is_control()).take(64).collect();
    MemberId::parse(id).map_err(|e| format!("{shown}: {}", e.message))
}

/// The stack's rules (`TERMS_VERSION`, `ONBOARDING_CUTOFF`) from the environment, as the Lambdas
/// read them: which step a record is at depends on them. A value that does not parse is said, not
/// replaced by a default.
fn stack_settings() -> Result<kenpo_shared::config::Settings, String> {
    kenpo_shared::config::Settings::from_env().map_err(|e| format!("{e} (the stack's value, as in its parameters)"))
}

fn japan_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&japan()).format("%Y-%m-%d %H:%M（日本時間）").to_string()
}

/// What support reads about one member (lines of `項目: 値`).
pub async fn show(id: &str, personal: bool, table: &str) -> Result<(), String> {
    let member = member(id)?;
    let store = crate::aws::store(table).await?;
    let settings = stack_settings()?;
    let (profile, signup) = kenpo_shared::store::SignupStore::get_member_and_signup(&store, &member).await.map_err(|e| crate::aws::explain(&e.to_string(), table))?;
    let Some(profile) = profile else {
        return Err(format!("{id}: この加入者はテーブル {table} にいません（会員ファイルを取り込んでください） / not in the table"));
    };
    println!("会員ID: {id}");
    match std::env::var("LOG_PSEUDONYM_KEY") {
        Ok(key) if key.len() >= 32 => println!("ログ上の仮名: {}", kenpo_shared::pseudonym::pseudonym(key.as_bytes(), &member)),
        _ => println!("ログ上の仮名: （LOG_PSEUDONYM_KEY を設定すると表示します）"),
    }
    println!("保険者番号: {}", profile.insurer_number.as_str());
    println!("区分: {}", profile.category.as_deref().unwrap_or("—"));
    println!("資格喪失日: {}", profile.left_on.map_or("—".to_owned(), |d| d.to_string()));
    if personal {
        println!("生年月日: {}", profile.birth_date.compact());
    }
    let Some(r) = signup else {
        println!("手続き: 未開始（まだログインしていないか、本人確認の前）");
        return Ok(());
    };
    let now = SystemClock.now();
    println!(
        "手続き: {}（TERMS_VERSION {}、ONBOARDING_CUTOFF {} で判定。同意した版: {}）",
        step_name(current_step(&r, &settings.policy()).as_str()),
        settings.terms_version.as_str(),
        settings.onboarding_cutoff,
        r.terms_version.as_ref().map_or("—", |v| v.as_str())
    );
    match r.locked_until.filter(|until| *until > now) {
        Some(until) => println!("本人確認: ロック中（{}まで。kenpo unlock {id} で解除）", japan_time(until)),
        None => println!("本人確認: 誤り {}回", r.failed_attempts),
    }
    println!("完了日時: {}", r.completed_at.map_or("—".to_owned(), japan_time));
    println!("医療費通知: {}", match r.notify_medical_expenses { Some(true) => "必要", Some(false) => "不要", None => "—" });
    println!("メールアドレス: {}", match (&r.email, personal) { (None, _) => "なし".to_owned(), (Some(e), true) => e.as_str().to_owned(), (Some(_), false) => "あり（--personal で表示）".to_owned() });
    println!("メールの問題: {}", r.email_problem.map_or("なし", |p| p.as_str()));
    println!("ようこそメール: {}", r.welcome_sent_at.map_or("未送信".to_owned(), japan_time));
    Ok(())
}

fn step_name(step: &str) -> &'static str {
    match step {
        "identity" => "本人確認",
        "consent" => "同意",
        "preferences" => "個人情報入力",
        "confirm" => "入力確認",
        "completed" => "完了",
        "reconsent" => "新しい利用規約への同意待ち",
        _ => "不明",
    }
}

/// Ends the member's lock.
pub async fn unlock(id: &str, table: &str) -> Result<(), String> {
    let member = member(id)?;
    let store = crate::aws::store(table).await?;
    let settings = stack_settings()?;
    // A mistyped id must not look like success.
    if kenpo_shared::store::SignupStore::get_member(&store, &member).await.map_err(|e| crate::aws::explain(&e.to_string(), table))?.is_none() {
        return Err(format!("{id}: この加入者はテーブル {table} にいません / not in the table"));
    }
    let applied = apply(&store, &SystemClock, &settings.policy(), &member, Sender::System, Start::Read, &Command::Unlock).await.map_err(|e| crate::aws::explain(&e.to_string(), table))?;
    match applied.outcome {
        _ if applied.wrote => println!("{id}: 本人確認のロックを解除しました（誤りの回数も0に戻しました）。"),
        Outcome::Skipped("not_locked") => println!("{id}: ロックされていません。"),
        _ => println!("{id}: 手続きの記録がありません（まだ本人確認をしていません）。"),
    }
    Ok(())
}

/// The member's pseudonym under `key`.
pub fn pseudonym(id: &str, key: &str) -> Result<(), String> {
    let member = member(id)?;
    if key.len() < 32 {
        return Err("LOG_PSEUDONYM_KEY は32文字以上のスタックの鍵を設定してください（docs/DEPLOY.md「Reading the logs」） / set the stack's key (at least 32 characters)".into());
    }
    println!("{}", kenpo_shared::pseudonym::pseudonym(key.as_bytes(), &member));
    Ok(())
}

/// Removes the members whose period of use ended (資格喪失日 plus 24 months, the rule the screens
/// apply: `kenpo_statements::read::access_expired`): every item of their partition (the profile
/// with the birth date, the signup record with the address, the consents, what is left of their
/// statements and notices). Their statements expire by TTL anyway; this removes what has none. One
/// Scan of the profiles with a 資格喪失日 (the operator's command only: no member's request scans),
/// then per member one Query and BatchWriteItem deletes. `dry_run`: lists them, deletes nothing.
/// Prints the member ids (no other personal data) and the count.
pub async fn remove_left(table: &str, dry_run: bool) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
    let config = crate::aws::checked_config(table).await?;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let explain = |e: &dyn std::fmt::Display| crate::aws::explain(&e.to_string(), table);
    let today = SystemClock.today_in_japan();
    let mut ended = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .filter_expression("SK = :profile AND attribute_exists(leftOn)")
            .projection_expression("PK, leftOn")
            .consistent_read(true)
            .expression_attribute_values(":profile", AttributeValue::S("PROFILE".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| explain(&aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
        for item in page.items() {
            let pk = item.get("PK").and_then(|v| v.as_s().ok());
            let left_on = item.get("leftOn").and_then(|v| v.as_s().ok()).and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            if let (Some(pk), Some(left_on)) = (pk.filter(|pk| pk.starts_with("MEMBER#")), left_on)
                && kenpo_statements::read::access_expired(Some(left_on), today)
            {
                ended.push((pk.clone(), left_on));
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    ended.sort();
    for (pk, _) in &ended {
        println!("{}", pk.trim_start_matches("MEMBER#"));
    }
    if dry_run {
        println!("{}人の利用期間が終わっています（--dry-run: 削除していません）。", ended.len());
        return Ok(());
    }
    let mut items_removed = 0;
    let mut removed = 0;
    for (done, (pk, left_on)) in ended.iter().enumerate() {
        let Ok(member) = MemberId::parse(pk.trim_start_matches("MEMBER#")) else { continue };
        // The profile first, on the condition that it still says this 資格喪失日 (an import may
        // have just changed it: then the member stays).
        let profile = client
            .delete_item()
            .table_name(table)
            .key("PK", AttributeValue::S(pk.clone()))
            .key("SK", AttributeValue::S("PROFILE".into()))
            .condition_expression("leftOn = :left")
            .expression_attribute_values(":left", AttributeValue::S(left_on.format("%Y-%m-%d").to_string()))
            .send()
            .await;
        if !kenpo_shared::store::dynamodb::condition_applied(profile).map_err(|e| explain(&e))? {
            println!("{}: 資格喪失日が変わったため残しました / kept: its 資格喪失日 changed", member.as_str());
            continue;
        }
        removed += 1;
        // Every item of the partition (its sort keys are printable ASCII).
        let keys: Vec<_> = kenpo_shared::store::dynamodb::partition_items(&client, table, &member, " ", "~~~~")
            .await
            .map_err(|e| explain(&e))?
            .into_iter()
            .map(|mut item| item.drain().filter(|(k, _)| k == "PK" || k == "SK").collect::<std::collections::HashMap<_, _>>())
            .collect();
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .filter_map(|k| DeleteRequest::builder().set_key(Some(k.clone())).build().ok())
                .map(|d| WriteRequest::builder().delete_request(d).build())
                .collect();
            // Unprocessed deletes are tried again a few times, then reported.
            for attempt in 0..5 {
                let out = client
                    .batch_write_item()
                    .request_items(table, requests.clone())
                    .send()
                    .await
                    .map_err(|e| format!("{}\n{done}人を削除した後で止まりました。もう一度実行すると続きから削除します / stopped after {done} members; run it again to go on", explain(&aws_sdk_dynamodb::error::DisplayErrorContext(&e))))?;
                requests = out.unprocessed_items.and_then(|mut u| u.remove(table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 4 {
                    return Err(format!("DynamoDBが削除を受け付けませんでした。{done}人を削除した後で止まりました。もう一度実行してください / throttled after {done} members; run it again"));
                }
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
        }
        items_removed += keys.len();
    }
    println!("利用期間が終わった{removed}人（{}件の項目）をテーブル {table} から削除しました。", items_removed + removed);
    Ok(())
}
