//! The update notice itself (issue 12): Japanese subject and body saying that new 医療費 / 給付金
//! information is on the site, with the link to it (`/menu`, where the settings are too); no
//! amounts, no names of people or institutions, no medical details; `From` with the society's name;
//! text and HTML parts saying the same (the HTML with a viewport); the unsubscribe headers of RFC
//! 8058 and a visible unsubscribe link.

use kenpo_shared::config::Settings;
use kenpo_shared::domain::{EmailAddress, MemberId};
use kenpo_shared::http::escape_html;
use kenpo_shared::mailer::OutgoingMail;

/// The service's name, as the portal's menu shows it (the screens' and the other mails' too).
const SERVICE: &str = kenpo_shared::http::SYSTEM_NAME;

/// The notice to `to` for `member`; `site` is the site's origin (`https://…`, no trailing slash),
/// `token` the member's unsubscribe token (`crate::UnsubscribeKey::token`).
pub fn notice_mail(settings: &Settings, site: &str, member: &MemberId, to: EmailAddress, token: &str) -> OutgoingMail {
    let society = &settings.society_name;
    let menu = format!("{site}/menu");
    let unsubscribe = format!("{site}/unsubscribe?t={token}");
    let subject = format!("【{SERVICE}】医療費通知等更新のお知らせ");
    let text = format!(
        "{society}の「{SERVICE}」に、新しい医療費・給付金の情報を掲載しました。\n\n\
         内容は、組合のポータルから「{SERVICE}」に入ってご確認ください。\n{menu}\n\n\
         このお知らせが不要な場合は、次のページで停止できます（ログインは不要です）。\n{unsubscribe}\n\
         通知の設定とメールアドレスは、トップページでいつでも変更できます。\n\n\
         このメールは、医療費通知を「必要」にされた方にお送りしています。\n\
         ご不明な点は、{contact}にお問い合わせください。\n\
         このメールは送信専用です。ご返信いただいてもお答えできません。\n\n{society}\n",
        contact = settings.contact_line(),
    );
    let (society_html, menu_html, unsubscribe_html) = (escape_html(society), escape_html(&menu), escape_html(&unsubscribe));
    let html = format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>医療費通知等更新のお知らせ</title></head><body>\
         <p>{society_html}の「{SERVICE}」に、新しい医療費・給付金の情報を掲載しました。</p>\
         <p>内容は、組合のポータルから「{SERVICE}」に入ってご確認ください。<br><a href=\"{menu_html}\">{menu_html}</a></p>\
         <p>このお知らせが不要な場合は、次のページで停止できます（ログインは不要です）。<br><a href=\"{unsubscribe_html}\">お知らせを停止する</a></p>\
         <p>通知の設定とメールアドレスは、トップページでいつでも変更できます。</p>\
         <p>このメールは、医療費通知を「必要」にされた方にお送りしています。<br>ご不明な点は、{contact_html}にお問い合わせください。<br>このメールは送信専用です。ご返信いただいてもお答えできません。</p>\
         <p>{society_html}</p></body></html>",
        contact_html = escape_html(&settings.contact_line()),
    );
    OutgoingMail {
        member_id: Some(member.clone()),
        from: settings.sender_address.clone(),
        to,
        subject,
        text,
        html: Some(html),
        from_name: Some(society.clone()),
        headers: vec![("List-Unsubscribe".into(), format!("<{unsubscribe}>")), ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_links_the_site_and_one_click_unsubscribe_and_names_nothing_medical() {
        let s = Settings::development();
        let to = EmailAddress::from_stored("taro@example.jp").unwrap();
        let m = notice_mail(&s, "https://kenpo.example", &MemberId::parse("D0005").unwrap(), to, "TOKEN");
        assert!(m.subject.contains("医療費通知等更新のお知らせ"));
        assert_eq!(m.from_name.as_deref(), Some(s.society_name.as_str()));
        assert_eq!(m.headers, vec![
            ("List-Unsubscribe".to_owned(), "<https://kenpo.example/unsubscribe?t=TOKEN>".to_owned()),
            ("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned()),
        ]);
        let html = m.html.clone().unwrap();
        for part in [m.text.as_str(), html.as_str()] {
            for said in ["https://kenpo.example/menu", "https://kenpo.example/unsubscribe?t=TOKEN", "新しい医療費・給付金の情報を掲載しました", "トップページでいつでも変更できます", "03-0000-0000"] {
                assert!(part.contains(said), "{said} in {part}");
            }
            assert!(!part.contains('円') && !part.contains("病院") && !part.contains("taro"), "no amounts, institutions or address");
        }
        assert!(html.contains("name=\"viewport\""));
        let eml = String::from_utf8(kenpo_shared::mailer::outbox::render_eml(&m).unwrap()).unwrap();
        assert!(eml.contains("List-Unsubscribe: <https://kenpo.example/unsubscribe?t=TOKEN>"), "{eml}");
        assert!(eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    }
}
