//! What the harness binaries share: Lambda's environment, recorded events, process figures, the
//! CPU limit (a cgroup), moto over TLS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use kenpo_tests::runtime_stub::{Outcome, RuntimeStub};
use serde_json::{Value, json};

pub const ORIGIN: &str = "https://kenpo.example";
/// The portal's origin (of `PORTAL_URL`): the only one `/sso` accepts.
pub const PORTAL_ORIGIN: &str = "https://portal.kenpo.example";
/// Stand-ins for the secrets CloudFormation resolves at deploy time.
pub const SSO_SECRET: &str = "bench-sso-secret-0123456789abcdef0123456789";
pub const SESSION_KEY: &str = "BenchSessionKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";
pub const SENDER_DOMAIN: &str = "bench.kenpo.example";
pub const TERMS_VERSION: &str = "2026-11-01";

/// What Lambda sets in a provided.al2023 environment plus what the template gives every function
/// (the hand-off secret only to portal-entry, the configuration set only to the welcome mail).
pub fn function_env(binary: &str, table: &str, endpoint: &str) -> Vec<(String, String)> {
    let name = format!("kenpo-web-{binary}");
    let mut env: Vec<(String, String)> = kenpo_tests::runtime_stub::lambda_environment(&name, 128, std::path::Path::new("/var/task"), endpoint);
    let template: Vec<(&str, String)> = vec![
        ("TABLE_NAME", table.into()),
        ("INSURER_NUMBERS", "06133946,63133946".into()),
        ("TERMS_VERSION", TERMS_VERSION.into()),
        ("ONBOARDING_CUTOFF", "2022-08-01".into()),
        ("LOCKOUT_ATTEMPTS", "5".into()),
        ("LOCKOUT_SECONDS", "1800".into()),
        ("SESSION_SECONDS", "1800".into()),
        ("SENDER_ADDRESS", format!("webmaster@{SENDER_DOMAIN}")),
        ("MAIL_FROM_DOMAIN", format!("mail.{SENDER_DOMAIN}")),
        ("SOCIETY_NAME", "けんぽ見本健康保険組合".into()),
        ("SOCIETY_PHONE", "03-0000-0000".into()),
        ("ALLOWED_ORIGINS", ORIGIN.into()),
        ("PORTAL_URL", format!("{PORTAL_ORIGIN}/menu")),
        ("RUST_LOG", "info".into()),
        ("SESSION_KEY", SESSION_KEY.into()),
    ];
    env.extend(template.into_iter().map(|(k, v)| (k.to_owned(), v)));
    if binary == "portal-entry" {
        env.push(("SSO_JWT_SECRET".into(), SSO_SECRET.into()));
    }
    if binary == "send-welcome-email" {
        env.push(("SES_CONFIGURATION_SET".into(), "kenpo-web-welcome".into()));
    }
    if binary == "statement-documents" {
        // The font layer's file, where Debian installs it on this machine.
        env.push(("DOCUMENT_FONT".into(), kenpo_documents::font::DEBIAN_FONT_PATH.into()));
    }
    // The CA of moto's TLS certificate (rustls-native-certs reads SSL_CERT_FILE).
    if let Ok(ca) = std::env::var("SSL_CERT_FILE") {
        env.push(("SSL_CERT_FILE".into(), ca));
    }
    env
}

pub use kenpo_tests::runtime_stub::http_event;

pub fn api_event(method: &str, path: &str, cookies: &[String], body: Option<&str>) -> Value {
    let mut headers = vec![("origin", ORIGIN)];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    http_event(method, path, &headers, cookies, body)
}

/// DynamoDB JSON (`{"S": ...}`) of an item as the SDK returns it.
pub fn dynamodb_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(b) => json!({"NULL": b}),
        AttributeValue::M(m) => {
            json!({"M": m.iter().map(|(k, v)| (k.clone(), dynamodb_json(v))).collect::<serde_json::Map<_, _>>()})
        }
        AttributeValue::L(l) => json!({"L": l.iter().map(dynamodb_json).collect::<Vec<_>>()}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        other => panic!("unexpected attribute {other:?}"),
    }
}

pub fn item_json(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), dynamodb_json(v)))
            .collect(),
    )
}

/// The recorded stream event, carrying `new` (and `old`) as the table's images.
pub fn stream_event(new: &Value, old: &Value, member: &str) -> Value {
    let mut e: Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/dynamodb-stream-signup-completed.json"
    ))
    .unwrap();
    let record = &mut e["Records"][0]["dynamodb"];
    record["Keys"]["PK"]["S"] = json!(format!("MEMBER#{member}"));
    record["NewImage"] = new.clone();
    record["OldImage"] = old.clone();
    e
}

/// The event each function on a member's path answers on its cold start without touching the
/// network: a request without a session (401), a bad hand-off token (401 page), the identity
/// screen, a stream record that is not a completion. `None` for the others (the import, the
/// notice run and sender, SES events, the unsubscribe link, which needs its key at init): they are
/// not in the cold runs.
pub fn offline_event(binary: &str) -> Option<Value> {
    Some(match binary {
        "web-pages" => http_event("GET", "/signup/identity", &[], &[], None),
        "portal-entry" => http_event(
            "POST",
            "/sso",
            &[("content-type", "application/x-www-form-urlencoded"), ("origin", PORTAL_ORIGIN)],
            &[],
            Some("token=not.a.jwt"),
        ),
        "send-welcome-email" => {
            // Not COMPLETED: filtered out before any read.
            let image = json!({
                "PK": {"S": "MEMBER#NOBODY"}, "SK": {"S": "SIGNUP"}, "state": {"S": "CONFIRM"}, "version": {"N": "4"},
                "failedAttempts": {"N": "0"}, "updatedAt": {"S": "2026-11-25T01:00:00.000000Z"}
            });
            stream_event(&image, &json!({}), "NOBODY")
        }
        "signup-status" => api_event("GET", "/api/signup", &[], None),
        "verify-identity" => api_event("POST", "/api/signup/identity", &[], Some("{}")),
        "record-consent" => api_event("POST", "/api/signup/consent", &[], Some("{}")),
        "save-preferences" => api_event("PUT", "/api/signup/preferences", &[], Some("{}")),
        "confirm-signup" => api_event("POST", "/api/signup/confirm", &[], Some("{}")),
        "read-statements" => api_event("GET", "/api/statements/summary", &[], None),
        "statement-documents" => api_event("GET", "/api/documents/medical-expenses/2026.pdf", &[], None),
        _ => return None,
    })
}

pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Peak resident set (`VmHWM`) of a running process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time a running process has used, all threads (`/proc/PID/task/*/schedstat`), in ms.
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let s = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total as f64 / 1e6)
}

/// A CPU limit for child processes: a cgroup (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`) that the child
/// joins between fork and exec, so its whole life (dynamic loading, init) is throttled.
pub struct CpuLimit {
    dir: PathBuf,
    procs: std::fs::File,
    pub description: String,
}

impl CpuLimit {
    /// `quota_us` of CPU time per `period_us` (10_000 / 100_000: a tenth of one core).
    pub fn new(name: &str, quota_us: u64, period_us: u64) -> std::io::Result<Self> {
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let (dir, description) = if v2 {
            let dir = PathBuf::from("/sys/fs/cgroup").join(name);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("cpu.max"), format!("{quota_us} {period_us}"))?;
            (
                dir,
                format!("cgroup v2 cpu.max = \"{quota_us} {period_us}\""),
            )
        } else {
            let dir = PathBuf::from("/sys/fs/cgroup/cpu").join(name);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("cpu.cfs_period_us"), period_us.to_string())?;
            std::fs::write(dir.join("cpu.cfs_quota_us"), quota_us.to_string())?;
            (
                dir,
                format!(
                    "cgroup v1 cpu.cfs_quota_us = {quota_us} per cpu.cfs_period_us = {period_us}"
                ),
            )
        };
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))?;
        Ok(Self {
            dir,
            procs,
            description,
        })
    }

    /// Make `cmd`'s process join the group before it executes (writing "0" moves the writer).
    pub fn apply(&self, cmd: &mut Command) {
        use std::os::unix::io::AsRawFd;
        use std::os::unix::process::CommandExt;
        let fd = self.procs.as_raw_fd();
        // SAFETY: only a write(2) of a static buffer on an fd opened before the fork.
        unsafe {
            cmd.pre_exec(move || {
                let file = std::mem::ManuallyDrop::new(
                    <std::fs::File as std::os::unix::io::FromRawFd>::from_raw_fd(fd),
                );
                std::io::Write::write_all(&mut &*file, b"0")
            });
        }
    }
}

impl Drop for CpuLimit {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A listener on 127.0.0.1 that accepts and counts connections: as `AWS_ENDPOINT_URL` it proves
/// that a function makes no network call (every AWS call would land here).
pub struct Sentinel {
    pub addr: String,
    pub connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Sentinel {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("sentinel listener");
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        Sentinel { addr, connections }
    }

    pub fn count(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// One cold start: spawn `bootstrap` against a fresh stub with `event` already queued (so the
/// first `/next` poll takes it at once), wait for the answer.
pub struct ColdStart {
    pub ready_ms: f64,
    pub first_answer_ms: f64,
    pub outcome: Outcome,
    pub peak_rss_kib: Option<u64>,
    pub cpu_ms: Option<f64>,
}

pub fn cold_start(
    bootstrap: &Path,
    env: &[(String, String)],
    event: &Value,
    limit: Option<&CpuLimit>,
    timeout: Duration,
) -> Result<ColdStart, String> {
    let bootstrap = &bootstrap
        .canonicalize()
        .map_err(|e| format!("{}: {e}", bootstrap.display()))?;
    let stub = RuntimeStub::start().map_err(|e| format!("stub: {e}"))?;
    let mut cmd = Command::new(bootstrap);
    cmd.env_clear()
        .current_dir(bootstrap.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd.env("LAMBDA_TASK_ROOT", bootstrap.parent().unwrap());
    if let Some(limit) = limit {
        limit.apply(&mut cmd);
    }
    let id = stub.invoke(event);
    let mut child = stub
        .spawn(&mut cmd)
        .map_err(|e| format!("spawn {}: {e}", bootstrap.display()))?;
    let outcome = stub.wait_outcome(&id, timeout);
    let pid = child.id();
    let (peak_rss_kib, cpu) = (peak_rss_kib(pid), cpu_ms(pid));
    let _ = child.kill();
    let _ = child.wait();
    let outcome = outcome.ok_or_else(|| {
        format!(
            "{}: no answer in {timeout:?} (init error: {:?})",
            bootstrap.display(),
            stub.init_error()
        )
    })?;
    let t = stub.timings();
    Ok(ColdStart {
        ready_ms: ms(t.time_to_ready().unwrap_or_default()),
        first_answer_ms: ms(t.time_to_first_response().unwrap_or_default()),
        outcome,
        peak_rss_kib,
        cpu_ms: cpu,
    })
}

/// A bootstrap kept running against its own stub (for warm invocations and peak RSS).
pub struct Running {
    pub stub: RuntimeStub,
    pub child: Child,
    pub binary: String,
}

impl Running {
    pub fn start(binary: &str, bootstrap: &Path, env: &[(String, String)]) -> Result<Self, String> {
        let bootstrap = &bootstrap
            .canonicalize()
            .map_err(|e| format!("{}: {e}", bootstrap.display()))?;
        let stub = RuntimeStub::start().map_err(|e| format!("stub: {e}"))?;
        stub.set_function_name(&format!("kenpo-web-{binary}"));
        let mut cmd = Command::new(bootstrap);
        cmd.env_clear()
            .current_dir(bootstrap.parent().unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let child = stub
            .spawn(&mut cmd)
            .map_err(|e| format!("spawn {}: {e}", bootstrap.display()))?;
        if !stub.wait_ready(Duration::from_secs(30)) {
            return Err(format!(
                "{binary}: not ready (init error {:?})",
                stub.init_error()
            ));
        }
        Ok(Running {
            stub,
            child,
            binary: binary.to_owned(),
        })
    }

    /// Invoke and return the response JSON and the time from queueing to the answer.
    pub fn invoke(&self, event: &Value) -> Result<(Value, Duration), String> {
        let started = Instant::now();
        let id = self.stub.invoke(event);
        match self.stub.wait_outcome(&id, Duration::from_secs(30)) {
            Some(Outcome::Response(body)) => Ok((
                serde_json::from_slice(&body).unwrap_or(Value::Null),
                started.elapsed(),
            )),
            Some(Outcome::Error(e)) => Err(format!(
                "{}: invocation error {}",
                self.binary,
                e.body_text()
            )),
            None => Err(format!("{}: no answer", self.binary)),
        }
    }

    pub fn peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(self.child.id())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `<dir>/<binary>/bootstrap` for every binary cargo-lambda built there, but the bench's own.
pub fn bootstraps(dir: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let path = e.path().join("bootstrap");
                    (path.exists() && !name.starts_with("bench-")).then_some((name, path))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The SDK config for moto at `endpoint` (SSL_CERT_FILE names moto's CA when it speaks TLS).
pub use kenpo_tests::moto_config_at as moto_config;

/// A fresh table laid out as the template's (with its stream), and SES's sender identity.
pub async fn moto_table(endpoint: &str, prefix: &str) -> (aws_sdk_dynamodb::Client, String) {
    let (client, table) = kenpo_tests::moto_table_at(endpoint, prefix, true).await;
    let _ = aws_sdk_sesv2::Client::new(&moto_config(endpoint).await).create_email_identity().email_identity(SENDER_DOMAIN).send().await;
    (client, table)
}

/// A session cookie (`name=value`) for `member`, as portal-entry would issue it.
pub fn session_cookie(member: &str) -> String {
    let codec =
        kenpo_shared::session::SessionCodec::new(SESSION_KEY.as_bytes(), None, true, 1800, 43200).unwrap();
    let id = kenpo_shared::domain::MemberId::parse(member).unwrap();
    let (_, header) = codec.issue(id, chrono::Utc::now());
    header.split(';').next().unwrap().to_owned()
}

/// A birth date for member number `i` (valid, in the past).
pub fn birth_of(i: usize) -> String {
    let d = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap()
        + chrono::Duration::days((i * 7) as i64 % 25_000);
    d.format("%Y%m%d").to_string()
}

/// ap-northeast-1 list prices (USD), as published on the AWS pricing pages in 2025 (on-demand
/// DynamoDB after the November 2024 reduction): the one table of `kenpo-cost` and `kenpo-notices`.
/// Not re-read from this machine (no Internet here): check them before quoting.
pub mod prices {
    pub const DATE: &str = "2025 (AWS pricing pages, ap-northeast-1; DynamoDB on-demand after the 2024-11-01 reduction)";
    pub const HTTP_API_PER_MILLION: f64 = 1.29;
    pub const LAMBDA_REQUESTS_PER_MILLION: f64 = 0.20;
    /// arm64, per GB-second.
    pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
    pub const DYNAMODB_WRU_PER_MILLION: f64 = 0.7135;
    pub const DYNAMODB_RRU_PER_MILLION: f64 = 0.1425;
    pub const SES_PER_THOUSAND: f64 = 0.10;
    pub const SQS_PER_MILLION: f64 = 0.40;
}
