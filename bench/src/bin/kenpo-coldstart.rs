//! Cold starts and memory of the built bootstraps, through the Lambda Runtime API stub.
//!
//! ```text
//! kenpo-coldstart cold --dir target/lambda --baseline target/lambda/bench-baseline/bootstrap [--runs 11]
//! kenpo-coldstart db   --dir target/lambda --baseline ... --prewarm target/lambda/bench-prewarm/bootstrap
//!                      --endpoint https://127.0.0.1:PORT [--runs 7] [--quota 10000 --period 100000]
//! kenpo-coldstart flow --dir target/lambda --endpoint https://127.0.0.1:PORT [--onboardings 100]
//! ```
//!
//! - `cold`: each function's spawn -> ready (first `/next` poll) and spawn -> first answer, for an
//!   event it answers without the network; alternating with the baseline (`bench-baseline`), runs
//!   after one discarded warm-up round; medians and ratios. `AWS_ENDPOINT_URL` is a listener that
//!   counts connections: any network call during init or the first answer shows there.
//! - `db`: spawn -> first answer of `POST /api/signup/identity` (reads the member and the signup,
//!   writes the signup) against moto (over TLS when the endpoint is https; SSL_CERT_FILE names its
//!   CA), at full CPU and inside a CPU-limited cgroup; verify-identity as built, and with the
//!   connection opened during init (`bench-prewarm`); the baseline beside them.
//! - `flow`: every function started once, whole onboardings driven through them (each request to
//!   the function API Gateway would route it to, the welcome mail from a stream event); warm time
//!   per invocation and peak RSS (VmHWM) per function.
//!
//! Prints a table and writes JSON to `--json FILE` (default artifacts/bench-<mode>.json).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kenpo_bench::common::*;
use kenpo_tests::runtime_stub::Outcome;
use serde_json::{Value, json};

struct Args {
    mode: String,
    opts: BTreeMap<String, String>,
}

impl Args {
    fn parse() -> Args {
        let mut it = std::env::args().skip(1);
        let mode = it.next().unwrap_or_else(|| "cold".into());
        let mut opts = BTreeMap::new();
        while let Some(k) = it.next() {
            let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
            opts.insert(k.trim_start_matches("--").to_owned(), v);
        }
        Args { mode, opts }
    }

    fn get(&self, k: &str, default: &str) -> String {
        self.opts
            .get(k)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    fn num(&self, k: &str, default: u64) -> u64 {
        self.opts
            .get(k)
            .map(|v| v.parse().unwrap_or_else(|_| panic!("--{k} takes a number")))
            .unwrap_or(default)
    }
}

fn status_of(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Response(body) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            match v.get("statusCode") {
                Some(s) => s.to_string(),
                None => "event answered".into(),
            }
        }
        Outcome::Error(e) => format!("error {}", e.error_type.clone().unwrap_or_default()),
    }
}

fn write_json(args: &Args, name: &str, v: &Value) {
    let path = PathBuf::from(args.get("json", &format!("artifacts/bench-{name}.json")));
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap())
        .expect("write the JSON results");
    eprintln!("kenpo-coldstart: wrote {}", path.display());
}

fn main() {
    let args = Args::parse();
    match args.mode.as_str() {
        "cold" => cold(&args),
        "db" => db(&args),
        "flow" => flow(&args),
        other => {
            eprintln!("kenpo-coldstart: unknown mode {other} (cold, db, flow)");
            std::process::exit(2);
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn cold(args: &Args) {
    let dir = PathBuf::from(args.get("dir", "target/lambda"));
    let baseline = PathBuf::from(args.get("baseline", "target/lambda/bench-baseline/bootstrap"));
    let runs = args.num("runs", 11) as usize;
    let mut fns = bootstraps(&dir);
    assert!(!fns.is_empty(), "no bootstraps in {}", dir.display());
    // The by-the-book function (default features, a client built in main), when built.
    // The functions on a member's path (the others have no offline event: see `offline_event`).
    fns.retain(|name, _| offline_event(name).is_some());
    let bythebook = dir.join("bench-bythebook/bootstrap");
    if bythebook.exists() {
        fns.insert("bench-bythebook".into(), bythebook);
    }
    let sentinel = Sentinel::start();
    let base_env = function_env("bench-baseline", "kenpo-bench", &sentinel.addr);
    let base_event = http_event("GET", "/", &[], &[], None);
    let timeout = Duration::from_secs(20);
    // name -> (baseline samples, function samples); samples: (ready, first answer, rss, cpu)
    type Samples = Vec<(f64, f64, u64, f64)>;
    let mut results: BTreeMap<String, (Samples, Samples, String, usize)> = BTreeMap::new();
    for run in 0..=runs {
        for (name, path) in &fns {
            let env = function_env(name, "kenpo-bench", &sentinel.addr);
            let before = sentinel.count();
            let b = cold_start(&baseline, &base_env, &base_event, None, timeout)
                .unwrap_or_else(|e| panic!("{e}"));
            let event = offline_event(name).unwrap_or_else(|| base_event.clone());
            let f = cold_start(path, &env, &event, None, timeout)
                .unwrap_or_else(|e| panic!("{e}"));
            let connections = sentinel.count() - before;
            if run == 0 {
                continue; // warm-up: page cache, first exec
            }
            let entry = results.entry(name.clone()).or_default();
            entry.0.push((
                b.ready_ms,
                b.first_answer_ms,
                b.peak_rss_kib.unwrap_or(0),
                b.cpu_ms.unwrap_or(f64::NAN),
            ));
            entry.1.push((
                f.ready_ms,
                f.first_answer_ms,
                f.peak_rss_kib.unwrap_or(0),
                f.cpu_ms.unwrap_or(f64::NAN),
            ));
            entry.2 = status_of(&f.outcome);
            entry.3 += connections;
        }
    }
    println!(
        "Cold start against the Runtime API stub: {runs} runs per function, each right after a baseline run; medians (ms)."
    );
    println!(
        "{:<20} {:>9} {:>9} {:>7} {:>10} {:>10} {:>7} {:>8} {:>8} {:>7} {:>14} {:>9} {:>6} {:>5}",
        "function",
        "init",
        "base",
        "ratio",
        "1st answer",
        "base",
        "ratio",
        "CPU ms",
        "base",
        "ratio",
        "answer",
        "RSS KiB",
        "conns",
        "goal"
    );
    let mut rows = Vec::new();
    for (name, (b, f, status, conns)) in &results {
        let col = |s: &Samples, i: usize| {
            median(
                &s.iter()
                    .map(|x| [x.0, x.1, x.2 as f64, x.3][i])
                    .collect::<Vec<_>>(),
            )
        };
        let (fi, bi, fa, ba) = (col(f, 0), col(b, 0), col(f, 1), col(b, 1));
        let (ri, ra) = (fi / bi, fa / ba);
        let (fc, bc) = (col(f, 3), col(b, 3));
        let ok = ri <= 1.5 && ra <= 2.0 && *conns == 0;
        println!(
            "{name:<20} {fi:>9.2} {bi:>9.2} {ri:>6.2}x {fa:>10.2} {ba:>10.2} {ra:>6.2}x {fc:>8.2} {bc:>8.2} {:>6.2}x {status:>14} {:>9.0} {conns:>6} {:>5}",
            fc / bc,
            col(f, 2),
            if ok { "met" } else { "NOT" }
        );
        rows.push(json!({
            "function": name, "initMs": fi, "baselineInitMs": bi, "initRatio": ri,
            "firstAnswerMs": fa, "baselineFirstAnswerMs": ba, "firstAnswerRatio": ra,
            "firstAnswerStatus": status, "rssAfterFirstAnswerKiB": col(f, 2), "baselineRssKiB": col(b, 2),
            "cpuMsToFirstAnswer": col(f, 3), "baselineCpuMs": col(b, 3),
            "networkConnections": conns, "goalMet": ok,
            "samples": f.iter().map(|x| json!([x.0, x.1])).collect::<Vec<_>>(),
            "baselineSamples": b.iter().map(|x| json!([x.0, x.1])).collect::<Vec<_>>(),
        }));
    }
    println!(
        "goal: init <= 1.5x baseline, first answer <= 2x baseline, no network connection (conns = connections to AWS_ENDPOINT_URL)"
    );
    println!(
        "CPU ms: CPU time the process used up to its first answer (all threads; robust when the machine is shared)"
    );
    write_json(args, "cold", &json!({"runs": runs, "functions": rows}));
}

// ---------------------------------------------------------------------------------------------

fn db(args: &Args) {
    let dir = PathBuf::from(args.get("dir", "target/lambda"));
    let baseline = PathBuf::from(args.get("baseline", "target/lambda/bench-baseline/bootstrap"));
    let prewarm = PathBuf::from(args.get("prewarm", "target/lambda/bench-prewarm/bootstrap"));
    let endpoint = args.get("endpoint", "");
    assert!(
        endpoint.starts_with("http"),
        "--endpoint https://127.0.0.1:PORT (moto)"
    );
    let runs = args.num("runs", 7) as usize;
    let quota = args.num("quota", 10_000);
    let period = args.num("period", 100_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (client, table) = runtime.block_on(moto_table(&endpoint, "bench-db"));
    // Enough fresh members for every cold start: each run verifies a member still at `identity`.
    let total = (runs + 1) * 2 * 3;
    let members: Vec<(String, String)> = (0..total)
        .map(|i| (format!("B{i:05}"), birth_of(i)))
        .collect();
    runtime.block_on(async {
        let profiles: Vec<_> = members
            .iter()
            .map(|(id, birth)| kenpo_tests::member(id, "06133946", birth))
            .collect();
        let store = kenpo_shared::store::dynamodb::DynamoStore::new(client.clone(), table.clone());
        kenpo_shared::store::SignupStore::put_members(&store, &profiles)
            .await
            .expect("members loaded");
    });
    let limit = CpuLimit::new("kenpo-bench", quota, period)
        .unwrap_or_else(|e| panic!("cgroup: {e} (run as root with a cpu controller)"));
    eprintln!("kenpo-coldstart: CPU limit: {}", limit.description);
    let variants: Vec<(&str, PathBuf)> = vec![
        ("bench-baseline", baseline),
        ("verify-identity", dir.join("verify-identity/bootstrap")),
        ("verify-identity + connection at init", prewarm),
    ];

    let mut next_member = 0;
    let mut rows = Vec::new();
    println!(
        "First request after a cold start: POST /api/signup/identity (Query of profile and signup, PutItem signup) on moto at {endpoint}; medians of {runs} runs (ms)."
    );
    println!(
        "{:<38} {:<12} {:>9} {:>12} {:>12} {:>9}",
        "variant", "CPU", "init", "1st answer", "CPU used", "RSS KiB"
    );
    for limited in [false, true] {
        let mut samples: BTreeMap<&str, Vec<(f64, f64, f64, f64)>> = BTreeMap::new();
        for run in 0..=runs {
            for (name, path) in &variants {
                let env = function_env("verify-identity", &table, &endpoint);
                let event = if *name == "bench-baseline" {
                    http_event("GET", "/", &[], &[], None)
                } else {
                    let (id, birth) = &members[next_member];
                    next_member += 1;
                    api_event(
                        "POST",
                        "/api/signup/identity",
                        &[session_cookie(id)],
                        Some(&json!({"insurerNumber": "06133946", "birthDate": birth}).to_string()),
                    )
                };
                if limited {
                    // Let the group's quota refill (2 periods), so no run starts in the debt of the previous one.
                    std::thread::sleep(Duration::from_micros(2 * period));
                }
                let c = cold_start(
                    path,
                    &env,
                    &event,
                    limited.then_some(&limit),
                    Duration::from_secs(60),
                )
                .unwrap_or_else(|e| panic!("{e}"));
                let status = status_of(&c.outcome);
                if *name != "bench-baseline" {
                    assert_eq!(status, "200", "{name}: {:?}", c.outcome);
                }
                if run > 0 {
                    samples.entry(name).or_default().push((
                        c.ready_ms,
                        c.first_answer_ms,
                        c.cpu_ms.unwrap_or(f64::NAN),
                        c.peak_rss_kib.unwrap_or(0) as f64,
                    ));
                }
            }
        }
        let cpu = if limited {
            format!("{}%", quota * 100 / period)
        } else {
            "full".into()
        };
        for (name, _) in &variants {
            let s = &samples[name];
            let col = |i: usize| {
                median(
                    &s.iter()
                        .map(|x| [x.0, x.1, x.2, x.3][i])
                        .collect::<Vec<_>>(),
                )
            };
            println!(
                "{name:<38} {cpu:<12} {:>9.1} {:>12.1} {:>12.1} {:>9.0}",
                col(0),
                col(1),
                col(2),
                col(3)
            );
            rows.push(json!({
                "variant": name, "cpu": cpu, "initMs": col(0), "firstAnswerMs": col(1), "cpuMsToFirstAnswer": col(2), "rssKiB": col(3),
                "samples": s.iter().map(|x| json!([x.0, x.1])).collect::<Vec<_>>(),
            }));
        }
    }
    println!("CPU limit: {}", limit.description);
    write_json(
        args,
        "db",
        &json!({"endpoint": endpoint, "runs": runs, "cpuLimit": limit.description, "rows": rows}),
    );
}

// ---------------------------------------------------------------------------------------------

fn flow(args: &Args) {
    let dir = PathBuf::from(args.get("dir", "target/lambda"));
    let endpoint = args.get("endpoint", "");
    assert!(
        endpoint.starts_with("http"),
        "--endpoint https://127.0.0.1:PORT (moto)"
    );
    let n = args.num("onboardings", 100) as usize;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (client, table) = runtime.block_on(moto_table(&endpoint, "bench-flow"));
    let members: Vec<(String, String)> =
        (0..n).map(|i| (format!("F{i:05}"), birth_of(i))).collect();
    runtime.block_on(async {
        let profiles: Vec<_> = members
            .iter()
            .map(|(id, birth)| {
                kenpo_tests::member(
                    id,
                    if id.ends_with('3') {
                        "63133946"
                    } else {
                        "06133946"
                    },
                    birth,
                )
            })
            .collect();
        let store = kenpo_shared::store::dynamodb::DynamoStore::new(client.clone(), table.clone());
        kenpo_shared::store::SignupStore::put_members(&store, &profiles)
            .await
            .expect("members loaded");
    });
    let names = [
        "portal-entry",
        "web-pages",
        "signup-status",
        "verify-identity",
        "record-consent",
        "save-preferences",
        "confirm-signup",
        "send-welcome-email",
    ];
    let fns = bootstraps(&dir);
    let running: BTreeMap<&str, Running> = names
        .iter()
        .map(|name| {
            let path = fns
                .get(*name)
                .unwrap_or_else(|| panic!("{name} not built in {}", dir.display()));
            (
                *name,
                Running::start(name, path, &function_env(name, &table, &endpoint))
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect();
    let mut times: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut call = |name: &'static str, event: Value, expect: u64| -> Value {
        let (r, d) = running[name]
            .invoke(&event)
            .unwrap_or_else(|e| panic!("{e}"));
        if expect > 0 {
            assert_eq!(r["statusCode"], json!(expect), "{name}: {r}");
        }
        times.entry(name).or_default().push(ms(d));
        r
    };
    let started = std::time::Instant::now();
    for (i, (id, birth)) in members.iter().enumerate() {
        let insurer = if id.ends_with('3') {
            "63133946"
        } else {
            "06133946"
        };
        let token = kenpo_shared::handoff::sign_hs256(
            SSO_SECRET.as_bytes(),
            id,
            chrono::Utc::now().timestamp(),
            120,
        );
        let r = call(
            "portal-entry",
            http_event(
                "POST",
                "/sso",
                &[("content-type", "application/x-www-form-urlencoded"), ("origin", PORTAL_ORIGIN)],
                &[],
                Some(&format!("token={token}")),
            ),
            303,
        );
        let cookie = r["cookies"][0]
            .as_str()
            .expect("a session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let cookies = [cookie];
        let page = |path: &str| http_event("GET", path, &[], &cookies, None);
        call("web-pages", page("/signup/identity"), 200);
        call(
            "signup-status",
            api_event("GET", "/api/signup", &cookies, None),
            200,
        );
        call(
            "verify-identity",
            api_event(
                "POST",
                "/api/signup/identity",
                &cookies,
                Some(&json!({"insurerNumber": insurer, "birthDate": birth}).to_string()),
            ),
            200,
        );
        call(
            "record-consent",
            api_event(
                "POST",
                "/api/signup/consent",
                &cookies,
                Some(&json!({"termsVersion": TERMS_VERSION, "agreed": true}).to_string()),
            ),
            200,
        );
        call("web-pages", page("/signup/preferences"), 200);
        call(
            "signup-status",
            api_event("GET", "/api/signup", &cookies, None),
            200,
        );
        let email = if i % 5 == 0 {
            Value::Null
        } else {
            json!(format!("flow{i}@example.jp"))
        };
        call(
            "save-preferences",
            api_event(
                "PUT",
                "/api/signup/preferences",
                &cookies,
                Some(
                    &json!({"email": email, "notifyMedicalExpenses": !email.is_null()}).to_string(),
                ),
            ),
            200,
        );
        call("web-pages", page("/signup/confirm"), 200);
        call(
            "signup-status",
            api_event("GET", "/api/signup", &cookies, None),
            200,
        );
        call(
            "confirm-signup",
            // Version 3: the identity check, the consent and the preferences each wrote once.
            api_event("POST", "/api/signup/confirm", &cookies, Some(r#"{"version":3}"#)),
            200,
        );
        for path in ["/signup/complete", "/menu"] {
            call("web-pages", page(path), 200);
            call(
                "signup-status",
                api_event("GET", "/api/signup", &cookies, None),
                200,
            );
        }
        // The stream record of the completion, as the event source mapping delivers it.
        let item = runtime.block_on(kenpo_tests::signup_item(&client, &table, id));
        let r = call(
            "send-welcome-email",
            stream_event(&item_json(&item), &json!({}), id),
            0,
        );
        assert_eq!(r, json!({"batchItemFailures": []}), "welcome mail for {id}");
    }
    let elapsed = started.elapsed();
    println!(
        "Whole onboardings through the built bootstraps (Runtime API stub, DynamoDB and SES v2 on moto at {endpoint}): {n} onboardings in {:.1} s",
        elapsed.as_secs_f64()
    );
    println!(
        "{:<20} {:>12} {:>12} {:>12} {:>14} {:>6}",
        "function", "invocations", "median ms", "p95 ms", "peak RSS MiB", "goal"
    );
    let mut rows = Vec::new();
    for name in names {
        let t = &times[name];
        let mut sorted = t.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p95 = sorted[((sorted.len() as f64 * 0.95) as usize).min(sorted.len() - 1)];
        let rss = running[name].peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
        println!(
            "{name:<20} {:>12} {:>12.2} {:>12.2} {:>14.1} {:>6}",
            t.len(),
            median(t),
            p95,
            rss,
            if rss <= 32.0 { "met" } else { "NOT" }
        );
        rows.push(json!({"function": name, "invocations": t.len(), "medianMs": median(t), "p95Ms": p95, "peakRssMiB": rss}));
    }
    println!("goal: peak RSS <= 32 MiB per function");
    write_json(
        args,
        "flow",
        &json!({"endpoint": endpoint, "onboardings": n, "seconds": elapsed.as_secs_f64(), "functions": rows}),
    );
}
