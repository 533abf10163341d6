//! The built `bootstrap` of every function, started as Lambda starts it: an empty environment but
//! for what Lambda sets and what the SAM template gives that function, `AWS_LAMBDA_RUNTIME_API`
//! pointing at the Runtime API stub (`kenpo_tests::runtime_stub`), and recorded API Gateway v2 and
//! DynamoDB stream events. A missing setting, a client that cannot be built or a wrong event type
//! fails here, not in the deployment.
//!
//! Which binaries: `KENPO_BOOTSTRAP_DIR` names a folder holding `<binary>/bootstrap` (cargo-lambda's
//! `target/lambda`) or `<LogicalId>/bootstrap` (`.aws-sam/build` after `sam build`); unset, the
//! dev-profile binaries beside this test (`target/debug/<binary>`, built by `cargo build --bins`).
//! The store and the mailer are DynamoDB and SES v2 on moto (`KENPO_MOTO_ENDPOINT`, 127.0.0.1).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use kenpo_shared::store::SignupStore;
use kenpo_shared::store::dynamodb::DynamoStore;
use kenpo_tests::runtime_stub::http_event;
use kenpo_tests::runtime_stub::{Outcome, RuntimeStub};
use kenpo_tests::*;
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

const STACK: &str = "kenpo-web";
const WAIT: Duration = Duration::from_secs(30);
/// The test's stand-ins for the secrets CloudFormation resolves at deploy time.
const SSO_SECRET: &str = "runtime-api-test-sso-secret-0123456789abcdef";
const SESSION_KEY: &str = "RuntimeApiTestSessionKey0123456789abcdefghijklmnopqrstuvwxyzABCD";
const SESSION_KEY_SECRET_ARN: &str = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:SessionKeySecret-AbCdEf";
const UNSUBSCRIBE_KEY: &str = "RuntimeApiTestUnsubscribeKey0123456789abcdefghijklmnopqrstuvwxyz";
const UNSUBSCRIBE_KEY_SECRET_ARN: &str = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:NotifyUnsubscribeKeySecret-AbCdEf";
const LOG_KEY: &str = "RuntimeApiTestLogPseudonymKey0123456789abcdefghijklmnopqrstuvwxy";
const LOG_KEY_SECRET_ARN: &str = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:LogPseudonymKeySecret-AbCdEf";
const ORIGIN_PARAM: &str = "https://kenpo.example";

// ---------------------------------------------------------------------------------------------
// The template: each function's binary, logical id and environment, resolved as CloudFormation
// would with the test's parameter values.
// ---------------------------------------------------------------------------------------------

/// The deployed template, its `Fn::ForEach` loops expanded (the same one the dev server reads).
/// The portal's origin (of the deployment's `PortalUrl`): the only one `/sso` accepts.
const PORTAL_ORIGIN: &str = "https://portal.kenpo.example";

fn template() -> Yaml {
    kenpo::routes::template().expect("infra/template.yaml").clone()
}

#[derive(Clone)]
struct Deployment {
    table: String,
    sender_domain: String,
}

impl Deployment {
    /// What `!Ref X` is for a parameter or a resource.
    fn reference(&self, t: &Yaml, name: &str) -> String {
        match name {
            "Table" => return self.table.clone(),
            "SessionKeySecret" => return SESSION_KEY_SECRET_ARN.into(),
            "NotifyUnsubscribeKeySecret" => return UNSUBSCRIBE_KEY_SECRET_ARN.into(),
            "LogPseudonymKeySecret" => return LOG_KEY_SECRET_ARN.into(),
            "WelcomeMailConfigurationSet" => return "kenpo-web-welcome".into(),
            "SenderAddress" => return format!("webmaster@{}", self.sender_domain),
            "MailFromDomain" => return format!("mail.{}", self.sender_domain),
            "AllowedOrigins" => return ORIGIN_PARAM.into(),
            "SocietyName" => return "けんぽ見本健康保険組合".into(),
            "SocietyPhone" => return "03-0000-0000".into(),
            "PortalUrl" => return format!("{PORTAL_ORIGIN}/menu"),
            "ImportChunkQueue" | "ImportWaitQueue" | "NoticeQueue" => return format!("https://sqs.ap-northeast-1.amazonaws.com/123456789012/{STACK}-{name}"),
            "AWS::StackName" => return STACK.into(),
            "AWS::Region" => return "ap-northeast-1".into(),
            "AWS::AccountId" => return "123456789012".into(),
            "AWS::Partition" => return "aws".into(),
            _ => {}
        }
        let default = &t["Parameters"][name]["Default"];
        match default {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            _ => panic!("the test does not know what !Ref {name} is: give it a value in Deployment::reference"),
        }
    }

    fn resolve(&self, t: &Yaml, v: &Yaml) -> String {
        match v {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            Yaml::Bool(b) => b.to_string(),
            Yaml::Tagged(tagged) if tagged.tag == "Ref" => self.reference(t, tagged.value.as_str().expect("!Ref name")),
            Yaml::Tagged(tagged) if tagged.tag == "Sub" => self.sub(t, tagged.value.as_str().expect("!Sub with a plain string")),
            Yaml::Mapping(m) if m.len() == 1 && m.contains_key("Ref") => self.reference(t, m["Ref"].as_str().unwrap()),
            Yaml::Mapping(m) if m.len() == 1 && m.contains_key("Fn::Sub") => self.sub(t, m["Fn::Sub"].as_str().expect("Fn::Sub with a plain string")),
            // `!Select [i, !Split [separator, text]]`.
            Yaml::Tagged(tagged) if tagged.tag == "Select" => {
                let args = tagged.value.as_sequence().expect("!Select [i, list]");
                let i = args[0].as_u64().expect("an index") as usize;
                let Yaml::Tagged(split) = &args[1] else { panic!("the test resolves !Select of !Split only") };
                let parts = split.value.as_sequence().expect("!Split [separator, text]");
                let (separator, text) = (parts[0].as_str().expect("a separator"), self.resolve(t, &parts[1]));
                text.split(separator).nth(i).unwrap_or("").to_owned()
            }
            other => panic!("the test cannot resolve {other:?} in an environment variable"),
        }
    }

    /// `resolve`, and `!If [Condition, a, b]` with `!Ref AWS::NoValue` (`None`: no such variable).
    fn resolve_optional(&self, t: &Yaml, v: &Yaml) -> Option<String> {
        match v {
            Yaml::Tagged(tagged) if tagged.tag == "If" => {
                let branches = tagged.value.as_sequence().expect("!If [Condition, a, b]");
                let chosen = if self.condition(t, branches[0].as_str().expect("a condition name")) { &branches[1] } else { &branches[2] };
                self.resolve_optional(t, chosen)
            }
            Yaml::Tagged(tagged) if tagged.tag == "Ref" && tagged.value.as_str() == Some("AWS::NoValue") => None,
            other => Some(self.resolve(t, other)),
        }
    }

    /// A template condition (`!Not`, `!Equals` of resolvable values) at this deployment's parameters.
    fn condition(&self, t: &Yaml, name: &str) -> bool {
        fn eval(d: &Deployment, t: &Yaml, c: &Yaml) -> bool {
            match c {
                Yaml::Tagged(tagged) if tagged.tag == "Not" => !eval(d, t, &tagged.value.as_sequence().expect("!Not [c]")[0]),
                Yaml::Tagged(tagged) if tagged.tag == "Equals" => {
                    let pair = tagged.value.as_sequence().expect("!Equals [a, b]");
                    d.resolve(t, &pair[0]) == d.resolve(t, &pair[1])
                }
                other => panic!("the test cannot evaluate the condition {other:?}"),
            }
        }
        eval(self, t, &t["Conditions"][name])
    }

    /// `${Name}` substitution, then the Secrets Manager dynamic references.
    fn sub(&self, t: &Yaml, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closing brace") + start;
            out.push_str(&self.reference(t, &rest[start + 2..end]));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        if let Some(reference) = out.strip_prefix("{{resolve:secretsmanager:").and_then(|r| r.strip_suffix(":SecretString}}")) {
            let sso_secret_name = self.reference(t, "SsoJwtSecretName");
            return match reference {
                r if r == sso_secret_name => SSO_SECRET.into(),
                SESSION_KEY_SECRET_ARN => SESSION_KEY.into(),
                UNSUBSCRIBE_KEY_SECRET_ARN => UNSUBSCRIBE_KEY.into(),
                LOG_KEY_SECRET_ARN => LOG_KEY.into(),
                other => panic!("unknown secret {other}"),
            };
        }
        out
    }
}

struct Function {
    logical_id: String,
    binary: String,
    name: String,
    env: BTreeMap<String, String>,
}

fn functions(d: &Deployment) -> Vec<Function> {
    let t = template();
    let globals = t["Globals"]["Function"]["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| {
            let mut env = BTreeMap::new();
            let own = r["Properties"]["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
            for (k, v) in globals.iter().chain(own.iter()) {
                // `!If [Condition, value, !Ref AWS::NoValue]`: the variable only where the condition holds.
                if let Some(value) = d.resolve_optional(&t, v) {
                    env.insert(k.as_str().unwrap().to_owned(), on_this_machine(&t, r, value));
                }
            }
            Function {
                logical_id: id.as_str().unwrap().to_owned(),
                binary: r["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_owned(),
                name: d.resolve(&t, &r["Properties"]["FunctionName"]),
                env,
            }
        })
        .collect()
}

/// A path into a layer (`/opt/...`) as this machine has it: in the layer `sam build` built
/// (`KENPO_BOOTSTRAP_DIR/<LayerLogicalId>/...`, the font layer's Makefile output), else where the
/// layer's Debian package installs it. Other values unchanged.
fn on_this_machine(t: &Yaml, function: &Yaml, value: String) -> String {
    let Some(rest) = value.strip_prefix("/opt/") else { return value };
    let layers: Vec<String> = function["Properties"]["Layers"].as_sequence().map(|l| l.iter().filter_map(|v| match v {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_owned),
        _ => None,
    }).collect()).unwrap_or_default();
    assert!(layers.iter().all(|l| t["Resources"][l.as_str()]["Type"] == "AWS::Serverless::LayerVersion"), "{layers:?}");
    if let Some(dir) = std::env::var_os("KENPO_BOOTSTRAP_DIR") {
        for layer in &layers {
            let built = PathBuf::from(&dir).join(layer).join(rest);
            if built.exists() {
                return built.display().to_string();
            }
        }
        panic!("{value}: no built layer of {layers:?} in KENPO_BOOTSTRAP_DIR holds it");
    }
    match rest {
        "fonts/ipaexg.ttf" => kenpo_documents::font::DEBIAN_FONT_PATH.to_owned(),
        other => panic!("/opt/{other}: the test does not know where this machine has it"),
    }
}

fn function(d: &Deployment, binary: &str) -> Function {
    functions(d).into_iter().find(|f| f.binary == binary).unwrap_or_else(|| panic!("{binary} is not in the template"))
}

/// The bootstrap to run for `f`.
fn bootstrap(f: &Function) -> PathBuf {
    if let Some(dir) = std::env::var_os("KENPO_BOOTSTRAP_DIR") {
        let dir = PathBuf::from(dir);
        let candidates = [dir.join(&f.binary).join("bootstrap"), dir.join(&f.logical_id).join("bootstrap")];
        return candidates.iter().find(|p| p.exists()).cloned().unwrap_or_else(|| panic!("KENPO_BOOTSTRAP_DIR={} holds neither {:?}", dir.display(), candidates));
    }
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>").join(&f.binary);
    assert!(bin.exists(), "{} not built: run ./scripts/test.sh (or cargo build --bins), or set KENPO_BOOTSTRAP_DIR", bin.display());
    bin
}

// ---------------------------------------------------------------------------------------------
// A running bootstrap
// ---------------------------------------------------------------------------------------------

struct Running {
    stub: RuntimeStub,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    binary: String,
}

impl Running {
    /// Start `f`'s bootstrap with Lambda's environment, minus `without`.
    fn start(f: &Function, without: &[&str]) -> Running {
        let stub = RuntimeStub::start().expect("runtime API stub");
        stub.set_function_name(&f.name);
        let path = bootstrap(f);
        let mut cmd = Command::new(&path);
        cmd.env_clear()
            .current_dir(path.parent().unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // What Lambda sets in a provided.al2023 execution environment; test only: every AWS call goes to moto.
        let lambda_env = kenpo_tests::runtime_stub::lambda_environment(&f.name, 256, path.parent().unwrap(), &moto_endpoint());
        for (k, v) in lambda_env.into_iter().chain(f.env.clone()) {
            if !without.contains(&k.as_str()) {
                cmd.env(k, v);
            }
        }
        let mut child = stub.spawn(&mut cmd).unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let logs = Arc::new(Mutex::new(Vec::new()));
        // Also to KENPO_LOG_DIR, where the test script scans every log line for personal data.
        let file = std::env::var_os("KENPO_LOG_DIR").and_then(|dir| {
            let _ = std::fs::create_dir_all(&dir);
            std::fs::File::create(PathBuf::from(dir).join(format!("lambda-{}-{}-{:08x}.log", f.binary, child.id(), rand::random::<u32>()))).ok()
        });
        let file = Arc::new(Mutex::new(file));
        for pipe in [child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>), child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>)]
            .into_iter()
            .flatten()
        {
            let (logs, file) = (logs.clone(), file.clone());
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(f) = file.lock().unwrap().as_mut() {
                        use std::io::Write;
                        let _ = writeln!(f, "{line}");
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        Running { stub, child, logs, binary: f.binary.clone() }
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// The first log line containing `text`, waiting for the reader thread (the process writes it
    /// before it answers, but the pipe is read on another thread).
    fn wait_log(&self, text: &str) -> Option<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| l.contains(text)) {
                return Some(line);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Invoke once and return the answer, or fail with what the process printed.
    fn invoke(&mut self, event: &Value) -> (String, Value) {
        let id = self.stub.invoke(event);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(outcome) = self.stub.wait_outcome(&id, Duration::from_millis(200)) {
                match outcome {
                    Outcome::Response(_) => return (id, outcome.json()),
                    Outcome::Error(e) => panic!("{}: invocation error {e:?}\nlogs: {:#?}", self.binary, self.logs()),
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) instead of answering; init error: {:?}\nlogs: {:#?}", self.binary, self.stub.init_error(), self.logs());
            }
            assert!(Instant::now() < deadline, "{}: no answer in {WAIT:?}\nlogs: {:#?}", self.binary, self.logs());
        }
    }

    fn report_timings(&self) {
        let t = self.stub.timings();
        eprintln!(
            "{}: spawn->ready {:?}, spawn->first response {:?}",
            self.binary,
            t.time_to_ready().unwrap_or_default(),
            t.time_to_first_response().unwrap_or_default()
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Recorded events
// ---------------------------------------------------------------------------------------------


fn api_event(method: &str, path: &str, cookies: &[String], body: Option<&str>) -> Value {
    let mut headers = vec![("origin", ORIGIN_PARAM)];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    http_event(method, path, &headers, cookies, body)
}

/// DynamoDB JSON (`{"S": ...}`) of an item as the SDK returns it.
fn dynamodb_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(b) => json!({"NULL": b}),
        AttributeValue::M(m) => json!({"M": m.iter().map(|(k, v)| (k.clone(), dynamodb_json(v))).collect::<serde_json::Map<_, _>>()}),
        AttributeValue::L(l) => json!({"L": l.iter().map(dynamodb_json).collect::<Vec<_>>()}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        other => panic!("unexpected attribute {other:?}"),
    }
}

/// The recorded stream event, carrying `new` (and `old`) as the table's images.
fn stream_event(new: &Value, old: &Value, member: &str) -> Value {
    let mut e: Value = serde_json::from_str(include_str!("../fixtures/dynamodb-stream-signup-completed.json")).unwrap();
    let record = &mut e["Records"][0]["dynamodb"];
    record["Keys"]["PK"]["S"] = json!(format!("MEMBER#{member}"));
    record["NewImage"] = new.clone();
    record["OldImage"] = old.clone();
    e
}

/// An SES event-publishing bounce (as the configuration set's SNS destination sends it).
fn ses_bounce(member: &str, recipient: &str) -> Value {
    json!({
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-11-25T01:00:01.000Z", "feedbackId": "0106018f-feedback"
        },
        "mail": {
            "timestamp": "2026-11-25T01:00:00.000Z", "source": "webmaster@kenpo.example",
            "sourceArn": "arn:aws:ses:ap-northeast-1:123456789012:identity/kenpo.example", "sendingAccountId": "123456789012",
            "messageId": "0106018f-message", "destination": [recipient], "headersTruncated": false,
            "tags": {"ses:configuration-set": ["kenpo-web-welcome"], "member": [member]}
        }
    })
}

/// The recorded SNS event, carrying `message` as its body.
fn sns_event(message: &Value) -> Value {
    let mut e: Value = serde_json::from_str(include_str!("../fixtures/sns-ses-bounce.json")).unwrap();
    e["Records"][0]["Sns"]["Message"] = json!(message.to_string());
    e
}

fn cookie_of(response: &Value) -> String {
    let cookies = response["cookies"].as_array().unwrap_or_else(|| panic!("no cookies in {response}"));
    cookies[0].as_str().unwrap().split(';').next().unwrap().to_owned()
}

fn body_json(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

/// The body as the browser reads it: base64 decoded (`isBase64Encoded`), gunzipped when
/// `content-encoding: gzip` (the pages are, for a browser that accepts it, as API Gateway's
/// recorded events do).
fn body_text(response: &Value) -> String {
    use base64::Engine;
    use std::io::Read;
    let body = response["body"].as_str().unwrap_or("");
    let bytes = if response["isBase64Encoded"] == true { base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_default() } else { body.as_bytes().to_vec() };
    if header(response, "content-encoding") != "gzip" {
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).expect("a gzip body");
    text
}

fn header<'a>(response: &'a Value, name: &str) -> &'a str {
    response["headers"][name].as_str().unwrap_or("")
}

async fn deployment(prefix: &str) -> (aws_sdk_dynamodb::Client, Deployment) {
    let (client, table) = moto_table(prefix).await;
    (client, Deployment { table, sender_domain: format!("rt{:08x}.example.jp", rand::random::<u32>()) })
}

/// Run blocking stub calls off the async test's thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking part of the test")
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_bootstrap_answers_its_recorded_event_through_the_runtime_api() {
    let (_, d) = deployment("rt-each").await;
    let fns = functions(&d);
    assert!(!fns.is_empty(), "the template's functions");
    blocking(move || {
        for f in &fns {
            let mut run = Running::start(f, &[]);
            let (request_id, _response) = match f.binary.as_str() {
                "web-pages" => {
                    let (id, r) = run.invoke(&http_event("GET", "/signup/identity", &[], &[], None));
                    assert_eq!(r["statusCode"], 200, "{r}");
                    assert!(header(&r, "content-type").starts_with("text/html"), "{r}");
                    assert_eq!(header(&r, "content-encoding"), "gzip", "the recorded event accepts gzip");
                    assert!(body_text(&r).contains("本人確認"), "the identity screen");
                    (id, r)
                }
                "portal-entry" => {
                    let form = [("content-type", "application/x-www-form-urlencoded"), ("origin", PORTAL_ORIGIN)];
                    let (id, r) = run.invoke(&http_event("POST", "/sso", &form, &[], Some("token=not.a.jwt")));
                    assert_eq!(r["statusCode"], 401, "{r}");
                    assert!(header(&r, "content-type").starts_with("text/html"), "a page, not JSON: {r}");
                    assert!(r["cookies"].as_array().is_none_or(|c| c.is_empty()), "no session for a bad token");
                    (id, r)
                }
                "send-welcome-email" => {
                    // A completion of a member the table does not hold: nothing to send, nothing failed.
                    let image = json!({
                        "PK": {"S": "MEMBER#NOBODY"}, "SK": {"S": "SIGNUP"}, "state": {"S": "COMPLETED"}, "version": {"N": "5"},
                        "failedAttempts": {"N": "0"}, "updatedAt": {"S": "2026-11-25T01:00:00.000000Z"},
                        "completedAt": {"S": "2026-11-25T01:00:00.000000Z"}, "email": {"S": "nobody@example.jp"},
                        "notifyMedicalExpenses": {"BOOL": true}
                    });
                    let (id, r) = run.invoke(&stream_event(&image, &json!({}), "NOBODY"));
                    assert_eq!(r, json!({"batchItemFailures": []}));
                    (id, r)
                }
                "import-statements" if f.logical_id == "ImportStatementsFunction" => {
                    // The recorded S3 event for an object that is not a file to import: skipped,
                    // without a call to S3.
                    let mut event: Value = serde_json::from_str(include_str!("../fixtures/s3-object-created-put.json")).unwrap();
                    event["Records"][0]["s3"]["object"]["key"] = json!("processed/notes.txt");
                    let (id, r) = run.invoke(&event);
                    assert_eq!(r, Value::Null, "an S3-invoked function answers nothing");
                    (id, r)
                }
                "import-statements" => {
                    // A chunk of an import the table does not know: ignored (read from DynamoDB).
                    let job = json!({"type": "chunk", "object": {"bucket": "b", "key": "incoming/m.csv", "versionId": "v1", "etag": null},
                        "sha256": "00", "generation": "g", "holder": "h", "kind": "medical", "encoding": "utf8", "headerEnd": 10, "start": 10,
                        "end": null, "lineShift": 0, "chunk": 0, "chunks": 1, "importedOn": "2026-11-25"});
                    let event = json!({"Records": [{"messageId": "m1", "receiptHandle": "r1", "body": job.to_string(), "attributes": {},
                        "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:kenpo-web-ImportChunkQueue", "awsRegion": "ap-northeast-1"}]});
                    let (id, r) = run.invoke(&event);
                    assert_eq!(r, json!({"batchItemFailures": []}));
                    (id, r)
                }
                "notify-publication" => {
                    // The daily schedule's event: today's members with news (none in a new table), queued.
                    let event = json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.scheduler", "account": "123456789012", "time": "2026-11-30T00:00:00Z", "region": "ap-northeast-1", "resources": [], "detail": {}});
                    let (id, r) = run.invoke(&event);
                    assert!(r["queued"] == json!(0) || r["queued"].is_null(), "{r}\n{:#?}", run.logs());
                    (id, r)
                }
                "send-update-notice" => {
                    // A member the table does not hold: nothing to send, nothing to retry.
                    let event = json!({"Records": [{"messageId": "n1", "receiptHandle": "r1", "body": json!({"member": "NOBODY", "day": "2026-11-30"}).to_string(), "attributes": {},
                        "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:kenpo-web-NoticeQueue", "awsRegion": "ap-northeast-1"}]});
                    let (id, r) = run.invoke(&event);
                    assert_eq!(r, json!({"batchItemFailures": []}), "{:#?}", run.logs());
                    (id, r)
                }
                "unsubscribe" => {
                    // A link that is not ours: the 400 page, nothing read or changed.
                    let mut event = http_event("GET", "/unsubscribe", &[], &[], None);
                    event["rawQueryString"] = json!("t=not.a.token");
                    event["queryStringParameters"] = json!({"t": "not.a.token"});
                    let (id, r) = run.invoke(&event);
                    assert_eq!(r["statusCode"], 400, "{r}\n{:#?}", run.logs());
                    assert!(header(&r, "content-type").starts_with("text/html"), "a page: {r}");
                    (id, r)
                }
                "ses-events" => {
                    // A bounce of a member the table does not hold: recorded as nothing to do.
                    let (id, r) = run.invoke(&sns_event(&ses_bounce("NOBODY", "nobody@example.jp")));
                    assert_eq!(r, Value::Null, "an SNS-invoked function answers nothing");
                    (id, r)
                }
                api => {
                    let (method, path) = match api {
                        "signup-status" => ("GET", "/api/signup"),
                        "verify-identity" => ("POST", "/api/signup/identity"),
                        "record-consent" => ("POST", "/api/signup/consent"),
                        "save-preferences" => ("PUT", "/api/signup/preferences"),
                        "confirm-signup" => ("POST", "/api/signup/confirm"),
                        "read-statements" => ("GET", "/api/statements/summary"),
                        "statement-documents" => ("GET", "/api/documents/medical-expenses/2026.pdf"),
                        other => panic!("no recorded event for {other}: add one"),
                    };
                    let body = (method != "GET").then_some("{}");
                    let (id, r) = run.invoke(&api_event(method, path, &[], body));
                    assert_eq!(r["statusCode"], 401, "{api}: {r}");
                    assert!(header(&r, "content-type").starts_with("application/json"), "{r}");
                    assert_eq!(body_json(&r)["error"]["code"], "unauthenticated", "{r}");
                    (id, r)
                }
            };
            // Still serving: the next poll arrived after the answer.
            assert!(run.stub.wait_for_polls(2, WAIT), "{}: polls again after answering", f.binary);
            assert!(run.child.try_wait().unwrap().is_none(), "{} still running", f.binary);
            assert!(run.stub.unexpected_calls().is_empty(), "{:?}", run.stub.unexpected_calls());
            let refusal = (f.binary == "portal-entry").then(|| run.wait_log("hand-off refused"));
            let logs = run.logs();
            assert!(logs.iter().all(|l| serde_json::from_str::<Value>(l).is_ok()), "{}: every log line is JSON: {logs:#?}", f.binary);
            assert!(!logs.iter().any(|l| l.contains(SSO_SECRET) || l.contains(SESSION_KEY)), "no secret in the logs");
            if let Some(refusal) = refusal {
                // The refusal is logged (warn) inside the invocation's span: it carries the request id.
                let line = refusal.unwrap_or_else(|| panic!("refusal logged: {logs:#?}"));
                assert!(line.contains(&request_id), "the log line carries the request id: {line}");
                // Issue 11, item 5: the reason, and no token (a hash of the jti only once one was read).
                let fields: Value = serde_json::from_str(&line).unwrap();
                assert_eq!(fields["fields"]["reason"], "malformed", "{line}");
                assert!(!line.contains("not.a.jwt"), "never the token: {line}");
                eprintln!("portal-entry log line: {line}");
            }
            run.report_timings();
        }
    })
    .await;
}

#[tokio::test]
async fn a_member_onboards_through_the_built_bootstraps() {
    let (client, d) = deployment("rt-journey").await;
    DynamoStore::new(client.clone(), d.table.clone()).put_members(&[member("R0001", "06133946", "19810403")]).await.unwrap();
    let ses = aws_sdk_sesv2::Client::new(&moto_config().await);
    ses.create_email_identity().email_identity(&d.sender_domain).send().await.unwrap();
    let recipient = format!("r{:08x}@example.jp", rand::random::<u32>());
    let signup = || async {
        let key = [("PK".to_owned(), AttributeValue::S("MEMBER#R0001".into())), ("SK".to_owned(), AttributeValue::S("SIGNUP".into()))];
        let item = client.get_item().table_name(&d.table).set_key(Some(key.into_iter().collect())).consistent_read(true).send().await.unwrap().item.unwrap();
        json!(item.iter().map(|(k, v)| (k.clone(), dynamodb_json(v))).collect::<serde_json::Map<_, _>>())
    };

    // The portal's hand-off, then the four steps up to the confirmation screen.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = kenpo_shared::handoff::sign_hs256(SSO_SECRET.as_bytes(), "R0001", now, 120);
    let cookie = blocking({
        let (d, recipient) = (d.clone(), recipient.clone());
        move || {
            let mut entry = Running::start(&function(&d, "portal-entry"), &[]);
            let form = [("content-type", "application/x-www-form-urlencoded"), ("origin", PORTAL_ORIGIN)];
            let (_, r) = entry.invoke(&http_event("POST", "/sso", &form, &[], Some(&format!("token={token}"))));
            assert_eq!(r["statusCode"], 303, "{r}\n{:#?}", entry.logs());
            assert_eq!(header(&r, "location"), "/signup/identity");
            entry.report_timings();
            let cookies = [cookie_of(&r)];
            let steps = [
                ("signup-status", "GET", "/api/signup", None, "identity"),
                ("verify-identity", "POST", "/api/signup/identity", Some(r#"{"insurerNumber":"06133946","birthDate":"19810403"}"#.to_owned()), "consent"),
                ("record-consent", "POST", "/api/signup/consent", Some(r#"{"termsVersion":"2026-11-01","agreed":true}"#.to_owned()), "preferences"),
                ("save-preferences", "PUT", "/api/signup/preferences", Some(json!({"email": recipient, "notifyMedicalExpenses": true}).to_string()), "confirm"),
            ];
            for (binary, method, path, body, step) in steps {
                let mut run = Running::start(&function(&d, binary), &[]);
                let (_, r) = run.invoke(&api_event(method, path, &cookies, body.as_deref()));
                assert_eq!(r["statusCode"], 200, "{binary}: {r}\n{:#?}", run.logs());
                assert_eq!(body_json(&r)["step"], step, "{binary}: {r}");
                run.report_timings();
            }
            let [cookie] = cookies;
            cookie
        }
    })
    .await;
    let before = signup().await;

    blocking({
        let (d, cookies) = (d.clone(), [cookie.clone()]);
        move || {
            let mut run = Running::start(&function(&d, "confirm-signup"), &[]);
            // Version 3: the identity check, the consent and the preferences each wrote once.
            let (_, r) = run.invoke(&api_event("POST", "/api/signup/confirm", &cookies, Some(r#"{"version":3}"#)));
            assert_eq!(r["statusCode"], 200, "{r}\n{:#?}", run.logs());
            assert_eq!(body_json(&r)["step"], "completed");
            run.report_timings();
        }
    })
    .await;
    let after = signup().await;
    assert_eq!(after["state"]["S"], "COMPLETED", "{after}");

    // The stream delivers the completion (as the event source mapping would) to the welcome-mail
    // binary: it claims it, sends through SES v2 (moto) and records the sending.
    let event = stream_event(&after, &before, "R0001");
    blocking({
        let d = d.clone();
        move || {
            let mut run = Running::start(&function(&d, "send-welcome-email"), &[]);
            let (_, r) = run.invoke(&event);
            assert_eq!(r, json!({"batchItemFailures": []}), "{:#?}", run.logs());
            // Delivered again (at least once): still one mail.
            let (_, r) = run.invoke(&event);
            assert_eq!(r, json!({"batchItemFailures": []}));
            run.report_timings();
        }
    })
    .await;
    let data: Value = ureq::get(&format!("{}/moto-api/data.json", moto_endpoint())).call().unwrap().into_json().unwrap();
    let mails: Vec<&Value> = data["ses"]["Message"].as_array().into_iter().flatten().filter(|m| m["destinations"]["ToAddresses"].to_string().contains(&recipient)).collect();
    assert_eq!(mails.len(), 1, "one welcome mail: {mails:?}");
    assert!(mails[0]["subject"].as_str().unwrap_or("").contains("ようこそ"), "{}", mails[0]);
    // From with the society's name (RFC 2047) and the sender address.
    let source = mails[0]["source"].as_str().unwrap_or("");
    assert!(source.starts_with("=?UTF-8?B?") && source.ends_with(&format!("<webmaster@{}>", d.sender_domain)), "{source}");
    let recorded = signup().await;
    assert!(recorded.get("welcomeSentAt").is_some(), "the sending is recorded: {recorded}");

    // The address bounces: SES publishes the event (configuration set -> SNS) to ses-events,
    // which marks the address.
    blocking({
        let (d, recipient) = (d.clone(), recipient.clone());
        move || {
            let mut run = Running::start(&function(&d, "ses-events"), &[]);
            let (_, r) = run.invoke(&sns_event(&ses_bounce("R0001", &recipient)));
            assert_eq!(r, Value::Null, "{:#?}", run.logs());
            run.report_timings();
        }
    })
    .await;
    let marked = signup().await;
    assert_eq!(marked["emailProblem"]["S"], "bounced", "the bounce is recorded: {marked}");

    // Back at the status: completed.
    blocking({
        let (d, cookies) = (d.clone(), [cookie]);
        move || {
            let mut run = Running::start(&function(&d, "signup-status"), &[]);
            let (_, r) = run.invoke(&api_event("GET", "/api/signup", &cookies, None));
            assert_eq!(body_json(&r)["step"], "completed", "{r}");
        }
    })
    .await;
}

/// A bootstrap missing a required setting must fail its init (report `/runtime/init/error` or
/// exit non-zero) and never poll for events, so Lambda marks the init failed at deploy-time tests
/// instead of answering members with errors.
#[tokio::test]
async fn a_bootstrap_without_a_required_setting_fails_its_init() {
    let (_, d) = deployment("rt-init").await;
    blocking(move || {
        for (binary, missing) in [("signup-status", "TABLE_NAME"), ("send-welcome-email", "TABLE_NAME"), ("portal-entry", "SSO_JWT_SECRET"), ("verify-identity", "SESSION_KEY"), ("import-statements", "IMPORT_CHUNK_QUEUE_URL")] {
            let mut run = Running::start(&function(&d, binary), &[missing]);
            let deadline = Instant::now() + WAIT;
            let failed = loop {
                if let Some(report) = run.stub.init_error() {
                    break format!("init error {report:?}");
                }
                if let Ok(Some(status)) = run.child.try_wait() {
                    assert!(!status.success(), "{binary} without {missing} exited successfully");
                    break format!("exit {status}");
                }
                assert!(Instant::now() < deadline, "{binary} without {missing} neither failed nor exited: {:#?}", run.logs());
                std::thread::sleep(Duration::from_millis(20));
            };
            assert_eq!(run.stub.polls(), 0, "{binary} without {missing} asked for events ({failed})");
            // Give the log readers a moment to drain the pipes.
            std::thread::sleep(Duration::from_millis(100));
            let logs = run.logs();
            assert!(logs.iter().any(|l| l.contains("config_invalid") && l.contains(missing)), "{binary}: the init failure names {missing}: {logs:#?}");
        }
    })
    .await;
}

/// The stub itself, driven by hand as a runtime client would: headers, answers, timings, refusals.
#[test]
fn the_stub_speaks_the_runtime_api() {
    let stub = RuntimeStub::start().unwrap();
    stub.set_function_name("kenpo-web-probe");
    stub.mark_spawned();
    let base = format!("http://{}/2018-06-01/runtime", stub.api_address());
    let id = stub.invoke(&json!({"hello": "world"}));
    let next = ureq::get(&format!("{base}/invocation/next")).call().unwrap();
    assert_eq!(next.header("lambda-runtime-aws-request-id"), Some(id.as_str()));
    assert_eq!(next.header("lambda-runtime-invoked-function-arn"), Some("arn:aws:lambda:ap-northeast-1:123456789012:function:kenpo-web-probe"));
    let deadline: u128 = next.header("lambda-runtime-deadline-ms").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    assert!(deadline > now && deadline <= now + 10_000, "deadline in the next 10 s");
    assert!(next.header("lambda-runtime-trace-id").unwrap().starts_with("Root=1-"));
    assert_eq!(next.into_json::<Value>().unwrap(), json!({"hello": "world"}));
    assert!(stub.timings().time_to_ready().is_some() && stub.timings().first_response.is_none());

    assert_eq!(ureq::post(&format!("{base}/invocation/{id}/response")).send_string(r#"{"ok":true}"#).unwrap().status(), 202);
    assert_eq!(stub.wait_outcome(&id, WAIT).unwrap().json(), json!({"ok": true}));
    assert!(stub.timings().time_to_first_response().is_some());
    // Answering twice, or an id never handed out, is refused as Lambda does.
    let again = ureq::post(&format!("{base}/invocation/{id}/response")).send_string("{}");
    assert!(matches!(again, Err(ureq::Error::Status(400, _))));
    let unknown = ureq::post(&format!("{base}/invocation/nope/error")).send_string("{}");
    assert!(matches!(unknown, Err(ureq::Error::Status(400, _))));

    let failing = stub.invoke(&json!({}));
    ureq::get(&format!("{base}/invocation/next")).call().unwrap();
    ureq::post(&format!("{base}/invocation/{failing}/error")).set("Lambda-Runtime-Function-Error-Type", "Runtime.Boom").send_string(r#"{"errorMessage":"boom"}"#).unwrap();
    match stub.wait_outcome(&failing, WAIT).unwrap() {
        Outcome::Error(e) => assert_eq!(e.error_type.as_deref(), Some("Runtime.Boom")),
        other => panic!("{other:?}"),
    }
    ureq::post(&format!("{base}/init/error")).set("Lambda-Runtime-Function-Error-Type", "Runtime.InitError").send_string("{}").unwrap();
    assert_eq!(stub.wait_init_error(WAIT).unwrap().error_type.as_deref(), Some("Runtime.InitError"));
    assert_eq!(stub.polls(), 2);
    assert_eq!(stub.invocations().len(), 2);
    assert!(stub.unexpected_calls().is_empty());
}

/// Issue 11: SES refuses with a realistic message that names an address (moto, like SES, answers
/// an unverified sender with "Email address not verified <address>"); the welcome function logs the
/// failure by its code and request id only. The test script's log scan reads these lines too.
#[tokio::test]
async fn an_ses_refusal_naming_an_address_is_logged_without_it() {
    use kenpo_shared::domain::{EmailAddress, MemberId, Step};
    use kenpo_shared::store::{Expect, SignupRecord};
    let (client, d) = deployment("rt-refused").await;
    // The sender's domain is deliberately not verified with SES.
    let store = DynamoStore::new(client.clone(), d.table.clone());
    let now = chrono::Utc::now();
    let mut record = SignupRecord::new(MemberId::parse("U0001").unwrap(), now);
    (record.version, record.state, record.completed_at) = (1, Step::Completed, Some(now));
    record.email = EmailAddress::from_stored(&format!("u{:08x}@example.jp", rand::random::<u32>()));
    record.notify_medical_expenses = Some(true);
    store.put_signup(&record, Expect::Absent).await.unwrap();
    let key = [("PK".to_owned(), AttributeValue::S("MEMBER#U0001".into())), ("SK".to_owned(), AttributeValue::S("SIGNUP".into()))];
    let item = client.get_item().table_name(&d.table).set_key(Some(key.into_iter().collect())).consistent_read(true).send().await.unwrap().item.unwrap();
    let new = json!(item.iter().map(|(k, v)| (k.clone(), dynamodb_json(v))).collect::<serde_json::Map<_, _>>());
    let mut old = new.clone();
    old["state"] = json!({"S": "CONFIRM"});
    let event = stream_event(&new, &old, "U0001");
    blocking(move || {
        let mut run = Running::start(&function(&d, "send-welcome-email"), &[]);
        let (_, r) = run.invoke(&event);
        // The society's configuration (an unverified sender): retried, the member's address never marked.
        assert_eq!(r["batchItemFailures"].as_array().map(Vec::len), Some(1), "{r}\n{:#?}", run.logs());
        // The log lines are read on another thread: wait for the refusal's.
        let refusal = run.wait_log("MessageRejected").unwrap_or_else(|| panic!("the refusal is logged by its code: {:#?}", run.logs()));
        assert!(refusal.contains("request id"), "{refusal}");
        let logs = run.logs();
        assert!(!logs.iter().any(|l| l.contains('@')), "no address in any log line: {logs:#?}");
    })
    .await;
    let stored = store.get_signup(&kenpo_shared::domain::MemberId::parse("U0001").unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.email_problem, None, "the society's configuration never marks a member's address");
}
