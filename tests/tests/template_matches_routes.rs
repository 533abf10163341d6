//! The SAM template and the dev server route exactly the same requests to the same functions;
//! every function crate is in the template; no IAM wildcard.

use std::collections::BTreeSet;

use kenpo::routes::ROUTES;
use serde_yaml::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("infra/template.yaml")).expect("template is YAML")
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
fn template_routes_equal_the_dev_server_routes() {
    let t = template();
    let mut in_template = BTreeSet::new();
    for (_, f) in functions(&t) {
        for (_, event) in f["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if event["Type"] == "HttpApi" {
                let p = &event["Properties"];
                in_template.insert((p["Method"].as_str().unwrap_or("").to_uppercase(), p["Path"].as_str().unwrap_or("").to_owned(), binary(&f)));
            }
        }
    }
    let in_dev: BTreeSet<_> = ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned(), r.function.binary().to_owned())).collect();
    assert_eq!(in_template, in_dev);
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
