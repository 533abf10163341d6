//! A Lambda Runtime API stub on 127.0.0.1 (random port), so that a function's real `bootstrap`
//! can be started exactly as Lambda starts it (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`) and fed
//! recorded events.
//!
//! It serves the four calls a custom runtime makes
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>):
//! - `GET  /2018-06-01/runtime/invocation/next`: long poll; answers the next queued event with the
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` headers;
//! - `POST /2018-06-01/runtime/invocation/{id}/response`;
//! - `POST /2018-06-01/runtime/invocation/{id}/error` (`Lambda-Runtime-Function-Error-Type`);
//! - `POST /2018-06-01/runtime/init/error`.
//!
//! It records when things happened, for tests and for benchmarks that reuse it: the spawn of the
//! process ([`RuntimeStub::spawn`] or [`RuntimeStub::mark_spawned`]), its first `/next` poll
//! ("ready": init is over), and its first answer (see [`Timings`]); and per invocation, when it
//! was queued, handed out and answered ([`Invocation`]).
//!
//! One stub serves one runtime process, as one Runtime API serves one execution environment. The
//! server runs on its own thread with its own Tokio runtime, so the methods here are blocking
//! (with timeouts) and can be called from synchronous code or from any async test.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};

/// The API version prefix every runtime call uses.
pub const API_PREFIX: &str = "/2018-06-01/runtime";

/// Account and region in the invoked function ARN handed to the function.
pub const STUB_ACCOUNT: &str = "123456789012";
pub const STUB_REGION: &str = "ap-northeast-1";

/// What the function answered for one invocation.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`: the body as sent.
    Response(Vec<u8>),
    /// `POST /invocation/{id}/error`: the `Lambda-Runtime-Function-Error-Type` header and the body.
    Error(ErrorReport),
}

impl Outcome {
    /// The response body as JSON (panics on an error outcome or a body that is not JSON).
    pub fn json(&self) -> serde_json::Value {
        match self {
            Outcome::Response(body) => serde_json::from_slice(body).unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", String::from_utf8_lossy(body))),
            Outcome::Error(report) => panic!("the function reported an invocation error: {report:?}"),
        }
    }
}

/// An error the runtime reported (`/invocation/{id}/error` or `/init/error`).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorReport {
    pub error_type: Option<String>,
    pub body: Vec<u8>,
}

impl ErrorReport {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One event handed to the function, and what became of it.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub request_id: String,
    pub event: Vec<u8>,
    pub queued_at: Instant,
    /// When a `/next` poll took it.
    pub delivered_at: Option<Instant>,
    /// When its response or error arrived.
    pub finished_at: Option<Instant>,
    pub outcome: Option<Outcome>,
}

/// Process-level timestamps.
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    /// When the stub started listening.
    pub started: Instant,
    /// When the process was spawned ([`RuntimeStub::spawn`] or [`RuntimeStub::mark_spawned`]).
    pub spawned: Option<Instant>,
    /// The first `GET /invocation/next`: the function finished its init and is ready.
    pub ready: Option<Instant>,
    /// The first answer to an invocation (`/response` or `/error`).
    pub first_response: Option<Instant>,
}

impl Timings {
    /// Spawn to the first `/next` poll: the init phase as the function sees it.
    pub fn time_to_ready(&self) -> Option<Duration> {
        Some(self.ready?.saturating_duration_since(self.spawned?))
    }

    /// Spawn to the first answer: init plus the first (cold) invocation, including the time the
    /// event waited in the queue if it was queued late.
    pub fn time_to_first_response(&self) -> Option<Duration> {
        Some(self.first_response?.saturating_duration_since(self.spawned?))
    }
}

struct State {
    timings: Timings,
    polls: usize,
    pending: VecDeque<usize>,
    invocations: Vec<Invocation>,
    init_error: Option<ErrorReport>,
    /// Calls the stub did not understand (method and path), for diagnosis.
    unexpected: Vec<String>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes blocking waiters (the test side) after every change.
    changed: Condvar,
    /// Wakes a pending `/next` poll when an event is queued.
    queued: tokio::sync::Notify,
    function_name: Mutex<String>,
    timeout: Mutex<Duration>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The stub server. Dropping it stops the server (and cancels a pending long poll).
pub struct RuntimeStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RuntimeStub {
    /// Listen on 127.0.0.1 with a port the system picks.
    pub fn start() -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                timings: Timings { started: Instant::now(), spawned: None, ready: None, first_response: None },
                polls: 0,
                pending: VecDeque::new(),
                invocations: Vec::new(),
                init_error: None,
                unexpected: Vec::new(),
            }),
            changed: Condvar::new(),
            queued: tokio::sync::Notify::new(),
            function_name: Mutex::new("kenpo-function".into()),
            timeout: Mutex::new(Duration::from_secs(10)),
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new().name(format!("runtime-stub-{}", addr.port())).spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener with tokio");
                loop {
                    tokio::select! {
                        _ = &mut stop => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let shared = server_shared.clone();
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| serve(shared.clone(), req));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
            // Dropping the runtime here cancels the connections still open (a pending long poll).
        })?;
        Ok(Self { addr, shared, shutdown: Some(shutdown), thread: Some(thread) })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn api_address(&self) -> String {
        self.addr.to_string()
    }

    /// The function name used in the invoked function ARN (default `kenpo-function`).
    pub fn set_function_name(&self, name: &str) {
        *self.shared.function_name.lock().unwrap() = name.to_owned();
    }

    /// The function timeout behind `Lambda-Runtime-Deadline-Ms` (default 10 s, as in the template).
    pub fn set_timeout(&self, timeout: Duration) {
        *self.shared.timeout.lock().unwrap() = timeout;
    }

    /// `arn:aws:lambda:ap-northeast-1:123456789012:function:<name>`.
    pub fn function_arn(&self) -> String {
        function_arn(&self.shared.function_name.lock().unwrap())
    }

    /// Record "now" as the process's spawn time (when the caller spawns it itself).
    pub fn mark_spawned(&self) {
        self.shared.lock().timings.spawned = Some(Instant::now());
        self.shared.changed.notify_all();
    }

    /// Point `cmd` at this stub (`AWS_LAMBDA_RUNTIME_API`), spawn it and record the spawn time.
    pub fn spawn(&self, cmd: &mut Command) -> std::io::Result<Child> {
        cmd.env("AWS_LAMBDA_RUNTIME_API", self.api_address());
        let spawned = Instant::now();
        let child = cmd.spawn()?;
        self.shared.lock().timings.spawned = Some(spawned);
        self.shared.changed.notify_all();
        Ok(child)
    }

    /// Queue an event; returns its request id. The next `/next` poll receives it.
    pub fn invoke(&self, event: &serde_json::Value) -> String {
        self.invoke_bytes(serde_json::to_vec(event).expect("event serialises"))
    }

    /// Queue a raw payload; returns its request id.
    pub fn invoke_bytes(&self, event: Vec<u8>) -> String {
        let request_id = request_id();
        {
            let mut state = self.shared.lock();
            let index = state.invocations.len();
            state.invocations.push(Invocation {
                request_id: request_id.clone(),
                event,
                queued_at: Instant::now(),
                delivered_at: None,
                finished_at: None,
                outcome: None,
            });
            state.pending.push_back(index);
        }
        self.shared.queued.notify_one();
        request_id
    }

    /// Wait for the answer to `request_id`.
    pub fn wait_outcome(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        self.wait_for(timeout, |s| s.invocations.iter().find(|i| i.request_id == request_id).and_then(|i| i.outcome.clone()))
    }

    /// Queue `event` and wait for its answer.
    pub fn invoke_and_wait(&self, event: &serde_json::Value, timeout: Duration) -> Option<Outcome> {
        let id = self.invoke(event);
        self.wait_outcome(&id, timeout)
    }

    /// Wait until the function polls `/next` for the first time (its init is over).
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.timings.ready.map(|_| ())).is_some()
    }

    /// Wait until `/next` has been polled `count` times (e.g. 2: answered once and polling again).
    pub fn wait_for_polls(&self, count: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| (s.polls >= count).then_some(())).is_some()
    }

    /// Wait for an `/init/error` report.
    pub fn wait_init_error(&self, timeout: Duration) -> Option<ErrorReport> {
        self.wait_for(timeout, |s| s.init_error.clone())
    }

    /// Block until `check` finds something, or `timeout` passes.
    fn wait_for<T>(&self, timeout: Duration, mut check: impl FnMut(&State) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(found) = check(&state) {
                return Some(found);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self.shared.changed.wait_timeout(state, left.min(Duration::from_millis(100))).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// The `/init/error` report, if any.
    pub fn init_error(&self) -> Option<ErrorReport> {
        self.shared.lock().init_error.clone()
    }

    /// How many `/next` polls arrived.
    pub fn polls(&self) -> usize {
        self.shared.lock().polls
    }

    pub fn timings(&self) -> Timings {
        self.shared.lock().timings
    }

    pub fn invocations(&self) -> Vec<Invocation> {
        self.shared.lock().invocations.clone()
    }

    /// Calls the stub did not recognise (`METHOD /path`).
    pub fn unexpected_calls(&self) -> Vec<String> {
        self.shared.lock().unexpected.clone()
    }
}

impl Drop for RuntimeStub {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What Lambda sets in a provided.al2023 execution environment for `function_name` (memory in
/// MB, the code's folder), with the execution role's temporary credentials (moto accepts any)
/// and every AWS call sent to `endpoint` on 127.0.0.1. The template's own variables come on top.
pub fn lambda_environment(function_name: &str, memory_mb: u32, task_root: &std::path::Path, endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
        ("AWS_REGION", STUB_REGION.into()),
        ("AWS_DEFAULT_REGION", STUB_REGION.into()),
        ("_HANDLER", "bootstrap".into()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
        ("AWS_ACCESS_KEY_ID", "ASIAMOTOTESTKEY00001".into()),
        ("AWS_SECRET_ACCESS_KEY", "moto-test-secret".into()),
        ("AWS_SESSION_TOKEN", "moto-test-session-token".into()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub fn function_arn(function_name: &str) -> String {
    format!("arn:aws:lambda:{STUB_REGION}:{STUB_ACCOUNT}:function:{function_name}")
}

/// A UUID-shaped request id, as Lambda's.
fn request_id() -> String {
    let r: u128 = rand::random();
    let h = format!("{r:032x}");
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// An X-Ray trace header, as Lambda passes it (not sampled).
fn trace_id() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    format!("Root=1-{secs:08x}-{:024x};Parent={:016x};Sampled=0", rand::random::<u128>() >> 32, rand::random::<u64>())
}

type StubResponse = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: serde_json::Value) -> StubResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    response
}

async fn serve(shared: Arc<Shared>, req: Request<Incoming>) -> Result<StubResponse, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let error_type = req.headers().get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, serde_json::json!({"errorMessage": "unreadable body"}))),
    };
    let Some(route) = path.strip_prefix(API_PREFIX) else {
        return Ok(unexpected(&shared, &method, &path));
    };
    let segments: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let response = match (&method, segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(&shared).await,
        (&Method::POST, ["invocation", id, "response"]) => finish(&shared, id, Outcome::Response(body)),
        (&Method::POST, ["invocation", id, "error"]) => finish(&shared, id, Outcome::Error(ErrorReport { error_type, body })),
        (&Method::POST, ["init", "error"]) => {
            shared.lock().init_error = Some(ErrorReport { error_type, body });
            shared.changed.notify_all();
            reply(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
        }
        _ => unexpected(&shared, &method, &path),
    };
    Ok(response)
}

fn unexpected(shared: &Shared, method: &Method, path: &str) -> StubResponse {
    shared.lock().unexpected.push(format!("{method} {path}"));
    shared.changed.notify_all();
    reply(StatusCode::NOT_FOUND, serde_json::json!({"errorMessage": "unknown Runtime API call", "errorType": "NotFound"}))
}

/// The long poll: hand out the next queued event, waiting as long as it takes.
async fn next(shared: &Shared) -> StubResponse {
    {
        let mut state = shared.lock();
        state.polls += 1;
        if state.timings.ready.is_none() {
            state.timings.ready = Some(Instant::now());
        }
    }
    shared.changed.notify_all();
    loop {
        let notified = shared.queued.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let taken = {
            let mut state = shared.lock();
            state.pending.pop_front().map(|index| {
                let invocation = &mut state.invocations[index];
                invocation.delivered_at = Some(Instant::now());
                (invocation.request_id.clone(), invocation.event.clone())
            })
        };
        if let Some((request_id, event)) = taken {
            shared.changed.notify_all();
            let timeout = *shared.timeout.lock().unwrap();
            let deadline = SystemTime::now().checked_add(timeout).unwrap_or_else(SystemTime::now).duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
            let arn = function_arn(&shared.function_name.lock().unwrap());
            let mut response = Response::new(Full::new(Bytes::from(event)));
            let headers = response.headers_mut();
            let value = |v: &str| hyper::header::HeaderValue::from_str(v).expect("header value");
            headers.insert("content-type", value("application/json"));
            headers.insert("lambda-runtime-aws-request-id", value(&request_id));
            headers.insert("lambda-runtime-deadline-ms", value(&deadline.to_string()));
            headers.insert("lambda-runtime-invoked-function-arn", value(&arn));
            headers.insert("lambda-runtime-trace-id", value(&trace_id()));
            return response;
        }
        notified.await;
    }
}

fn finish(shared: &Shared, request_id: &str, outcome: Outcome) -> StubResponse {
    let now = Instant::now();
    let mut state = shared.lock();
    let Some(index) = state.invocations.iter().position(|i| i.request_id == request_id) else {
        return reply(StatusCode::BAD_REQUEST, serde_json::json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}));
    };
    let invocation = &mut state.invocations[index];
    if invocation.delivered_at.is_none() || invocation.outcome.is_some() {
        return reply(StatusCode::BAD_REQUEST, serde_json::json!({"errorMessage": "Invalid state transition", "errorType": "InvalidStateTransition"}));
    }
    invocation.outcome = Some(outcome);
    invocation.finished_at = Some(now);
    if state.timings.first_response.is_none() {
        state.timings.first_response = Some(now);
    }
    drop(state);
    shared.changed.notify_all();
    reply(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
}

/// The recorded API Gateway HTTP API (payload 2.0) request, re-aimed at `method path`.
pub fn http_event(method: &str, path: &str, headers: &[(&str, &str)], cookies: &[String], body: Option<&str>) -> serde_json::Value {
    let mut e: serde_json::Value = serde_json::from_str(include_str!("../fixtures/apigw-v2-http-request.json")).expect("the recorded fixture is JSON");
    e["routeKey"] = serde_json::json!(format!("{method} {path}"));
    e["rawPath"] = serde_json::json!(path);
    e["requestContext"]["routeKey"] = e["routeKey"].clone();
    e["requestContext"]["http"]["method"] = serde_json::json!(method);
    e["requestContext"]["http"]["path"] = serde_json::json!(path);
    e["requestContext"]["requestId"] = serde_json::json!(format!("{:016x}=", rand::random::<u64>()));
    for (k, v) in headers {
        e["headers"][*k] = serde_json::json!(v);
    }
    if let Some(b) = body {
        e["headers"]["content-length"] = serde_json::json!(b.len().to_string());
        e["body"] = serde_json::json!(b);
    }
    if !cookies.is_empty() {
        e["cookies"] = serde_json::json!(cookies);
    }
    e
}
