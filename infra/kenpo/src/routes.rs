//! The route table: exactly what `infra/template.yaml` routes (a test compares the two).

use lambda_http::http::Method;

/// The Lambda functions, by their binary (crate) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    WebPages,
    PortalEntry,
    SignupStatus,
    VerifyIdentity,
    RecordConsent,
    SavePreferences,
    ConfirmSignup,
}

impl Function {
    pub fn binary(self) -> &'static str {
        match self {
            Function::WebPages => "web-pages",
            Function::PortalEntry => "portal-entry",
            Function::SignupStatus => "signup-status",
            Function::VerifyIdentity => "verify-identity",
            Function::RecordConsent => "record-consent",
            Function::SavePreferences => "save-preferences",
            Function::ConfirmSignup => "confirm-signup",
        }
    }
}

pub struct Route {
    pub method: &'static str,
    /// API Gateway path; `{proxy+}` matches the rest.
    pub path: &'static str,
    pub function: Function,
}

const fn route(method: &'static str, path: &'static str, function: Function) -> Route {
    Route { method, path, function }
}

pub const ROUTES: &[Route] = &[
    route("GET", "/", Function::WebPages),
    route("GET", "/signup/identity", Function::WebPages),
    route("GET", "/signup/preferences", Function::WebPages),
    route("GET", "/signup/confirm", Function::WebPages),
    route("GET", "/signup/complete", Function::WebPages),
    route("GET", "/menu", Function::WebPages),
    route("GET", "/assets/{proxy+}", Function::WebPages),
    route("POST", "/sso", Function::PortalEntry),
    route("POST", "/logout", Function::PortalEntry),
    route("GET", "/api/signup", Function::SignupStatus),
    route("POST", "/api/signup/identity", Function::VerifyIdentity),
    route("POST", "/api/signup/consent", Function::RecordConsent),
    route("PUT", "/api/signup/preferences", Function::SavePreferences),
    route("POST", "/api/signup/confirm", Function::ConfirmSignup),
];

fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix("{proxy+}") {
        Some(prefix) => path.len() > prefix.len() && path.starts_with(prefix),
        None => pattern == path,
    }
}

/// What answers `method path`: the function, or the methods the path does take (for `Allow`).
pub enum Dispatch {
    To(Function),
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

pub fn dispatch(method: &Method, path: &str) -> Dispatch {
    let mut allowed = Vec::new();
    for r in ROUTES.iter().filter(|r| path_matches(r.path, path)) {
        if r.method == method.as_str() || (r.method == "GET" && method == Method::HEAD) {
            return Dispatch::To(r.function);
        }
        allowed.push(r.method);
        if r.method == "GET" {
            allowed.push("HEAD");
        }
    }
    if allowed.is_empty() { Dispatch::NotFound } else { Dispatch::MethodNotAllowed(allowed) }
}
