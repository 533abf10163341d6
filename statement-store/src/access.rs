//! Who may read the household's statements now (DESIGN.md Part 2, "Reads and visibility"): the
//! one household read of a member's request, then the contract's refusals in order: 401 (the
//! session ended on the record), 409 `onboarding_required` with the `step` (also `reconsent`),
//! 403 `access_expired` (the day after [`kenpo_statements::read::access_until`]). Shared by the
//! statements' reads and the documents.

use chrono::NaiveDate;
use kenpo_shared::App;
use kenpo_shared::contract::{ApiError, ErrorCode};
use kenpo_shared::domain::Step;
use kenpo_shared::http::{Confirmed, session_on_record};
use kenpo_shared::session::Session;
use kenpo_shared::signup::{SignupRecord, current_step};
use kenpo_statements::read;

use crate::{Household, Scope, StatementStore};

/// The household `session`'s member may read, and today's Japan date. One store request
/// (DynamoDB: one Query). Errors: the refusals above, or 503 when the store is unavailable.
pub async fn readable_household(
    app: &App,
    store: &dyn StatementStore,
    session: &Session,
    confirmed: &Confirmed,
    scope: Scope,
) -> Result<(Household, NaiveDate), ApiError> {
    let household = store.household(&session.member_id, scope).await?;
    session_on_record(session, household.signup.as_ref())?;
    confirmed.confirm();
    let record = household.signup.clone().unwrap_or_else(|| SignupRecord::new(session.member_id.clone(), app.clock.now()));
    let step = current_step(&record, &app.policy);
    if step != Step::Completed {
        return Err(ApiError::onboarding_required(step));
    }
    let today = app.clock.today_in_japan();
    if read::access_expired(household.profile.as_ref().and_then(|p| p.left_on), today) {
        return Err(ApiError::from(ErrorCode::AccessExpired));
    }
    Ok((household, today))
}
