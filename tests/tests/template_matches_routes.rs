//! The SAM template is the one route table: the dev server serves it (and hosts every function
//! it routes to); every function crate is in the template; the stream filter is the code's rule;
//! no IAM wildcard; its Fn::ForEach loops expand to the resources recorded in
//! tests/fixtures/template-resources.json. Every test reads the template as deployed (expanded).

use std::collections::BTreeSet;

use kenpo::routes::{Route, routes};
use kenpo_tests::*;
use serde_yaml::Value;

/// infra/template.yaml with its Fn::ForEach loops expanded, as CloudFormation deploys it.
fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    kenpo::routes::expanded(&serde_yaml::from_str(&std::fs::read_to_string(path).expect("infra/template.yaml")).expect("template is YAML"))
}

fn functions(t: &Value) -> Vec<(String, Value)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (k.as_str().unwrap_or("").to_owned(), r.clone()))
        .collect()
}

fn binary(resource: &Value) -> String {
    resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or("").to_owned()
}

#[test]
fn the_dev_server_reads_its_routes_from_this_template_and_hosts_every_routed_function() {
    let t = template();
    assert_eq!(routes().unwrap(), kenpo::routes::routes_of(&t), "the embedded template is infra/template.yaml");
    let routed: BTreeSet<String> = routes().unwrap().into_iter().map(|r| r.function).collect();
    let hosted: BTreeSet<String> = kenpo::router::HTTP_FUNCTIONS.iter().map(|f| f.to_string()).collect();
    assert_eq!(routed, hosted);
    assert!(routes().unwrap().len() >= 14, "every screen, the hand-off, logout and the five API steps");
}

/// A request for `route` as a browser would send it (the proxy part: a real asset).
fn request_for(route: &Route) -> lambda_http::Request {
    request(&route.method, &route.path.replace("{proxy+}", "app.css"), None, None)
}

#[tokio::test]
async fn every_template_route_reaches_its_function_through_the_router_and_others_do_not() {
    let t = embedded_app().await;
    for route in routes().unwrap() {
        let r = t.route(request_for(&route)).await;
        // A function answers (a page, a redirect, or its own 4xx); never the router's 404 or 405.
        assert!(r.status() != 405 && !(r.status() == 404 && error_code(&r) == "not_found"), "{} {} -> {}", route.method, route.path, r.status());
    }
    let r = t.route(request("DELETE", "/api/signup", None, None)).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (405, "method_not_allowed".to_owned()));
    assert_eq!(r.headers()["allow"], "GET, HEAD");
    let r = t.route(request("GET", "/api/nothing-here", None, None)).await;
    assert_eq!((r.status().as_u16(), error_code(&r)), (404, "not_found".to_owned()));
}

#[test]
fn every_function_crate_is_deployed_by_cargo_lambda() {
    let t = template();
    let deployed: BTreeSet<String> = functions(&t)
        .iter()
        .inspect(|(name, f)| assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}"))
        .map(|(_, f)| binary(f))
        .collect();
    let crates: BTreeSet<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(deployed, crates);
}

#[test]
fn the_welcome_function_reads_only_completed_signups_with_a_dead_letter_queue() {
    let t = template();
    let (_, f) = functions(&t).into_iter().find(|(_, f)| binary(f) == "send-welcome-email").expect("send-welcome-email");
    let events = f["Properties"]["Events"].as_mapping().unwrap();
    let stream = events.values().find(|e| e["Type"] == "DynamoDB").expect("a DynamoDB stream event");
    let p = &stream["Properties"];
    assert_eq!(p["BisectBatchOnFunctionError"], Value::Bool(true));
    assert!(p["MaximumRetryAttempts"].as_u64().is_some_and(|n| n <= 10));
    assert!(p["DestinationConfig"]["OnFailure"]["Destination"] != Value::Null, "failed records go to a DLQ");
    let pattern = serde_yaml::to_string(&p["FilterCriteria"]).unwrap();
    assert!(pattern.contains("COMPLETED") && pattern.contains("SIGNUP"), "{pattern}");
}

/// The subset of EventBridge/Lambda filter pattern syntax the template uses: nested objects,
/// lists of allowed strings, `anything-but`. A missing field never matches.
fn pattern_matches(pattern: &serde_json::Value, event: &serde_json::Value) -> bool {
    match pattern {
        // `{"S": [{"exists": true}]}`: the attribute is there (an event without it never reaches here).
        serde_json::Value::Object(fields) if fields.values().any(|p| p.as_array().is_some_and(|a| a.iter().any(|x| x.get("exists").is_some()))) => {
            fields.iter().all(|(k, p)| match p.as_array().and_then(|a| a.iter().find_map(|x| x.get("exists"))) {
                Some(exists) => event.get(k).is_some() == (exists == &serde_json::json!(true)),
                None => event.get(k).is_some_and(|v| pattern_matches(p, v)),
            })
        }
        serde_json::Value::Object(fields) => fields.iter().all(|(k, p)| event.get(k).is_some_and(|v| pattern_matches(p, v))),
        serde_json::Value::Array(allowed) => allowed.iter().any(|a| match a {
            serde_json::Value::Object(op) => op.get("anything-but").and_then(|l| l.as_array()).is_some_and(|l| !l.contains(event)),
            other => other == event,
        }),
        _ => false,
    }
}

#[test]
fn the_stream_filter_lets_through_exactly_what_the_code_calls_a_completion() {
    use kenpo_shared::domain::{MemberId, Step};
    use kenpo_shared::store::{SignupChange, SignupRecord};
    let t = template();
    let (_, f) = functions(&t).into_iter().find(|(_, f)| binary(f) == "send-welcome-email").unwrap();
    let stream = f["Properties"]["Events"].as_mapping().unwrap().values().find(|e| e["Type"] == "DynamoDB").unwrap().clone();
    let patterns: Vec<serde_json::Value> = stream["Properties"]["FilterCriteria"]["Filters"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).expect("a JSON pattern"))
        .collect();
    let image = |sk: &str, step: Step| serde_json::json!({"SK": {"S": sk}, "state": {"S": step.stored()}});
    let mut cases = 0;
    for sk in ["SIGNUP", "PROFILE"] {
        for new in Step::ALL {
            for old in Step::ALL.map(Some).into_iter().chain([None]) {
                let mut event = serde_json::json!({"eventName": if old.is_some() { "MODIFY" } else { "INSERT" }, "dynamodb": {"NewImage": image(sk, new)}});
                if let Some(old) = old {
                    event["dynamodb"]["OldImage"] = image(sk, old);
                }
                let filtered_in = patterns.iter().any(|p| pattern_matches(p, &event));
                let record = |step: Step| SignupRecord { state: step, ..SignupRecord::new(MemberId::parse("M1").unwrap(), start_time()) };
                let completion = sk == "SIGNUP" && SignupChange { old: old.map(record), new: record(new) }.is_completion();
                assert_eq!(filtered_in, completion, "{sk} {old:?} -> {new:?}");
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 60);
    // A completed member's change of address passes (the code then sends the notice to the old
    // address); the same change of a profile item, or during the onboarding, does not.
    let changed = |sk: &str, step: Step| serde_json::json!({"SK": {"S": sk}, "state": {"S": step.stored()}, "addressChangedAt": {"S": "2026-11-30T01:00:00.000000Z"}});
    let event = |sk: &str, step: Step| serde_json::json!({"eventName": "MODIFY", "dynamodb": {"NewImage": changed(sk, step), "OldImage": image(sk, step)}});
    assert!(patterns.iter().any(|p| pattern_matches(p, &event("SIGNUP", Step::Completed))));
    assert!(!patterns.iter().any(|p| pattern_matches(p, &event("PROFILE", Step::Completed))));
    assert!(!patterns.iter().any(|p| pattern_matches(p, &event("SIGNUP", Step::Confirm))));
    // A removal (no NewImage) never passes.
    let removed = serde_json::json!({"eventName": "REMOVE", "dynamodb": {"OldImage": image("SIGNUP", Step::Completed)}});
    assert!(!patterns.iter().any(|p| pattern_matches(p, &removed)));
}

fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Mapping(m) => {
            if m.contains_key("Effect") && m.contains_key("Action") {
                out.push(v);
            }
            m.values().for_each(|x| walk(x, out));
        }
        Value::Sequence(s) => s.iter().for_each(|x| walk(x, out)),
        Value::Tagged(t) => walk(&t.value, out),
        _ => {}
    }
}

#[test]
fn no_policy_statement_uses_a_wildcard() {
    let t = template();
    let mut statements = Vec::new();
    walk(&t["Resources"], &mut statements);
    assert!(!statements.is_empty(), "the functions have inline policies");
    for s in statements {
        let text = serde_yaml::to_string(s).unwrap();
        let actions: Vec<&str> = match &s["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Sequence(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        assert!(actions.iter().all(|a| !a.contains('*')), "wildcard action in {text}");
        let resources: Vec<&Value> = match &s["Resource"] {
            Value::Sequence(list) => list.iter().collect(),
            other => vec![other],
        };
        assert!(resources.iter().all(|r| r.as_str() != Some("*")), "wildcard resource in {text}");
    }
}

/// A resource as text: plain strings, `!Sub` strings, `!GetAtt X.Arn` as `X.Arn`.
fn resource_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => match &t.value {
            Value::Sequence(parts) => parts.first().map(resource_text).unwrap_or_default(),
            other => resource_text(other),
        },
        Value::Mapping(m) => m.values().next().map(resource_text).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Where a `*` may stand in a resource: the log streams of a named log group
/// (`log-group:/aws/lambda/<function>:*`), the streams of the table (`<table>/stream/*`) and the
/// objects under one named prefix of the import bucket (`<bucket>/incoming/*`).
fn wildcard_is_scoped(resource: &str) -> bool {
    match resource.find('*') {
        None => true,
        Some(i) if i + 1 == resource.len() => {
            let head = &resource[..i];
            let bucket_prefix = head.strip_prefix("${ImportBucket.Arn}/").is_some_and(|p| p.len() > 1 && p.ends_with('/'));
            (head.contains(":log-group:/aws/lambda/") && head.ends_with(':')) || head.ends_with("Table.Arn}/stream/") || bucket_prefix
        }
        Some(_) => false,
    }
}

#[test]
fn policy_resources_are_named_and_wildcards_only_scope_within_them() {
    let t = template();
    let mut statements = Vec::new();
    walk(&t["Resources"], &mut statements);
    for s in statements {
        let text = serde_yaml::to_string(s).unwrap();
        assert!(s.get("NotAction").is_none() && s.get("NotResource").is_none(), "NotAction/NotResource in {text}");
        if s.get("Principal").is_some() {
            continue; // a trust policy (sts:AssumeRole for lambda.amazonaws.com)
        }
        let resources: Vec<String> = match &s["Resource"] {
            Value::Sequence(list) => list.iter().map(resource_text).collect(),
            other => vec![resource_text(other)],
        };
        for r in &resources {
            assert!(!r.is_empty(), "a statement without a resource: {text}");
            assert!(wildcard_is_scoped(r), "unscoped wildcard resource {r} in {text}");
        }
    }
    // No managed policies: AWSLambdaBasicExecutionRole and friends grant on "Resource": "*".
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"] == "AWS::IAM::Role" {
            assert!(r["Properties"].get("ManagedPolicyArns").is_none(), "{name:?} attaches managed policies");
        }
        if r["Type"] == "AWS::Serverless::Function" {
            assert!(r["Properties"].get("Policies").is_none(), "{name:?}: SAM policy templates instead of its own role");
            assert!(r["Properties"]["Role"] != Value::Null, "{name:?} has its own role");
        }
    }
}

/// The statements of the role a function runs with.
fn role_statements(t: &Value, function: &Value) -> Vec<Value> {
    let role = resource_text(&function["Properties"]["Role"]);
    let role = role.trim_end_matches(".Arn");
    let mut out = Vec::new();
    for policy in t["Resources"][role]["Properties"]["Policies"].as_sequence().expect("inline policies") {
        out.extend(policy["PolicyDocument"]["Statement"].as_sequence().unwrap().iter().cloned());
    }
    // Policies of their own attached to the role (where an inline one would make a cycle).
    for (_, r) in t["Resources"].as_mapping().expect("Resources") {
        if r["Type"] == "AWS::IAM::RolePolicy" && resource_text(&r["Properties"]["RoleName"]) == role {
            out.extend(r["Properties"]["PolicyDocument"]["Statement"].as_sequence().unwrap().iter().cloned());
        }
    }
    out
}

/// The name a function is deployed as, after `<stack>-`: its crate's, or for the binary deployed
/// twice (import-statements), each function's own.
fn function_name(f: &Value) -> String {
    resource_text(&f["Properties"]["FunctionName"]).trim_start_matches("${AWS::StackName}-").to_owned()
}

fn actions(s: &Value) -> Vec<String> {
    match &s["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Sequence(list) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => vec![],
    }
}

#[test]
fn each_function_may_do_only_what_its_code_does() {
    // What each function calls (shared/src/store/dynamodb.rs, shared/src/mailer/ses.rs); a
    // transaction's Update is authorised as dynamodb:UpdateItem. Table actions by leading key. No
    // function may PutItem on a member's partition (it could replace a profile): the signup
    // writers update, with only the record's attributes (see the next test).
    let expected: &[(&str, &[&str], &[&str])] = &[
        ("web-pages", &[], &[]),
        ("portal-entry", &["dynamodb:GetItem MEMBER#*", "dynamodb:PutItem SSO#*", "dynamodb:Query MEMBER#*", "dynamodb:UpdateItem MEMBER#*"], &[]),
        ("signup-status", &["dynamodb:GetItem MEMBER#*"], &[]),
        ("verify-identity", &["dynamodb:ConditionCheckItem MEMBER#*", "dynamodb:GetItem MEMBER#*", "dynamodb:Query MEMBER#*", "dynamodb:UpdateItem MEMBER#*"], &[]),
        ("record-consent", &["dynamodb:GetItem MEMBER#*", "dynamodb:UpdateItem MEMBER#*"], &[]),
        ("save-preferences", &["dynamodb:GetItem MEMBER#*", "dynamodb:Query MEMBER#*", "dynamodb:UpdateItem MEMBER#*"], &[]),
        ("confirm-signup", &["dynamodb:GetItem MEMBER#*", "dynamodb:UpdateItem MEMBER#*"], &[]),
        ("read-statements", &["dynamodb:Query MEMBER#*"], &[]),
        ("statement-documents", &["dynamodb:Query MEMBER#*"], &[]),
        ("unsubscribe", &["dynamodb:GetItem MEMBER#*", "dynamodb:UpdateItem MEMBER#*"], &[]),
        ("notify-publication", &["dynamodb:Query PUB#*"], &["sqs:SendMessage NoticeQueue", "sqs:SendMessage NoticeDeadLetterQueue"]),
        (
            "send-update-notice",
            &["dynamodb:GetItem MEMBER#*", "dynamodb:Query MEMBER#*", "dynamodb:UpdateItem MEMBER#*", "dynamodb:GetItem SENDRATE", "dynamodb:UpdateItem SENDRATE"],
            &["ses:SendEmail", "sqs:ChangeMessageVisibility NoticeQueue", "sqs:DeleteMessage NoticeQueue", "sqs:GetQueueAttributes NoticeQueue", "sqs:ReceiveMessage NoticeQueue"],
        ),
        ("ses-events", &["dynamodb:GetItem MEMBER#*", "dynamodb:UpdateItem MEMBER#*"], &["sqs:SendMessage SesEventsDeadLetterQueue"]),
        (
            "send-welcome-email",
            &["dynamodb:GetItem MEMBER#*", "dynamodb:UpdateItem MEMBER#*", "dynamodb:GetItem SENDRATE", "dynamodb:UpdateItem SENDRATE"],
            &["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams", "ses:SendEmail", "sqs:SendMessage WelcomeDeadLetterQueue"],
        ),
        // The statements import (functions/import-statements, statement-store/src/dynamodb.rs):
        // the check pass looks up the owner items (REC#) and records (MEMBER#) with BatchGetItem,
        // writes a small file with BatchWriteItem, and keeps IMPORT#<sha256> FILE and RUN and
        // IMPORT#LOCK (GetItem, PutItem, UpdateItem for the chunk count, DeleteItem to unlock).
        (
            "import-statements",
            &[
                "dynamodb:BatchGetItem MEMBER#*", "dynamodb:BatchGetItem REC#*", "dynamodb:BatchWriteItem MEMBER#*", "dynamodb:BatchWriteItem REC#*", "dynamodb:BatchWriteItem PUB#*",
                "dynamodb:DeleteItem IMPORT#*", "dynamodb:GetItem IMPORT#*", "dynamodb:PutItem IMPORT#*", "dynamodb:UpdateItem IMPORT#*",
            ],
            &[
                "s3:GetObject incoming/*", "s3:GetObjectVersion incoming/*", "s3:PutObject processed/*", "s3:PutObject rejected/*",
                "sqs:SendMessage ImportChunkQueue", "sqs:SendMessage ImportWaitQueue", "sqs:SendMessage ImportDeadLetterQueue",
                "sqs:DeleteMessage ImportWaitQueue", "sqs:GetQueueAttributes ImportWaitQueue", "sqs:ReceiveMessage ImportWaitQueue",
            ],
        ),
        (
            "apply-statements",
            &[
                "dynamodb:BatchGetItem MEMBER#*", "dynamodb:BatchGetItem REC#*", "dynamodb:BatchWriteItem MEMBER#*", "dynamodb:BatchWriteItem REC#*", "dynamodb:BatchWriteItem PUB#*",
                "dynamodb:DeleteItem IMPORT#*", "dynamodb:GetItem IMPORT#*", "dynamodb:PutItem IMPORT#*", "dynamodb:UpdateItem IMPORT#*",
            ],
            &[
                "s3:GetObject incoming/*", "s3:GetObjectVersion incoming/*", "s3:PutObject processed/*",
                "sqs:ChangeMessageVisibility ImportChunkQueue", "sqs:DeleteMessage ImportChunkQueue", "sqs:GetQueueAttributes ImportChunkQueue", "sqs:ReceiveMessage ImportChunkQueue",
            ],
        ),
    ];
    let t = template();
    for (name, f) in functions(&t) {
        let binary = function_name(&f);
        let (_, table_actions, other_actions) = expected.iter().find(|(b, _, _)| *b == binary).unwrap_or_else(|| panic!("{binary}: say what it may do"));
        let mut on_table = BTreeSet::new();
        let mut others = BTreeSet::new();
        for s in role_statements(&t, &f) {
            assert_eq!(s["Effect"], "Allow");
            let resource = resource_text(&s["Resource"]);
            for a in actions(&s) {
                if a.starts_with("logs:") {
                    assert!(a == "logs:CreateLogStream" || a == "logs:PutLogEvents", "{name}: {a}");
                    assert!(resource.ends_with(&format!("/aws/lambda/${{AWS::StackName}}-{binary}:*")), "{name} writes only its own log group: {resource}");
                } else if resource == "Table.Arn" {
                    let keys = &s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
                    let keys: Vec<&str> = keys.as_sequence().unwrap_or_else(|| panic!("{name}: {a} on the table without dynamodb:LeadingKeys")).iter().filter_map(Value::as_str).collect();
                    for k in keys {
                        on_table.insert(format!("{a} {k}"));
                    }
                } else if a.starts_with("s3:") || a.starts_with("sqs:") {
                    // With what they act on: the bucket's prefix, the queue.
                    let resources: Vec<String> = match &s["Resource"] {
                        Value::Sequence(list) => list.iter().map(resource_text).collect(),
                        other => vec![resource_text(other)],
                    };
                    for r in resources {
                        let r = r.trim_start_matches("${ImportBucket.Arn}/").trim_end_matches(".Arn");
                        others.insert(format!("{a} {r}"));
                    }
                } else {
                    others.insert(a);
                }
            }
        }
        let table_expected: BTreeSet<String> = table_actions.iter().map(|s| s.to_string()).collect();
        assert_eq!(on_table, table_expected, "{name}: table actions");
        let others_expected: BTreeSet<String> = other_actions.iter().map(|s| s.to_string()).collect();
        assert_eq!(others, others_expected, "{name}: other actions");
    }
}

/// Issue 11: a step, mail or bounce function cannot change or erase a profile. Every write on a
/// member's partition by them is an UpdateItem limited to the signup record's and the consent's
/// attributes (the code's lists), and none of them may PutItem, DeleteItem or BatchWriteItem there.
#[test]
fn signup_writers_may_write_only_the_records_attributes() {
    use kenpo_shared::store::dynamodb::{CONSENT_ATTRIBUTES, END_SESSIONS_ATTRIBUTES, SIGNUP_ATTRIBUTES};
    let allowed: BTreeSet<&str> = SIGNUP_ATTRIBUTES.iter().chain(CONSENT_ATTRIBUTES).copied().collect();
    let logout: BTreeSet<&str> = END_SESSIONS_ATTRIBUTES.iter().copied().collect();
    // The notice sender: the record's (it marks a refused recipient) and its claim's.
    let notice_sender: BTreeSet<&str> = allowed.iter().copied().chain(["claimedAt", "sentAt", "expiresAt"]).collect();
    for profile_field in ["insurerNumber", "birthDate", "name", "leftOn", "category"] {
        assert!(!allowed.contains(profile_field), "{profile_field}");
    }
    let t = template();
    let mut writers = 0;
    for (name, f) in functions(&t) {
        if ["import-statements", "apply-statements"].contains(&function_name(&f).as_str()) {
            continue; // the statements' writers: see docs/DATA.md ("What the roles may do")
        }
        for st in role_statements(&t, &f) {
            let keys = st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].as_sequence().cloned().unwrap_or_default();
            if !keys.iter().any(|k| k == "MEMBER#*") {
                continue;
            }
            for a in actions(&st) {
                assert!(!["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"].contains(&a.as_str()), "{name}: {a} on MEMBER#*");
                if a == "dynamodb:UpdateItem" {
                    let listed: BTreeSet<&str> = st["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
                        .as_sequence()
                        .unwrap_or_else(|| panic!("{name}: UpdateItem without dynamodb:Attributes"))
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    let expected = match function_name(&f).as_str() {
                        "portal-entry" => &logout,
                        "send-update-notice" => &notice_sender,
                        _ => &allowed,
                    };
                    assert_eq!(&listed, expected, "{name}");
                    writers += 1;
                }
            }
        }
    }
    assert_eq!(writers, 9, "the four steps, logout, the welcome mail, the bounce handler, the unsubscribe and the notice sender");
    assert!(logout.is_subset(&allowed) && !logout.contains("email") && !logout.contains("notifyMedicalExpenses"), "logout cannot move the member's mail");
}

#[test]
fn mail_may_be_sent_only_as_the_sender_identity() {
    let t = template();
    let (_, f) = functions(&t).into_iter().find(|(_, f)| binary(f) == "send-welcome-email").unwrap();
    let ses: Vec<Value> = role_statements(&t, &f).into_iter().filter(|s| actions(s).iter().any(|a| a.starts_with("ses:"))).collect();
    assert_eq!(ses.len(), 1);
    let resources: Vec<String> = ses[0]["Resource"].as_sequence().unwrap().iter().map(|r| serde_yaml::to_string(r).unwrap()).collect();
    assert_eq!(resources.len(), 3, "{resources:?}");
    assert!(resources.iter().all(|r| r.contains(":identity/${SenderDomain}") || r.contains(":identity/${SenderAddress}") || r.contains(":configuration-set/${WelcomeMailConfigurationSet}")), "{resources:?}");
}

#[test]
fn only_the_hand_off_function_holds_the_portal_secret() {
    let t = template();
    assert!(t["Globals"]["Function"]["Environment"]["Variables"].get("SSO_JWT_SECRET").is_none(), "not in Globals");
    for (name, f) in functions(&t) {
        let has = f["Properties"]["Environment"]["Variables"].get("SSO_JWT_SECRET").is_some();
        assert_eq!(has, binary(&f) == "portal-entry", "{name}");
    }
}

/// The session key reaches exactly the functions whose code reads or sets the session cookie
/// (issue 11, item 11): a function's crate that calls `authenticated`, `cookie_settings` or the
/// sessions gets `SESSION_KEY` (and its previous key), no other function does.
#[test]
fn only_the_cookie_readers_hold_the_session_key() {
    let t = template();
    assert!(t["Globals"]["Function"]["Environment"]["Variables"].get("SESSION_KEY").is_none(), "not in Globals");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut readers = 0;
    for (name, f) in functions(&t) {
        let src = root.join("functions").join(binary(&f)).join("src");
        let code: String = std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display())).map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default()).collect();
        let reads_cookies = ["authenticated(", "cookie_settings(", ".sessions."].iter().any(|p| code.contains(p));
        let vars = &f["Properties"]["Environment"]["Variables"];
        assert_eq!(vars.get("SESSION_KEY").is_some(), reads_cookies, "{name}: SESSION_KEY");
        assert_eq!(vars.get("SESSION_KEY_PREVIOUS").is_some(), reads_cookies, "{name}: SESSION_KEY_PREVIOUS");
        readers += usize::from(reads_cookies);
    }
    assert_eq!(readers, 8, "the five steps' status and writers, portal-entry, read-statements, statement-documents");
}

/// A template value as CloudFormation's JSON (what scripts/expand-template.py prints): short tags
/// in their long form (`!Ref X` as `{"Ref": "X"}`, `!Sub s` as `{"Fn::Sub": "s"}`), `Fn::GetAtt`
/// `A.B` as `["A", "B"]`.
fn cloudformation_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    let intrinsic = |name: &str, arg: &Value| -> Json {
        let arg = match (name, arg) {
            ("Fn::GetAtt", Value::String(a)) => Json::Array(a.splitn(2, '.').map(|p| Json::String(p.to_owned())).collect()),
            _ => cloudformation_json(arg),
        };
        Json::Object([(name.to_owned(), arg)].into_iter().collect())
    };
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.into()
            } else if let Some(i) = n.as_i64() {
                i.into()
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or(Json::Null, Json::Number)
            }
        }
        Value::String(s) => Json::String(s.clone()),
        Value::Sequence(items) => Json::Array(items.iter().map(cloudformation_json).collect()),
        Value::Mapping(m) => match m.iter().next() {
            Some((Value::String(k), arg)) if m.len() == 1 && k == "Fn::GetAtt" => intrinsic(k, arg),
            _ => Json::Object(
                m.iter()
                    .map(|(k, x)| {
                        let key = k.as_str().map(str::to_owned).unwrap_or_else(|| serde_yaml::to_string(k).unwrap().trim_end().to_owned());
                        (key, cloudformation_json(x))
                    })
                    .collect(),
            ),
        },
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            intrinsic(&if name == "Ref" || name == "Condition" { name.to_owned() } else { format!("Fn::{name}") }, &t.value)
        }
    }
}

/// The loops write the repeated resources once; what CloudFormation deploys is still what the
/// template deployed before the loops, resource for resource and property for property. The fixture is
/// `scripts/expand-template.py` run on that template; after an intended change to what is deployed,
/// regenerate it (`scripts/expand-template.py > tests/fixtures/template-resources.json`) and review
/// its diff.
#[test]
fn the_template_deploys_the_same_resources_as_before() {
    let expected: serde_json::Value = serde_json::from_str(include_str!("../fixtures/template-resources.json")).expect("the fixture is JSON");
    let raw: Value = serde_yaml::from_str(kenpo::routes::TEMPLATE).unwrap();
    assert!(raw["Resources"].as_mapping().unwrap().keys().any(|k| k.as_str().is_some_and(|k| k.starts_with("Fn::ForEach::"))), "the test covers the expansion");
    let t = template();
    assert_eq!(kenpo::routes::expanded(&t), t, "expanding an expanded template changes nothing");
    let actual = cloudformation_json(&t["Resources"]);
    let (expected, actual) = (expected.as_object().unwrap(), actual.as_object().unwrap());
    let ids: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    let differing: Vec<&&String> = ids.iter().filter(|id| expected.get(id.as_str()) != actual.get(id.as_str())).collect();
    for id in &differing {
        eprintln!("{id}\n  fixture:  {}\n  template: {}", serde_json::to_string(&expected.get(id.as_str())).unwrap(), serde_json::to_string(&actual.get(id.as_str())).unwrap());
    }
    assert!(differing.is_empty(), "resources that differ from tests/fixtures/template-resources.json: {differing:?}");
}

#[test]
fn every_template_route_is_in_the_openapi_document() {
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml")).unwrap()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for route in routes().unwrap() {
        let operation = &doc["paths"][route.path.as_str()][route.method.to_lowercase().as_str()];
        assert!(operation.is_mapping(), "{} {} is not in docs/openapi.yaml", route.method, route.path);
    }
}

#[test]
fn every_error_code_is_in_the_openapi_document_and_no_other() {
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml")).unwrap()).unwrap();
    let documented: BTreeSet<String> = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
        .as_sequence()
        .expect("Error.code enum")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let coded: BTreeSet<String> = kenpo_shared::contract::ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(documented, coded);
}

/// Issue 12: every function that sends mail takes its slots from the account's send-rate ledger
/// (the welcome mail and the update notices share `NOTIFY_SEND_RATE`), may write only that item's
/// attributes there, and is given the rate.
#[test]
fn every_mail_sender_shares_the_send_rate_ledger() {
    let t = template();
    let mut senders = 0;
    for (name, f) in functions(&t) {
        let statements = role_statements(&t, &f);
        if !statements.iter().any(|s| actions(s).iter().any(|a| a == "ses:SendEmail")) {
            continue;
        }
        senders += 1;
        let slot = statements
            .iter()
            .find(|s| s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].as_sequence().is_some_and(|k| k.iter().any(|k| k == "SENDRATE")))
            .unwrap_or_else(|| panic!("{name} sends mail without the send-rate ledger"));
        assert_eq!(actions(slot), ["dynamodb:GetItem", "dynamodb:UpdateItem"], "{name}");
        let names = &t["Mappings"]["SendRateLedger"]["Attributes"]["Names"];
        let names: Vec<&str> = names.as_sequence().map(|n| n.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        assert_eq!(names, ["PK", "SK", "nextSlot", "pausedUntil"], "{name}");
        assert!(!f["Properties"]["Environment"]["Variables"]["NOTIFY_SEND_RATE"].is_null(), "{name} is given NOTIFY_SEND_RATE");
    }
    assert_eq!(senders, 2, "the welcome mail and the update notices");
}

/// Issue 13: every alarm reaches a person by default (the stack's topic mails `AlarmEmail`, a
/// required parameter, unless `AlarmTopicArn` names the society's own topic), and the outputs name
/// what the guide's operator steps need: the alarm topic, the access log, the SES topic, the queues.
#[test]
fn every_alarm_notifies_someone_and_the_outputs_name_what_operators_need() {
    let t = template();
    let resources = t["Resources"].as_mapping().expect("Resources");
    let mut alarms = 0;
    let mut check = |name: &str, props: &Value| {
        let actions = props["AlarmActions"].as_sequence().unwrap_or_else(|| panic!("{name} notifies nobody"));
        assert_eq!(actions.len(), 1, "{name}");
        let text = serde_yaml::to_string(&actions[0]).unwrap();
        assert!(text.contains("HasAlarmTopic") && text.contains("AlarmTopicArn") && text.contains("AlarmTopic"), "{name}: {text}");
        alarms += 1;
    };
    for (name, r) in resources {
        let name = name.as_str().unwrap_or_default().to_owned();
        if r["Type"] == "AWS::CloudWatch::Alarm" {
            check(&name, &r["Properties"]);
        }
    }
    assert!(alarms >= 21, "{alarms} alarms (the loops expanded)");
    let topic = &t["Resources"]["AlarmTopic"];
    assert_eq!(topic["Condition"], "CreateAlarmTopic");
    let subscription = &topic["Properties"]["Subscription"][0];
    assert_eq!(subscription["Protocol"], "email");
    assert!(serde_yaml::to_string(&subscription["Endpoint"]).unwrap().contains("AlarmEmail"));
    assert!(t["Parameters"]["AlarmEmail"]["Default"].is_null(), "required: no stack without someone to tell");
    for output in ["AlarmTopicArn", "AccessLogGroup", "SesEventsTopicArn", "NoticeDeadLetterQueueUrl", "DeadLetterQueueUrl", "SesEventsDeadLetterQueueUrl", "ImportDeadLetterQueueUrl", "TableName", "ApiUrl"] {
        assert!(!t["Outputs"][output]["Value"].is_null(), "output {output}");
    }
}

/// Issue 13: the template's default `TermsVersion` is the terms file's own version, so a deploy
/// with the defaults starts (web-pages refuses a mismatch at init).
#[test]
fn the_templates_terms_version_is_the_terms_files() {
    let t: Value = serde_yaml::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml")).unwrap()).unwrap();
    assert_eq!(t["Parameters"]["TermsVersion"]["Default"].as_str(), web_pages::terms_file_version());
}
