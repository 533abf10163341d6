//! The members' downloads (DESIGN.md Part 2, "HTTP contract, part 2"):
//! `GET /api/documents/medical-expenses/<year>.pdf` (医療費のお知らせ of a calendar year of 診療年月),
//! `GET /api/documents/medical-expenses/<year>.csv` (the same lines for a spreadsheet) and
//! `GET /api/documents/benefits/<recordId>.pdf` (給付金支給決定通知書).
//!
//! Each costs ONE DynamoDB request, the session check included (the household read). Refusals as
//! the statements' reads (401, 409 `onboarding_required`, 403 `access_expired`), then 404
//! `not_found` for a name that is no document, a year without shown lines or a benefit that is
//! not shown (hidden, not yet published, expired, another household's); 503
//! `temporarily_unavailable` when the dev server has no font. The document carries exactly what
//! the screens show: hidden lines never.

use std::sync::Arc;

use chrono::NaiveDateTime;
use kenpo_documents::benefit::{BenefitNotice, benefit_notice_pdf};
use kenpo_documents::medical::{MedicalNotice, medical_notice_pdf};
use kenpo_documents::{DocumentFont, Issuer};
use kenpo_shared::App;
use kenpo_shared::contract::{ApiError, ErrorCode};
use kenpo_shared::http::{Confirmed, authenticated, download_response};
use kenpo_shared::session::Session;
use kenpo_statement_store::access::readable_household;
use kenpo_statement_store::{Household, Scope, StatementStore};
use kenpo_statements::read::{self, medical_lines_of_year};
use kenpo_statements::types::RecordId;
use lambda_http::{Body, Request, Response};

/// The function's state: the API state, the statements, and the font (`None`: the dev server
/// found none; documents answer 503).
pub struct Documents {
    pub app: Arc<App>,
    pub statements: Arc<dyn StatementStore>,
    pub font: Option<DocumentFont>,
}

/// A document a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    MedicalPdf(i32),
    MedicalCsv(i32),
    BenefitPdf(RecordId),
}

impl Wanted {
    /// `/api/documents/medical-expenses/2026.pdf` | `…/2026.csv` | `/api/documents/benefits/<recordId>.pdf`
    /// (a year is 4 ASCII digits; a record id as the files write it); anything else is `None` (404).
    pub fn parse(path: &str) -> Option<Self> {
        if let Some(file) = path.strip_prefix("/api/documents/medical-expenses/") {
            let (year, ext) = file.split_once('.')?;
            if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let year: i32 = year.parse().ok()?;
            return match ext {
                "pdf" => Some(Wanted::MedicalPdf(year)),
                "csv" => Some(Wanted::MedicalCsv(year)),
                _ => None,
            };
        }
        let id = path.strip_prefix("/api/documents/benefits/")?.strip_suffix(".pdf")?;
        let record_id = RecordId::parse(id).ok().filter(|r| r.as_str() == id)?;
        Some(Wanted::BenefitPdf(record_id))
    }
}

/// The answer to one request (errors as their JSON responses; the session cookie re-issued on
/// every answer but a 401).
pub async fn handle(documents: &Documents, req: Request) -> Response<Body> {
    let wanted = Wanted::parse(&kenpo_shared::http::route_path(&req));
    let navigation = is_navigation(&req);
    let response = authenticated(&documents.app, &req, |session, confirmed| answer(documents, wanted, session, confirmed)).await;
    if navigation && !response.status().is_success() {
        return as_page(&documents.app.settings, response);
    }
    response
}

/// A browser opening the link itself (a new tab, a bookmark: `Sec-Fetch-Mode: navigate`, or an
/// `Accept` that asks for HTML first), not the page's script, which fetches and shows refusals itself.
fn is_navigation(req: &Request) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    match header("sec-fetch-mode") {
        "" => header("accept").starts_with("text/html"),
        mode => mode == "navigate",
    }
}

/// A refusal as a page in the site's frame (never raw JSON in a member's tab), with the same
/// status, the JSON's Japanese message and the way on; the session cookie renewed as the JSON was.
fn as_page(settings: &kenpo_shared::config::Settings, response: Response<Body>) -> Response<Body> {
    use kenpo_shared::http::{framed_page, html_response, safe_href};
    let status = response.status().as_u16();
    let json: serde_json::Value = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or_default(),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    let code = json["error"]["code"].as_str().unwrap_or("");
    let message = json["error"]["message"].as_str().unwrap_or("ただいまダウンロードできません。時間をおいてお試しください。");
    let portal = safe_href(&settings.portal_url);
    let (title, links): (&str, Vec<(&str, &str)>) = match code {
        "unauthenticated" => ("ログインしてください", vec![(portal, "ポータルへ")]),
        "onboarding_required" => ("初回の登録がお済みではありません", vec![("/menu", "登録に進む")]),
        "access_expired" => ("ご利用期間が終了しました", vec![("/menu", "トップページへ")]),
        "not_found" => ("この書類はダウンロードできません", vec![("/medical-expenses", "医療費のお知らせへ"), ("/benefits", "給付金支給額へ")]),
        _ => ("ダウンロードできませんでした", vec![("/menu", "トップページへ")]),
    };
    let mut page = html_response(status, framed_page(settings, "/assets/app.css", title, message, &links));
    for cookie in response.headers().get_all(lambda_http::http::header::SET_COOKIE) {
        page.headers_mut().append(lambda_http::http::header::SET_COOKIE, cookie.clone());
    }
    if let Some(retry) = response.headers().get(lambda_http::http::header::RETRY_AFTER) {
        page.headers_mut().insert(lambda_http::http::header::RETRY_AFTER, retry.clone());
    }
    page
}

async fn answer(documents: &Documents, wanted: Option<Wanted>, session: Session, confirmed: Confirmed) -> Result<Response<Body>, ApiError> {
    let app = &documents.app;
    let scope = if matches!(wanted, Some(Wanted::BenefitPdf(_))) { Scope::Benefits } else { Scope::All };
    let (household, today) = readable_household(app, documents.statements.as_ref(), &session, &confirmed, scope).await?;
    let wanted = wanted.ok_or_else(ApiError::not_found)?;
    let issuer = Issuer { society_name: app.settings.society_name.clone(), society_phone: app.settings.society_phone.clone() };
    let issued_at: NaiveDateTime = app.clock.now().with_timezone(&kenpo_shared::clock::japan()).naive_local();
    let font = || {
        documents.font.as_ref().ok_or_else(|| {
            tracing::error!(code = "font_missing", "no document font: set DOCUMENT_FONT or install fonts-ipaexfont-gothic");
            ApiError::from(ErrorCode::TemporarilyUnavailable)
        })
    };
    let failed = |e: kenpo_documents::DocumentError| {
        tracing::error!(code = e.code(), "document not made");
        ApiError::internal()
    };
    match wanted {
        Wanted::MedicalPdf(year) => {
            let lines = medical_lines_of_year(&household.medical, today, year, None);
            let name = insured_name(&household, &lines, today);
            let notice = MedicalNotice { issuer: &issuer, insured_name: &name, year, lines: &lines, issued_at };
            let pdf = medical_notice_pdf(&notice, font()?).map_err(failed)?.ok_or_else(ApiError::not_found)?;
            Ok(download_response("application/pdf", &format!("iryohi-{year}.pdf"), &format!("医療費のお知らせ_{year}年診療分.pdf"), pdf))
        }
        Wanted::MedicalCsv(year) => {
            let lines = medical_lines_of_year(&household.medical, today, year, None);
            if lines.is_empty() {
                return Err(ApiError::not_found());
            }
            let csv = kenpo_documents::csv::medical_csv(&lines).map_err(failed)?;
            Ok(download_response("text/csv; charset=utf-8", &format!("iryohi-{year}.csv"), &format!("医療費明細_{year}年診療分.csv"), csv))
        }
        Wanted::BenefitPdf(record_id) => {
            let benefit = read::shown_benefit(&household.benefits, &record_id, today).ok_or_else(ApiError::not_found)?;
            let name = insured_name(&household, &[], today);
            let notice = BenefitNotice { issuer: &issuer, insured_name: &name, benefit, issued_at };
            let pdf = benefit_notice_pdf(&notice, font()?).map_err(failed)?;
            let ascii = format!("kyufu-{}.pdf", record_id.as_str());
            let name = format!("給付金支給決定通知書_{}_{}.pdf", benefit.name, benefit.decided_on.format("%Y-%m-%d"));
            Ok(download_response("application/pdf", &ascii, &name, pdf))
        }
    }
}

/// 被保険者等の氏名: the members file's `name`; else the insured person's (枝番 00) name on the
/// household's records shown today (never one not yet published, hidden or expired); else a blank
/// for the member to write in.
fn insured_name(household: &Household, lines: &[&kenpo_statements::records::MedicalLine], today: chrono::NaiveDate) -> String {
    if let Some(name) = household.profile.as_ref().and_then(|p| p.name.clone()).filter(|n| !n.trim().is_empty()) {
        return name;
    }
    let from_lines = lines.iter().find(|l| l.person_no.is_insured()).map(|l| l.person_name.clone());
    let from_medical = || household.medical.iter().find(|m| m.record.person_no.is_insured() && m.shown(today)).map(|m| m.record.person_name.clone());
    let from_benefits = || household.benefits.iter().find(|b| b.record.person_no.is_insured() && b.shown(today)).map(|b| b.record.person_name.clone());
    from_lines.or_else(from_medical).or_else(from_benefits).unwrap_or_else(|| "　　　　　　".to_owned())
}
