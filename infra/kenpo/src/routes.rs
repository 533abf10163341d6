//! The route table, read from `infra/template.yaml` itself (embedded at build time): the dev
//! server and the in-process tests route exactly the `HttpApi` events API Gateway routes, to the
//! function (crate) the template builds for them. Nothing else lists a route.

use std::sync::OnceLock;

use serde_yaml::Value;

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

/// The template's functions: (logical id, binary name, resource).
pub fn functions(template: &Value) -> Vec<(String, String, Value)> {
    template["Resources"]
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
            events.into_iter().filter(|e| e["Type"] == "HttpApi").map(move |e| {
                let p = &e["Properties"];
                Route { method: p["Method"].as_str().unwrap_or("").to_uppercase(), path: p["Path"].as_str().unwrap_or("").to_owned(), function: function.clone() }
            })
        })
        .collect();
    routes.sort();
    routes
}

/// The deployed template, parsed once. Errors: the embedded template is not YAML (a build from
/// a broken checkout; the tests catch it first).
pub fn template() -> Result<&'static Value, String> {
    static PARSED: OnceLock<Result<Value, String>> = OnceLock::new();
    PARSED.get_or_init(|| serde_yaml::from_str(TEMPLATE).map_err(|e| format!("infra/template.yaml: {e}"))).as_ref().map_err(Clone::clone)
}

/// The deployed template's routes.
pub fn routes() -> Result<Vec<Route>, String> {
    template().map(routes_of)
}
