//! The statements' three reads (`read-statements`): `cargo run --release -p kenpo-bench --bin
//! kenpo-reads -- [--members 50] [--seconds 10]` (scripts/bench.sh `reads`).
//!
//! Each member is a household of five (本人, 配偶者, three children) with 24 months of medical lines
//! (1–2 per person and month, a clinic and its pharmacy) and a dozen benefit decisions, all made
//! up and applied through the real import.
//!
//! 1. In-process, warm, embedded store: the bytes of each answer, and the time per request of each
//!    read against `GET /api/signup` (the cheapest authenticated API call) in the same run.
//! 2. Through `kenpo dev` (KENPO_BIN, the release build), 50 members at once, each logged in and
//!    onboarded, then reading the three answers in a loop for `--seconds`: requests per second and
//!    p50/p99 latency per read.

use std::time::{Duration, Instant};

use chrono::{Datelike, Months, NaiveDate};
use kenpo_shared::config::DEV_SSO_JWT_SECRET;
use kenpo_shared::handoff::sign_hs256;
use kenpo_statements::types::StatementKind::{Benefits, Medical};
use kenpo_tests::statements::{benefit, file, medical};
use kenpo_tests::{DevServer, embedded_app, json_of};

const PATHS: [&str; 3] = ["/api/statements/summary", "/api/medical-expenses", "/api/benefits"];

fn member_id(i: usize) -> String {
    format!("R{i:05}")
}

/// The household of `member`: 5 people × 24 months of lines, 12 benefits, as two CSV files.
fn household_files(members: usize, today: NaiveDate) -> (Vec<u8>, Vec<u8>) {
    let first = today.with_day(1).unwrap_or(today);
    let mut lines = Vec::new();
    let mut benefits = Vec::new();
    for i in 0..members {
        let m = member_id(i);
        for back in 0..24u32 {
            let month = first.checked_sub_months(Months::new(back + 1)).unwrap_or(first);
            let publish = month.checked_add_months(Months::new(2)).unwrap_or(month).with_day(25).unwrap_or(month);
            let publish = publish.min(today).format("%Y%m%d").to_string();
            for person in 0..5 {
                let p = format!("{person:02}");
                let ym = month.format("%Y%m").to_string();
                lines.push(medical(&format!("{m}-{ym}-{p}-a"), "N", &m, &p, &ym, 1000 + 10 * person, false, &publish));
                if (back + person as u32).is_multiple_of(2) {
                    lines.push(medical(&format!("{m}-{ym}-{p}-b"), "N", &m, &p, &ym, 400, false, &publish));
                }
            }
            if back.is_multiple_of(2) {
                let decided = month.format("%Y%m10").to_string();
                benefits.push(benefit(&format!("{m}-{back}-k"), "N", &m, "00", 12_000, &decided, &publish));
            }
        }
    }
    (file(Medical, &lines), file(Benefits, &benefits))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn in_process(medical_csv: &[u8], benefits_csv: &[u8]) {
    use kenpo_shared::clock::Clock;
    let t = embedded_app().await;
    let today = t.clock.today_in_japan();
    let members = format!("member_id,insurer_number,birth_date\n{},06133946,19810403\n", member_id(0));
    t.store.put_members(&kenpo_shared::members_csv::parse(members.as_bytes(), today, &kenpo_shared::config::Settings::development().insurer_numbers).unwrap()).await.unwrap();
    let past = t.clock.now() - chrono::Duration::days(800);
    for bytes in [medical_csv, benefits_csv] {
        let imported = kenpo_statement_store::import::import_file(t.statements.as_ref(), bytes, past, &kenpo_statement_store::import::Quiet).await.unwrap();
        assert!(!imported.report.is_refused(), "{:?}", imported.report.errors);
    }
    let cookie = t.login(&member_id(0)).await;
    t.onboard(&cookie, "06133946", "1981-04-03", None).await;
    println!("answer bytes, a household of five with 24 months (JSON, uncompressed):");
    for path in PATHS.iter().chain(["/api/medical-expenses?year=2025"].iter()) {
        let r = t.call("GET", path, None, &cookie).await;
        let body = json_of(&r);
        let lines: usize = body["months"].as_array().map_or(0, |m| m.iter().map(|m| m["lines"].as_array().map_or(0, Vec::len)).sum());
        println!("  {path:<40} {:>7} bytes  ({} lines, {} benefits)", body.to_string().len(), lines, body["benefits"].as_array().map_or(0, Vec::len));
    }
    const N: usize = 3000;
    println!("warm, in-process, embedded store ({N} requests each, interleaved; ratio to GET /api/signup):");
    let mut times: Vec<(&str, Vec<Duration>)> = std::iter::once("/api/signup").chain(PATHS).map(|p| (p, Vec::with_capacity(N))).collect();
    for _ in 0..N {
        for (path, samples) in times.iter_mut() {
            let started = Instant::now();
            let r = t.call("GET", path, None, &cookie).await;
            samples.push(started.elapsed());
            assert_eq!(r.status(), 200, "{path}");
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        percentile(v, 0.5)
    };
    let base = median(&mut times[0].1);
    for (path, samples) in times.iter_mut() {
        let m = median(samples);
        println!("  {path:<40} median {:>8.1} µs  p99 {:>8.1} µs  {:>5.1}×", m.as_secs_f64() * 1e6, percentile(samples, 0.99).as_secs_f64() * 1e6, m.as_secs_f64() / base.as_secs_f64());
    }
    documents(&t, &cookie).await;
}

/// The downloads (statement-documents) of the same household: a full year (2025: 12 months × five
/// people) as PDF and CSV, and one benefit's PDF; bytes (and base64, as API Gateway sends them),
/// warm time per document against the JSON list of the same year in the same run, the font's load
/// (the function's init) and the process's peak RSS.
async fn documents(t: &kenpo_tests::TestApp, cookie: &str) {
    const N: usize = 100;
    let hwm_before = peak_rss_kib();
    let paths = ["/api/medical-expenses?year=2025", "/api/documents/medical-expenses/2025.pdf", "/api/documents/medical-expenses/2025.csv", "/api/documents/benefits/R00000-0-k.pdf"];
    println!("documents, a household of five, 2025 = 12 months ({N} requests each, interleaved; ratio to the JSON list of the year):");
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(N); paths.len()];
    let mut sizes = vec![0usize; paths.len()];
    for _ in 0..N {
        for (i, path) in paths.iter().enumerate() {
            let started = Instant::now();
            let r = t.call("GET", path, None, cookie).await;
            times[i].push(started.elapsed());
            assert_eq!(r.status(), 200, "{path}");
            sizes[i] = kenpo_tests::body_bytes(&r).len();
        }
    }
    let medians: Vec<Duration> = times.iter_mut().map(|v| {
        v.sort();
        percentile(v, 0.5)
    }).collect();
    for (i, path) in paths.iter().enumerate() {
        println!(
            "  {path:<45} {:>8} bytes ({:>8} base64)  median {:>8.2} ms  p99 {:>8.2} ms  {:>6.1}×",
            sizes[i],
            sizes[i].div_ceil(3) * 4,
            medians[i].as_secs_f64() * 1e3,
            percentile(&times[i], 0.99).as_secs_f64() * 1e3,
            medians[i].as_secs_f64() / medians[0].as_secs_f64()
        );
    }
    let mut loads: Vec<Duration> = (0..20).map(|_| {
        let started = Instant::now();
        let font = kenpo::document_font().expect("the documents' font (fonts-ipaexfont-gothic)");
        let elapsed = started.elapsed();
        drop(font);
        elapsed
    }).collect();
    loads.sort();
    println!("  font load (the function's init: read {} and parse): median {:.2} ms", kenpo_documents::font::DEBIAN_FONT_PATH, percentile(&loads, 0.5).as_secs_f64() * 1e3);
    let hwm = peak_rss_kib();
    println!("  peak RSS of this process: {hwm_before} KiB before the documents, {} KiB after ({} KiB more: the documents being made, and the font read again for its timing; the app already held one copy)", hwm, hwm.saturating_sub(hwm_before));
}

/// VmHWM of this process (Linux), KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())).unwrap_or(0)
}

fn through_dev_server(members: usize, seconds: u64, medical_csv: &[u8], benefits_csv: &[u8]) {
    let dir = std::env::temp_dir().join(format!("kenpo-reads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let members_csv: String = std::iter::once("member_id,insurer_number,birth_date\n".to_owned()).chain((0..members).map(|i| format!("{},06133946,19810403\n", member_id(i)))).collect();
    std::fs::write(dir.join("members.csv"), members_csv).expect("members file");
    std::fs::write(dir.join("medical.csv"), medical_csv).expect("medical file");
    std::fs::write(dir.join("benefits.csv"), benefits_csv).expect("benefits file");
    let arg = |name: &str| dir.join(name).display().to_string();
    let args = ["--members".into(), arg("members.csv"), "--statements".into(), arg("medical.csv"), "--statements".into(), arg("benefits.csv")];
    let server = DevServer::start_with(&args, &[]);
    let base = server.base.clone();
    let results: Vec<Vec<(usize, Duration)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..members)
            .map(|i| {
                let base = base.clone();
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new().redirects(0).build();
                    let token = sign_hs256(DEV_SSO_JWT_SECRET.as_bytes(), &member_id(i), chrono::Utc::now().timestamp(), 300);
                    let r = match agent.post(&format!("{base}/sso")).set("origin", &base).send_form(&[("token", &token)]) {
                        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
                        Err(e) => panic!("hand-off: {e}"),
                    };
                    let cookie = r.header("set-cookie").and_then(|c| c.split(';').next()).unwrap_or("").to_owned();
                    for (method, path, body) in [
                        ("POST", "/api/signup/identity", r#"{"insurerNumber":"06133946","birthDate":"1981-04-03"}"#),
                        ("POST", "/api/signup/consent", r#"{"termsVersion":"2026-11-01","agreed":true}"#),
                        ("PUT", "/api/signup/preferences", r#"{"email":null,"notifyMedicalExpenses":false}"#),
                        // Version 3: the three steps before each wrote once.
                        ("POST", "/api/signup/confirm", r#"{"version":3}"#),
                    ] {
                        let req = agent.request(method, &format!("{base}{path}")).set("origin", &base).set("cookie", &cookie);
                        let r = if body.is_empty() { req.call() } else { req.set("content-type", "application/json").send_string(body) };
                        assert!(r.is_ok(), "{path}: {:?}", r.err());
                    }
                    let until = Instant::now() + Duration::from_secs(seconds);
                    let mut samples = Vec::new();
                    let mut k = 0;
                    while Instant::now() < until {
                        let which = k % PATHS.len();
                        k += 1;
                        let started = Instant::now();
                        let r = agent.get(&format!("{base}{}", PATHS[which])).set("cookie", &cookie).call();
                        let elapsed = started.elapsed();
                        match r {
                            Ok(r) => {
                                let _ = r.into_string();
                                samples.push((which, elapsed));
                            }
                            Err(e) => panic!("{}: {e}", PATHS[which]),
                        }
                    }
                    samples
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("member thread")).collect()
    });
    drop(server);
    let all: Vec<(usize, Duration)> = results.into_iter().flatten().collect();
    println!("through kenpo dev ({members} members at once, {seconds} s, every answer 200): {:.0} requests/s", all.len() as f64 / seconds as f64);
    for (which, path) in PATHS.iter().enumerate() {
        let mut d: Vec<Duration> = all.iter().filter(|(w, _)| *w == which).map(|(_, d)| *d).collect();
        d.sort();
        println!("  {path:<40} {:>6} requests  p50 {:>6.2} ms  p99 {:>6.2} ms", d.len(), percentile(&d, 0.5).as_secs_f64() * 1e3, percentile(&d, 0.99).as_secs_f64() * 1e3);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: u64| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (members, seconds) = (value("--members", 50) as usize, value("--seconds", 10));
    let today = chrono::Utc::now().with_timezone(&kenpo_shared::clock::japan()).date_naive();
    let (medical_csv, benefits_csv) = household_files(members, today);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (one_medical, one_benefits) = household_files(1, kenpo_tests::start_time().with_timezone(&kenpo_shared::clock::japan()).date_naive());
    runtime.block_on(in_process(&one_medical, &one_benefits));
    through_dev_server(members, seconds, &medical_csv, &benefits_csv);
}
