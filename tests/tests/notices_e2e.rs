//! Issue 12 through `kenpo dev` as a process: a month uploaded at `/dev/import` sends exactly one
//! 医療費通知等更新のお知らせ to a member who chose 必要 (none to the others), with the RFC 8058
//! headers; the link's page changes nothing, its one-click POST stops the notices, and the
//! member's settings show 不要.

use kenpo_statements::types::StatementKind::Medical;
use kenpo_tests::statements::{file, medical};
use kenpo_tests::*;

fn today() -> String {
    chrono::Utc::now().with_timezone(&kenpo_shared::clock::japan()).format("%Y%m%d").to_string()
}

fn upload(server: &DevServer, rows: &[Vec<(&'static str, String)>]) {
    let body = file(Medical, rows);
    let r = server.agent().post(&format!("{}/dev/import", server.base)).set("origin", &server.base).set("content-type", "text/csv").send_bytes(&body).unwrap();
    assert_eq!(r.status(), 200);
}

fn notices(server: &DevServer) -> Vec<String> {
    server.mails().into_iter().filter(|m| eml_subject(m).contains("医療費通知等更新のお知らせ")).collect()
}

fn wait_for_notices(server: &DevServer, n: usize) -> Vec<String> {
    for _ in 0..100 {
        if notices(server).len() >= n {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    notices(server)
}

/// The unsubscribe URL of a notice's `List-Unsubscribe` header.
fn unsubscribe_url(eml: &str) -> String {
    let line = eml.lines().find(|l| l.starts_with("List-Unsubscribe:")).expect("List-Unsubscribe");
    line.trim_start_matches("List-Unsubscribe:").trim().trim_start_matches('<').trim_end_matches('>').to_owned()
}

#[test]
fn one_notice_for_a_new_month_and_one_click_stops_them() {
    let server = DevServer::start(&[]);
    // D0005 chose 必要 with an address; D0006 too, but the upload has nothing of theirs.
    let month = chrono::Utc::now().format("%Y%m").to_string();
    upload(&server, &[
        medical("e2e-1", "N", "D0005", "00", &month, 2100, false, &today()),
        medical("e2e-2", "N", "D0005", "01", &month, 900, false, &today()),
        medical("e2e-3", "N", "D0001", "00", &month, 900, false, &today()),
    ]);
    let sent = wait_for_notices(&server, 1);
    assert_eq!(sent.len(), 1, "one notice: D0005's (D0001 has not signed up)");
    let eml = &sent[0];
    assert!(eml.contains("d0005@example.jp"));
    assert!(eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{eml}");
    for secret in ["2100", "2,100", "健保", "登録 五月"] {
        assert!(!eml.contains(secret), "no amounts or names in the notice");
    }
    // Uploaded again the same day (another file): no second notice.
    upload(&server, &[medical("e2e-4", "N", "D0005", "00", &month, 300, false, &today())]);
    assert_eq!(wait_for_notices(&server, 2).len(), 1, "one per day");

    // The link's page changes nothing; its one-click POST stops the notices.
    let url = unsubscribe_url(eml);
    let path = url.split_once("/unsubscribe").map(|(_, rest)| format!("/unsubscribe{rest}")).unwrap();
    let page = server.agent().get(&format!("{}{path}", server.base)).call().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.into_string().unwrap().contains("お知らせを停止する"));
    let one_click = server.agent().post(&format!("{}{path}", server.base)).set("content-type", "application/x-www-form-urlencoded").send_string("List-Unsubscribe=One-Click");
    let r = one_click.unwrap();
    assert_eq!(r.status(), 200, "no Origin, no login: RFC 8058");
    assert!(r.into_string().unwrap().contains("停止しました"));
    // A tampered link: the 400 page.
    let tampered = path.replacen("t=", "t=x", 1);
    match server.agent().post(&format!("{}{tampered}", server.base)).send_string("List-Unsubscribe=One-Click") {
        Err(ureq::Error::Status(400, r)) => assert!(r.into_string().unwrap().contains("このリンクは使えません")),
        other => panic!("{other:?}"),
    }
}
