//! Load test: `cargo run -p kenpo-tests --bin kenpo-load -- [--store embedded|dynamodb] [--onboardings N] [--concurrency N]`
//!
//! Starts `kenpo dev` (embedded store, or `--aws` against DynamoDB and SES on the moto server in
//! KENPO_MOTO_ENDPOINT), then drives N complete onboardings with C members at a time. Every member
//! uses two tabs (two hand-offs, two sessions) and double-clicks every step (both tabs send it at
//! once); every tenth first types a wrong birth date. Afterwards it checks that every member is
//! exactly `completed`, has exactly one consent record, that every address got exactly one welcome
//! mail, and that no answer was a 5xx. Prints a summary and writes artifacts/load-<store>.json;
//! exits non-zero on any violation.
//!
//! On moto (`--store dynamodb`) the same scenario runs against `scripts/moto-server.py`, which
//! makes moto's transactions atomic and isolated as DynamoDB's are (plain moto 5.2.5 restores a
//! whole-table copy when a transaction is cancelled, erasing other writers' commits made meanwhile).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};
/// The keys of a load run (made up for it: `kenpo dev --aws` refuses the public development keys).
const LOAD_SSO_SECRET: &str = "kenpo-load-run-portal-key-0123456789abcdefghij";
const LOAD_SESSION_KEY: &str = "kenpo-load-run-session-key-0123456789abcdefghijklmnopqrstuv";
use kenpo_shared::handoff::sign_hs256;
use serde_json::{Value, json};

struct Options {
    store: String,
    onboardings: usize,
    concurrency: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options { store: "embedded".into(), onboardings: 2000, concurrency: 50 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--store" if v == "embedded" || v == "dynamodb" => o.store = v.clone(),
            "--onboardings" => o.onboardings = v.parse().map_err(|_| "--onboardings takes a number")?,
            "--concurrency" => o.concurrency = v.parse().map_err(|_| "--concurrency takes a number")?,
            _ => return Err(format!("unknown option {a} {v}")),
        }
    }
    Ok(o)
}

struct Member {
    id: String,
    insurer: &'static str,
    birth: String,
    email: Option<String>,
}

fn member(i: usize) -> Member {
    let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap() + Days::days((i * 7) as i64 % 25_000);
    let email = match i % 5 {
        0 => None,
        1 => Some(format!("load..{i}@docomo.ne.jp")),
        _ => Some(format!("load{i}@example.jp")),
    };
    Member { id: format!("L{i:05}"), insurer: if i % 3 == 0 { "63133946" } else { "06133946" }, birth: birth.format("%Y%m%d").to_string(), email }
}

#[derive(Default)]
struct Tally {
    statuses: Mutex<BTreeMap<u16, usize>>,
    unexpected: Mutex<Vec<String>>,
    requests: AtomicUsize,
}

impl Tally {
    fn count(&self, status: u16) {
        *self.statuses.lock().unwrap().entry(status).or_default() += 1;
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn unexpected(&self, what: String) {
        let mut u = self.unexpected.lock().unwrap();
        if u.len() < 20 {
            u.push(what);
        }
    }
}

struct Client<'a> {
    agent: ureq::Agent,
    base: &'a str,
    tally: &'a Tally,
}

impl Client<'_> {
    fn send(&self, method: &str, path: &str, cookie: Option<&str>, body: Option<&Value>) -> (u16, Value, Option<String>) {
        let mut req = self.agent.request(method, &format!("{}{path}", self.base)).set("origin", self.base);
        if let Some(c) = cookie {
            req = req.set("cookie", c);
        }
        let result = match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                self.tally.count(599);
                self.tally.unexpected(format!("{method} {path}: transport {e}"));
                return (599, Value::Null, None);
            }
        };
        let status = response.status();
        self.tally.count(status);
        let cookie = response.header("set-cookie").map(|c| c.split(';').next().unwrap_or("").to_owned());
        (status, response.into_json().unwrap_or(Value::Null), cookie)
    }

    fn hand_off(&self, id: &str) -> Option<String> {
        let token = sign_hs256(LOAD_SSO_SECRET.as_bytes(), id, chrono::Utc::now().timestamp(), 300);
        let response = match self.agent.post(&format!("{}/sso", self.base)).set("origin", self.base).send_form(&[("token", &token)]) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                self.tally.unexpected(format!("sso: {e}"));
                return None;
            }
        };
        self.tally.count(response.status());
        if response.status() != 303 {
            self.tally.unexpected(format!("sso {id}: {}", response.status()));
        }
        response.header("set-cookie").map(|c| c.split(';').next().unwrap_or("").to_owned())
    }

    /// Both tabs send the same step at once; both must answer 200 with `expected`.
    fn double_click(&self, tabs: [&str; 2], method: &str, path: &str, body: Option<Value>, expected: &str) {
        let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = tabs.iter().map(|tab| s.spawn(|| {
                let (status, v, _) = self.send(method, path, Some(tab), body.as_ref());
                (status, v)
            })).collect();
            handles.into_iter().map(|h| h.join().unwrap_or((599, Value::Null))).collect()
        });
        for (status, v) in answers {
            if status != 200 || v["step"] != expected {
                self.tally.unexpected(format!("{method} {path}: {status} {v}"));
            }
        }
    }
}

fn onboard(client: &Client, m: &Member, i: usize) {
    let (Some(tab_a), Some(tab_b)) = (client.hand_off(&m.id), client.hand_off(&m.id)) else { return };
    if i % 10 == 0 {
        let (status, v, _) = client.send("POST", "/api/signup/identity", Some(&tab_a), Some(&json!({"insurerNumber": m.insurer, "birthDate": "19000101"})));
        if status != 403 || v["error"]["remainingAttempts"] != 4 {
            client.tally.unexpected(format!("wrong birth date: {status} {v}"));
        }
    }
    let tabs = [tab_a.as_str(), tab_b.as_str()];
    client.double_click(tabs, "POST", "/api/signup/identity", Some(json!({"insurerNumber": m.insurer, "birthDate": m.birth})), "consent");
    let consent = json!({"termsVersion": "2026-11-01", "agreed": true});
    client.double_click(tabs, "POST", "/api/signup/consent", Some(consent), "preferences");
    let prefs = json!({"email": m.email, "notifyMedicalExpenses": m.email.is_some()});
    client.double_click(tabs, "PUT", "/api/signup/preferences", Some(prefs), "confirm");
    // The confirmation screen shows the record's version; 実行 sends it back.
    let (_, status, _) = client.send("GET", "/api/signup", Some(&tab_a), None);
    let confirm = json!({"version": status["version"]});
    client.double_click(tabs, "POST", "/api/signup/confirm", Some(confirm), "completed");
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kenpo-load: {e}");
            std::process::exit(2);
        }
    };
    let members: Vec<Member> = (0..o.onboardings).map(member).collect();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let csv: String = std::iter::once("member_id,insurer_number,birth_date\n".to_string())
        .chain(members.iter().map(|m| format!("{},{},{}\n", m.id, m.insurer, m.birth)))
        .collect();
    let csv_path = std::env::temp_dir().join(format!("kenpo-load-{}.csv", std::process::id()));
    std::fs::write(&csv_path, csv).expect("members file");
    let mut env: Vec<(String, String)> = vec![("SSO_JWT_SECRET".into(), LOAD_SSO_SECRET.into()), ("SESSION_KEY".into(), LOAD_SESSION_KEY.into())];
    let mut args: Vec<String> = vec!["--members".into(), csv_path.display().to_string()];
    let mut table = String::new();
    if o.store == "dynamodb" {
        table = runtime.block_on(prepare_moto(&members));
        env.extend([
            ("TABLE_NAME".into(), table.clone()),
            ("AWS_ENDPOINT_URL".into(), kenpo_tests::moto_endpoint()),
            ("AWS_ACCESS_KEY_ID".into(), "moto".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "moto".into()),
            ("AWS_REGION".into(), "ap-northeast-1".into()),
            ("SENDER_ADDRESS".into(), "webmaster@load.kenpo.example".into()),
        ]);
        args = vec!["--aws".into()];
    }
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = kenpo_tests::DevServer::start_with(&args, &env_refs);
    let tally = Tally::default();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..o.concurrency {
            s.spawn(|| {
                let client = Client { agent: ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(30)).build(), base: &server.base, tally: &tally };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(m) = members.get(i) else { break };
                    onboard(&client, m, i);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    // Welcome mails leave off the request path: wait until every address is settled.
    let audit = wait_for_audit(&server, &members);
    let mails = if o.store == "dynamodb" { moto_mails() } else { outbox_mails(&server) };
    let mut violations: Vec<String> = tally.unexpected.lock().unwrap().clone();
    let statuses = tally.statuses.lock().unwrap().clone();
    let server_errors: usize = statuses.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum();
    if server_errors > 0 {
        violations.push(format!("{server_errors} answers were 5xx"));
    }
    let mut completed = 0;
    let mut with_consent = 0;
    let mut addresses = 0;
    let mut one_mail = 0;
    for (m, a) in members.iter().zip(&audit) {
        if a["step"] == "completed" { completed += 1 } else { violations.push(format!("{} is {}", m.id, a["step"])) }
        if a["consents"] == 1 { with_consent += 1 } else { violations.push(format!("{} has {} consents", m.id, a["consents"])) }
        if let Some(email) = &m.email {
            addresses += 1;
            let quoted = kenpo_shared::domain::EmailAddress::from_stored(email).map(|e| e.rfc5322()).unwrap_or_default();
            match mails.get(&quoted).copied().unwrap_or(0) {
                1 => one_mail += 1,
                n => violations.push(format!("{} got {n} welcome mails", m.id)),
            }
        }
    }
    let total_mails: usize = mails.values().sum();
    if total_mails != addresses {
        violations.push(format!("{total_mails} mails for {addresses} addresses"));
    }
    let summary = json!({
        "store": o.store,
        "onboardings": o.onboardings,
        "concurrency": o.concurrency,
        "requests": tally.requests.load(Ordering::Relaxed),
        "statuses": statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "seconds": (elapsed.as_secs_f64() * 10.0).round() / 10.0,
        "onboardingsPerSecond": (o.onboardings as f64 / elapsed.as_secs_f64() * 10.0).round() / 10.0,
        "completed": completed,
        "withOneConsent": completed.min(with_consent),
        "addresses": addresses,
        "addressesWithExactlyOneMail": one_mail,
        "mails": total_mails,
        "serverErrors": server_errors,
        "violations": violations.iter().take(20).collect::<Vec<_>>(),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("load-{}.json", o.store)), serde_json::to_string_pretty(&summary).unwrap_or_default());
    println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    let _ = std::fs::remove_file(&csv_path);
    let _ = table;
    if !violations.is_empty() {
        eprintln!("kenpo-load: {} violations", violations.len());
        std::process::exit(1);
    }
}

fn wait_for_audit(server: &kenpo_tests::DevServer, members: &[Member]) -> Vec<Value> {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut all = Vec::with_capacity(members.len());
        for chunk in members.chunks(200) {
            let ids: Vec<&str> = chunk.iter().map(|m| m.id.as_str()).collect();
            let v: Value = agent.post(&format!("{}/dev/audit", server.base)).send_json(json!(ids)).ok().and_then(|r| r.into_json().ok()).unwrap_or(Value::Null);
            all.extend(v["members"].as_array().cloned().unwrap_or_default());
        }
        let settled = all.len() == members.len() && members.iter().zip(&all).all(|(m, a)| m.email.is_none() || a["welcomeSent"] == true || a["step"] != "completed");
        if settled || Instant::now() > deadline {
            return all;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn outbox_mails(server: &kenpo_tests::DevServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for eml in server.mails() {
        if let Some(to) = eml.lines().find_map(|l| l.strip_prefix("To: ")) {
            *counts.entry(to.trim().trim_start_matches('<').trim_end_matches('>').to_owned()).or_default() += 1;
        }
    }
    counts
}

fn moto_mails() -> HashMap<String, usize> {
    let data: Value = ureq::get(&format!("{}/moto-api/data.json", kenpo_tests::moto_endpoint())).call().ok().and_then(|r| r.into_json().ok()).unwrap_or(Value::Null);
    let mut counts = HashMap::new();
    for m in data["ses"]["Message"].as_array().cloned().unwrap_or_default() {
        // From carries the society's name (RFC 2047) before the address.
        if !m["source"].as_str().is_some_and(|s| s.ends_with("<webmaster@load.kenpo.example>")) {
            continue;
        }
        for to in m["destinations"]["ToAddresses"].as_array().cloned().unwrap_or_default() {
            *counts.entry(to.as_str().unwrap_or("").to_owned()).or_default() += 1;
        }
    }
    counts
}

/// A table with a stream (as the template's), the members loaded, the sender verified in SES.
async fn prepare_moto(members: &[Member]) -> String {
    let (client, table) = kenpo_tests::moto_table_at(&kenpo_tests::moto_endpoint(), "load", true).await;
    let config = kenpo_tests::moto_config().await;
    aws_sdk_sesv2::Client::new(&config).create_email_identity().email_identity("load.kenpo.example").send().await.expect("SES identity");
    let profiles: Vec<_> = members.iter().map(|m| kenpo_tests::member(&m.id, m.insurer, &m.birth)).collect();
    let store = kenpo_shared::store::dynamodb::DynamoStore::new(client, table.clone());
    kenpo_shared::store::SignupStore::put_members(&store, &profiles).await.expect("members loaded");
    table
}
