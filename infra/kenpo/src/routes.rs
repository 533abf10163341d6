//! The route table, read from `infra/template.yaml` itself (embedded at build time): the dev
//! server and the in-process tests route exactly the `HttpApi` events API Gateway routes, to the
//! function (crate) the template builds for them. Nothing else lists a route.
//!
//! The template writes its repeated resources once, as `Fn::ForEach` loops of the
//! `AWS::LanguageExtensions` transform; [`expanded`] expands them as CloudFormation does, so every
//! reader here sees the resources that are deployed.

use std::sync::OnceLock;

use serde_yaml::value::TaggedValue;
use serde_yaml::{Mapping, Value};

/// The SAM template, as deployed.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// One `HttpApi` event of the template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// Upper case (`GET`, `POST`, …).
    pub method: String,
    /// API Gateway's path; `{proxy+}` matches the rest of the path.
    pub path: String,
    /// The function's binary (crate) name: `Metadata.BuildProperties.Binary`.
    pub function: String,
}

/// The template's functions, as deployed (see [`expanded`]): (logical id, binary name, resource).
pub fn functions(template: &Value) -> Vec<(String, String, Value)> {
    expanded(template)["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or("").to_owned();
            (k.as_str().unwrap_or("").to_owned(), binary, r.clone())
        })
        .collect()
}

/// Every `HttpApi` event of `template`, sorted.
pub fn routes_of(template: &Value) -> Vec<Route> {
    let mut routes: Vec<Route> = functions(template)
        .into_iter()
        .flat_map(|(_, function, resource)| {
            let events: Vec<Value> = resource["Properties"]["Events"].as_mapping().into_iter().flatten().map(|(_, e)| e.clone()).collect();
            // An event without a Path is the API's `$default` route: the dev router's fallback.
            events.into_iter().filter(|e| e["Type"] == "HttpApi" && e["Properties"]["Path"].is_string()).map(move |e| {
                let p = &e["Properties"];
                Route { method: p["Method"].as_str().unwrap_or("").to_uppercase(), path: p["Path"].as_str().unwrap_or("").to_owned(), function: function.clone() }
            })
        })
        .collect();
    routes.sort();
    routes
}

/// The deployed template, parsed and [`expanded`] once. Errors: the embedded template is not YAML
/// (a build from a broken checkout; the tests catch it first).
pub fn template() -> Result<&'static Value, String> {
    static PARSED: OnceLock<Result<Value, String>> = OnceLock::new();
    PARSED.get_or_init(|| serde_yaml::from_str(TEMPLATE).map(|t| expanded(&t)).map_err(|e| format!("infra/template.yaml: {e}"))).as_ref().map_err(Clone::clone)
}

/// The deployed template's routes.
pub fn routes() -> Result<Vec<Route>, String> {
    template().map(routes_of)
}

// ---------------------------------------------------------------------------------------------
// Fn::ForEach (AWS::LanguageExtensions), as scripts/expand-template.py does it
// ---------------------------------------------------------------------------------------------

/// `template` as CloudFormation deploys it: in `Resources`, `Conditions` and `Outputs`, every
/// `Fn::ForEach::<Loop>: [Identifier, [values], {OutputKey: OutputValue}]` replaced by one copy of
/// its body per value, in which `${Identifier}` and `&{Identifier}` (non-alphanumerics dropped) are
/// substituted in keys and in `Fn::Sub` strings, `!Ref Identifier` becomes the value, and a `Ref` or
/// `Fn::GetAtt` of an `Fn::Sub` left without variables becomes the name it makes; then
/// `Fn::FindInMap` of three literal keys becomes the mapping's value, and an `Fn::Sub` variable
/// whose value is a literal string is written into the string. Everything else keeps its form
/// (`!Ref X` stays a [`Value::Tagged`]). Expanding an expanded template changes nothing.
/// scripts/expand-template.py is the strict twin (it refuses what CloudFormation would refuse);
/// here a malformed loop is left as it is, and the test comparing the expansion with
/// tests/fixtures/template-resources.json fails.
pub fn expanded(template: &Value) -> Value {
    let mappings = template.get("Mappings").cloned().unwrap_or(Value::Null);
    let mut out = template.clone();
    if let Some(sections) = out.as_mapping_mut() {
        for section in ["Resources", "Conditions", "Outputs"] {
            if let Some(v) = sections.get_mut(section) {
                *v = resolve(expand(v), &mappings);
            }
        }
    }
    out
}

/// An intrinsic function, short (`!Sub x`) or long (`{"Fn::Sub": x}`): its long name and argument.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    let long = |name: &str| if name == "Ref" || name == "Condition" { name.to_owned() } else { format!("Fn::{name}") };
    match v {
        Value::Tagged(t) => Some((long(t.tag.to_string().trim_start_matches('!')), &t.value)),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k == "Condition" || k.starts_with("Fn::")).then(|| (k.to_owned(), arg))
        }
        _ => None,
    }
}

/// The intrinsic `original` is, with `arg` as its argument, in the same form.
fn same_form(original: &Value, arg: Value) -> Value {
    match original {
        Value::Tagged(t) => Value::Tagged(Box::new(TaggedValue { tag: t.tag.clone(), value: arg })),
        Value::Mapping(m) => Value::Mapping(m.keys().take(1).map(|k| (k.clone(), arg.clone())).collect()),
        _ => arg,
    }
}

fn placeholders(text: &str, identifier: &str, item: &str) -> String {
    let alphanumeric: String = item.chars().filter(char::is_ascii_alphanumeric).collect();
    text.replace(&format!("${{{identifier}}}"), item).replace(&format!("&{{{identifier}}}"), &alphanumeric)
}

/// Inside `Ref` or `Fn::GetAtt`: an `Fn::Sub` becomes the name it makes once no variable is left.
fn resolved_sub(v: &Value, identifier: &str, item: &str) -> Value {
    match intrinsic(v) {
        Some((name, Value::String(text))) if name == "Fn::Sub" => {
            let text = placeholders(text, identifier, item);
            if text.contains("${") { same_form(v, Value::String(text)) } else { Value::String(text) }
        }
        _ => substitute(v, identifier, item),
    }
}

/// One copy of a loop's body, for `identifier` = `item`.
fn substitute(v: &Value, identifier: &str, item: &str) -> Value {
    if let Some((name, arg)) = intrinsic(v) {
        match (name.as_str(), arg) {
            ("Ref", Value::String(target)) if target == identifier => return Value::String(item.to_owned()),
            ("Ref", arg) => return same_form(v, resolved_sub(arg, identifier, item)),
            ("Fn::Sub", Value::String(text)) => return same_form(v, Value::String(placeholders(text, identifier, item))),
            ("Fn::Sub", Value::Sequence(parts)) if matches!(parts.first(), Some(Value::String(_))) => {
                let parts = parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| match p {
                        Value::String(text) if i == 0 => Value::String(placeholders(text, identifier, item)),
                        other => substitute(other, identifier, item),
                    })
                    .collect();
                return same_form(v, Value::Sequence(parts));
            }
            ("Fn::GetAtt", Value::Sequence(parts)) => return same_form(v, Value::Sequence(parts.iter().map(|p| resolved_sub(p, identifier, item)).collect())),
            _ => {}
        }
    }
    match v {
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, x)| {
                    let k = match k {
                        Value::String(key) => Value::String(placeholders(key, identifier, item)),
                        other => other.clone(),
                    };
                    (k, substitute(x, identifier, item))
                })
                .collect(),
        ),
        Value::Sequence(s) => Value::Sequence(s.iter().map(|x| substitute(x, identifier, item)).collect()),
        Value::Tagged(t) => Value::Tagged(Box::new(TaggedValue { tag: t.tag.clone(), value: substitute(&t.value, identifier, item) })),
        other => other.clone(),
    }
}

/// A loop's `[Identifier, [values], {OutputKey: OutputValue}]`, if it is one.
fn for_each(v: &Value) -> Option<(&str, Vec<&str>, &Value)> {
    let [identifier, collection, body] = v.as_sequence()?.as_slice() else { return None };
    let items = collection.as_sequence()?.iter().map(Value::as_str).collect::<Option<Vec<&str>>>()?;
    body.is_mapping().then_some((identifier.as_str()?, items, body))
}

/// Every `Fn::ForEach::<Loop>` key in `v` (and below it) replaced by its copies, in place.
fn expand(v: &Value) -> Value {
    match v {
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, x) in m {
                let is_loop = k.as_str().is_some_and(|k| k.starts_with("Fn::ForEach::"));
                match for_each(x).filter(|_| is_loop) {
                    Some((identifier, items, body)) => {
                        for item in items {
                            if let Value::Mapping(copies) = expand(&substitute(body, identifier, item)) {
                                out.extend(copies);
                            }
                        }
                    }
                    None => {
                        out.insert(k.clone(), expand(x));
                    }
                }
            }
            Value::Mapping(out)
        }
        Value::Sequence(s) => Value::Sequence(s.iter().map(expand).collect()),
        Value::Tagged(t) => Value::Tagged(Box::new(TaggedValue { tag: t.tag.clone(), value: expand(&t.value) })),
        other => other.clone(),
    }
}

/// Bottom up: `Fn::FindInMap` of literal keys looked up in `mappings`; `Fn::Sub` variables that
/// are literal strings written into the string.
fn resolve(v: Value, mappings: &Value) -> Value {
    let v = match v {
        Value::Mapping(m) => Value::Mapping(m.into_iter().map(|(k, x)| (k, resolve(x, mappings))).collect()),
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(|x| resolve(x, mappings)).collect()),
        Value::Tagged(t) => {
            let TaggedValue { tag, value } = *t;
            Value::Tagged(Box::new(TaggedValue { tag, value: resolve(value, mappings) }))
        }
        other => other,
    };
    let replacement = match intrinsic(&v) {
        Some((name, Value::Sequence(args))) if name == "Fn::FindInMap" => match args.as_slice() {
            [Value::String(map), Value::String(top), Value::String(second)] => {
                mappings.get(map.as_str()).and_then(|m| m.get(top.as_str())).and_then(|m| m.get(second.as_str())).cloned()
            }
            _ => None,
        },
        Some((name, Value::Sequence(args))) if name == "Fn::Sub" => match args.as_slice() {
            [Value::String(text), Value::Mapping(variables)] => {
                let mut text = text.clone();
                let mut rest = Mapping::new();
                for (k, x) in variables {
                    match (k.as_str(), x) {
                        (Some(k), Value::String(literal)) => text = text.replace(&format!("${{{k}}}"), literal),
                        _ => {
                            rest.insert(k.clone(), x.clone());
                        }
                    }
                }
                let arg = if rest.is_empty() { Value::String(text) } else { Value::Sequence(vec![Value::String(text), Value::Mapping(rest)]) };
                Some(same_form(&v, arg))
            }
            _ => None,
        },
        _ => None,
    };
    replacement.unwrap_or(v)
}
