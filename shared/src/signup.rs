//! The signup state machine: the member's current step, and the retry loop around one
//! conditional write per transition.

use serde_json::Value;

use crate::app::App;
use crate::clock::start_of_japan_day;
use crate::config::Settings;
use crate::domain::{MemberId, Step};
use crate::error::ApiError;
use crate::store::{ConsentRecord, Expect, SignupRecord, WriteError};

/// How often a transition re-reads and re-decides after losing a race before answering 503.
const MAX_TRIES: usize = 5;

/// The step a record is on. A completion before the onboarding cutoff counts as not done.
pub fn current_step(record: &SignupRecord, settings: &Settings) -> Step {
    match (record.state, record.completed_at) {
        (Step::Completed, Some(at)) if at >= start_of_japan_day(settings.onboarding_cutoff) => Step::Completed,
        (Step::Completed, _) => Step::Identity,
        (step, _) => step,
    }
}

/// The record as the state machine sees it: `state` is the current step.
pub fn view(mut record: SignupRecord, settings: &Settings) -> SignupRecord {
    record.state = current_step(&record, settings);
    record
}

/// The member's record (a fresh, unstored one if they have none yet).
pub async fn load(app: &App, member: &MemberId) -> Result<SignupRecord, ApiError> {
    let stored = app.store.get_signup(member).await?;
    Ok(view(stored.unwrap_or_else(|| SignupRecord::new(member.clone(), app.clock.now())), &app.settings))
}

/// What a step decides, given the record as it is now.
pub enum Decision {
    /// Answer without writing.
    Reply(Result<Value, ApiError>),
    /// Write `record` (from `current.next(now)`), with a consent if given, then answer `reply`.
    Write { record: SignupRecord, consent: Option<ConsentRecord>, reply: Result<Value, ApiError> },
}

/// Read, decide, write conditionally; on a lost race decide again on the record that won.
pub async fn transition(app: &App, member: &MemberId, mut decide: impl FnMut(&SignupRecord) -> Decision) -> Result<Value, ApiError> {
    let mut known: Option<SignupRecord> = None;
    for _ in 0..MAX_TRIES {
        let current = match known.take() {
            Some(r) => view(r, &app.settings),
            None => load(app, member).await?,
        };
        let (record, consent, reply) = match decide(&current) {
            Decision::Reply(reply) => return reply,
            Decision::Write { record, consent, reply } => (record, consent, reply),
        };
        let expect = Expect::for_write_of(&record);
        let written = match &consent {
            Some(c) => app.store.put_signup_with_consent(&record, expect, c).await,
            None => app.store.put_signup(&record, expect).await,
        };
        match written {
            Ok(()) => return reply,
            Err(WriteError::Conflict(now_stored)) => known = now_stored.map(|b| *b),
            Err(WriteError::Store(e)) => return Err(e.into()),
        }
    }
    tracing::warn!(code = "transition_contended", "gave up after repeated lost races");
    Err(ApiError::temporarily_unavailable())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn completion_before_the_cutoff_means_onboarding_again() {
        let settings = Settings::development(); // cutoff 2022-08-01 (Japan time)
        let mut r = SignupRecord::new(MemberId::parse("M1").unwrap(), chrono::Utc::now());
        r.state = Step::Completed;
        r.completed_at = Some(chrono::Utc.with_ymd_and_hms(2022, 7, 31, 14, 59, 59).unwrap()); // 23:59:59 JST
        assert_eq!(current_step(&r, &settings), Step::Identity);
        r.completed_at = Some(chrono::Utc.with_ymd_and_hms(2022, 7, 31, 15, 0, 0).unwrap()); // 00:00 JST
        assert_eq!(current_step(&r, &settings), Step::Completed);
    }
}
