//! `/dev/import` (development only): a society's medical or benefits CSV applied to the dev store
//! exactly as the S3 import applies it (`kenpo_statement_store::import`).
//!
//! - `POST /dev/import` with `Content-Type: text/csv` (body up to 50 MB): the report as JSON
//!   (`{"kind", "applied", "warnings", "warningCount", "errors", "errorCount"}`), 200 when applied
//!   (or applied before), 422 when refused (`kind` null for a header that is neither kind).
//! - `GET /dev/import`: a page with a file form; its `multipart/form-data` POST answers the same
//!   report as a page.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kenpo_shared::ApiError;
use kenpo_shared::contract::ErrorCode;
use kenpo_shared::http::{html_response, json_response};
use kenpo_statement_store::FileStatus;
use kenpo_statement_store::import::{ImportError, Imported, Quiet, import_file};
use kenpo_statements::report::{Issue, Report};
use kenpo_statements::types::StatementKind;

use crate::Dev;
use crate::router::to_axum;

/// The largest file `/dev/import` takes (DESIGN.md Part 2): 50 MB.
pub const MAX_IMPORT_BYTES: usize = 50 * 1024 * 1024;

/// The `/dev/import` routes, with their own body limit.
pub fn routes() -> axum::Router<Arc<Dev>> {
    axum::Router::new().route("/dev/import", get(page).post(post)).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
}

/// One line for a terminal or a page: what the import did.
pub fn summary_line(imported: &Imported) -> String {
    let r = &imported.report;
    let kind = r.kind.map_or("（種類不明）", kind_label);
    match imported.status {
        _ if imported.seen_before => format!("{kind}: 同じファイルは取り込み済みです（変更なし）。"),
        FileStatus::Rejected => format!("{kind}: 誤りが{}件あるため、ファイル全体を取り込みませんでした。", r.error_count),
        _ if r.warning_count > 0 => format!("{kind}: {}行を反映しました（警告{}件）。", r.applied, r.warning_count),
        _ => format!("{kind}: {}行を反映しました。", r.applied),
    }
}

fn kind_label(kind: StatementKind) -> &'static str {
    match kind {
        StatementKind::Medical => "医療費",
        StatementKind::Benefits => "給付金",
    }
}

/// The report's errors, one `N行目 列: 内容` per line (never a value from the file).
pub fn issue_lines(report: &Report) -> String {
    let mut lines: Vec<String> = report.errors.iter().map(|i| format!("{}行目 {}: {}", i.line, i.column, i.message)).collect();
    if report.error_count > report.errors.len() as u64 {
        lines.push(format!("（ほか{}件）", report.error_count - report.errors.len() as u64));
    }
    lines.join("\n")
}

struct Shown {
    summary: String,
    errors: Vec<Issue>,
    error_count: u64,
    warnings: Vec<Issue>,
    warning_count: u64,
}

#[derive(askama::Template)]
#[template(path = "dev_import.html")]
struct ImportPage {
    title: &'static str,
    /// This server's origin, for the page's `curl` example.
    base: String,
    result: Option<Shown>,
}

/// The origin the browser used (`Host`), for the page's example.
fn base_of(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b".:-[]".contains(&b)));
    format!("http://{}", host.unwrap_or("127.0.0.1:3000"))
}

fn render(base: String, result: Option<Shown>) -> Response {
    match askama::Template::render(&ImportPage { title: "明細の取り込み（開発用）", base, result }) {
        Ok(html) => to_axum(html_response(200, html)),
        Err(e) => {
            tracing::error!(error = %e, "dev import page not rendered");
            to_axum(ApiError::internal().into_response())
        }
    }
}

async fn page(headers: HeaderMap) -> Response {
    render(base_of(&headers), None)
}

/// The file applied; when it was, today's update notices go out (DESIGN.md Part 2: at once in
/// the dev server).
async fn apply(dev: &Arc<Dev>, bytes: &[u8]) -> Result<Imported, ApiError> {
    let imported = apply_file(dev, bytes).await?;
    if !imported.report.is_refused() {
        crate::notices::notify_today(dev.clone());
    }
    Ok(imported)
}

async fn apply_file(dev: &Dev, bytes: &[u8]) -> Result<Imported, ApiError> {
    import_file(dev.statements.as_ref(), bytes, dev.app.clock.now(), &Quiet).await.map_err(|e| match e {
        ImportError::Busy => {
            let mut e = ApiError::with_message(ErrorCode::TemporarilyUnavailable, "ほかのファイルを取り込み中です。終わってからもう一度お試しください。");
            e.retry_after = Some(5);
            e
        }
        ImportError::Store(e) => {
            tracing::warn!(code = e.code(), "dev import: store failed");
            ApiError::temporarily_unavailable()
        }
    })
}

async fn post(State(dev): State<Arc<Dev>>, headers: HeaderMap, request: axum::extract::Request) -> Response {
    // Only the dev server's own pages may upload (a page of another site the developer visits
    // must not inject statements and mails).
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !dev.app.settings.allowed_origins.iter().any(|o| o == origin) {
        return to_axum(ApiError::cross_origin().into_response());
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        return form_post(&dev, base_of(&headers), request).await;
    }
    if !content_type.starts_with("text/csv") {
        return to_axum(ApiError::with_message(ErrorCode::UnsupportedMediaType, "CSV を Content-Type: text/csv で送ってください。").into_response());
    }
    let bytes = match axum::body::to_bytes(request.into_body(), MAX_IMPORT_BYTES).await {
        Ok(b) => b,
        Err(_) => return to_axum(ApiError::too_large().into_response()),
    };
    match apply(&dev, &bytes).await {
        Ok(imported) => {
            let status = if imported.report.is_refused() { 422 } else { 200 };
            to_axum(json_response(status, &imported.report))
        }
        Err(e) => to_axum(e.into_response()),
    }
}

async fn form_post(dev: &Arc<Dev>, base: String, request: axum::extract::Request) -> Response {
    let mut form = match Multipart::from_request(request, &()).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let message = |text: &str| render(base.clone(), Some(Shown { summary: text.into(), errors: vec![], error_count: 0, warnings: vec![], warning_count: 0 }));
    let mut bytes = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                match field.bytes().await {
                    Ok(b) => bytes = Some(b),
                    Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return message("ファイルが大きすぎます（50 MB まで）。"),
                    Err(_) => return message("ファイルを最後まで受け取れませんでした。もう一度お試しください。"),
                }
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return message("ファイルが大きすぎます（50 MB まで）。"),
            Err(_) => return message("送信された内容を読めませんでした。もう一度お試しください。"),
        }
    }
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return message("ファイルを選んでください（空のファイルは取り込めません）。");
    };
    match apply(dev, &bytes).await {
        Ok(imported) => {
            let r = &imported.report;
            render(base, Some(Shown {
                summary: summary_line(&imported),
                errors: r.errors.clone(),
                error_count: r.error_count,
                warnings: r.warnings.clone(),
                warning_count: r.warning_count,
            }))
        }
        Err(e) => render(base, Some(Shown { summary: e.message, errors: vec![], error_count: 0, warnings: vec![], warning_count: 0 })),
    }
}
