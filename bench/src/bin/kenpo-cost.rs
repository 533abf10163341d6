//! What one complete onboarding costs: DynamoDB requests and consumed capacity (counted by an
//! interceptor on the real SDK client, against moto), Lambda invocations and API Gateway requests
//! (the screens' own sequence, app.js), SES sends; and the price of 1,000 onboardings at
//! ap-northeast-1 list prices.
//!
//! ```text
//! kenpo-cost --endpoint http://127.0.0.1:PORT [--onboardings 10] [--ms-per-dynamodb-request 5] [--memory-mb 128]
//! ```
//!
//! The handlers run in-process (the same `handle` functions the bootstraps run) on an `App` whose
//! store is `DynamoStore` over the counting client; the welcome mail's function gets the
//! completion as the stream delivers it (`handle_stream`), the mailer records instead of sending.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use kenpo_bench::common::*;
use kenpo_bench::counter::{CountingInterceptor, Tally};
use kenpo_shared::App;
use kenpo_shared::clock::SystemClock;
use kenpo_shared::store::dynamodb::DynamoStore;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

use kenpo_bench::common::prices::{
    DATE as PRICES_DATE, DYNAMODB_RRU_PER_MILLION, DYNAMODB_WRU_PER_MILLION, HTTP_API_PER_MILLION, LAMBDA_ARM_GB_SECOND,
    LAMBDA_REQUESTS_PER_MILLION, SES_PER_THOUSAND,
};

fn request(method: &str, path: &str, body: Option<&str>, cookie: Option<&str>) -> Request {
    let mut b = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://kenpo.example{path}"))
        .header("origin", ORIGIN);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    b.body(body.map_or(Body::Empty, |t| Body::Text(t.to_owned())))
        .unwrap()
}

fn main() {
    let mut opts = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        opts.insert(k.trim_start_matches("--").to_owned(), v);
    }
    let endpoint = opts
        .get("endpoint")
        .cloned()
        .expect("--endpoint http(s)://127.0.0.1:PORT (moto)");
    let n: usize = opts.get("onboardings").map_or(10, |v| v.parse().unwrap());
    // Billed time per invocation: 1 ms of our code plus this much per DynamoDB request (in-region latency).
    let ms_per_request: f64 = opts
        .get("ms-per-dynamodb-request")
        .map_or(5.0, |v| v.parse().unwrap());
    let memory_mb: f64 = opts.get("memory-mb").map_or(128.0, |v| v.parse().unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(&endpoint, n, ms_per_request, memory_mb));
}

async fn run(endpoint: &str, n: usize, ddb_ms: f64, memory_mb: f64) {
    let (_, table) = moto_table(endpoint, "bench-cost").await;
    let counter = CountingInterceptor::default();
    let config = moto_config(endpoint).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let store = Arc::new(DynamoStore::new(client.clone(), table.clone()));
    let mut settings = kenpo_tests::test_settings();
    settings.allowed_origins = vec![ORIGIN.into()];
    let mailer = Arc::new(kenpo_tests::RecordingMailer::default());
    let handoff = kenpo_shared::handoff::HandoffVerifier::from_settings(&settings).unwrap();
    let app = App::new(settings, store.clone(), Arc::new(SystemClock)).unwrap();
    let members: Vec<(String, String)> =
        (0..n).map(|i| (format!("C{i:05}"), birth_of(i))).collect();
    let profiles: Vec<_> = members
        .iter()
        .map(|(id, b)| kenpo_tests::member(id, "06133946", b))
        .collect();
    kenpo_shared::store::SignupStore::put_members(&*store, &profiles)
        .await
        .unwrap();
    counter.take();

    // Per step: (function, API request?) and the DynamoDB tally, summed over the onboardings.
    let mut steps: Vec<(String, &'static str, bool, Tally)> = Vec::new();
    let mut add = |i: usize, label: &str, function: &'static str, api: bool, tally: Tally| {
        if i == 0 {
            steps.push((label.to_owned(), function, api, Tally::default()));
        }
        let slot = steps.iter_mut().find(|s| s.0 == label).unwrap();
        for (op, t) in tally.by_operation {
            let s = slot.3.by_operation.entry(op).or_default();
            s.requests += t.requests;
            s.reported += t.reported;
            s.read_units += t.read_units;
            s.write_units += t.write_units;
            s.capacity_units += t.capacity_units;
            s.errors += t.errors;
            s.rule_read_units += t.rule_read_units;
            s.rule_write_units += t.rule_write_units;
        }
    };
    let with_email = n - n.div_ceil(5);
    for (i, (id, birth)) in members.iter().enumerate() {
        let secret = app.settings.sso_jwt_secret.clone();
        let token =
            kenpo_shared::handoff::sign_hs256(&secret, id, chrono::Utc::now().timestamp(), 120);
        let sso = kenpo_tests::sso_request(&token);
        let r = portal_entry::handle(&app, &handoff, sso).await;
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        add(i, "POST /sso", "portal-entry", true, counter.take());
        let c = Some(cookie.as_str());
        let page = |path: &str| request("GET", path, None, c);
        let status = || request("GET", "/api/signup", None, c);
        let email = if i % 5 == 0 {
            None
        } else {
            Some(format!("cost{i}@example.jp"))
        };
        // The screens in order, each page's GET /api/signup, the four steps (app.js); the two
        // assets (max-age=300) are fetched once per onboarding.
        assert_eq!(
            web_pages::handle(&app.settings, page("/signup/identity"))
                .await
                .status(),
            200
        );
        add(i, "GET /signup/identity", "web-pages", true, counter.take());
        for asset in assets(&app).await {
            assert_eq!(
                web_pages::handle(&app.settings, page(&asset)).await.status(),
                200,
                "{asset}"
            );
        }
        add(
            i,
            "GET /assets/* (2, cached after)",
            "web-pages",
            true,
            counter.take(),
        );
        assert_eq!(signup_status::handle(&app, status()).await.status(), 200);
        add(
            i,
            "GET /api/signup (identity)",
            "signup-status",
            true,
            counter.take(),
        );
        let body = json!({"insurerNumber": "06133946", "birthDate": birth}).to_string();
        assert_eq!(
            verify_identity::handle(
                &app,
                request("POST", "/api/signup/identity", Some(&body), c)
            )
            .await
            .status(),
            200
        );
        add(
            i,
            "POST /api/signup/identity",
            "verify-identity",
            true,
            counter.take(),
        );
        let body = json!({"termsVersion": TERMS_VERSION, "agreed": true}).to_string();
        assert_eq!(
            record_consent::handle(&app, request("POST", "/api/signup/consent", Some(&body), c))
                .await
                .status(),
            200
        );
        add(
            i,
            "POST /api/signup/consent",
            "record-consent",
            true,
            counter.take(),
        );
        for (screen, label) in [
            ("/signup/preferences", "preferences"),
            ("/signup/confirm", "confirm"),
            ("/signup/complete", "complete"),
            ("/menu", "menu"),
        ] {
            assert_eq!(web_pages::handle(&app.settings, page(screen)).await.status(), 200);
            add(
                i,
                &format!("GET {screen}"),
                "web-pages",
                true,
                counter.take(),
            );
            let shown = signup_status::handle(&app, status()).await;
            assert_eq!(shown.status(), 200);
            // The record's version as the screen shows it (実行 sends it back).
            let version = kenpo_tests::json_of(&shown)["version"].as_u64().unwrap_or(0);
            add(
                i,
                &format!("GET /api/signup ({label})"),
                "signup-status",
                true,
                counter.take(),
            );
            if label == "preferences" {
                let body =
                    json!({"email": email, "notifyMedicalExpenses": email.is_some()}).to_string();
                assert_eq!(
                    save_preferences::handle(
                        &app,
                        request("PUT", "/api/signup/preferences", Some(&body), c)
                    )
                    .await
                    .status(),
                    200
                );
                add(
                    i,
                    "PUT /api/signup/preferences",
                    "save-preferences",
                    true,
                    counter.take(),
                );
            }
            if label == "confirm" {
                assert_eq!(
                    confirm_signup::handle(&app, request("POST", "/api/signup/confirm", Some(&format!(r#"{{"version":{version}}}"#)), c))
                        .await
                        .status(),
                    200
                );
                add(
                    i,
                    "POST /api/signup/confirm",
                    "confirm-signup",
                    true,
                    counter.take(),
                );
                // The completion's stream record (read without counting), as the event source
                // mapping delivers it; the filter passes only COMPLETED signups.
                let item = kenpo_tests::signup_item(&client, &table, id).await;
                counter.take();
                let event: Event =
                    serde_json::from_value(stream_event(&item_json(&item), &json!({}), id))
                        .expect("stream event");
                let r = send_welcome_email::handle_stream(&app, mailer.as_ref(), event).await;
                assert!(r.batch_item_failures.is_empty());
                add(
                    i,
                    "stream: welcome mail",
                    "send-welcome-email",
                    false,
                    counter.take(),
                );
            }
        }
    }
    assert_eq!(mailer.count(), with_email, "one welcome mail per address");

    // Per onboarding.
    let per = |x: f64| x / n as f64;
    println!(
        "One complete onboarding (average of {n}; {with_email} gave an address), DynamoDB on moto at {endpoint}:"
    );
    println!(
        "{:<36} {:<20} {:>8}  {:<44} {:>7} {:>7} {:>7}",
        "request", "function", "DDB req", "operations", "RCU", "WCU", "moto"
    );
    let (mut total_moto, mut billed_ms) = (0.0, 0.0);
    let (mut total_req, mut total_rcu, mut total_wcu, mut api_requests, mut invocations) =
        (0.0, 0.0, 0.0, 0usize, 0usize);
    let mut rows = Vec::new();
    let mut by_operation: BTreeMap<String, f64> = BTreeMap::new();
    let mut moto_reported = true;
    for (label, function, api, t) in &steps {
        let calls = if label.starts_with("GET /assets") {
            2
        } else {
            1
        };
        invocations += calls;
        if *api {
            api_requests += calls;
        }
        let req = per(t.requests() as f64);
        let ops: Vec<String> = t
            .by_operation
            .iter()
            .map(|(op, o)| format!("{op}×{}", per(o.requests as f64)))
            .collect();
        let (mut rcu, mut wcu, mut moto_units) = (0.0, 0.0, 0.0);
        for (op, o) in &t.by_operation {
            *by_operation.entry(op.clone()).or_default() += per(o.requests as f64);
            if o.reported < o.requests - o.errors.min(o.requests) {
                moto_reported = false;
            }
            rcu += per(o.rule_read_units);
            wcu += per(o.rule_write_units);
            // What moto put in ConsumedCapacity (it reports CapacityUnits only, 0.5 per read).
            moto_units += per(o.read_units + o.write_units + o.capacity_units);
        }
        total_req += req;
        total_rcu += rcu;
        total_wcu += wcu;
        total_moto += moto_units;
        billed_ms += (1.0 + ddb_ms * req)
            * if label.starts_with("GET /assets") {
                2.0
            } else {
                1.0
            };
        println!(
            "{label:<36} {function:<20} {req:>8.1}  {:<44} {rcu:>7.2} {wcu:>7.2} {moto_units:>7.2}",
            ops.join(" ")
        );
        rows.push(json!({"request": label, "function": function, "apiGateway": api, "dynamodbRequests": req, "operations": ops, "rcu": rcu, "wcu": wcu, "motoReportedUnits": moto_units}));
    }
    let mails = with_email as f64 / n as f64;
    println!(
        "{:<36} {:<20} {total_req:>8.1}  {:<44} {total_rcu:>7.2} {total_wcu:>7.2} {total_moto:>7.2}",
        "total", "", ""
    );
    println!(
        "RCU/WCU by DynamoDB's rules from each request (item sizes, consistency, transactions x2); 'moto' = what moto reported in ConsumedCapacity"
    );
    println!("DynamoDB requests by operation: {by_operation:?}");
    if !moto_reported {
        println!(
            "note: moto did not report ConsumedCapacity for every request (TransactWriteItems)"
        );
    }
    println!(
        "API Gateway requests: {api_requests}; Lambda invocations: {invocations}; SES sends: {mails:.1}"
    );

    let gb_s = billed_ms / 1000.0 * memory_mb / 1024.0;
    let cost = |count: f64, per_million: f64| count * 1000.0 * per_million / 1e6;
    let api = cost(api_requests as f64, HTTP_API_PER_MILLION);
    let lambda_req = cost(invocations as f64, LAMBDA_REQUESTS_PER_MILLION);
    let lambda_dur = gb_s * 1000.0 * LAMBDA_ARM_GB_SECOND;
    let ddb = cost(total_wcu, DYNAMODB_WRU_PER_MILLION) + cost(total_rcu, DYNAMODB_RRU_PER_MILLION);
    let ses = mails * SES_PER_THOUSAND;
    let total = api + lambda_req + lambda_dur + ddb + ses;
    println!(
        "Cost per 1,000 onboardings, ap-northeast-1 list prices ({PRICES_DATE}), no free tier:"
    );
    println!(
        "  API Gateway HTTP API  {api_requests} × 1000 × ${HTTP_API_PER_MILLION}/M            = ${api:.4}"
    );
    println!(
        "  Lambda requests       {invocations} × 1000 × ${LAMBDA_REQUESTS_PER_MILLION}/M            = ${lambda_req:.4}"
    );
    println!(
        "  Lambda duration       {billed_ms:.0} ms per onboarding (1 ms + {ddb_ms} ms per DynamoDB request) × {memory_mb} MB, arm64 = ${lambda_dur:.4}"
    );
    println!(
        "  DynamoDB on demand    {total_wcu:.1} WRU, {total_rcu:.1} RRU per onboarding = ${ddb:.4}"
    );
    println!(
        "  SES                   {mails:.1} mails × 1000 × ${SES_PER_THOUSAND}/1000     = ${ses:.4}"
    );
    println!(
        "  total                                                     = ${total:.4}  (≈ ${:.2} per 1,000,000)",
        total * 1000.0
    );
    let out = json!({
        "onboardings": n, "withEmail": with_email, "dynamodbRequests": total_req, "rcu": total_rcu, "wcu": total_wcu,
        "byOperation": by_operation, "apiRequests": api_requests, "lambdaInvocations": invocations, "sesSends": mails,
        "steps": rows, "pricesDate": PRICES_DATE,
        "costPer1000": {"apiGateway": api, "lambdaRequests": lambda_req, "lambdaDuration": lambda_dur, "dynamodb": ddb, "ses": ses, "total": total},
        "assumptions": {"billedMsPerOnboarding": billed_ms, "msPerDynamodbRequest": ddb_ms, "memoryMb": memory_mb, "architecture": "arm64"},
    });
    let _ = std::fs::create_dir_all("artifacts");
    std::fs::write(
        "artifacts/bench-cost.json",
        serde_json::to_string_pretty(&out).unwrap(),
    )
    .unwrap();
    let _ = Value::Null;
}

/// The asset URLs the identity screen links (`/assets/...`).
async fn assets(app: &App) -> Vec<String> {
    let r = web_pages::handle(&app.settings, request("GET", "/signup/identity", None, None)).await;
    let html = match r.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let mut found = Vec::new();
    for part in html.split('"') {
        if part.starts_with("/assets/") && !found.contains(&part.to_owned()) {
            found.push(part.to_owned());
        }
    }
    assert!(!found.is_empty(), "the identity screen links its assets");
    found
}
