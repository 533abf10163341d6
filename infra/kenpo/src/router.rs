//! The dev server's router (axum): the template's routes (`crate::routes`), each served by the
//! handler of the function the template names, with API Gateway's request shape (payload 2.0,
//! the caller's source IP), a body limit, 404 and 405 with `Allow` from the router, and the
//! `/dev/*` pages. The in-process tests call the same router (`call`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::{MethodFilter, MethodRouter, on};
use kenpo_shared::ApiError;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, Response};
use tower::ServiceExt;

use crate::Dev;

/// API Gateway's own payload limit is 10 MB; the dev server stops reading at 1 MiB (the
/// handlers' own limit, `Settings::max_body_bytes`, is lower still).
pub const MAX_READ_BYTES: usize = 1024 * 1024;

/// The functions the dev server hosts behind HTTP routes: every template function with an
/// `HttpApi` event must be here (a test holds the two together).
pub const HTTP_FUNCTIONS: &[&str] = &["web-pages", "portal-entry", "signup-status", "verify-identity", "record-consent", "save-preferences", "confirm-signup", "read-statements", "statement-documents", "unsubscribe"];

/// One invocation of the function named `function`, as Lambda would run it.
pub async fn invoke(dev: &Dev, function: &str, req: Request) -> Response<Body> {
    let app = &dev.app;
    match function {
        "web-pages" => web_pages::handle(&app.settings, req).await,
        "portal-entry" => portal_entry::handle(app, &dev.handoff, req).await,
        "signup-status" => signup_status::handle(app, req).await,
        "verify-identity" => verify_identity::handle(app, req).await,
        "record-consent" => record_consent::handle(app, req).await,
        "save-preferences" => save_preferences::handle(app, req).await,
        "confirm-signup" => confirm_signup::handle(app, req).await,
        "read-statements" => read_statements::handle(&read_statements::Reader { app: app.clone(), statements: dev.statements.clone() }, req).await,
        "statement-documents" => {
            let documents = statement_documents::Documents { app: app.clone(), statements: dev.statements.clone(), font: dev.font.clone() };
            statement_documents::handle(&documents, req).await
        }
        "unsubscribe" => match kenpo_notices::UnsubscribeKey::new(&app.settings.notify_unsubscribe_key) {
            Some(key) => unsubscribe::handle(app, &key, req).await,
            None => ApiError::internal().into_response(),
        },
        other => {
            tracing::error!(function = other, "the template routes to a function the dev server does not host");
            ApiError::internal().into_response()
        }
    }
}

/// API Gateway writes `{proxy+}`; axum writes `{*proxy}`.
fn axum_path(path: &str) -> String {
    path.replace("{proxy+}", "{*proxy}")
}

/// The router: the template's routes, then the dev pages, then 404. Errors: the template
/// cannot be read, or names a method axum does not route.
pub fn router(dev: Arc<Dev>) -> Result<Router, String> {
    let dev_settings = Arc::new(dev.app.settings.clone());
    let mut by_path: std::collections::BTreeMap<String, MethodRouter<Arc<Dev>>> = std::collections::BTreeMap::new();
    for route in crate::routes::routes()? {
        let method = axum::http::Method::from_bytes(route.method.as_bytes()).map_err(|e| format!("{} {}: {e}", route.method, route.path))?;
        let filter = MethodFilter::try_from(method).map_err(|e| format!("{} {}: {e}", route.method, route.path))?;
        let function = route.function.clone();
        let handler = move |State(dev): State<Arc<Dev>>, req: axum::extract::Request| {
            let function = function.clone();
            async move { serve(&dev, &function, req).await }
        };
        let entry = by_path.remove(&route.path).unwrap_or_default();
        by_path.insert(route.path.clone(), entry.merge(on(filter, handler)));
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        router = router.route(&axum_path(&path), methods);
    }
    // The development upload, with its own body limit (50 MB), before the fallback's 1 MiB.
    router = router.merge(crate::dev_import::routes());
    let inner = router.fallback(|State(dev): State<Arc<Dev>>, req: axum::extract::Request| async move { fallback(&dev, req).await }).with_state(dev);
    // Outside the whole router, so the 405's `Allow` (added by the method router) is there to rewrite.
    let settings = dev_settings.clone();
    Ok(Router::new().fallback_service(inner).layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
        let settings = settings.clone();
        async move {
            let page = !req.uri().path().starts_with("/api/");
            method_not_allowed(next.run(req).await, page.then_some(settings.as_ref())).await
        }
    })))
}

/// A request through the router in-process (the tests), as the dev server would serve it.
pub async fn call(router: &Router, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from(bytes));
    match router.clone().oneshot(request).await {
        Ok(response) => from_axum(response).await,
        Err(never) => match never {},
    }
}

async fn serve(dev: &Dev, function: &str, req: axum::extract::Request) -> axum::response::Response {
    match to_lambda(req).await {
        Ok(request) => to_axum(invoke(dev, function, request).await),
        Err(response) => to_axum(response),
    }
}

async fn fallback(dev: &Dev, req: axum::extract::Request) -> axum::response::Response {
    let request = match to_lambda(req).await {
        Ok(r) => r,
        Err(response) => return to_axum(response),
    };
    let path = request.uri().path().to_owned();
    if let Some(response) = crate::dev_audit::handle(dev, &request, &path).await {
        return to_axum(response);
    }
    if let Some(response) = crate::dev_pages::handle(dev, &request, &path).await {
        return to_axum(response);
    }
    // What no route takes goes to the pages, as the API's `$default` route does on AWS: a
    // mistyped page address gets the pages' 404 page (never raw JSON), another method a 405, and
    // the API's own addresses their JSON 404.
    to_axum(invoke(dev, "web-pages", request).await)
}

/// The router's own 405 carries `Allow` but no body: give it the contract's JSON error on the
/// API, the pages' message page elsewhere (`page`: a browser typing `/logout` sees a page, never
/// raw JSON), with `Allow` as RFC 9110 lists it (`GET, HEAD`).
async fn method_not_allowed(response: axum::response::Response, page: Option<&kenpo_shared::config::Settings>) -> axum::response::Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).map(|v| v.split(',').map(str::trim).collect::<Vec<_>>().join(", "));
    if let Some(settings) = page {
        return to_axum(web_pages::message_page(settings, 405, "この操作は受け付けられません", "このアドレスはこの方法では開けません。トップページからお進みください。", allow.as_deref()));
    }
    let mut json = to_axum(ApiError::method_not_allowed().into_response());
    if let Some(v) = allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
        json.headers_mut().insert(header::ALLOW, v);
    }
    json
}

/// As API Gateway (HTTP API, payload 2.0) hands a request to a function, with the source IP.
async fn to_lambda(req: axum::extract::Request) -> Result<Request, Response<Body>> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    // A declared length over the limit is refused at once, before waiting for a body.
    let declared = req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_READ_BYTES as u64) {
        return Err(ApiError::too_large().into_response());
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_READ_BYTES).await {
        Ok(b) => b,
        Err(_) => return Err(ApiError::too_large().into_response()),
    };
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
    let mut request = Request::from_parts(parts, body);
    // API Gateway hands the handler the query string parsed, as `queryStringParameters`.
    if let Some(query) = request.uri().query().and_then(|q| q.parse::<lambda_http::aws_lambda_events::query_map::QueryMap>().ok()) {
        request = lambda_http::RequestExt::with_query_string_parameters(request, query);
    }
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.source_ip = peer.map(|p| p.ip().to_string());
    http.method = request.method().clone();
    http.path = Some(request.uri().path().to_owned());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http = http;
    request.extensions_mut().insert(RequestContext::ApiGatewayV2(context));
    Ok(request)
}

/// A function's answer as axum's response.
pub(crate) fn to_axum(response: Response<Body>) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        Body::Empty => axum::body::Body::empty(),
        Body::Text(t) => axum::body::Body::from(t),
        Body::Binary(b) => axum::body::Body::from(b),
        _ => axum::body::Body::empty(),
    };
    axum::response::Response::from_parts(parts, body)
}

async fn from_axum(response: axum::response::Response) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) if b.is_empty() => Body::Empty,
        Ok(b) => match String::from_utf8(b.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        },
        Err(_) => Body::Empty,
    };
    Response::from_parts(parts, body)
}
