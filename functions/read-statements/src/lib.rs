//! The member's statements (DESIGN.md Part 2, "HTTP contract, part 2"):
//! `GET /api/statements/summary` (トップページ), `GET /api/medical-expenses?year=&person=`
//! (医療費のお知らせ) and `GET /api/benefits?year=&person=` (給付金支給額).
//!
//! Each answer costs ONE DynamoDB request, the session check included: the household read
//! (`StatementStore::household`) brings the signup record with the records. Refusals in the
//! contract's order: 401 (no valid session), 409 `onboarding_required` (with `step`), 403
//! `access_expired` (24 months after 資格喪失日 have passed), then 422 `invalid_input` (a `year` that
//! is not 4 digits, a `person` that is not 2). Hidden lines, lines not yet published and lines past
//! retention never leave this function.

use std::sync::Arc;

use kenpo_shared::App;
use kenpo_shared::contract::{ApiError, ErrorCode};
use kenpo_shared::http::{Confirmed, authenticated, ok_json};
use kenpo_shared::session::Session;
use kenpo_statement_store::access::readable_household;
use kenpo_statement_store::{Scope, StatementStore};
use kenpo_statements::read::{self, Query};
use lambda_http::{Body, Request, RequestExt, Response};

/// The function's state: the API state (settings, sessions, clock, policy) and the statements.
pub struct Reader {
    pub app: Arc<App>,
    pub statements: Arc<dyn StatementStore>,
}

/// Which of the three answers a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Summary,
    MedicalExpenses,
    Benefits,
}

/// The answer to one request (errors as their JSON responses; the session cookie re-issued on
/// every answer but a 401).
pub async fn handle(reader: &Reader, req: Request) -> Response<Body> {
    let answer = match kenpo_shared::http::route_path(&req).as_str() {
        "/api/statements/summary" => Answer::Summary,
        "/api/medical-expenses" => Answer::MedicalExpenses,
        "/api/benefits" => Answer::Benefits,
        _ => return ApiError::not_found().into_response(),
    };
    authenticated(&reader.app, &req, |session, confirmed| answer_for(reader, &req, answer, session, confirmed)).await
}

async fn answer_for(reader: &Reader, req: &Request, answer: Answer, session: Session, confirmed: Confirmed) -> Result<Response<Body>, ApiError> {
    // Checked before the read, answered after the refusals that come first.
    let params = req.query_string_parameters_ref();
    let query = Query::parse(params.and_then(|p| p.first("year")), params.and_then(|p| p.first("person")));
    let scope = if answer == Answer::Benefits { Scope::Benefits } else { Scope::All };
    let (household, today) = readable_household(&reader.app, reader.statements.as_ref(), &session, &confirmed, scope).await?;
    let left_on = household.profile.as_ref().and_then(|p| p.left_on);
    let query = query.map_err(|fields| {
        fields.into_iter().fold(ApiError::from(ErrorCode::InvalidInput), |e, (field, error)| e.with_field(field, error.message))
    })?;
    Ok(match answer {
        Answer::Summary => ok_json(&read::summary(&household.medical, &household.benefits, left_on, today)),
        Answer::MedicalExpenses => ok_json(&read::medical_expenses(&household.medical, today, query.year, query.person)),
        Answer::Benefits => ok_json(&read::benefits(&household.benefits, today, query.year, query.person)),
    })
}
