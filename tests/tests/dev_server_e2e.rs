//! `kenpo dev` started as a process, the whole flow over HTTP: development portal, hand-off,
//! identity, consent, preferences, confirm, and the welcome mail in the outbox.

use kenpo_tests::*;
use serde_json::json;

fn token_for(server: &DevServer, member: &str) -> String {
    let page = server.agent().get(&format!("{}/dev/portal", server.base)).call().unwrap().into_string().unwrap();
    let form = page.split("<form").find(|f| f.contains(&format!("{member} としてログイン"))).expect("member on the portal");
    form.split("name=\"token\" value=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_owned()
}

/// POST /sso as the portal's form does: (status, location, cookie).
fn hand_off(server: &DevServer, token: &str) -> (u16, String, String) {
    let r = match server.agent().post(&format!("{}/sso", server.base)).set("origin", &server.base).send_form(&[("token", token)]) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let cookie = r.header("set-cookie").map(|c| c.split(';').next().unwrap_or("").to_owned()).unwrap_or_default();
    (r.status(), r.header("location").unwrap_or("").to_owned(), cookie)
}

fn api(server: &DevServer, method: &str, path: &str, cookie: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let req = server.agent().request(method, &format!("{}{path}", server.base)).set("cookie", cookie).set("origin", &server.base);
    let result = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let r = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    (r.status(), r.into_json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn the_whole_onboarding_over_http_ends_with_one_welcome_mail() {
    let server = DevServer::start(&[]);
    let token = token_for(&server, "D0001");
    let (status, location, cookie) = hand_off(&server, &token);
    assert_eq!((status, location.as_str()), (303, "/signup/identity"));
    assert_eq!(hand_off(&server, &token).0, 401, "the same token again is refused");

    let (s, body) = api(&server, "POST", "/api/signup/identity", &cookie, Some(json!({"insurerNumber": "06133946", "birthDate": "19810404"})));
    assert_eq!((s, body["error"]["remainingAttempts"].as_u64()), (403, Some(4)));
    let steps = [
        ("POST", "/api/signup/identity", Some(json!({"insurerNumber": "０６１３３９４６", "birthDate": "1981-04-03"})), "consent"),
        ("POST", "/api/signup/consent", Some(json!({"termsVersion": "2026-11-01", "agreed": true})), "preferences"),
        ("PUT", "/api/signup/preferences", Some(json!({"email": "taro..yamada@docomo.ne.jp", "notifyMedicalExpenses": true})), "confirm"),
    ];
    for (method, path, body, expected) in steps {
        let (s, reply) = api(&server, method, path, &cookie, body);
        assert_eq!((s, reply["step"].as_str().unwrap_or("")), (200, expected), "{path}: {reply}");
    }
    // 実行 with the version the confirmation screen showed, twice (a double click).
    let (_, status) = api(&server, "GET", "/api/signup", &cookie, None);
    let version = status["version"].as_u64().expect("the status carries the version");
    for _ in 0..2 {
        let (s, reply) = api(&server, "POST", "/api/signup/confirm", &cookie, Some(json!({"version": version})));
        assert_eq!((s, reply["step"].as_str().unwrap_or("")), (200, "completed"), "{reply}");
    }
    // The welcome mail is sent off the request path: wait for it.
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = server.mails();
        if !mails.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mails_after = server.mails();
    assert_eq!(mails_after.len(), 1, "exactly one welcome mail");
    assert!(eml_subject(&mails[0]).contains("ようこそ"), "{}", eml_subject(&mails[0]));
    assert!(mails[0].contains("\"taro..yamada\"@docomo.ne.jp"));
    assert!(!mails[0].contains("19810403"));
    // Back later from the portal: straight to the top page.
    let (_, location, _) = hand_off(&server, &token_for(&server, "D0001"));
    assert_eq!(location, "/menu");
}

#[test]
fn seeded_members_land_where_their_history_says() {
    let server = DevServer::start(&[]);
    assert_eq!(hand_off(&server, &token_for(&server, "D0005")).1, "/menu", "completed after the cutoff");
    assert_eq!(hand_off(&server, &token_for(&server, "D0004")).1, "/signup/identity", "completed before the cutoff");
}

#[test]
fn routes_outside_the_table_and_foreign_origins_are_refused() {
    let server = DevServer::start(&[]);
    let (_, _, cookie) = hand_off(&server, &token_for(&server, "D0002"));
    // A mistyped page: the pages' 404 page, not raw JSON; the API's own 404 stays JSON.
    match server.agent().get(&format!("{}/nowhere", server.base)).call() {
        Err(ureq::Error::Status(404, r)) => {
            assert!(r.content_type() == "text/html");
            assert!(r.into_string().unwrap().contains("ページが見つかりません"));
        }
        other => panic!("{other:?}"),
    }
    match server.agent().get(&format!("{}/api/nowhere", server.base)).call() {
        Err(ureq::Error::Status(404, r)) => assert_eq!(r.content_type(), "application/json"),
        other => panic!("{other:?}"),
    }
    // A declared body over the limit is refused at once, without waiting for it.
    let host = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut stream, format!("PUT /api/signup/preferences HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3000000\r\n\r\n").as_bytes()).unwrap();
    let mut answer = [0u8; 12];
    std::io::Read::read_exact(&mut stream, &mut answer).expect("an answer before the body");
    assert_eq!(&answer, b"HTTP/1.1 413");
    let r = server.agent().delete(&format!("{}/api/signup", server.base)).call();
    match r {
        Err(ureq::Error::Status(405, resp)) => assert_eq!(resp.header("allow"), Some("GET, HEAD")),
        other => panic!("{other:?}"),
    }
    let r = server.agent().post(&format!("{}/api/signup/identity", server.base)).set("cookie", &cookie).set("origin", "https://evil.example").send_json(json!({"insurerNumber": "06133946", "birthDate": "19790822"}));
    match r {
        Err(ureq::Error::Status(403, resp)) => assert_eq!(resp.into_json::<serde_json::Value>().unwrap()["error"]["code"], "cross_origin"),
        other => panic!("{other:?}"),
    }
}

/// The raw answer's status line to a GET of `path` with `Host: host`.
fn status_line_with_host(server: &DevServer, path: &str, host: &str) -> String {
    let mut stream = std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut stream, format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    answer.lines().next().unwrap_or("").to_owned()
}

/// DNS rebinding (issue 11): a page whose name resolves to 127.0.0.1 sends its own name in Host.
#[test]
fn only_the_dev_servers_own_host_names_are_served() {
    let server = DevServer::start(&[]);
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    for foreign in [format!("rebind.attacker.example:{port}"), "127.0.0.1".to_owned(), format!("127.0.0.1.nip.io:{port}"), String::new()] {
        for path in ["/dev/audit", "/dev/portal", "/api/signup"] {
            assert_eq!(status_line_with_host(&server, path, &foreign), "HTTP/1.1 421 Misdirected Request", "{foreign} {path}");
        }
    }
    for own in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("LOCALHOST:{port}")] {
        assert_eq!(status_line_with_host(&server, "/dev/portal", &own), "HTTP/1.1 200 OK", "{own}");
    }
    // Ours and another (two Host fields), or another named in the request line: refused too.
    assert_eq!(status_line_with_host(&server, "/dev/portal", &format!("127.0.0.1:{port}\r\nHost: rebind.attacker.example")), "HTTP/1.1 421 Misdirected Request");
    assert_eq!(status_line_with_host(&server, "http://rebind.attacker.example/dev/portal", &format!("127.0.0.1:{port}")), "HTTP/1.1 421 Misdirected Request");
    // Another site's page cannot upload statements (nor make the notices of a day).
    let r = server.agent().post(&format!("{}/dev/import", server.base)).set("origin", "http://evil.example").set("content-type", "text/csv").send_string("record_id\r\n");
    assert!(matches!(r, Err(ureq::Error::Status(403, _))), "{r:?}");
    // A page address asked with another method: a page (405), never raw JSON.
    match server.agent().get(&format!("{}/logout", server.base)).call() {
        Err(ureq::Error::Status(405, r)) => assert_eq!(r.content_type(), "text/html"),
        other => panic!("{other:?}"),
    }
}

/// `--aws` reaches a real table and SES: never with the public development keys.
#[test]
fn dev_with_aws_refuses_the_development_keys() {
    for env in [vec![], vec![("SESSION_KEY", kenpo_shared::config::DEV_SESSION_KEY), ("SSO_JWT_SECRET", kenpo_shared::config::DEV_SSO_JWT_SECRET)]] {
        let mut cmd = std::process::Command::new(kenpo_bin());
        cmd.args(["dev", "--aws", "--port", "0"]).env_remove("SESSION_KEY").env_remove("SSO_JWT_SECRET").env_remove("SSO_JWT_PUBLIC_KEY");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run kenpo dev --aws");
        assert!(!out.status.success(), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("SESSION_KEY") && err.contains("SSO_JWT_SECRET") && err.contains("開発用ではない鍵"), "{err}");
    }
}

/// Issue 13: every page outside the screens has the site's header and whom to ask: an unknown
/// member's hand-off (not in the members file yet), a bad token, a mistyped address; the screens'
/// footer too. And the members of `--members FILE` are on /dev/portal, their birth dates not.
#[test]
fn error_pages_have_the_header_and_the_contact_and_loaded_members_are_on_the_portal() {
    let file = std::env::temp_dir().join(format!("dev-members-{}.csv", std::process::id()));
    std::fs::write(&file, "member_id,insurer_number,birth_date,category\r\nF0001,06133946,19770707,一般\r\n").unwrap();
    let server = DevServer::start_with(&["--members".into(), file.display().to_string()], &[("SOCIETY_PHONE", "03-1111-2222"), ("SOCIETY_NAME", "見本&健康保険組合")]);
    let portal = server.agent().get(&format!("{}/dev/portal", server.base)).call().unwrap().into_string().unwrap();
    assert!(portal.contains("F0001 としてログイン") && !portal.contains("19770707"), "a loaded member, without the birth date");
    let contact = |html: &str| html.contains(r#"<header class="site">"#) && html.contains("03-1111-2222") && html.contains("見本&amp;健康保険組合");
    // A member the table does not hold: a signed token for an id not in the members file.
    let token = kenpo_shared::handoff::sign_hs256(kenpo_shared::config::DEV_SSO_JWT_SECRET.as_bytes(), "NOBODY01", chrono::Utc::now().timestamp(), 300);
    let r = match server.agent().post(&format!("{}/sso", server.base)).set("origin", &server.base).send_form(&[("token", &token)]) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.status(), 401);
    let page = r.into_string().unwrap();
    assert!(page.contains("ご利用の登録が見つかりません") && contact(&page), "{page}");
    let (status, _, _) = hand_off(&server, "not.a.token");
    assert_eq!(status, 401);
    for path in ["/no-such-page", "/assets/nope.css"] {
        let r = match server.agent().get(&format!("{}{path}", server.base)).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(r.status(), 404, "{path}");
        assert!(contact(&r.into_string().unwrap()), "{path}: the header and the contact");
    }
    let screen = server.agent().get(&format!("{}/signup/identity", server.base)).call().unwrap().into_string().unwrap();
    assert!(screen.contains(r#"<footer class="site">"#) && contact(&screen), "the screens' footer");
    // A check-digit typo names the society's numbers (the identity check's 422).
    let token = token_for(&server, "D0001");
    let (_, _, cookie) = hand_off(&server, &token);
    let (status, body) = api(&server, "POST", "/api/signup/identity", &cookie, Some(json!({"insurerNumber": "06133947", "birthDate": "19810403"})));
    assert_eq!(status, 422);
    let message = body["error"]["fields"]["insurerNumber"].as_str().unwrap_or_default();
    assert!(message.contains("06133946") && message.contains("63133946"), "{body}");
}

/// Issue 10: `kenpo dev --statements FILE` applies the file after the demo data (D0005's household
/// sees the new line, published yesterday), and `POST /dev/import` refuses a wrong file with 422
/// and the report (line and column, never the value), writing nothing of it.
#[test]
fn statements_given_at_start_appear_and_a_wrong_upload_is_422_with_its_report() {
    use kenpo_statements::types::StatementKind::Medical;
    use kenpo_tests::statements::{file, medical};
    let yesterday = (chrono::Utc::now().with_timezone(&kenpo_shared::clock::japan()) - chrono::Duration::days(1)).format("%Y%m%d").to_string();
    let path = std::env::temp_dir().join(format!("dev-statements-{:08x}.csv", rand::random::<u32>()));
    std::fs::write(&path, file(Medical, &[medical("e2e-start-1", "N", "D0005", "00", "202609", 4321, false, &yesterday)])).unwrap();
    let server = DevServer::start_with(&["--statements".into(), path.display().to_string()], &[]);
    let (_, _, cookie) = hand_off(&server, &token_for(&server, "D0005"));
    let (status, list) = api(&server, "GET", "/api/medical-expenses?year=2026", &cookie, None);
    assert_eq!(status, 200);
    assert!(list.to_string().contains("e2e-start-1"), "the line given at start is shown");

    let wrong = file(Medical, &[medical("e2e-bad-1", "N", "D0005", "00", "202613", 8765, false, &yesterday)]);
    let r = match server.agent().post(&format!("{}/dev/import", server.base)).set("origin", &server.base).set("content-type", "text/csv").send_bytes(&wrong) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.status(), 422);
    let report: serde_json::Value = r.into_json().unwrap();
    assert_eq!(report["kind"], "medical");
    assert_eq!(report["applied"], 0);
    let error = &report["errors"][0];
    assert_eq!((error["line"].as_u64(), error["column"].as_str()), (Some(2), Some("service_month")), "{report}");
    assert!(!report.to_string().contains("202613"), "never the value: {report}");
    let (_, list) = api(&server, "GET", "/api/medical-expenses?year=2026", &cookie, None);
    assert!(!list.to_string().contains("e2e-bad-1"));
    let _ = std::fs::remove_file(&path);
}
