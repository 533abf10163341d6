//! `GET` pages and `/assets/*`: the onboarding screens, embedded in the binary.

use kenpo_shared::App;
use kenpo_shared::http::html_response;
use lambda_http::{Body, Request, Response};

pub async fn handle(_app: &App, req: Request) -> Response<Body> {
    html_response(200, format!("<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>kenpo</title></head><body><p>{}</p></body></html>", req.uri().path()))
}
