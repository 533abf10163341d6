//! Issue 13: the functions route on the path after a named API stage. A custom domain mapped to a
//! stage `prod` (or `StageName` in a template) makes `lambda_http` put `/prod` in front of every
//! path; the pages must not answer 404 and `POST /logout` must not be taken for `/sso`. The
//! requests are the recorded HTTP API (payload 2.0) event with the stage named.

use kenpo_tests::*;
use lambda_http::{Body, Request};

/// The recorded event for `method` `path`, from stage `stage` (`rawPath` as a custom domain mapped
/// to that stage delivers it: without the stage).
fn staged(method: &str, path: &str, stage: &str, headers: &[(&str, &str)], body: Option<&str>) -> Request {
    let mut e: serde_json::Value = serde_json::from_str(include_str!("../fixtures/apigw-v2-http-request.json")).unwrap();
    e["rawPath"] = path.into();
    e["routeKey"] = format!("{method} {path}").into();
    e["requestContext"]["http"]["method"] = method.into();
    e["requestContext"]["http"]["path"] = path.into();
    e["requestContext"]["routeKey"] = format!("{method} {path}").into();
    e["requestContext"]["stage"] = stage.into();
    for (k, v) in headers {
        e["headers"][*k] = (*v).into();
    }
    if let Some(b) = body {
        e["body"] = b.into();
    }
    lambda_http::request::from_str(&e.to_string()).expect("a request")
}

fn status(r: &lambda_http::Response<Body>) -> u16 {
    r.status().as_u16()
}

#[tokio::test]
async fn pages_and_logout_route_the_same_under_a_named_stage() {
    let t = embedded_app().await;
    let settings = &t.app.settings;
    for stage in ["$default", "prod"] {
        let page = web_pages::handle(settings, staged("GET", "/signup/identity", stage, &[], None)).await;
        assert_eq!(status(&page), 200, "stage {stage}: the identity screen");
        let missing = web_pages::handle(settings, staged("GET", "/no-such-page", stage, &[], None)).await;
        assert_eq!(status(&missing), 404, "stage {stage}");
        // ログアウト from our own origin: the portal, never the hand-off's refusal.
        let origin = settings.allowed_origins[0].clone();
        let logout = portal_entry::handle(&t.app, &t.dev.handoff, staged("POST", "/logout", stage, &[("origin", &origin)], Some(""))).await;
        assert_eq!(status(&logout), 303, "stage {stage}: logout, not /sso");
        assert_eq!(logout.headers()["location"], settings.portal_url.as_str());
    }
}
