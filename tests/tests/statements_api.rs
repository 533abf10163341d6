//! The statements' API as a member meets it (DESIGN.md Part 2, "HTTP contract, part 2"), through
//! the dev server's router (the template's routes) in-process: every status code, what a
//! household sees and does not see, the access period after leaving, and one DynamoDB request
//! per read on moto.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use kenpo_shared::clock::Clock;
use kenpo_statement_store::import::{Quiet, import_file};
use kenpo_statements::types::StatementKind::{Benefits, Medical};
use kenpo_tests::statements::{benefit, file, medical};
use kenpo_tests::*;
use serde_json::Value;

const PATHS: [&str; 3] = ["/api/statements/summary", "/api/medical-expenses", "/api/benefits"];
/// The downloads of the household below (issue 14).
const DOCUMENTS: [&str; 3] = ["/api/documents/medical-expenses/2026.pdf", "/api/documents/medical-expenses/2026.csv", "/api/documents/benefits/b-1.pdf"];

/// Apply a file as imported `days_ago` days before the test clock's now.
async fn import_at(t: &TestApp, bytes: Vec<u8>, days_ago: i64) {
    let imported = import_file(t.statements.as_ref(), &bytes, t.clock.now() - Duration::days(days_ago), &Quiet).await.unwrap();
    assert!(!imported.report.is_refused(), "{:?}", imported.report.errors);
}

async fn get(t: &TestApp, path: &str, cookie: &str) -> (u16, Value) {
    let r = t.call("GET", path, None, cookie).await;
    (r.status().as_u16(), json_of(&r))
}

/// A member of a fresh app, onboarded (the test clock: 2026-11-25 10:00 Japan time).
async fn onboarded(t: &TestApp, id: &str, left_on: Option<NaiveDate>) -> String {
    let mut profile = member(id, "06133946", "19810403");
    profile.left_on = left_on;
    t.store.put_members(&[profile]).await.unwrap();
    let cookie = t.login(id).await;
    t.onboard(&cookie, "06133946", "1981-04-03", None).await;
    cookie
}

/// The household's data, imported three months ago: 本人 and a child, a line hidden at the
/// child's request, a line published only next month, another household's line, and a benefit.
async fn household(t: &TestApp) {
    import_at(t, file(Medical, &[
        medical("a-1", "N", "S1", "00", "202608", 3000, false, "20261025"),
        medical("a-2", "N", "S1", "01", "202609", 2000, false, "20261125"),
        medical("a-secret", "N", "S1", "01", "202609", 1500, true, "20261125"),
        medical("a-next", "N", "S1", "00", "202610", 900, false, "20261225"),
        medical("a-old", "N", "S1", "00", "202506", 700, false, "20250825"),
        medical("z-1", "N", "S9", "00", "202609", 5000, false, "20261125"),
    ]), 90).await;
    import_at(t, file(Benefits, &[benefit("b-1", "N", "S1", "00", 40_000, "20261110", "20261125")]), 90).await;
}

#[tokio::test]
async fn refusals_come_in_the_contracts_order() {
    let t = embedded_app().await;
    for path in PATHS {
        let (status, body) = get(&t, &format!("{path}?year=20x6"), "").await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")), "{path}");
    }
    t.store.put_members(&[member("S2", "06133946", "19810403")]).await.unwrap();
    let cookie = t.login("S2").await;
    for path in PATHS {
        // Not onboarded: 409 with the step to go to, before a bad query is looked at.
        let (status, body) = get(&t, &format!("{path}?year=20x6&person=1"), &cookie).await;
        assert_eq!((status, body["error"]["code"].as_str(), body["error"]["step"].as_str()), (409, Some("onboarding_required"), Some("identity")), "{path}");
    }
    let cookie = onboarded(&t, "S1", None).await;
    for path in &PATHS[1..] {
        let (status, body) = get(&t, &format!("{path}?year=20x6&person=1"), &cookie).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_input")), "{path}");
        assert!(body["error"]["fields"]["year"].is_string() && body["error"]["fields"]["person"].is_string(), "{path}: {body}");
        assert_eq!(get(&t, &format!("{path}?year=&person="), &cookie).await.0, 200, "{path}: empty parameters count as absent");
    }
    assert_eq!(get(&t, "/api/statements/summary", &cookie).await.0, 200);
}

#[tokio::test]
async fn a_household_sees_its_published_lines_and_nothing_hidden() {
    let t = embedded_app().await;
    let cookie = onboarded(&t, "S1", None).await;
    household(&t).await;

    let (status, summary) = get(&t, "/api/statements/summary", &cookie).await;
    assert_eq!(status, 200);
    assert_eq!(summary["latestPublication"], "2026-11-25");
    assert_eq!(summary["newInLatest"], serde_json::json!({"medicalLines": 1, "benefits": 1}));
    assert_eq!((summary["year"].as_i64(), summary["selfPayThisYear"].as_u64(), summary["benefitsThisYear"].as_u64()), (Some(2026), Some(5000), Some(40_000)));
    assert_eq!(summary["accessUntil"], Value::Null);

    let (_, list) = get(&t, "/api/medical-expenses", &cookie).await;
    assert_eq!(list["year"], 2026, "the latest year with data");
    assert_eq!(list["years"], serde_json::json!([2026, 2025]));
    let months: Vec<&str> = list["months"].as_array().unwrap().iter().map(|m| m["month"].as_str().unwrap()).collect();
    assert_eq!(months, vec!["2026-09", "2026-08"], "newest first; next month's publication not yet");
    let text = list.to_string();
    assert!(!text.contains("a-secret") && !text.contains("1500"), "a hidden line never leaves the server");
    assert!(!text.contains("z-1"), "another household's line");
    assert_eq!(list["months"][0]["totals"], serde_json::json!({"totalCost": 10000, "selfPay": 2000}));
    assert_eq!(list["months"][0]["lines"][0]["institutionName"], "テスト内科");

    let (_, child) = get(&t, "/api/medical-expenses?person=01", &cookie).await;
    assert_eq!(child["months"].as_array().unwrap().len(), 1);
    assert_eq!(child["months"][0]["lines"][0]["personNo"], "01");
    let (_, older) = get(&t, "/api/medical-expenses?year=2025", &cookie).await;
    assert_eq!(older["months"][0]["month"], "2025-06");

    let (_, benefits) = get(&t, "/api/benefits", &cookie).await;
    let b = &benefits["benefits"][0];
    assert_eq!((b["recordId"].as_str(), b["amount"].as_u64(), b["paidOn"].clone(), b["paymentMethodLabel"].as_str()), (Some("b-1"), Some(40_000), Value::Null, Some("口座振込")));

    // On next month's publication day (00:00 Japan time) the October line appears.
    t.clock.advance(Duration::days(30) - Duration::hours(10));
    let cookie = t.login("S1").await;
    let (_, list) = get(&t, "/api/medical-expenses", &cookie).await;
    assert_eq!(list["months"][0]["month"], "2026-10");
    assert_eq!(get(&t, "/api/statements/summary", &cookie).await.1["latestPublication"], "2026-12-25");
}

#[tokio::test]
async fn a_line_imported_after_its_publication_day_is_new_from_its_import() {
    let t = embedded_app().await;
    onboarded(&t, "S1", None).await;
    t.clock.advance(Duration::days(3));
    let cookie = t.login("S1").await;
    import_at(&t, file(Medical, &[medical("late-1", "N", "S1", "00", "202609", 3000, false, "20261125")]), 0).await;
    assert_eq!(get(&t, "/api/statements/summary", &cookie).await.1["latestPublication"], "2026-11-28");
}

#[tokio::test]
async fn a_member_who_left_reads_until_the_end_of_the_access_period() {
    let t = embedded_app().await;
    // Left on 2024-12-01: readable through 2026-11-30 (24 months), refused from 2026-12-01.
    let cookie = onboarded(&t, "S1", NaiveDate::from_ymd_opt(2024, 12, 1)).await;
    household(&t).await;
    let (status, summary) = get(&t, "/api/statements/summary", &cookie).await;
    assert_eq!((status, summary["accessUntil"].as_str()), (200, Some("2026-11-30")));
    // 2026-11-30 23:00 Japan time: the last day.
    t.clock.advance(Duration::days(5) + Duration::hours(13));
    let cookie = t.login("S1").await;
    for path in PATHS {
        assert_eq!(get(&t, path, &cookie).await.0, 200, "{path} on the last day");
    }
    t.clock.advance(Duration::hours(1));
    let cookie = t.login("S1").await;
    for path in PATHS {
        let (status, body) = get(&t, path, &cookie).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("access_expired")), "{path}");
        assert!(body["error"]["message"].as_str().unwrap().contains("ご利用期間が終了"), "{path}");
    }
}

/// Each read is ONE DynamoDB request, the session's signup record included (moto, counted on the
/// wire by an SDK interceptor).
#[tokio::test]
async fn each_read_is_one_dynamodb_request() {
    let counter = kenpo_tests::counter::CountingInterceptor::default();
    let (_, table) = moto_table("reads").await;
    let config = moto_config().await;
    let client = aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&config).interceptor(counter.clone()).build());
    let signups = Arc::new(kenpo_shared::store::dynamodb::DynamoStore::new(client.clone(), table.clone()));
    let statements = Arc::new(kenpo_statement_store::dynamodb::DynamoStatements::new(client, table));
    let t = app_with(signups, statements, test_settings()).await;
    let cookie = onboarded(&t, "S1", None).await;
    household(&t).await;
    for path in PATHS.into_iter().chain(DOCUMENTS) {
        counter.take();
        assert_eq!(t.call("GET", path, None, &cookie).await.status(), 200, "{path}");
        let tally = counter.take();
        assert_eq!((tally.requests(), tally.by_operation.keys().cloned().collect::<Vec<_>>()), (1, vec!["Query".to_owned()]), "{path}");
    }
}

/// A scratch file for poppler and Python, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("kenpo-{}-{}-{name}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)));
        std::fs::write(&path, bytes).unwrap();
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The text a member selects and copies (poppler's pdftotext), runs of spaces as one.
fn pdf_text(pdf: &[u8]) -> String {
    let file = Scratch::new("doc.pdf", pdf);
    let out = std::process::Command::new("pdftotext").args(["-layout", "-enc", "UTF-8"]).arg(&file.0).arg("-").output().expect("pdftotext (poppler-utils; the test command installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split([' ', '\u{3000}']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn downloads_follow_the_screens_access_rules() {
    let t = embedded_app().await;
    for path in DOCUMENTS {
        let r = t.call("GET", path, None, "").await;
        assert_eq!((r.status().as_u16(), json_of(&r)["error"]["code"].as_str()), (401, Some("unauthenticated")), "{path}");
    }
    t.store.put_members(&[member("S2", "06133946", "19810403")]).await.unwrap();
    let not_yet = t.login("S2").await;
    for path in DOCUMENTS {
        let r = t.call("GET", path, None, &not_yet).await;
        assert_eq!((r.status().as_u16(), json_of(&r)["error"]["code"].as_str()), (409, Some("onboarding_required")), "{path}");
    }
    // Left on 2024-12-01: readable through 2026-11-30.
    let cookie = onboarded(&t, "S1", NaiveDate::from_ymd_opt(2024, 12, 1)).await;
    household(&t).await;

    let pdf = t.call("GET", DOCUMENTS[0], None, &cookie).await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let disposition = pdf.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"iryohi-2026.pdf\"; filename*=UTF-8''"), "{disposition}");
    assert_eq!(pdf.headers()["cache-control"], "no-store");
    let text = pdf_text(&body_bytes(&pdf));
    for item in ["医療費のお知らせ（2026年診療分）", "けんぽ見本健康保険組合", "2026年8月", "2026年9月", "3,000円", "2,000円", "合計（全員）", "5,000円"] {
        assert!(text.contains(item), "missing {item:?} in:\n{text}");
    }
    // The hidden line (1,500 yen), next month's line (900), another household's (5,000 in 2026-09
    // would make 7,000 for September) and another year's (700) are not in it.
    for absent in ["1,500円", "900円", "2026年10月", "700円", "7,000円"] {
        assert!(!text.contains(absent), "{absent:?} must not be in:\n{text}");
    }

    let notice = t.call("GET", DOCUMENTS[2], None, &cookie).await;
    assert_eq!(notice.status(), 200);
    let text = pdf_text(&body_bytes(&notice));
    assert!(text.contains("給付金支給決定通知書") && text.contains("40,000円") && text.contains("口座振込"), "{text}");

    // Not a document, or not one this member is shown: 404 as JSON.
    for path in [
        "/api/documents/medical-expenses/2024.pdf",
        "/api/documents/medical-expenses/2024.csv",
        "/api/documents/medical-expenses/2026.txt",
        "/api/documents/medical-expenses/20x6.pdf",
        "/api/documents/medical-expenses/02026.pdf",
        "/api/documents/benefits/b-2.pdf",
        "/api/documents/benefits/z-1.pdf",
        "/api/documents/benefits/b-1.csv",
        "/api/documents/benefits/b%2D1.pdf",
    ] {
        let r = t.call("GET", path, None, &cookie).await;
        assert_eq!((r.status().as_u16(), json_of(&r)["error"]["code"].as_str()), (404, Some("not_found")), "{path}");
    }

    // Opened in a tab of its own (a long press, a bookmark): a refusal is a page, never raw JSON.
    let mut req = kenpo_tests::request("GET", "/api/documents/benefits/b-2.pdf", None, Some(cookie.as_str()));
    req.headers_mut().insert("sec-fetch-mode", "navigate".parse().unwrap());
    let r = t.route(req).await;
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = String::from_utf8(body_bytes(&r).to_vec()).unwrap();
    assert!(page.contains("この書類はダウンロードできません") && !page.contains("\"error\""), "{page}");
    let mut req = kenpo_tests::request("GET", DOCUMENTS[0], None, None);
    req.headers_mut().insert("accept", "text/html,application/xhtml+xml".parse().unwrap());
    let r = t.route(req).await;
    assert_eq!(r.status(), 401);
    assert!(String::from_utf8(body_bytes(&r).to_vec()).unwrap().contains("ログインしてください"));

    // After the access period: 403, as the screens.
    t.clock.advance(Duration::days(6));
    let cookie = t.login("S1").await;
    for path in DOCUMENTS {
        let r = t.call("GET", path, None, &cookie).await;
        assert_eq!((r.status().as_u16(), json_of(&r)["error"]["code"].as_str()), (403, Some("access_expired")), "{path}");
    }
}

/// The CSV read by Python's csv module (as a member's script or a spreadsheet import would): its
/// columns sum to the API's figures for the same year.
#[tokio::test]
async fn the_csv_opens_in_python_and_sums_to_the_api() {
    let t = embedded_app().await;
    let cookie = onboarded(&t, "S1", None).await;
    household(&t).await;
    let csv = t.call("GET", DOCUMENTS[1], None, &cookie).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = body_bytes(&csv);
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM, so Excel reads it as UTF-8");
    let file = Scratch::new("lines.csv", &bytes);
    let script = r#"
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8-sig") as f:
    rows = list(csv.DictReader(f))
print(json.dumps({"rows": len(rows), "header": list(rows[0].keys()),
                  "total": sum(int(r["医療費総額（円）"]) for r in rows),
                  "self": sum(int(r["自己負担相当額（円）"]) for r in rows)}))
"#;
    let out = std::process::Command::new("python3").arg("-c").arg(script).arg(&file.0).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, api) = get(&t, "/api/medical-expenses?year=2026", &cookie).await;
    let months = api["months"].as_array().unwrap();
    let sum = |k: &str| months.iter().map(|m| m["totals"][k].as_u64().unwrap()).sum::<u64>();
    let lines: usize = months.iter().map(|m| m["lines"].as_array().unwrap().len()).sum();
    assert_eq!(read["rows"].as_u64(), Some(lines as u64));
    assert_eq!(read["total"].as_u64(), Some(sum("totalCost")));
    assert_eq!(read["self"].as_u64(), Some(sum("selfPay")));
    assert_eq!(read["header"][0], "診療年月");
}

/// The addressee of a document never comes from a record the member is not shown: without a name
/// in the members file, the insured person's name is taken from shown records only (a benefit of
/// 本人 published next month must not name anyone yet).
#[tokio::test]
async fn the_addressee_comes_only_from_shown_records() {
    let t = embedded_app().await;
    let cookie = onboarded(&t, "S1", None).await;
    import_at(&t, file(Benefits, &[
        benefit("n-future", "N", "S1", "00", 9_000, "20261110", "20261225"),
        benefit("n-now", "N", "S1", "01", 5_000, "20261110", "20261120"),
    ]), 10).await;
    let r = t.call("GET", "/api/documents/benefits/n-now.pdf", None, &cookie).await;
    assert_eq!(r.status(), 200);
    let text = pdf_text(&body_bytes(&r));
    assert!(!text.contains("受診者00"), "the unpublished record's name is not the addressee:\n{text}");
    assert!(text.contains("受診者01"), "{text}");
    assert_eq!(t.call("GET", "/api/documents/benefits/n-future.pdf", None, &cookie).await.status(), 404);
}
