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
    MemberId::parse(id).map_err(|e| format!("{id}: {}", e.message))
}

fn japan_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&japan()).format("%Y-%m-%d %H:%M（日本時間）").to_string()
}

/// What support reads about one member (lines of `項目: 値`).
pub async fn show(id: &str, personal: bool, table: &str) -> Result<(), String> {
    let member = member(id)?;
    let store = crate::aws::store(table).await?;
    // The stack's rules (TERMS_VERSION, ONBOARDING_CUTOFF) decide which step a record is at.
    let settings = kenpo_shared::config::Settings::from_env().unwrap_or_else(|_| kenpo_shared::config::Settings::development());
    let (profile, signup) = kenpo_shared::store::SignupStore::get_member_and_signup(&store, &member).await.map_err(|e| crate::aws::explain(&e.to_string(), table))?;
    let Some(profile) = profile else {
        return Err(format!("{id}: この加入者はテーブル {table} にいません（会員ファイルを取り込んでください） / not in the table"));
    };
    println!("会員ID: {id}");
    println!("ログ上の仮名: {}", kenpo_shared::pseudonym::of(&member));
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
    println!("手続き: {}", step_name(current_step(&r, &settings.policy()).as_str()));
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
    let settings = kenpo_shared::config::Settings::from_env().unwrap_or_else(|_| kenpo_shared::config::Settings::development());
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
        return Err("LOG_PSEUDONYM_KEY は32文字以上です（docs/DEPLOY.md「Reading the logs」） / the key is at least 32 characters".into());
    }
    println!("{}", kenpo_shared::pseudonym::pseudonym(key.as_bytes(), &member));
    Ok(())
}
