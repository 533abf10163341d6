//! The HTTP contract (DESIGN.md, "HTTP contract"; `docs/openapi.yaml`), typed: every error code
//! with its status and Japanese message, the error shape, the replies, and the one mapping of
//! domain refusals (`crate::signup::SignupError`) to HTTP. Pure data: the HTTP glue that turns
//! these into responses is `crate::http`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::domain::{FieldError, Step};
use crate::signup::{SignupError, SignupRecord};

/// Every error code the API answers (`{"error": {"code": …}}`); a test holds this list equal to
/// the `Error.code` enum of `docs/openapi.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MalformedRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    CrossOrigin,
    Unauthenticated,
    NotFound,
    MethodNotAllowed,
    InvalidInput,
    IdentityMismatch,
    Locked,
    WrongStep,
    ConsentRequired,
    TermsOutdated,
    EmailRequiredForNotifications,
    OnboardingRequired,
    AccessExpired,
    StaleConfirmation,
    ReverificationRequired,
    TemporarilyUnavailable,
    InternalError,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::MalformedRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::CrossOrigin,
        ErrorCode::Unauthenticated,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::InvalidInput,
        ErrorCode::IdentityMismatch,
        ErrorCode::Locked,
        ErrorCode::WrongStep,
        ErrorCode::ConsentRequired,
        ErrorCode::TermsOutdated,
        ErrorCode::EmailRequiredForNotifications,
        ErrorCode::OnboardingRequired,
        ErrorCode::AccessExpired,
        ErrorCode::StaleConfirmation,
        ErrorCode::ReverificationRequired,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::InternalError,
    ];

    /// The stable code, as the JSON carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::CrossOrigin => "cross_origin",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::IdentityMismatch => "identity_mismatch",
            ErrorCode::Locked => "locked",
            ErrorCode::WrongStep => "wrong_step",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::TermsOutdated => "terms_outdated",
            ErrorCode::EmailRequiredForNotifications => "email_required_for_notifications",
            ErrorCode::OnboardingRequired => "onboarding_required",
            ErrorCode::AccessExpired => "access_expired",
            ErrorCode::StaleConfirmation => "stale_confirmation",
            ErrorCode::ReverificationRequired => "reverification_required",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InternalError => "internal_error",
        }
    }

    /// The HTTP status (DESIGN.md's table).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::MalformedRequest => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::CrossOrigin | ErrorCode::IdentityMismatch | ErrorCode::AccessExpired => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::WrongStep | ErrorCode::TermsOutdated | ErrorCode::OnboardingRequired | ErrorCode::StaleConfirmation => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidInput | ErrorCode::ConsentRequired | ErrorCode::EmailRequiredForNotifications | ErrorCode::ReverificationRequired => 422,
            ErrorCode::Locked => 429,
            ErrorCode::InternalError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
        }
    }

    /// The member-facing message (Japanese) when the error carries no more specific one.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "リクエストの形式が正しくありません。画面を再読み込みしてもう一度お試しください。",
            ErrorCode::PayloadTooLarge => "送信された内容が大きすぎます。",
            ErrorCode::UnsupportedMediaType => "送信形式が正しくありません（JSONで送信してください）。",
            ErrorCode::CrossOrigin => "このページからの送信は受け付けられません。ポータルからもう一度お入りください。",
            ErrorCode::Unauthenticated => "ログインの有効期限が切れました。お手数ですが、ポータルからもう一度お入りください。",
            ErrorCode::NotFound => "お探しのページは見つかりません。",
            ErrorCode::MethodNotAllowed => "この操作は受け付けられません。",
            ErrorCode::InvalidInput => "入力内容に誤りがあります。",
            ErrorCode::IdentityMismatch => "保険者番号または生年月日が登録内容と一致しません。",
            ErrorCode::Locked => "入力の誤りが続いたため、本人確認を一時的に停止しています。しばらくしてからもう一度お試しください。",
            ErrorCode::WrongStep => "この手続きは現在の段階では行えません。表示される画面から続けてください。",
            ErrorCode::ConsentRequired => "ご利用には利用規約等への同意が必要です。「同意する」を選んでください。",
            ErrorCode::TermsOutdated => "利用規約が更新されました。画面を再読み込みし、最新の利用規約をお読みのうえ同意してください。",
            ErrorCode::EmailRequiredForNotifications => "医療費通知を「必要」にする場合は、メールアドレスを入力してください。",
            ErrorCode::OnboardingRequired => "医療費と給付金支給額をご覧いただくには、はじめに登録手続きを済ませてください。",
            ErrorCode::AccessExpired => "資格喪失後のご利用期間が終了したため、医療費と給付金支給額はご覧いただけません。",
            ErrorCode::StaleConfirmation => "別の画面で入力内容が変更されました。最新の内容を表示しましたので、確認のうえもう一度「実行」を押してください。",
            ErrorCode::ReverificationRequired => "メールアドレスを変更するには、本人確認のため生年月日を入力してください。",
            ErrorCode::TemporarilyUnavailable => "ただいま混み合っています。しばらくしてからもう一度お試しください。",
            ErrorCode::InternalError => "システムエラーが発生しました。しばらくしてからもう一度お試しください。",
        }
    }
}

/// An expected client-visible failure: `{"error": {"code", "message", "fields"?, …extra}}`.
/// Always becomes a 4xx/5xx response (`crate::http`), never a handler `Err`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Field (camelCase, as in the request) → message, for the fields at fault.
    pub fields: BTreeMap<String, String>,
    /// Extra members of the `error` object (`remainingAttempts`, `retryAfterSeconds`, `step`, …).
    pub extra: Map<String, Value>,
    /// `Retry-After` in seconds.
    pub retry_after: Option<u64>,
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::with_message(code, code.message())
    }
}

impl ApiError {
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), fields: BTreeMap::new(), extra: Map::new(), retry_after: None }
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    pub fn with_field(mut self, field: &str, message: impl Into<String>) -> Self {
        self.fields.insert(field.to_owned(), message.into());
        self
    }

    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub fn unauthenticated() -> Self {
        ErrorCode::Unauthenticated.into()
    }

    pub fn malformed_request() -> Self {
        ErrorCode::MalformedRequest.into()
    }

    pub fn too_large() -> Self {
        ErrorCode::PayloadTooLarge.into()
    }

    pub fn unsupported_media_type() -> Self {
        ErrorCode::UnsupportedMediaType.into()
    }

    pub fn cross_origin() -> Self {
        ErrorCode::CrossOrigin.into()
    }

    pub fn not_found() -> Self {
        ErrorCode::NotFound.into()
    }

    pub fn method_not_allowed() -> Self {
        ErrorCode::MethodNotAllowed.into()
    }

    pub fn internal() -> Self {
        ErrorCode::InternalError.into()
    }

    /// 503 with `Retry-After: 5`: the store was throttled or failed; the member may retry.
    pub fn temporarily_unavailable() -> Self {
        let mut e = Self::from(ErrorCode::TemporarilyUnavailable);
        e.retry_after = Some(5);
        e
    }

    /// 409 `wrong_step` with the member's current `step`.
    pub fn wrong_step(current: Step) -> Self {
        Self::from(ErrorCode::WrongStep).with_extra("step", json!(current.as_str()))
    }

    /// 409 `onboarding_required` with the member's current `step` (the statements' APIs before the
    /// onboarding is completed).
    pub fn onboarding_required(current: Step) -> Self {
        Self::from(ErrorCode::OnboardingRequired).with_extra("step", json!(current.as_str()))
    }

    /// 422 `invalid_input` on one field.
    pub fn invalid_field(field: &str, error: &FieldError) -> Self {
        Self::from(ErrorCode::InvalidInput).with_field(field, error.message.clone())
    }

    /// 422 `email_required_for_notifications` on `email` (医療費通知 必要 without an address).
    pub fn email_required(error: &FieldError) -> Self {
        Self::with_message(ErrorCode::EmailRequiredForNotifications, error.message.clone()).with_field("email", error.message.clone())
    }

    /// Merge the field errors of another 422 into this one.
    pub fn merge_fields(mut self, other: ApiError) -> Self {
        self.fields.extend(other.fields);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code.as_str()));
        error.insert("message".into(), json!(self.message));
        if !self.fields.is_empty() {
            error.insert("fields".into(), json!(self.fields));
        }
        error.extend(self.extra.clone());
        json!({ "error": error })
    }
}

/// The one mapping of the state machine's refusals to HTTP.
impl From<SignupError> for ApiError {
    fn from(e: SignupError) -> Self {
        match e {
            SignupError::WrongStep(step) => Self::wrong_step(step),
            SignupError::Locked { retry_after_seconds } => {
                let seconds = retry_after_seconds.max(1);
                let minutes = seconds.div_ceil(60);
                let mut e = Self::with_message(
                    ErrorCode::Locked,
                    format!("入力の誤りが続いたため、本人確認を一時的に停止しています。約{minutes}分後にもう一度お試しください。"),
                )
                .with_extra("retryAfterSeconds", json!(seconds));
                e.retry_after = Some(seconds);
                e
            }
            SignupError::IdentityMismatch { remaining_attempts, lockout_minutes } => Self::with_message(
                ErrorCode::IdentityMismatch,
                format!("保険者番号または生年月日が登録内容と一致しません。あと{remaining_attempts}回誤ると、{lockout_minutes}分間ご利用いただけなくなります。"),
            )
            .with_extra("remainingAttempts", json!(remaining_attempts)),
            SignupError::ConsentRequired => Self::from(ErrorCode::ConsentRequired).with_field("agreed", "「同意する」を選んでください。"),
            SignupError::TermsOutdated { current } => Self::from(ErrorCode::TermsOutdated).with_extra("termsVersion", json!(current.as_str())),
            SignupError::SessionEnded => Self::unauthenticated(),
            SignupError::StaleConfirmation(current) => Self::from(ErrorCode::StaleConfirmation)
                .with_extra("preferences", json!(current.preferences().as_ref().map(PreferencesReply::of)))
                .with_extra("version", json!(current.version)),
            SignupError::ReverificationRequired => {
                Self::from(ErrorCode::ReverificationRequired).with_field("birthDate", "メールアドレスを変更するには、生年月日を入力してください。")
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(code = e.code(), error = %e, "store failure");
        match e {
            crate::store::StoreError::Unavailable(_) => Self::temporarily_unavailable(),
            crate::store::StoreError::Corrupt(_) => Self::internal(),
        }
    }
}

impl From<crate::transition::ApplyError> for ApiError {
    fn from(e: crate::transition::ApplyError) -> Self {
        match e {
            crate::transition::ApplyError::Store(e) => e.into(),
            crate::transition::ApplyError::Contended => Self::temporarily_unavailable(),
        }
    }
}

/// A member command's outcome as the API answers it: the step, or the refusal.
pub fn member_outcome(outcome: crate::signup::Outcome) -> Result<Step, ApiError> {
    use crate::signup::Outcome;
    match outcome {
        Outcome::Step(step) => Ok(step),
        Outcome::Refused(e) => Err(e.into()),
        // Only background commands end so; a member's command never does.
        Outcome::Skipped(_) | Outcome::MailInFlight | Outcome::MailUnconfirmed => Err(ApiError::internal()),
    }
}

/// `{"step"}`: the answer of identity, consent and confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReply {
    pub step: &'static str,
}

impl StepReply {
    pub fn new(step: Step) -> Self {
        Self { step: step.as_str() }
    }
}

/// `{"email", "notifyMedicalExpenses"}` as saved (normalised).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesReply {
    pub email: Option<String>,
    pub notify_medical_expenses: bool,
}

impl PreferencesReply {
    pub fn of(preferences: &crate::domain::Preferences) -> Self {
        Self { email: preferences.email().map(|e| e.as_str().to_owned()), notify_medical_expenses: preferences.notify_medical_expenses() }
    }
}

/// `PUT /api/signup/preferences`: `{"step", "preferences"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedPreferencesReply {
    pub step: &'static str,
    pub preferences: PreferencesReply,
}

/// `GET /api/signup`: `{"step", "version", "termsVersion", "preferences" (or null), "emailProblem"
/// (or null)}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReply {
    pub step: &'static str,
    /// The record's version (0: none stored yet), which 実行 sends back (`stale_confirmation`).
    pub version: u64,
    pub terms_version: String,
    pub preferences: Option<PreferencesReply>,
    /// Mail to the address bounced, was reported as spam, or was refused (null: fine).
    pub email_problem: Option<&'static str>,
}

impl StatusReply {
    /// The status of `record`, whose current step is `step` (after the cutoff rule).
    pub fn of(record: &SignupRecord, step: Step, terms_version: &crate::domain::TermsVersion) -> Self {
        Self {
            step: step.as_str(),
            version: record.version,
            terms_version: terms_version.as_str().to_owned(),
            preferences: record.preferences().as_ref().map(PreferencesReply::of),
            email_problem: record.email_problem.map(|p| p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code:?} twice");
            assert!((400..600).contains(&code.status()));
            assert!(!code.message().is_empty());
        }
    }

    #[test]
    fn a_lockout_answers_minutes_rounded_up_and_retry_after() {
        let e = ApiError::from(SignupError::Locked { retry_after_seconds: 61 });
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after, Some(61));
        assert!(e.message.contains("約2分後"), "{}", e.message);
        assert_eq!(e.body()["error"]["retryAfterSeconds"], 61);
    }
}
